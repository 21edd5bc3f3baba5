"""The plugin contract: what a topic of the hub declares and which hooks it fills.

A plugin is a class, registered by name (`plugins.registry.register_plugin`),
that ties one model family (`models/<family>/`) to its data, presets, training
step, evaluation, Gradio demo and model card. The training loop itself lives in
`plugins.engine` and is shared by every plugin: plugins override the *step*,
never the loop.

The class is checked when it is defined, so a plugin that forgets a required
attribute or hook fails at import with a message naming what is missing, not
in front of a user.
"""

from __future__ import annotations

import inspect
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch.utils.data import Dataset

from .datasets import collate_examples

if TYPE_CHECKING:  # imported lazily: the registry is read by `train.py --list` without Gradio
    from accelerate import Accelerator
    from transformers import PretrainedConfig, PreTrainedModel


@dataclass(frozen=True)
class TrainingRecipe:
    """Hyper-parameters of one training run; every field can be overridden from the CLI.

    `options` holds what only one plugin understands (augmentation strength,
    GAN discriminator steps, ...); the engine passes it through untouched.
    """

    epochs: int = 10
    max_steps: int | None = None  # when set, training stops after this many optimizer steps
    batch_size: int = 128
    learning_rate: float = 1e-3
    optimizer: str = "adam"  # adam | adamw | adadelta | sgd
    optimizer_options: dict[str, Any] = field(default_factory=dict)
    schedule: str = "constant"  # constant | cosine | onecycle | exponential
    schedule_options: dict[str, Any] = field(default_factory=dict)
    max_grad_norm: float | None = None
    eval_batch_size: int = 1000
    checkpoint_every: int = 1000  # optimizer steps between checkpoints (and one at the end)
    log_every: int = 50
    options: dict[str, Any] = field(default_factory=dict)

    def overridden(self, **changes) -> "TrainingRecipe":
        """A copy with the given fields replaced, ignoring those left as None."""
        return replace(self, **{key: value for key, value in changes.items() if value is not None})


@dataclass(frozen=True)
class Preset:
    """A named, reproducible recipe: the model's configuration and how to train it."""

    description: str
    model: dict[str, Any]
    training: TrainingRecipe
    reference: str = ""  # what the lecture reached with it, when the preset reproduces the lecture


@dataclass
class DataSplits:
    """The data of one run. `test` is only looked at once, in the final report."""

    train: Dataset
    validation: Dataset
    test: Dataset | None = None
    description: str = ""  # one line for the model card: source, sizes, split
    extras: dict[str, Any] = field(default_factory=dict)  # what the model needs from the data (a vocabulary, ...)


