"""Our side of a training-speed comparison: a plugin's steps exactly as `train.py` runs them.

`engine_round` builds the run's models, optimizers and schedules with the plugin, applies a speed plan
(plugins/speed.py: memory layout, compiled optimizer step), prepares everything with Accelerate and then
steps as the engine's loop does: a batch from the prepared DataLoader, arranged for the plan, the plugin's
`training_step` inside `accelerator.accumulate`, the schedules stepped. `measured_plan` is the plan the
engine would measure for the run on this machine, measured afresh (never read from the cache, so a plan
measured under other conditions cannot stand in for this run's).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plugins import speed  # noqa: E402
from plugins.base import TrainingParts  # noqa: E402
from plugins.engine import make_accelerator  # noqa: E402

from alternate import steps_per_second  # noqa: E402


def measured_plan(plugin, preset_name: str, batch_size: int, data, total_steps: int) -> tuple[speed.SpeedPlan, dict]:
    """The plan `train.py` would pick for this run here, measured now; with its timings (seconds per step)."""
    preset = plugin.preset(preset_name)
    recipe = preset.training.overridden(batch_size=batch_size)
    torch.manual_seed(0)
    return speed.measure(plugin, preset, recipe, data, make_accelerator("no", 1, seed=0), total_steps)


def describe_timings(timings: dict) -> str:
    """The plan's measurements in one line: milliseconds per step, seconds to compile."""
    return ", ".join(f"{name} {value:.1f} s" if name.startswith("compiling") else f"{name} {value * 1000:.1f} ms/step"
                     for name, value in timings.items())


def engine_round(plugin, preset_name: str, batch_size: int, data, plan: speed.SpeedPlan, steps: int,
                 total_steps: int) -> Callable[[], float]:
    """A round of `steps` training steps as the engine runs them, returning steps per second; everything is
    built once (`total_steps`: the schedules' length over all rounds) and one step taken (its seconds, which
    include compiling a compiled optimizer step, are the round's `first_step_seconds`). The thread count is
    the caller's."""
    preset = plugin.preset(preset_name)
    recipe = preset.training.overridden(batch_size=batch_size)
    accelerator = make_accelerator("no", 1, seed=0)
    torch.manual_seed(0)
    parts = plugin.build_training(preset, recipe, data, total_steps)
    speed.SpeedPlan(channels_last=plan.channels_last).apply_to(parts)
    loader = torch.utils.data.DataLoader(data.train, batch_size=batch_size, shuffle=True, drop_last=True,
                                         collate_fn=plugin.collate)
    prepared = accelerator.prepare(*parts.models.values(), *parts.optimizers.values(), *parts.schedulers.values(),
                                   loader)
    models, prepared = prepared[: len(parts.models)], prepared[len(parts.models):]
    optimizers, prepared = prepared[: len(parts.optimizers)], prepared[len(parts.optimizers):]
    schedulers, loader = prepared[:-1], prepared[-1]
    parts = TrainingParts(dict(zip(parts.models, models)), dict(zip(parts.optimizers, optimizers)),
                          dict(zip(parts.schedulers, schedulers)))
    plan.compile_optimizer_steps(parts)
    batches = iter(loader)

    def step() -> None:
        nonlocal batches
        batch = next(batches, None)
        if batch is None:  # a new epoch
            batches = iter(loader)
            batch = next(batches)
        with accelerator.accumulate(*parts.models.values()):
            plugin.training_step(parts, plan.arrange(batch), accelerator, recipe)
        for scheduler in parts.schedulers.values():
            scheduler.step()

    started = time.perf_counter()
    step()  # the first step: where a compiled optimizer step compiles
    run = lambda: steps_per_second(step, steps)  # noqa: E731
    run.first_step_seconds = time.perf_counter() - started
    return run
