"""The one training loop of the hub, built on `accelerate.Accelerator`.

It runs unchanged on one CPU, one GPU, several GPUs or several machines
(`accelerate launch` / `torchrun` start the processes; Accelerate and
torch.distributed do the distributed work). Plugins supply data, models and
the step (a loss for `TrainingParts.update`); the loop owns seeding, the
learning-rate schedules, progress, evaluation each epoch, JSON-lines
metrics, atomic checkpoints, exact resume, Ctrl-C and the final
`save_pretrained` folder with its model card.

Not here on purpose: experiment trackers, early stopping, hyper-parameter
search. The loop should fit in one reading.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import shutil
import signal
import time
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import (DataLoaderConfiguration, broadcast_object_list, gather_object, is_cuda_available,
                              set_seed)
from accelerate.utils import load as accelerate_load  # torch.load(weights_only=True) plus numpy's RNG types
from safetensors.torch import load_file
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from .base import TrainingParts
from .cards import describe_hardware, write_model_card
from .errors import DataError
from .registry import get_plugin
from .speed import plan_for_run

CHECKPOINT_PREFIX = "step-"
INCOMPLETE_PREFIX = ".incomplete-"


@dataclass
class TrainOptions:
    """What `train.py` takes on its command line (hyper-parameters live in presets)."""

    plugin: str
    preset: str | None = None
    data_dir: str | None = None
    output_dir: str | None = None
    epochs: int | None = None
    max_steps: int | None = None
    batch_size: int | None = None  # per process
    learning_rate: float | None = None
    seed: int = 42
    mixed_precision: str = "no"
    grad_accum: int = 1
    resume: bool = False
    checkpoint_every: int | None = None
    keep_checkpoints: int = 2
    synthetic: int | None = None  # smoke test on N made-up examples instead of the real data


class TrainingInterrupted(Exception):
    """Raised after Ctrl-C (or SIGTERM) once a checkpoint has been written."""

    def __init__(self, checkpoint: Path):
        super().__init__(f"training interrupted; checkpoint saved in {checkpoint}. Continue with --resume.")
        self.checkpoint = checkpoint


@dataclass
class TrainerState:
    """Where the loop is; saved beside each checkpoint so a resume continues exactly there."""

    epoch: int = 0  # current epoch (0-based)
    batches_in_epoch: int = 0  # batches of the current epoch already consumed
    global_step: int = 0  # optimizer steps taken
    train_seconds: float = 0.0

    def save(self, folder: Path) -> None:
        (folder / "trainer_state.json").write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, folder: Path) -> "TrainerState":
        """Read what `save` wrote; ValueError for anything else, so a damaged file cannot steer a resume."""
        values = json.loads((folder / "trainer_state.json").read_text())
        names = [field.name for field in fields(cls)]
        if not isinstance(values, dict) or sorted(values) != sorted(names):
            raise ValueError(f"trainer_state.json does not hold exactly the fields {', '.join(names)}")
        state = cls(**values)
        counts = (state.epoch, state.batches_in_epoch, state.global_step)
        if not all(type(count) is int and count >= 0 for count in counts):
            raise ValueError("trainer_state.json holds an epoch, batch or step count that is not a whole number >= 0")
        if type(state.train_seconds) not in (int, float) or not 0 <= state.train_seconds < math.inf:
            raise ValueError("trainer_state.json holds a train_seconds that is not a finite number >= 0")
        return state


class MetricsLog:
    """Append-only JSON-lines metrics, one record per event; written by the main process."""

    def __init__(self, path: Path, accelerator: Accelerator):
        self.path = path
        self.accelerator = accelerator

    def write(self, record: dict) -> None:
        if not self.accelerator.is_main_process:
            return
        record = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), **record,
                  "num_processes": self.accelerator.num_processes}
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")

    def drop_after(self, step: int) -> None:
        """On resume, forget what the interrupted run logged after its last checkpoint."""
        if not self.accelerator.is_main_process or not self.path.exists():
            return
        kept = [line for line in self.path.read_text().splitlines() if line and json.loads(line).get("step", 0) <= step]
        self.path.write_text("".join(line + "\n" for line in kept))


def _accelerate_name(stem: str, index: int, suffix: str) -> str:
    """Accelerate's file names for the index-th model, optimizer, ...: model.safetensors, model_1.safetensors."""
    return f"{stem}{'' if index == 0 else f'_{index}'}{suffix}"


