"""The `font-gan` plugin: GANs that invent Chinese glyphs (and MNIST digits), as in the lecture and better.

Two networks, two optimizers, one step that updates the discriminator and
then the generator, through the hub's shared Accelerate loop. The generator is
the model that is saved and published; checkpoints hold both networks (and
the generator's moving average, when the preset keeps one).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from models.gan import GanConfig, GanDiscriminator, GanGenerator

from ..base import (DataSplits, Plugin, Preset, SpaceCard, TrainingParts, TrainingRecipe, make_optimizer,
                    make_scheduler)
from ..glyphs.augment import random_shift
from ..images import tile
from ..registry import register_plugin
from . import quality
from .data import load_glyph_splits, load_mnist_splits, synthetic_splits
from .fast_generator import install_fast_generator, install_serving_generator
from .presets import PRESETS

SAMPLE_SEED = 0  # the fixed noise of the progress grids and the card's sample grid
SAMPLE_GRID = 64
FEATURE_NETWORKS = {"glyphs": "font-style-cnn", "mnist": "mnist-cnn"}


def discriminator_loss(logits: torch.Tensor, real: bool, loss: str, label_smoothing: float) -> torch.Tensor:
    logits = logits.float()
    if loss == "hinge":
        return F.relu(1.0 - logits).mean() if real else F.relu(1.0 + logits).mean()
    # One-sided label smoothing: real targets 1 - s, fake targets stay 0.
    target = torch.full_like(logits, 1.0 - label_smoothing if real else 0.0)
    return F.binary_cross_entropy_with_logits(logits, target)


def generator_loss(logits: torch.Tensor, loss: str) -> torch.Tensor:
    logits = logits.float()
    if loss == "hinge":
        return -logits.mean()
    return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))  # non-saturating, as the lecture


def data_kind(preset: Preset) -> str:
    return "mnist" if preset.training.options.get("data", {}).get("mnist") else "glyphs"


def load_feature_network(kind: str, image_size: int):
    """The classifier whose features the Fréchet distance uses: shipped folder first, then Hub/cache."""
    from models.cnn_classifier import CnnClassifierForImageClassification

    from ..serving import PRETRAINED_ROOT, resolve_weights

    name = FEATURE_NETWORKS[kind]
    folder = PRETRAINED_ROOT / name
    if not (folder / "config.json").is_file():
        try:
            folder, _ = resolve_weights(name)
        except FileNotFoundError:
            return None, name
    classifier = CnnClassifierForImageClassification.from_pretrained(folder, dtype=torch.float32)
    if classifier.config.image_size != image_size:
        return None, name
    return classifier.eval(), name


@register_plugin
class FontGanPlugin(Plugin):
    name = "font-gan"
    title = "Glyph GAN"
    description = (
        "Generative adversarial networks that invent Chinese characters that do not exist, trained on 48x48 "
        "renders of the 4,808 commonly used characters of Taiwan's Ministry of Education list. The presets "
        "reproduce the lecture's MLP GAN (1304-example-07) and DCGAN (1304-example-08) and add a recipe that "
        "draws sharper, more varied glyphs; practice 02 mixes two script styles into a new one."
    )
    config_class = GanConfig
    model_class = GanGenerator
    presets = PRESETS
    order = 40  # the hub's tab order: the lecture's
    lecture = ("Kai-Feng Chen (NTU), *Deep Structured Learning*: GANs, the scripts 1304-example-07 "
               "(a dense GAN) and 08 (a DCGAN on 48x48 glyphs), and practice 02 (glyphs between two styles)")
    space = SpaceCard(
        title="Glyph GAN: Chinese characters from noise", emoji="🖌️", color_from="gray", color_to="red",
        summary="A generative adversarial network \"invents\" Chinese characters after seeing 48x48 renders of the "
                "4,808 commonly used characters of Taiwan's Ministry of Education: draw a grid from a seed, see the "
                "nearest real glyph beside each invented one, and morph one glyph into another along the latent "
                "space.",
        system_packages=("fonts-arphic-ukai", "fonts-arphic-uming"),
    )
    default_preset = "best"
    auto_class = "AutoModel"
    card_metadata = {
        "license": "mit",
        "pipeline_tag": "unconditional-image-generation",
        "tags": ["gan", "dcgan", "chinese-characters", "glyphs", "pytorch"],
        "datasets": ["moe-4808-glyphs"],
    }
    demo_weights = {"Kai (best)": "font-gan", "Kai + Ming mixed (practice 02)": "font-gan-mixed",
                    "MNIST digits": "font-gan-mnist"}

    # -------------------------------------------------------------- data
    def load_data(self, data_dir, preset, seed):
        if data_kind(preset) == "mnist":
            return load_mnist_splits(data_dir)
        from .data import glyph_spec

        return load_glyph_splits(glyph_spec(preset.training.options, data_dir), data_dir)

    def synthetic_data(self, preset, num_examples=64, seed=0):
        return synthetic_splits(num_examples, preset.model.get("image_size", 48), seed)

    # ---------------------------------------------------------- training
    def build_training(self, preset, recipe, data, total_steps):
        config = self.build_config(preset, data)
        # The fast generator computes the plain model's function with fewer operations (fast_generator.py)
        generator, discriminator = install_fast_generator(GanGenerator(config)), GanDiscriminator(config)
        models = {"generator": generator, "discriminator": discriminator}
        if recipe.options.get("ema_decay"):
            # The moving average of the generator's weights is what gets saved: it draws cleaner glyphs
            # than the generator of any single step. It has no optimizer and is never trained directly.
            # Its weights keep requires_grad (no optimizer ever sees them): Accelerate wraps every model
            # of a multi-process CPU run in DDP, which refuses a module without trainable parameters.
            average = install_fast_generator(GanGenerator(config))
            average.load_state_dict(generator.state_dict())
            average.eval()
            models = {"generator_ema": average, **models}
        discriminator_recipe = recipe.overridden(
            learning_rate=recipe.options.get("discriminator_learning_rate", recipe.learning_rate))
        optimizers = {"generator": make_optimizer(generator.parameters(), recipe),
                      "discriminator": make_optimizer(discriminator.parameters(), discriminator_recipe)}
        schedulers = {"generator": make_scheduler(optimizers["generator"], recipe, total_steps),
                      "discriminator": make_scheduler(optimizers["discriminator"], discriminator_recipe, total_steps)}
        return TrainingParts(models=models, optimizers=optimizers, schedulers=schedulers)

    def training_step(self, parts: TrainingParts, batch, accelerator, recipe: TrainingRecipe):
        options = recipe.options
        loss_kind, smoothing = options.get("loss", "bce"), options.get("label_smoothing", 0.0)
        shift = options.get("augment_shift", 0)
        generator, discriminator = parts.models["generator"], parts.models["discriminator"]
        real = batch["pixel_values"]
        count, latent_size = real.shape[0], accelerator.unwrap_model(generator).config.latent_size

        # ------------------------------------------------------------ update D
        noise = torch.randn(count, latent_size, device=real.device)
        if options.get("fresh_noise_for_generator"):
            with torch.no_grad():
                fake = generator(noise).images
        else:
            fake = generator(noise).images  # kept with its graph: the G update below reuses these fakes
        if options.get("discriminator_updates") == "separate":
            # Two Keras train_on_batch calls: an optimizer step on the real batch, then one on the fake batch.
            real_logits = discriminator(random_shift(real, shift, -1.0)).logits
            real_loss = discriminator_loss(real_logits, True, loss_kind, smoothing)
            parts.update("discriminator", real_loss, accelerator, recipe)
            fake_logits = discriminator(random_shift(fake.detach(), shift, -1.0)).logits
            fake_loss = discriminator_loss(fake_logits, False, loss_kind, smoothing)
            parts.update("discriminator", fake_loss, accelerator, recipe)
            discriminator_loss_value = (real_loss.detach() + fake_loss.detach()) / 2
        else:
            logits = discriminator(random_shift(torch.cat([real, fake.detach()]), shift, -1.0)).logits
            real_logits, fake_logits = logits[:count], logits[count:]
            loss = (discriminator_loss(real_logits, True, loss_kind, smoothing)
                    + discriminator_loss(fake_logits, False, loss_kind, smoothing))
            parts.update("discriminator", loss, accelerator, recipe)
            discriminator_loss_value = loss.detach()
        real_logits, fake_logits = real_logits.detach(), fake_logits.detach()

        # ------------------------------------------------------------ update G
        if options.get("fresh_noise_for_generator"):
            fake = generator(torch.randn(count, latent_size, device=real.device)).images
        # D judges through its plain module (no DDP bookkeeping for a pass whose D-gradients are unwanted);
        # the update sends the gradient into G's weights only: the lecture's "discriminator.trainable = False".
        logits = accelerator.unwrap_model(discriminator)(random_shift(fake, shift, -1.0)).logits
        loss = generator_loss(logits, loss_kind)
        parts.update("generator", loss, accelerator, recipe)
        if "generator_ema" in parts.models and accelerator.sync_gradients:
            self._update_average(accelerator.unwrap_model(parts.models["generator_ema"]),
                                 accelerator.unwrap_model(generator), parts.optimizers["generator"],
                                 options["ema_decay"])

        accuracy = ((real_logits > 0).float().mean() + (fake_logits < 0).float().mean()) / 2
        return {"d_loss": discriminator_loss_value, "g_loss": loss.detach(), "d_accuracy": accuracy,
                "d_real": torch.sigmoid(real_logits.float()).mean(), "d_fake": torch.sigmoid(fake_logits.float()).mean()}

    @staticmethod
    @torch.no_grad()
    def _update_average(average, generator, optimizer, decay: float) -> None:
        # Short memory at first (the usual warm-up), so early averages are not dominated by the initial weights.
        first = next(iter(optimizer.param_groups[0]["params"]))
        step = int(optimizer.state[first].get("step", 1)) if first in optimizer.state else 1
        decay = min(decay, (1 + step) / (10 + step))
        for kept, current in zip(average.parameters(), generator.parameters()):
            kept.lerp_(current.detach().to(kept.dtype), 1.0 - decay)
        for kept, current in zip(average.buffers(), generator.buffers()):
            kept.copy_(current)

    def after_step(self, parts, step, output_dir, accelerator, recipe):
        every = recipe.options.get("sample_every", 0)
        if not every or step % every and step != recipe.max_steps:
            return
        if accelerator.is_main_process:
            self.sample_grid(accelerator.unwrap_model(parts.model)).save(
                _mkdir(Path(output_dir) / "samples") / f"step-{step:07d}.png")

    @staticmethod
    def sample_grid(generator, count: int = SAMPLE_GRID, seed: int = SAMPLE_SEED):
        """The fixed-noise grid (its own torch.Generator: the global RNG is left alone)."""
        pictures = generator.generate(count, seed=seed).numpy()
        return tile(list(pictures), columns=int(np.ceil(np.sqrt(count))), scale=2)

    @torch.no_grad()
    def evaluate(self, parts, dataloader, accelerator):
        """How the discriminator rates held-out real images and a fixed set of fakes (D overfitting shows)."""
        discriminator = accelerator.unwrap_model(parts.models["discriminator"])
        generator = accelerator.unwrap_model(parts.model)
        discriminator.eval()
        real_scores = []
        for batch in dataloader:
            scores = torch.sigmoid(discriminator(batch["pixel_values"]).logits.float())
            real_scores.append(accelerator.gather_for_metrics(scores))
        real = torch.cat(real_scores)
        latents = torch.randn(256, generator.config.latent_size, generator=torch.Generator().manual_seed(SAMPLE_SEED))
        was_training = generator.training
        generator.eval()
        parameter = next(generator.parameters())
        fake = torch.sigmoid(discriminator(generator(latents.to(parameter.device, parameter.dtype)).images).logits.float())
        generator.train(was_training)
        discriminator.train()
        return {"d_real_heldout": real.mean().item(), "d_fake": fake.mean().item(),
                "d_accuracy_heldout": ((real > 0.5).float().mean().item() + (fake < 0.5).float().mean().item()) / 2}

    def final_report(self, model, data, output_dir, accelerator):
        """Fréchet distance and diversity against the training glyphs, a sample grid, nearest real glyphs."""
        if not accelerator.is_main_process:
            return {}
        return self.measure(model, data, Path(output_dir))

    def measure(self, model, data: DataSplits, output_dir: Path) -> dict:
        kind = "mnist" if data.extras.get("fonts") == ["mnist"] else "glyphs"
        real = data.train.fields["pixel_values"]
        self.sample_grid(model).save(output_dir / "samples.png")
        report = {"sample_grid": "samples.png", "data_kind": kind, "data": dict(data.extras)}
        classifier, name = load_feature_network(kind, model.config.image_size)
        samples = min(quality.SAMPLES, max(256, 4 * len(real)))
        if classifier is None:
            report["note"] = f"no {name} classifier for {model.config.image_size}px images: no Fréchet distance"
            return report
        figures = quality.measure(model, classifier, real, samples=samples, heldout=data.validation.fields["pixel_values"])
        generated = quality.generate_images(model, 16, SAMPLE_SEED)
        nearest, _ = quality.nearest_real(generated, real)
        pairs = [image for index in range(16) for image in
                 ((1 - generated[index, 0].numpy()) / 2, (1 - real[nearest[index], 0].numpy()) / 2)]
        tile(pairs, columns=8, scale=2).save(output_dir / "nearest.png")
        report.update(metrics=quality.metrics_for_card(figures, name), quality=figures, feature_network=name,
                      nearest_grid="nearest.png")
        return report

    # -------------------------------------------------------------- card
    def card_metadata_for(self, results):
        if results.get("test", {}).get("data_kind") != "mnist":
            return dict(self.card_metadata)
        return {**self.card_metadata, "datasets": ["ylecun/mnist"], "tags": ["gan", "dcgan", "mnist", "digits", "pytorch"]}

    def data_licence_for(self, results):
        from ..cards import MNIST_LICENCE, glyph_licence

        test = results.get("test", {})
        return MNIST_LICENCE if test.get("data_kind") == "mnist" else glyph_licence(test.get("data", {}).get("fonts", []))

    def model_card(self, results):
        test = results.get("test", {})
        figures = test.get("quality")
        lines = ["## Samples", "", "64 glyphs from the fixed noise of seed 0:", "", "![Generated glyphs](samples.png)", ""]
        if figures:
            lines += [
                "Each generated glyph (left) beside its nearest training glyph in pixels (right), to judge copying:",
                "", "![Nearest real glyphs](nearest.png)", "",
                "## How the numbers are measured", "",
                f"- Fréchet distance: Gaussians fitted to the `{test.get('feature_network')}` classifier's last "
                f"convolution block (averaged over positions) for {figures['generated']:,} generated and "
                f"{figures['real']:,} real training images; lower is better."
                + (f" For scale, the {figures['heldout_real']:,} real glyphs held out of training score "
                   f"{figures['frechet_distance_heldout_real']:.3f} against the training ones."
                   if figures.get("frechet_distance_heldout_real") is not None else ""),
                f"- Pairwise feature distance of {figures['diversity_samples']:,} generated images divided by that "
                "of as many real ones: 1 means as varied as the data, far below 1 means mode collapse.",
                "- Coverage: the share of real training glyphs that have a generated glyph closer than their "
                "5th-nearest real neighbour (same features); it falls for mode collapse and for noise alike.",
                "- Distinct nearest real glyphs: the share of different training glyphs among the nearest "
                "neighbours (same features) of the generated ones; a collapsed generator keeps hitting the same few.",
                "- Nearest real glyph in the picture above: the most correlated training glyph in pixels, "
                "with the RMS pixel distance to it.",
                "",
            ]
        elif test.get("note"):
            lines += [f"Quality figures: {test['note']}.", ""]
        lines += ["## Output", "",
                  "`model.generate(n, seed=s)` returns a float tensor (n, size, size) in [0, 1], black ink on white; "
                  "`model(latents).images` is the raw output in [-1, 1] with ink = +1 (the lecture's scaling), "
                  "for standard normal latents shaped (n, config.latent_size).", ""]
        return "\n".join(lines)

    def usage_snippet(self, repo_id):
        return (
            "from transformers import AutoModel\n\n"
            f'generator = AutoModel.from_pretrained("{repo_id}", trust_remote_code=True)\n'
            "glyphs = generator.generate(16, seed=0)  # (16, size, size) floats in [0, 1], black ink on white\n"
            "for row in glyphs[0, ::2]:  # the first invented glyph as text\n"
            "    print(\"\".join(\"#\" if value < 0.5 else \".\" for value in row))\n"
        )

    # -------------------------------------------------------------- demo
    def load_for_demo(self, folder):
        model = GanGenerator.from_pretrained(folder, dtype=torch.float32)
        model.eval()
        # channels-last: the transposed convolutions run in oneDNN's own layout (a 36-glyph grid 15 % faster)
        return install_serving_generator(model.to(memory_format=torch.channels_last))

    def build_demo(self, models):
        from .demo import build_tab

        build_tab(self, models)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def quality_main(argv: list[str] | None = None) -> int:
    """Recompute a trained generator's quality figures: a model folder (updates results.json and the card),
    or a training checkpoint (`--checkpoint runs/X/checkpoints/step-0001000 --preset P`, printed only)."""
    import argparse

    from safetensors.torch import load_file

    from ..cards import repo_id_for, write_model_card
    from ..registry import get_plugin

    parser = argparse.ArgumentParser(description="Fréchet distance and diversity of a trained generator")
    parser.add_argument("model_dir", type=Path, help="a save_pretrained folder, or a checkpoint with --preset")
    parser.add_argument("--preset", help="the run's preset, for a checkpoint folder")
    parser.add_argument("--data-dir", type=Path, help="the data folder the run used (MNIST, glyphs.json)")
    args = parser.parse_args(argv)
    plugin = get_plugin("font-gan")
    checkpoint = (args.model_dir / "trainer_state.json").is_file()
    results = {} if checkpoint else json.loads((args.model_dir / "results.json").read_text())
    preset = plugin.preset(args.preset or results.get("preset"))
    data = plugin.load_data(args.data_dir, preset, results.get("seed", 0))
    if checkpoint:
        generator = GanGenerator(plugin.build_config(preset, data))
        generator.load_state_dict(load_file(args.model_dir / "model.safetensors"))  # the first model: the one saved
        report = plugin.measure(generator.eval(), data, args.model_dir)
    else:
        report = plugin.measure(plugin.load_for_demo(args.model_dir), data, args.model_dir)
        results["test"] = report
        (args.model_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        write_model_card(plugin, args.model_dir, results, repo_id_for(args.model_dir.resolve().name))
    print(json.dumps(report.get("quality", report.get("note")), indent=2))
    return 0
