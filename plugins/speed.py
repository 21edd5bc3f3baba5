"""How the engine runs a model fastest on this machine: measured once per model and machine, then cached.

Three settings change the speed of a training step a lot and its maths not at all (up to float rounding):

- the memory layout of image tensors: channels-last is what oneDNN's CPU convolutions (and GPU tensor
  cores) work in, so it saves a reordered copy of every feature map; some element-wise kernels are slower
  in it, and a model without convolutions gains nothing;
- the number of CPU threads: two threads speed up big convolutions and slow down small models, whose step
  is hundreds of tiny kernels each paying for a thread barrier, and anything on a machine that is busy;
- for an optimizer torch has no fused kernel for (Adadelta), a compiled optimizer step: inductor fuses
  its eleven passes over the weights into one (Adam, AdamW and SGD use torch's fused kernels already).

`plan_for_run` times the candidates on a throwaway copy of the run's models with two real batches and
keeps the fastest; it caches the winner in a small JSON file (`plans_file()`), keyed by everything that
decides it (the model's configuration and recipe, torch's version, the processor, the process count),
so each model is measured once per machine. Delete the file to measure again. A run keeps the plan it
started with (`speed_plan.json` beside its checkpoints): a resumed run computes exactly what the
uninterrupted one would have. Runs shorter than `MIN_STEPS` keep the defaults, as measuring would cost
more than it could save.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from accelerate.utils import broadcast_object_list, send_to_device

from .base import FUSED_OPTIMIZERS
from .cards import processor_name

MIN_STEPS = 500  # shorter runs keep the defaults
COMPILE_WORTH_SECONDS = 300  # a compiled optimizer step is tried for runs expected to take at least this long
PLAN_VERSION = 2  # bump when the measurement changes, so old cached plans are measured again
RUN_PLAN_FILE = "speed_plan.json"


@dataclass(frozen=True)
class SpeedPlan:
    """How to run one model: memory layout, CPU threads (None: as the accelerator set them), compiled step."""

    channels_last: bool = False
    threads: int | None = None
    compiled_optimizer: bool = False

    def describe(self) -> str:
        threads = "" if self.threads is None else f", {self.threads} thread{'s' * (self.threads != 1)}"
        compiled = ", compiled optimizer step" if self.compiled_optimizer else ""
        return f"{'channels-last' if self.channels_last else 'contiguous'}{threads}{compiled}"

    def apply_to(self, parts) -> None:
        """Thread count and memory layout, before the parts are prepared."""
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        if self.channels_last:
            for model in parts.models.values():
                model.to(memory_format=torch.channels_last)

    def compile_optimizer_steps(self, parts) -> None:
        """Compile the optimizers' steps (after `accelerator.prepare`, on the torch optimizers inside)."""
        if self.compiled_optimizer:
            for optimizer in parts.optimizers.values():
                inner = getattr(optimizer, "optimizer", optimizer)  # accelerate's wrapper holds the torch optimizer
                inner.step = compiled_step(inner.step)

    def arrange(self, batch: dict) -> dict:
        """The batch's images in the plan's memory layout (the models' inputs then need no reordering)."""
        if not self.channels_last:
            return batch
        return {key: value.contiguous(memory_format=torch.channels_last)
                if isinstance(value, torch.Tensor) and value.ndim == 4 and value.is_floating_point() else value
                for key, value in batch.items()}


def compiled_step(step):
    """`step` compiled with torch.compile; if compiling fails (no C compiler, an unsupported optimizer),
    one line says so and the eager step runs, then and from then on. Compilation fails before anything is
    updated, so the step it falls back to starts from the same state."""
    compiled = torch.compile(step)
    current = [compiled]

    def run(*args, **kwargs):
        if current[0] is compiled:
            try:
                return compiled(*args, **kwargs)
            except Exception as error:  # noqa: BLE001 - whatever the compiler raises, the eager step still works
                print(f"speed plan: compiling the optimizer step failed ({type(error).__name__}); running it eagerly")
                current[0] = step
        return step(*args, **kwargs)

    run._wrapped_by_lr_sched = getattr(step, "_wrapped_by_lr_sched", False)  # what torch's schedulers look for
    return run


def plans_file() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dsl-hub" / "speed-plans.json"