def _random_states_name(process_index: int) -> str:
    return f"random_states_{process_index}.pkl"  # one per process, index always written


def _one_line(error: BaseException) -> str:
    """The first sentence of an error message (torch's go on for lines), or the error's type if it has none."""
    text = " ".join(str(error).split()).split(". ")[0]
    return text[:200] or type(error).__name__


def _check_random_states(path: Path) -> torch.Tensor:
    """Raise unless `path` holds what accelerate's `load_accelerator_state` applies, checked on spare generators.

    Mirrors its loader (accelerate 1.x): `load` (weights_only=True) then
    `random.setstate`, `np.random.set_state`, `torch.set_rng_state` and, on a
    CUDA machine, `torch.cuda.set_rng_state_all`. Accelerate catches every
    error there and only logs it; this check is what turns that into a refusal.
    Returns the CPU generator state, to confirm afterwards that it was applied.
    """
    states = accelerate_load(path)
    random.Random().setstate(states["random_state"])
    np.random.RandomState().set_state(states["numpy_random_seed"])
    torch.Generator().set_state(states["torch_manual_seed"])
    if is_cuda_available():
        cuda = states.get("torch_cuda_manual_seed")
        if cuda is None:
            raise ValueError("no CUDA generator states (was it saved on a machine without a GPU?)")
        if len(cuda) > torch.cuda.device_count() or not all(
                isinstance(state, torch.Tensor) and state.dtype == torch.uint8 for state in cuda):
            raise ValueError(f"{len(cuda)} CUDA generator states do not fit the "
                             f"{torch.cuda.device_count()} GPU(s) here")
    return states["torch_manual_seed"]