@dataclass
class TrainingParts:
    """Everything the engine prepares with Accelerate. The first model is the one saved.

    An optimizer (and its schedule) carries the name of the model it trains;
    a model without an optimizer (a GAN's moving average) is never updated.
    """

    models: dict[str, torch.nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, Any] = field(default_factory=dict)

    def update(self, name: str, loss: torch.Tensor, accelerator: Accelerator, recipe: TrainingRecipe) -> None:
        """The hub's one optimizer update: backpropagate `loss` into the model called `name`, clip its
        gradients to `recipe.max_grad_norm`, step its optimizer and clear its gradients.

        Only that model's parameters receive gradients, so a generator's loss
        judged by the discriminator leaves the discriminator's alone (Keras'
        `trainable = False`). Under `accelerator.accumulate` the clipping, step
        and clearing happen on the last batch of each accumulation only. The
        loop steps the schedules, once per optimizer step of the run however
        many updates a step makes (the lecture's GAN updates D twice).
        """
        if name not in self.optimizers:
            raise KeyError(f"no optimizer named {name!r} to update; the optimizers are: {', '.join(self.optimizers)}")
        model, optimizer = self.models[name], self.optimizers[name]
        accelerator.backward(loss, inputs=[parameter for parameter in model.parameters() if parameter.requires_grad])
        if recipe.max_grad_norm and accelerator.sync_gradients:
            accelerator.clip_grad_norm_(model.parameters(), recipe.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    @property
    def model(self) -> torch.nn.Module:
        return next(iter(self.models.values()))

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        return next(iter(self.optimizers.values()))

    @property
    def scheduler(self):
        return next(iter(self.schedulers.values()), None)


@dataclass(frozen=True)
class SpaceCard:
    """What a plugin's own Hugging Face Space says of itself; `python -m plugins spaces` writes
    `spaces/<name>/` from it (empty fields fall back to the plugin's title and description)."""

    title: str = ""  # the Space's title, e.g. "Digits: the lecture's CNNs on MNIST"
    summary: str = ""  # the paragraph of its README
    tagline: str = ""  # the one line under its title in the Spaces listing (short_description, <= 60 characters)
    emoji: str = "🧠"
    color_from: str = "indigo"
    color_to: str = "pink"
    system_packages: tuple[str, ...] = ()  # Debian packages the Space installs (its packages.txt)


PLUGIN_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_REQUIRED_ATTRIBUTES = ("name", "title", "description", "config_class", "model_class", "presets")
_REQUIRED_HOOKS = ("load_data", "synthetic_data", "build_demo")


class Plugin:
    """Base class of a hub topic. Subclass it, fill the attributes and hooks, register it.

    Required class attributes: `name` (lower-case, dashes: "mnist-cnn"), `title`
    (tab title), `description` (one paragraph for the hub and the card),
    `config_class` and `model_class` (the transformers classes of its model
    family) and `presets` (name -> `Preset`, including `default_preset`).
    Required hooks: `load_data`, `synthetic_data` and `build_demo`; the others
    have defaults that suit a single model trained on `model(**batch).loss`.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    config_class: ClassVar[type[PretrainedConfig]]
    model_class: ClassVar[type[PreTrainedModel]]
    presets: ClassVar[dict[str, Preset]]
    default_preset: ClassVar[str] = "best"
    # Where the tab sits in the hub: the lecture's order for the built-ins; third-party plugins come after.
    order: ClassVar[float] = 100.0
    # The plugin's own Space (spaces/<name>/, generated by `python -m plugins spaces`).
    space: ClassVar[SpaceCard] = SpaceCard()
    # Which transformers Auto class the model answers to once pushed with its code.
    auto_class: ClassVar[str] = "AutoModel"
    # "mnist" or "glyph" for image classifiers: their folders then carry the image processor
    # (models/cnn_classifier/image_processing_cnn_classifier.py) that pipeline("image-classification") needs.
    image_preparation: ClassVar[str | None] = None
    # Hub model-card metadata: license, pipeline_tag, tags, datasets.
    card_metadata: ClassVar[dict[str, Any]] = {}
    # Weights the demo offers: choice label -> folder name under `pretrained/` (also the Hub repo name).
    # Empty means one choice, the folder named like the plugin.
    demo_weights: ClassVar[dict[str, str]] = {}
    # The lecture material the topic comes from, in Markdown for the top of its tab: which slides, scripts or
    # lab, with a link where the material is public. Empty: the tab points at the lecture in general.
    lecture: ClassVar[str] = ""

    @classmethod
    def weight_folders(cls) -> dict[str, str]:
        """Demo choice label -> shipped folder name: `demo_weights`, or one folder named like the plugin.
        The first is the plugin's headline model."""
        return dict(cls.demo_weights) or {cls.name: cls.name}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if inspect.isabstract(cls) or cls.__dict__.get("_abstract", False):
            return
        missing = [attribute for attribute in _REQUIRED_ATTRIBUTES if not hasattr(cls, attribute)]
        missing += [hook for hook in _REQUIRED_HOOKS if getattr(cls, hook) is getattr(Plugin, hook)]
        if missing:
            raise TypeError(f"plugin class {cls.__qualname__} does not define: {', '.join(missing)}")
        if not isinstance(cls.name, str) or not PLUGIN_NAME.match(cls.name):
            raise TypeError(f"plugin name {cls.name!r} must be lower-case words joined by dashes, e.g. 'mnist-cnn'")
        if not cls.presets or not all(isinstance(preset, Preset) for preset in cls.presets.values()):
            raise TypeError(f"plugin {cls.name!r}: presets must be a non-empty dict of Preset")
        if cls.default_preset not in cls.presets:
            raise TypeError(
                f"plugin {cls.name!r}: default_preset {cls.default_preset!r} is not one of {sorted(cls.presets)}"
            )

    # ----------------------------------------------------------------- presets
    def preset(self, name: str | None = None) -> Preset:
        """The preset called `name` (the default preset when None); unknown names list the valid ones."""
        name = name or self.default_preset
        if name not in self.presets:
            raise KeyError(f"plugin {self.name!r} has no preset {name!r}; choose one of: {', '.join(self.presets)}")
        return self.presets[name]

    # -------------------------------------------------------------------- data
    def load_data(self, data_dir: Path | None, preset: Preset, seed: int) -> DataSplits:
        """Load the real training data.

        `data_dir` comes from `--data-dir` (None when not given: then fetch the
        data the ordinary way, e.g. from the Hugging Face Hub, or raise an error
        that names both ways to provide it). The validation split must be
        disjoint from train; `test` is reserved for the final report.
        """
        raise NotImplementedError

    def synthetic_data(self, preset: Preset, num_examples: int = 64, seed: int = 0) -> DataSplits:
        """A tiny data set made on the spot, with the shapes of the real one.

        The contract tests train every preset on it for a few steps, so it must
        be quick to build and need no files or network.
        """
        raise NotImplementedError

    def collate(self, examples):
        """Turn what the data set's `__getitem__`/`__getitems__` returned into a batch dict."""
        return collate_examples(examples)

    # ------------------------------------------------------------------- model
    def build_config(self, preset: Preset, data: DataSplits) -> PretrainedConfig:
        """The model configuration for a run; override when it depends on the data (a vocabulary)."""
        return self.config_class(**preset.model)

    def build_training(self, preset: Preset, recipe: TrainingRecipe, data: DataSplits, total_steps: int) -> TrainingParts:
        """Models, optimizers and schedulers of a run. Two-network plugins (GANs) override this."""
        model = self.model_class(self.build_config(preset, data))
        optimizer = make_optimizer(model.parameters(), recipe)
        return TrainingParts(
            models={"model": model},
            optimizers={"model": optimizer},
            schedulers={"model": make_scheduler(optimizer, recipe, total_steps)},
        )

    def training_step(self, parts: TrainingParts, batch: dict, accelerator: Accelerator, recipe: TrainingRecipe) -> dict[str, torch.Tensor]:
        """The loss of one batch, handed to `parts.update`; returns detached metrics to log (e.g. {"loss": ...}).

        Override it for augmentation, another loss or a GAN's two updates, and
        leave the update itself (backward, clipping, step) to `parts.update`.
        Called inside `accelerator.accumulate(...)`, so with `--grad-accum K`
        the optimizer only really steps every K calls.
        """
        loss = parts.model(**batch).loss
        parts.update("model", loss, accelerator, recipe)
        return {"loss": loss.detach()}

    def after_step(self, parts: TrainingParts, step: int, output_dir: Path, accelerator: Accelerator,
                   recipe: TrainingRecipe) -> None:
        """Called on every process after each optimizer step (e.g. to save a sample grid every N steps).

        Must not consume the global RNGs (use a fixed `torch.Generator`), or a
        resumed run would no longer equal an uninterrupted one.
        """

    @torch.no_grad()
    def evaluate(self, parts: TrainingParts, dataloader, accelerator: Accelerator) -> dict[str, float]:
        """Metrics on the validation split after each epoch (default: mean loss)."""
        model = parts.model
        model.eval()
        losses = []
        for batch in dataloader:
            loss = model(**batch).loss
            count = next(iter(batch.values())).shape[0]
            losses.append(accelerator.gather_for_metrics(loss.detach().repeat(count)))
        model.train()
        return {"loss": torch.cat(losses).mean().item()}

    def final_report(self, model: PreTrainedModel, data: DataSplits, output_dir: Path, accelerator: Accelerator) -> dict[str, Any]:
        """Measured figures of the finished model for its card (the test split when there is one).

        Runs on every process (use `gather_for_metrics`); only the main process
        should write files into `output_dir`. Returns JSON-serialisable values.
        """
        return {}

    def save_pretrained(self, parts: TrainingParts, output_dir: Path, accelerator: Accelerator) -> PreTrainedModel:
        """Write the model a Hub user downloads as a `save_pretrained` folder with its code."""
        model = accelerator.unwrap_model(parts.model)
        model.config.register_for_auto_class()
        model.register_for_auto_class(self.auto_class)
        model.save_pretrained(output_dir, is_main_process=accelerator.is_main_process)
        if self.image_preparation and accelerator.is_main_process:
            save_image_processor(output_dir, self.image_preparation)
        return model

    # -------------------------------------------------------------------- card
    def card_metadata_for(self, results: dict[str, Any]) -> dict[str, Any]:
        """The card's Hub metadata for one run: `card_metadata`, unless the run's data changes it."""
        return dict(self.card_metadata)

    def data_licence_for(self, results: dict[str, Any]) -> str:
        """Whose data the run trained on and under which terms (one sentence for the card), or ""."""
        return ""

    def model_card(self, results: dict[str, Any]) -> str:
        """Markdown body of the model card (after the generic header), from a run's saved results."""
        return ""

    def usage_snippet(self, repo_id: str) -> str:
        """Python lines that use the published model with only transformers, torch (and mido) installed."""
        return (
            "from transformers import AutoModel\n\n"
            f'model = AutoModel.from_pretrained("{repo_id}", trust_remote_code=True)\n'
        )

    # -------------------------------------------------------------------- demo
    def load_for_demo(self, folder: Path) -> PreTrainedModel:
        """Load shipped weights for serving with this repo's own classes: never remote code."""
        model = self.model_class.from_pretrained(folder)
        model.eval()
        return model

    def build_demo(self, model: PreTrainedModel) -> None:
        """Create this plugin's Gradio components and events inside the current `gr.Tab`.

        API names must be `<plugin_name_with_underscores>_<verb>` so they stay
        unique across the hub, and every callback must validate its inputs on
        the server (raise `UnusableInputError`).
        """
        raise NotImplementedError


def save_image_processor(folder: Path, preparation: str) -> None:
    """Write preprocessor_config.json and the processor's code beside a classifier's weights, registered for
    AutoImageProcessor: without them the Hub's pipeline() snippet fails ("Can't load image processor")."""
    from models.cnn_classifier.image_processing_cnn_classifier import CnnClassifierImageProcessor

    processor = CnnClassifierImageProcessor(preparation=preparation)
    processor.register_for_auto_class("AutoImageProcessor")
    processor.save_pretrained(folder)


# --------------------------------------------------------------- optimizers
FUSED_OPTIMIZERS = ("adam", "adamw", "sgd")  # those torch has fused kernels for, on CPU and GPU


def make_optimizer(parameters, recipe: TrainingRecipe) -> torch.optim.Optimizer:
    """The optimizer named by the recipe, with its options (e.g. Keras' Adadelta rho=0.95).

    Adam, AdamW and SGD use torch's fused kernels (one pass over each tensor, on CPU too: the lecture GANs'
    Adam steps 3-4x faster than with `foreach`; results equal `foreach`'s to float rounding); Adadelta has none
    and gets `foreach`, on every device (torch turns it on for CUDA only), which saves the Python loop over
    parameters: 5-10 % of a lecture-01a step (bench/bench_mnist.py)."""
    optimizers = {
        "adam": torch.optim.Adam,
        "adamw": torch.optim.AdamW,
        "adadelta": torch.optim.Adadelta,
        "sgd": torch.optim.SGD,
    }
    if recipe.optimizer not in optimizers:
        raise ValueError(f"unknown optimizer {recipe.optimizer!r}; choose one of: {', '.join(optimizers)}")
    kernel = {"fused": True} if recipe.optimizer in FUSED_OPTIMIZERS else {"foreach": True}
    return optimizers[recipe.optimizer](parameters, lr=recipe.learning_rate, **{**kernel, **recipe.optimizer_options})


def make_scheduler(optimizer: torch.optim.Optimizer, recipe: TrainingRecipe, total_steps: int):
    """A per-step learning-rate schedule over `total_steps` optimizer steps."""
    total_steps = max(1, total_steps)
    options = recipe.schedule_options
    if recipe.schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    if recipe.schedule == "cosine":
        warmup = int(options.get("warmup_fraction", 0.0) * total_steps)

        def cosine(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
            return 0.5 * (1.0 + math.cos(math.pi * progress))

        return torch.optim.lr_scheduler.LambdaLR(optimizer, cosine)
    if recipe.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=recipe.learning_rate, total_steps=total_steps + 1,
            pct_start=options.get("pct_start", 0.25),
        )
    if recipe.schedule == "exponential":
        # Decay by `gamma` per epoch, applied smoothly per step.
        steps_per_epoch = max(1, total_steps // max(1, recipe.epochs))
        gamma = options.get("gamma", 0.95) ** (1.0 / steps_per_epoch)
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma)
    raise ValueError(f"unknown schedule {recipe.schedule!r}; choose one of: constant, cosine, onecycle, exponential")