def plan_key(plugin, preset, recipe, accelerator) -> str:
    """What decides the plan: model, recipe (less its length and bookkeeping), torch, machine, processes."""
    training = {key: value for key, value in asdict(recipe).items()
                if key not in ("epochs", "max_steps", "checkpoint_every", "log_every", "eval_batch_size")}
    device = torch.cuda.get_device_name(0) if accelerator.device.type == "cuda" else processor_name()
    facts = {"version": PLAN_VERSION, "plugin": plugin.name, "model": preset.model, "training": training,
             "torch": torch.__version__, "device": device, "cores": os.cpu_count(),
             "processes": accelerator.num_processes, "mixed_precision": str(accelerator.mixed_precision),
             "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()[:20]


def plan_for_run(plugin, preset, recipe, data, accelerator, total_steps: int, output_dir: Path,
                 resuming: bool) -> SpeedPlan:
    """The run's plan: the one it started with when `resuming` from a checkpoint, else the cached or freshly
    measured one. The main process decides and every process takes its decision."""
    decided: list = [None]
    if accelerator.is_main_process:
        run_file = Path(output_dir) / RUN_PLAN_FILE
        if resuming:  # a run checkpointed before runs had plans computed with the defaults
            plan = SpeedPlan(**json.loads(run_file.read_text())) if run_file.is_file() else SpeedPlan()
        elif total_steps < MIN_STEPS:
            plan = SpeedPlan()
        else:
            key = plan_key(plugin, preset, recipe, accelerator)
            cached = _read_plans().get(key)
            if cached is not None:
                plan = SpeedPlan(**cached["plan"])
            else:
                started = time.perf_counter()
                plan, timings = measure(plugin, preset, recipe, data, accelerator, total_steps)
                _remember(key, plan, timings)
                accelerator.print(f"speed plan for {plugin.name} on this machine: {plan.describe()} (measured in "
                                  f"{time.perf_counter() - started:.0f} s, cached in {plans_file()})")
        run_file.parent.mkdir(parents=True, exist_ok=True)
        run_file.write_text(json.dumps(asdict(plan)) + "\n")
        decided[0] = asdict(plan)
    return SpeedPlan(**broadcast_object_list(decided)[0])


def measure(plugin, preset, recipe, data, accelerator, total_steps: int) -> tuple[SpeedPlan, dict]:
    """Time each layout and thread count on throwaway models (the run's random states are left as they were),
    then, for a long run with an optimizer that has no fused kernel, a compiled optimizer step."""
    states = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=range(torch.cuda.device_count()) if torch.cuda.is_available() else []):
        loader = torch.utils.data.DataLoader(data.train, batch_size=recipe.batch_size, collate_fn=plugin.collate)
        batches = [send_to_device(batch, accelerator.device) for batch, _ in zip(loader, range(2))]
        threads = [torch.get_num_threads()]
        if accelerator.device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
            threads = sorted({threads[0], max(1, threads[0] // 2), 1}, reverse=True)
        parts = {False: _built(plugin, preset, recipe, data, total_steps, accelerator, channels_last=False)}
        if any(parameter.ndim == 4 for model in parts[False].models.values() for parameter in model.parameters()):
            parts[True] = _built(plugin, preset, recipe, data, total_steps, accelerator, channels_last=True)
        layouts = list(parts)
        candidates = {(layout, count): _timer(plugin, parts[layout], batches, accelerator, recipe, layout, count)
                      for layout in layouts for count in threads}
        timings = _fastest_of_rounds(candidates)
        default = (False, threads[0])
        best = min(timings, key=timings.get)
        if timings[best] > 0.97 * timings[default]:  # within the noise of the default: keep the default
            best = default
        report = {SpeedPlan(layout, count if len(threads) > 1 else None).describe(): seconds
                  for (layout, count), seconds in timings.items()}
        compiled = False
        if (recipe.optimizer not in FUSED_OPTIMIZERS and recipe.schedule == "constant"
                and accelerator.device.type == "cpu" and timings[best] * total_steps >= COMPILE_WORTH_SECONDS):
            eager_seconds, compiled_seconds, compile_seconds = _compiled_timing(
                plugin, parts[best[0]], batches, accelerator, recipe, best)
            report.update({"eager optimizer step, again": eager_seconds, "compiled optimizer step": compiled_seconds,
                           "compiling, seconds": compile_seconds})
            # faster beyond the noise, and by more over the run than compiling costs
            compiled = (compiled_seconds < 0.97 * eager_seconds
                        and (eager_seconds - compiled_seconds) * total_steps > compile_seconds)
        torch.set_num_threads(threads[0])
    random.setstate(states[0])
    np.random.set_state(states[1])
    plan = SpeedPlan(channels_last=best[0], threads=best[1] if len(threads) > 1 else None, compiled_optimizer=compiled)
    return plan, report


def _built(plugin, preset, recipe, data, total_steps, accelerator, channels_last: bool):
    parts = plugin.build_training(preset, recipe, data, total_steps)
    for name, model in parts.models.items():
        parts.models[name] = model.to(accelerator.device)
    SpeedPlan(channels_last=channels_last).apply_to(parts)
    return parts


def _timer(plugin, parts, batches, accelerator, recipe, channels_last: bool, threads: int):
    """A function timing a few training steps of `parts` in one setting, in seconds per step."""
    plan = SpeedPlan(channels_last=channels_last)
    arranged = [plan.arrange(batch) for batch in batches]
    count = 0

    def step() -> None:
        nonlocal count
        with accelerator.autocast():
            plugin.training_step(parts, arranged[count % len(arranged)], accelerator, recipe)
        count += 1

    def seconds_per_step() -> float:
        torch.set_num_threads(threads)
        step()  # after a change of thread count, one step to settle
        started = time.perf_counter()
        steps = 0
        while steps < 3 or (time.perf_counter() - started < 0.3 and steps < 30):
            step()
            steps += 1
        if accelerator.device.type == "cuda":
            torch.cuda.synchronize()
        return (time.perf_counter() - started) / steps

    return seconds_per_step


def _fastest_of_rounds(candidates: dict, rounds: int = 3, close: float = 0.10, most_rounds: int = 8) -> dict:
    """Each candidate's best time over rounds taken in turn, so a burst of load hits every candidate: `rounds`
    rounds, then more, up to `most_rounds`, while the two fastest are within `close` of each other. Three
    rounds of a slow step (lecture-08's, 0.2 s) are a few seconds, and a slow minute of a shared machine
    reversed the order of two layouts 1.15x apart that way (bench_gan runs E and G, 2026-12-07); a clear
    winner costs no more rounds. A candidate whose step fails (a plugin that reshapes images with `view`,
    say, in channels-last) is out."""
    timings = {name: float("inf") for name in candidates}
    failed = set()
    for done in range(most_rounds):
        fastest = sorted(timings[name] for name in candidates if name not in failed)[:2]
        if done >= rounds and (len(fastest) < 2 or fastest[1] > (1 + close) * fastest[0]):
            break
        for name, timer in candidates.items():
            if name in failed:
                continue
            try:
                timings[name] = min(timings[name], timer())
            except Exception as error:  # noqa: BLE001 - whatever it is, that setting is not for this model
                print(f"speed plan: {name} fails for this model ({type(error).__name__}: {str(error)[:80]}); not used")
                failed.add(name)
    return timings


def _compiled_timing(plugin, parts, batches, accelerator, recipe, best) -> tuple[float, float, float]:
    """Seconds per step with the optimizer steps as they are and compiled (best of rounds taken in turn), and
    the seconds spent compiling them."""
    optimizers = list(parts.optimizers.values())
    eager = [optimizer.step for optimizer in optimizers]
    compiled = [compiled_step(step) for step in eager]
    timer = _timer(plugin, parts, batches, accelerator, recipe, *best)

    def with_steps(steps):
        def seconds_per_step():
            for optimizer, step in zip(optimizers, steps):
                optimizer.step = step
            return timer()
        return seconds_per_step

    started = time.perf_counter()
    with_steps(compiled)()  # compiles
    compile_seconds = time.perf_counter() - started
    timings = _fastest_of_rounds({"eager": with_steps(eager), "compiled": with_steps(compiled)}, rounds=5)
    return timings["eager"], timings["compiled"], compile_seconds


def _read_plans() -> dict:
    try:
        plans = json.loads(plans_file().read_text())
    except (OSError, ValueError):
        return {}
    return plans if isinstance(plans, dict) else {}


def _remember(key: str, plan: SpeedPlan, timings: dict) -> None:
    """Add a plan to the cache file, written whole under a temporary name and renamed into place."""
    plans = _read_plans()
    plans[key] = {"plan": asdict(plan), "seconds_per_step": timings, "torch": torch.__version__,
                  "measured": time.strftime("%Y-%m-%d %H:%M:%S")}
    path = plans_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, staging = tempfile.mkstemp(dir=path.parent, prefix=".speed-plans.", suffix=".json")
        with os.fdopen(descriptor, "w") as handle:
            json.dump(plans, handle, indent=1, default=str)
        os.replace(staging, path)
    except OSError as error:  # a read-only home: the plan still applies to this run
        print(f"speed plan: could not cache it in {path} ({error})")
