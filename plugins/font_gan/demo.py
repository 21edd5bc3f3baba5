"""The glyph GAN tab: a grid of invented glyphs from a seed, a morph between two seeds, the nearest real glyphs.

Callbacks are thin and check every input on the server (the HTTP API takes
anything); the work is in plain functions that tests call directly.
"""

from __future__ import annotations

import functools

import gradio as gr
import numpy as np
import torch
from PIL import Image

from ..errors import UnusableInputError, bounded_number
from ..glyphs import character_list, render_glyph_set, resolve_font, to_model_space
from ..images import tile
from ..serving import DemoModel, chosen_model
from ..ui import HEAVY, LIGHT, user_facing
from . import quality

MAX_GRID = 100
MAX_STEPS = 24
MAX_SEED = 2**31 - 1


def checked_seed(value, name: str = "Seed") -> int:
    return bounded_number(value, name, 0, MAX_SEED, integer=True)


def generate_grid(generator, count: int = 36, seed: int = 0, scale: int = 2) -> Image.Image:
    """`count` invented glyphs from the noise of `seed`, on a square-ish grid."""
    count = bounded_number(count, "Number of glyphs", 1, MAX_GRID, integer=True)
    pictures = generator.generate(count, seed=checked_seed(seed)).numpy()
    return tile(list(pictures), columns=int(np.ceil(np.sqrt(count))), scale=scale)


def slerp(start: torch.Tensor, end: torch.Tensor, fraction: float) -> torch.Tensor:
    """Spherical interpolation: points in between stay as far from 0 as the Gaussian noise the generator knows."""
    cosine = torch.dot(start, end) / (start.norm() * end.norm())
    angle = torch.arccos(cosine.clamp(-1.0, 1.0))
    if angle.abs() < 1e-4:
        return (1 - fraction) * start + fraction * end
    return (torch.sin((1 - fraction) * angle) * start + torch.sin(fraction * angle) * end) / torch.sin(angle)


def interpolation_strip(generator, seed_a: int = 0, seed_b: int = 1, steps: int = 8, scale: int = 2) -> Image.Image:
    """The first glyph of seed A morphing into the first glyph of seed B in `steps` pictures."""
    steps = bounded_number(steps, "Steps", 2, MAX_STEPS, integer=True)
    start = generator.sample_latents(1, checked_seed(seed_a, "Seed A"))[0]
    end = generator.sample_latents(1, checked_seed(seed_b, "Seed B"))[0]
    latents = torch.stack([slerp(start, end, index / (steps - 1)) for index in range(steps)])
    return tile(list(generator.generate(latents=latents).numpy()), columns=steps, scale=scale)


@functools.lru_cache(maxsize=4)
def _real_glyphs(fonts: tuple[str, ...], characters: str) -> tuple[torch.Tensor, tuple[str, ...]]:
    list_name, chars = character_list(characters)
    images, labels = [], []
    for font in fonts:
        glyphs = render_glyph_set(resolve_font(font), chars, list_name)
        images.append(glyphs.images)
        labels += [f"{character} {font}" for character in glyphs.characters]
    return torch.from_numpy(to_model_space(np.concatenate(images)))[:, None], tuple(labels)


def nearest_unavailable_reason(results: dict) -> str | None:
    """Why a shipped generator's glyphs cannot be compared with its training glyphs here, or None if they can.

    The comparison renders the training glyphs again from the fonts the model's results record; MNIST
    digits are not a font, and the hub keeps no copy of the data set.
    """
    data = results.get("test", {}).get("data") or {}
    fonts, characters = data.get("fonts"), data.get("characters")
    if fonts == ["mnist"]:
        return "No nearest real glyphs for this model: it learnt from MNIST digits, which the hub does not keep."
    if not fonts or not characters:
        return "No nearest real glyphs for this model: its folder does not record the fonts it learnt from."
    return None


def training_glyphs(results: dict) -> tuple[torch.Tensor, tuple[str, ...]]:
    """The real glyphs a shipped generator learnt from (rendered again from its recorded fonts, cached)."""
    reason = nearest_unavailable_reason(results)
    if reason is not None:
        raise UnusableInputError(reason)
    data = results["test"]["data"]
    return _real_glyphs(tuple(data["fonts"]), data["characters"])


def nearest_pairs(generator, real: torch.Tensor, labels: tuple[str, ...] = (), count: int = 36, seed: int = 0,
                  scale: int = 2) -> Image.Image:
    """Each generated glyph of the grid (left) beside the most similar real glyph (right, see quality.nearest_real)."""
    count = bounded_number(count, "Number of glyphs", 1, MAX_GRID, integer=True)
    generated = quality.generate_images(generator, count, checked_seed(seed))
    # generate_images draws its own noise from the seed exactly as GanGenerator.generate does.
    nearest, distances = quality.nearest_real(generated, real)
    tiles, captions = [], []
    for index in range(count):
        tiles += [(1 - generated[index, 0].numpy()) / 2, (1 - real[nearest[index], 0].numpy()) / 2]
        name = labels[nearest[index]].split(" ")[0] if labels else ""
        captions += [f"{distances[index]:.2f}", name]
    columns = 2 * min(8, int(np.ceil(np.sqrt(count))))
    return tile(tiles, columns=columns, scale=scale, captions=captions if labels else None)