class Checkpoints:
    """`save_state` folders named step-NNNNNNN, written under a temporary name then renamed.

    A run killed while writing leaves only an `.incomplete-*` folder behind, so
    every `step-*` folder was complete when written. Files can still be damaged
    afterwards (a disk fault, a copy cut short, a hand edit), so `--resume`
    loads every file of a checkpoint before trusting it (`problem`) and falls
    back to the newest intact one: resuming from a broken checkpoint would
    either crash or, worse, continue inexactly without saying so.
    """

    def __init__(self, folder: Path, accelerator: Accelerator, keep: int):
        self.folder = folder
        self.accelerator = accelerator
        self.keep = max(1, keep)

    def all(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(path for path in self.folder.iterdir() if path.name.startswith(CHECKPOINT_PREFIX))

    def save(self, state: TrainerState) -> Path:
        accelerator = self.accelerator
        final = self.folder / f"{CHECKPOINT_PREFIX}{state.global_step:07d}"
        incomplete = self.folder / f"{INCOMPLETE_PREFIX}{final.name}"
        if accelerator.is_main_process:
            shutil.rmtree(incomplete, ignore_errors=True)
            incomplete.mkdir(parents=True)
        accelerator.wait_for_everyone()
        accelerator.save_state(str(incomplete))  # every process writes its own RNG state
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            state.save(incomplete)
            shutil.rmtree(final, ignore_errors=True)
            os.replace(incomplete, final)
            for old in self.all()[: -self.keep]:
                shutil.rmtree(old, ignore_errors=True)
        accelerator.wait_for_everyone()
        return final

    def expected_files(self) -> list[str]:
        """What `save_state` writes for this run's prepared objects, and `save` beside it.

        Read from the accelerator's own lists (what `save_state` iterates), so a
        plugin with two models or optimizers (the GAN) is checked file by file.
        """
        accelerator = self.accelerator
        names = [_accelerate_name("model", i, ".safetensors") for i in range(len(accelerator._models))]
        names += [_accelerate_name("optimizer", i, ".bin") for i in range(len(accelerator._optimizers))]
        names += [_accelerate_name("scheduler", i, ".bin") for i in range(len(accelerator._schedulers))]
        names += ["scaler.pt"] if accelerator.scaler is not None else []
        names += [_random_states_name(i) for i in range(accelerator.num_processes)]
        return names + ["trainer_state.json"]

    def problem(self, folder: Path) -> str | None:
        """Why `folder` cannot be resumed from exactly, or None when it can.

        Every expected file must exist, and every state file in the folder must
        load with the loader `load_state` will use: safetensors' own for
        weights, accelerate's `load` (torch.load, weights_only=True) for the
        optimizer, scheduler, scaler and sampler states, the RNG check above
        for random states. Loading is the one check a truncated file cannot
        pass. Custom-object pickles are not opened: this engine registers none.
        """
        if not folder.is_dir():
            return "it is not a folder"
        missing = [name for name in self.expected_files() if not (folder / name).is_file()]
        if missing:
            return f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing"
        for path in sorted(folder.iterdir()):
            try:
                if path.suffix == ".safetensors":
                    load_file(path)
                elif path.name.startswith("random_states_") and path.suffix == ".pkl":
                    _check_random_states(path)
                elif path.suffix in (".bin", ".pt"):
                    accelerate_load(path, map_location="cpu")
            except Exception as error:  # whatever a damaged file raises, it means the same here
                return f"{path.name} does not load: {_one_line(error)}"
        try:
            state = TrainerState.load(folder)
        except (OSError, ValueError) as error:
            return f"trainer_state.json does not load: {_one_line(error)}"
        if folder.name != f"{CHECKPOINT_PREFIX}{state.global_step:07d}":
            return f"trainer_state.json says step {state.global_step}, not the step in the folder's name"
        return None

    def newest_intact(self) -> Path | None:
        """The newest checkpoint without a `problem`, or None when there is no checkpoint at all.

        The main process reads the files and every process takes its verdict, so
        all resume from the same step even if a shared disk answered them
        differently. Says in one line which checkpoints were passed over and
        why; raises DataError (one line) when there are checkpoints but none is
        intact, rather than silently starting again from scratch.
        """
        verdict: list = [None, []]  # [name of the chosen checkpoint, "name (why)" for each damaged newer one]
        if self.accelerator.is_main_process:
            for folder in reversed(self.all()):
                reason = self.problem(folder)
                if reason is None:
                    verdict[0] = folder.name
                    break
                verdict[1].append(f"{folder.name} ({reason})")
        chosen, damaged = broadcast_object_list(verdict)
        if damaged and chosen is None:
            raise DataError(f"--resume: no intact checkpoint in {self.folder}: damaged {'; '.join(damaged)}. "
                            "Restore a good copy, or move the folder away to start from scratch")
        if damaged:
            self.accelerator.print(f"--resume: skipping damaged checkpoint {'; '.join(damaged)}; "
                                   f"falling back to {chosen}, the newest intact one")
        return None if chosen is None else self.folder / chosen

    def load(self, folder: Path) -> TrainerState:
        """Load a checkpoint that has no `problem` and return where its run stood.

        Each process checks its own RNG file again before loading and compares
        the generator with it afterwards, because `load_state` only logs a
        failure there. Files that load can still not fit this run (a checkpoint
        of another preset): a DataError too, not a traceback.
        """
        own = folder / _random_states_name(self.accelerator.process_index)
        try:
            saved_rng = _check_random_states(own)
        except Exception as error:  # as in `problem`: any failure to load means damaged
            raise DataError(f"--resume: {own} does not load: {_one_line(error)}") from error
        try:
            self.accelerator.load_state(str(folder))
        except (RuntimeError, ValueError, KeyError, OSError) as error:
            raise DataError(f"--resume: {folder} does not fit this run (another preset or plugin?): "
                            f"{_one_line(error)}") from error
        if not torch.equal(torch.get_rng_state(), saved_rng):
            raise DataError(f"--resume: accelerate did not apply the random states of {own}, "
                            "so the resume would not be exact")
        return TrainerState.load(folder)

    def remove_incomplete(self) -> None:
        if self.accelerator.is_main_process and self.folder.is_dir():
            for path in self.folder.glob(f"{INCOMPLETE_PREFIX}*"):
                shutil.rmtree(path, ignore_errors=True)


class StopRequest:
    """Turns the first Ctrl-C / SIGTERM into "checkpoint and stop"; a second Ctrl-C stops at once."""

    def __init__(self):
        self.requested = False
        self._previous = {}

    def __enter__(self):
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[signum] = signal.signal(signum, self._handle)
            except ValueError:  # not the main thread (e.g. called from a notebook worker)
                pass
        return self

    def _handle(self, signum, frame):
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        print("\nStopping: finishing this step and saving a checkpoint (Ctrl-C again to abort at once).", flush=True)

    def agreed(self, accelerator: Accelerator) -> bool:
        """Whether any process was asked to stop: all must save the checkpoint together."""
        if accelerator.num_processes == 1:
            return self.requested
        flag = torch.tensor([float(self.requested)], device=accelerator.device)
        return bool(accelerator.reduce(flag, reduction="sum").item() > 0)

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def weights_fingerprint(model: torch.nn.Module) -> str:
    """A hash of every parameter and buffer: equal on all processes when data parallelism really ran."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def make_accelerator(mixed_precision: str, grad_accum: int, seed: int) -> Accelerator:
    """An Accelerator that also parallelises over CPU processes.

    Without a GPU, a plain `Accelerator()` under `torchrun --nproc_per_node 2`
    silently runs two independent jobs; `cpu=True` gives real data parallelism
    over gloo. The loop steps the schedules itself, once per optimizer step of
    the run, so a schedule's length is simply the number of steps.
    """
    accelerator = Accelerator(
        cpu=not torch.cuda.is_available(),
        mixed_precision=mixed_precision,
        gradient_accumulation_steps=grad_accum,
        step_scheduler_with_optimizer=False,
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=seed),
    )
    if accelerator.device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        # Processes on one machine share its cores; oversubscribing them is slower than not.
        local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", accelerator.num_processes))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_processes))
    return accelerator


def load_run_data(plugin, preset, options: TrainOptions):
    if options.synthetic:
        return plugin.synthetic_data(preset, num_examples=options.synthetic, seed=options.seed)
    return plugin.load_data(Path(options.data_dir) if options.data_dir else None, preset, options.seed)


def evaluate_saved(options: TrainOptions, model_dir: Path) -> dict:
    """Run the plugin's final report on a saved model (e.g. a shipped one) and return its figures.

    Pictures the report draws go to `options.output_dir` (nothing is written when it is None).
    """
    import tempfile

    plugin = get_plugin(options.plugin)
    preset = plugin.preset(options.preset)
    accelerator = make_accelerator(options.mixed_precision, 1, options.seed)
    set_seed(options.seed)
    data = load_run_data(plugin, preset, options)
    model = accelerator.prepare(plugin.load_for_demo(Path(model_dir)))
    with tempfile.TemporaryDirectory() as scratch:
        report = plugin.final_report(accelerator.unwrap_model(model), data,
                                     Path(options.output_dir or scratch), accelerator)
    return report


def train(options: TrainOptions) -> Path:
    """Train `options.plugin` and return the `save_pretrained` folder of the result."""
    plugin = get_plugin(options.plugin)
    preset_name = options.preset or plugin.default_preset
    preset = plugin.preset(preset_name)
    recipe = preset.training.overridden(
        epochs=options.epochs, max_steps=options.max_steps, batch_size=options.batch_size,
        learning_rate=options.learning_rate, checkpoint_every=options.checkpoint_every,
    )
    output_dir = Path(options.output_dir or f"runs/{plugin.name}-{preset_name}")
    checkpoint_folder = output_dir / "checkpoints"

    accelerator = make_accelerator(options.mixed_precision, options.grad_accum, options.seed)
    checkpoints = Checkpoints(checkpoint_folder, accelerator, options.keep_checkpoints)
    if not options.resume and checkpoints.all():
        raise FileExistsError(
            f"{output_dir} already holds checkpoints of an earlier run; pass --resume to continue it "
            "or choose another --output-dir"
        )
    set_seed(options.seed)
    if accelerator.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
    log = MetricsLog(output_dir / "metrics.jsonl", accelerator)

    # ------------------------------------------------------------------ data
    data = load_run_data(plugin, preset, options)
    train_loader = DataLoader(data.train, batch_size=recipe.batch_size, shuffle=True, drop_last=True,
                              collate_fn=plugin.collate)
    validation_loader = DataLoader(data.validation, batch_size=recipe.eval_batch_size, collate_fn=plugin.collate)
    if len(train_loader) == 0:
        raise DataError(f"the training split has {len(data.train)} examples, fewer than one batch of {recipe.batch_size}")

    # ---------------------------------------------------------------- models
    batches_per_epoch = len(train_loader) // accelerator.num_processes
    steps_per_epoch = max(1, math.ceil(batches_per_epoch / options.grad_accum))
    total_steps = recipe.max_steps or recipe.epochs * steps_per_epoch
    epochs = math.ceil(total_steps / steps_per_epoch)
    # How this model runs fastest here (memory layout, threads, compiled optimizer step): measured once per
    # machine and cached, kept for the whole run (a resume reads it back), see plugins/speed.py.
    plan = plan_for_run(plugin, preset, recipe, data, accelerator, total_steps, output_dir,
                        resuming=options.resume and bool(checkpoints.all()))
    parts = plugin.build_training(preset, recipe, data, total_steps)
    plan.apply_to(parts)
    prepared = accelerator.prepare(*parts.models.values(), *parts.optimizers.values(), *parts.schedulers.values(),
                                   train_loader, validation_loader)
    models, prepared = prepared[: len(parts.models)], prepared[len(parts.models):]
    optimizers, prepared = prepared[: len(parts.optimizers)], prepared[len(parts.optimizers):]
    schedulers, (train_loader, validation_loader) = prepared[: len(parts.schedulers)], prepared[len(parts.schedulers):]
    parts = TrainingParts(dict(zip(parts.models, models)), dict(zip(parts.optimizers, optimizers)),
                          dict(zip(parts.schedulers, schedulers)))
    plan.compile_optimizer_steps(parts)

    # ---------------------------------------------------------------- resume
    state = TrainerState()
    checkpointed_step = None  # the step whose checkpoint this run wrote or resumed from last
    checkpoints.remove_incomplete()
    if options.resume:
        latest = checkpoints.newest_intact()
        if latest is None:
            accelerator.print(f"--resume: no checkpoint in {checkpoint_folder} yet, starting from scratch")
        else:
            state = checkpoints.load(latest)
            checkpointed_step = state.global_step
            log.drop_after(state.global_step)
            accelerator.print(f"Resumed from {latest} (epoch {state.epoch + 1}, step {state.global_step})")
    if state.global_step == 0:
        log.write({"event": "start", "step": 0, "plugin": plugin.name, "preset": preset_name,
                   "total_steps": total_steps, "epochs": epochs, "seed": options.seed, "speed_plan": asdict(plan),
                   "train_examples": len(data.train), "validation_examples": len(data.validation)})

    # ------------------------------------------------------------------ loop
    progress = tqdm(total=total_steps, initial=state.global_step, desc=f"{plugin.name}:{preset_name}",
                    disable=not accelerator.is_local_main_process, dynamic_ncols=True)
    validation_metrics: dict = {}
    running: dict[str, list[torch.Tensor]] = {}
    started = time.perf_counter() - state.train_seconds
    with StopRequest() as stop:
        for epoch in range(state.epoch, epochs):
            train_loader.set_epoch(epoch)  # the shuffle order depends on (seed, epoch) only
            batches, resumed_rng = train_loader, None
            if state.batches_in_epoch >= batches_per_epoch or state.global_step >= total_steps:
                batches = []  # resumed at the very end of an epoch or of the run: only evaluation is left
            elif state.batches_in_epoch:
                batches = accelerator.skip_first_batches(train_loader, state.batches_in_epoch)
                # Starting a DataLoader iterator draws from the global torch RNG; the uninterrupted
                # run drew that at the start of the epoch, so undo the extra draw made here.
                resumed_rng = torch.get_rng_state()
            for batch in batches:
                if resumed_rng is not None:
                    torch.set_rng_state(resumed_rng)
                    resumed_rng = None
                with accelerator.accumulate(*parts.models.values()):
                    for key, value in plugin.training_step(parts, plan.arrange(batch), accelerator, recipe).items():
                        running.setdefault(key, []).append(value)
                state.batches_in_epoch += 1
                if not accelerator.sync_gradients:
                    continue
                for scheduler in parts.schedulers.values():
                    scheduler.step()
                state.global_step += 1
                progress.update(1)
                plugin.after_step(parts, state.global_step, output_dir, accelerator, recipe)
                if state.global_step % recipe.log_every == 0 or state.global_step == total_steps:
                    averages = {key: torch.stack(values).float().mean().item() for key, values in running.items()}
                    running.clear()
                    progress.set_postfix({key: f"{value:.4g}" for key, value in averages.items()})
                    log.write({"split": "train", "step": state.global_step,
                               "epoch": epoch + state.batches_in_epoch / max(1, batches_per_epoch),
                               "lr": parts.optimizer.param_groups[0]["lr"], **averages})
                if stop.agreed(accelerator):
                    state.train_seconds = time.perf_counter() - started
                    raise TrainingInterrupted(checkpoints.save(state))
                if state.global_step % recipe.checkpoint_every == 0:
                    state.train_seconds = time.perf_counter() - started
                    checkpoints.save(state)
                    checkpointed_step = state.global_step
                if state.global_step >= total_steps:
                    break
            if state.global_step >= total_steps and state.batches_in_epoch < batches_per_epoch:
                epoch_done = epoch + state.batches_in_epoch / max(1, batches_per_epoch)
            else:
                epoch_done = epoch + 1
            validation_metrics = plugin.evaluate(parts, validation_loader, accelerator)
            log.write({"split": "validation", "step": state.global_step, "epoch": epoch_done, **validation_metrics})
            if accelerator.is_local_main_process:
                progress.write(f"epoch {epoch_done:.2f} validation: " + ", ".join(
                    f"{key} {value:.4g}" for key, value in validation_metrics.items() if isinstance(value, (int, float))))
            if state.global_step >= total_steps:
                break
            state.epoch, state.batches_in_epoch = epoch + 1, 0
        state.train_seconds = time.perf_counter() - started
        if checkpointed_step != state.global_step:  # not the newest folder's name: it may be a damaged one
            checkpoints.save(state)
    progress.close()

    # ----------------------------------------------------------------- final
    model_dir = output_dir / "model"
    model = plugin.save_pretrained(parts, model_dir, accelerator)
    fingerprints = gather_object([weights_fingerprint(model)])
    log.write({"event": "end", "step": state.global_step, "weights_fingerprints": fingerprints})
    if len(set(fingerprints)) != 1:
        raise RuntimeError(f"the {accelerator.num_processes} processes ended with different weights: {fingerprints}")
    report = plugin.final_report(model, data, model_dir, accelerator)
    results = {
        "plugin": plugin.name,
        "preset": preset_name,
        "preset_description": preset.description,
        "lecture_reference": preset.reference,
        "recipe": asdict(recipe),
        "data": data.description if not options.synthetic else f"SYNTHETIC smoke-test data ({options.synthetic} examples)",
        "seed": options.seed,
        "steps": state.global_step,
        "epochs": round(state.global_step / steps_per_epoch, 3),
        "num_processes": accelerator.num_processes,
        "mixed_precision": options.mixed_precision,
        "hardware": describe_hardware(accelerator),
        "train_seconds": round(state.train_seconds, 1),
        "seconds_per_epoch": round(state.train_seconds / max(1e-9, state.global_step / steps_per_epoch), 1),
        "parameters": sum(parameter.numel() for parameter in model.parameters()),
        "validation": validation_metrics,
        "test": report,
    }
    if accelerator.is_main_process:
        (model_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        write_model_card(plugin, model_dir, results)
        log.write({"split": "test", "step": state.global_step, **{k: v for k, v in report.items()
                                                                   if isinstance(v, (int, float))}})
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return model_dir


__all__ = ["TrainOptions", "TrainingInterrupted", "train"]
