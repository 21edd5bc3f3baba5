"""The one training loop of the hub, built on `accelerate.Accelerator`.

It runs unchanged on one CPU, one GPU, several GPUs or several machines
(`accelerate launch` / `torchrun` start the processes; Accelerate and
torch.distributed do the distributed work). Plugins supply data, models and
the step; the loop owns seeding, progress, evaluation each epoch, JSON-lines
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
import shutil
import signal
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, gather_object, set_seed
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from .base import TrainingParts
from .cards import describe_hardware, write_model_card
from .errors import DataError
from .registry import get_plugin

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
        return cls(**json.loads((folder / "trainer_state.json").read_text()))


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


class Checkpoints:
    """`save_state` folders named step-NNNNNNN, written under a temporary name then renamed.

    A run killed while writing leaves only an `.incomplete-*` folder behind, so
    the newest `step-*` folder is always a complete, loadable checkpoint.
    """

    def __init__(self, folder: Path, accelerator: Accelerator, keep: int):
        self.folder = folder
        self.accelerator = accelerator
        self.keep = max(1, keep)

    def all(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(path for path in self.folder.iterdir() if path.name.startswith(CHECKPOINT_PREFIX))

    def latest(self) -> Path | None:
        return (self.all() or [None])[-1]

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
    over gloo. The scheduler is stepped by the training step itself, once per
    optimizer step, so a schedule's length is simply the number of steps.
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
    parts = plugin.build_training(preset, recipe, data, total_steps)
    prepared = accelerator.prepare(*parts.models.values(), *parts.optimizers.values(), *parts.schedulers.values(),
                                   train_loader, validation_loader)
    models, prepared = prepared[: len(parts.models)], prepared[len(parts.models):]
    optimizers, prepared = prepared[: len(parts.optimizers)], prepared[len(parts.optimizers):]
    schedulers, (train_loader, validation_loader) = prepared[: len(parts.schedulers)], prepared[len(parts.schedulers):]
    parts = TrainingParts(dict(zip(parts.models, models)), dict(zip(parts.optimizers, optimizers)),
                          dict(zip(parts.schedulers, schedulers)))

    # ---------------------------------------------------------------- resume
    state = TrainerState()
    checkpoints.remove_incomplete()
    if options.resume:
        latest = checkpoints.latest()
        if latest is None:
            accelerator.print(f"--resume: no checkpoint in {checkpoint_folder} yet, starting from scratch")
        else:
            accelerator.load_state(str(latest))
            state = TrainerState.load(latest)
            log.drop_after(state.global_step)
            accelerator.print(f"Resumed from {latest} (epoch {state.epoch + 1}, step {state.global_step})")
    if state.global_step == 0:
        log.write({"event": "start", "step": 0, "plugin": plugin.name, "preset": preset_name,
                   "total_steps": total_steps, "epochs": epochs, "seed": options.seed,
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
                    for key, value in plugin.training_step(parts, batch, accelerator, recipe).items():
                        running.setdefault(key, []).append(value)
                state.batches_in_epoch += 1
                if not accelerator.sync_gradients:
                    continue
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
        last_checkpoint = checkpoints.latest()
        if last_checkpoint is None or not last_checkpoint.name.endswith(f"{state.global_step:07d}"):
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