def build_tab(plugin, models: dict[str, DemoModel]) -> None:
    choices = list(models)

    def pick(choice) -> DemoModel:
        return chosen_model(models, choice)

    def model_notes(choice: str) -> str:
        demo_model = models[choice]
        metrics = demo_model.results.get("test", {}).get("metrics", [])
        from ..cards import format_metric

        figures = "; ".join(f"{metric['name']} {format_metric(metric)}" for metric in metrics[:3])
        steps = demo_model.results.get("steps")
        trained = f"{steps:,} steps, preset `{demo_model.results.get('preset')}`" if steps else "training facts missing"
        return f"**{choice}** ({trained}): {figures or 'no measured figures in its folder'}. Weights: {demo_model.source}."

    @user_facing
    def generate(choice=choices[0], count=36, seed=0):
        """API: a grid of `count` invented glyphs from the noise of `seed`, as one image."""
        return generate_grid(pick(choice).model, count, seed)

    @user_facing
    def nearest(choice=choices[0], count=36, seed=0):
        demo_model = pick(choice)
        real, labels = training_glyphs(demo_model.results)
        return nearest_pairs(demo_model.model, real, labels, count, seed)

    @user_facing
    def interpolate(choice=choices[0], seed_a=0, seed_b=1, steps=8):
        """API: the first glyph of seed A morphing into that of seed B."""
        return interpolation_strip(pick(choice).model, seed_a, seed_b, steps)

    gr.Markdown(
        "A generator turns random noise into a glyph that no font has. Pick a model and a **seed** (the same "
        "seed always gives the same glyphs), then see the grid, the real glyph nearest to each invented one "
        "(is it inventing or copying?), and a **morph** from one seed's glyph to another's."
    )
    notes = gr.Markdown(model_notes(choices[0]))
    with gr.Row():
        with gr.Column(scale=1):
            choice = gr.Radio(choices, value=choices[0], label="Model", elem_id="font-gan-model")
            count = gr.Slider(1, MAX_GRID, value=36, step=1, label="Number of glyphs")
            seed = gr.Number(value=0, precision=0, minimum=0, maximum=MAX_SEED, label="Seed")
            generate_button = gr.Button("Generate", variant="primary", elem_id="font-gan-generate")
            first_reason = nearest_unavailable_reason(models[choices[0]].results)
            nearest_button = gr.Button("Find the nearest real glyphs", visible=first_reason is None,
                                       elem_id="font-gan-find-nearest")
            nearest_note = gr.Markdown(first_reason or "", visible=first_reason is not None,
                                       elem_id="font-gan-nearest-note")
        with gr.Column(scale=2):
            # PNG: lossless glyph edges, and half of WebP's encoding time (13 vs 29 ms for 36 glyphs)
            grid = gr.Image(label="Invented glyphs", type="pil", format="png", elem_id="font-gan-grid")
            pairs = gr.Image(label="Invented (left) and the most similar training glyph (right), "
                                   "with the RMS pixel distance", type="pil", elem_id="font-gan-nearest")
    with gr.Row():
        seed_a = gr.Number(value=0, precision=0, minimum=0, maximum=MAX_SEED, label="Seed A")
        seed_b = gr.Number(value=1, precision=0, minimum=0, maximum=MAX_SEED, label="Seed B")
        steps = gr.Slider(2, MAX_STEPS, value=8, step=1, label="Steps")
        morph_button = gr.Button("Morph A into B")
    strip = gr.Image(label="Latent interpolation (spherical) from seed A to seed B", type="pil",
                     elem_id="font-gan-morph")

    generate_button.click(generate, [choice, count, seed], grid, api_name="font_gan_generate", **HEAVY)
    nearest_button.click(nearest, [choice, count, seed], pairs, api_name="font_gan_nearest", **HEAVY)
    morph_button.click(interpolate, [choice, seed_a, seed_b, steps], strip, api_name="font_gan_interpolate", **LIGHT)
    def show_model(choice: str):
        """The new model's notes and nearest-glyph button; pictures of the previous model are cleared."""
        reason = nearest_unavailable_reason(pick(choice).results)
        return (model_notes(choice), None, None, None, gr.Button(visible=reason is None),
                gr.Markdown(reason or "", visible=reason is not None))

    choice.change(show_model, choice, [notes, grid, pairs, strip, nearest_button, nearest_note],
                  api_visibility="private")
