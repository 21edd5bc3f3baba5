"""The glyph GAN tab: a grid of invented glyphs from a seed, a morph between two seeds, the nearest real glyphs.

Callbacks are thin and check every input on the server (the HTTP API takes
anything); the work is in plain functions that tests call directly.
"""

from __future__ import annotations

import functools

import gradio as gr
import numpy as np
import torch
from PIL import Image, ImageFont

from ..errors import DataError, UnusableInputError, bounded_number
from ..glyphs import character_list, render_glyph_set, resolve_font, to_model_space
from ..images import tile
from ..serving import DemoModel, chosen_model
from ..ui import HEAVY, LIGHT, user_facing
from . import quality
from .fast_generator import serve_in_bfloat16_if_faster

MAX_GRID = 100
MAX_STEPS = 24
MAX_SEED = 2**31 - 1


def checked_seed(value, name: str = "Seed") -> int:
    return bounded_number(value, name, 0, MAX_SEED, integer=True)


GRID_SCALE, GRID_PADDING = 2, 2  # the grid's pixels per glyph pixel, and the white line between glyphs


def grid_columns(count: int) -> int:
    return int(np.ceil(np.sqrt(count)))


def generate_grid(generator, count: int = 36, seed: int = 0, scale: int = GRID_SCALE) -> Image.Image:
    """`count` invented glyphs from the noise of `seed`, on a square-ish grid, numbered from 1 at the top left."""
    count = bounded_number(count, "Number of glyphs", 1, MAX_GRID, integer=True)
    pictures = generator.generate(count, seed=checked_seed(seed)).numpy()
    return tile(list(pictures), columns=grid_columns(count), scale=scale, padding=GRID_PADDING)


def glyph_at(x: float, y: float, count: int, image_size: int) -> int | None:
    """The number (1 = top left) of the glyph at pixel (x, y) of a grid generate_grid drew, or None between glyphs."""
    cell = image_size * GRID_SCALE + GRID_PADDING
    column, row = int((x - GRID_PADDING) // cell), int((y - GRID_PADDING) // cell)
    number = row * grid_columns(count) + column + 1
    return number if 0 <= column < grid_columns(count) and 1 <= number <= count else None


def grid_glyph_latent(generator, count: int, seed: int, number, name: str = "Glyph") -> torch.Tensor:
    """The noise glyph `number` of the grid generate_grid(count, seed) drew came from (the noise of a seed
    depends on how many glyphs are drawn from it, so the grid's count is part of the address)."""
    count = bounded_number(count, "Number of glyphs", 1, MAX_GRID, integer=True)
    number = bounded_number(number, f"{name} (a number on the grid, 1 to {count})", 1, count, integer=True)
    return generator.sample_latents(count, checked_seed(seed))[number - 1]


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
    return morph_strip(generator, start, end, steps, scale)


def morph_strip(generator, start: torch.Tensor, end: torch.Tensor, steps: int, scale: int = 2) -> Image.Image:
    latents = torch.stack([slerp(start, end, index / (steps - 1)) for index in range(steps)])
    return tile(list(generator.generate(latents=latents).numpy()), columns=steps, scale=scale)


def grid_morph_strip(generator, count: int = 36, seed: int = 0, first: int = 1, second: int = 2,
                     steps: int = 8) -> Image.Image:
    """Glyph `first` of the grid (count, seed) morphing into its glyph `second`, both as the grid shows them."""
    steps = bounded_number(steps, "Steps", 2, MAX_STEPS, integer=True)
    start = grid_glyph_latent(generator, count, seed, first, "First glyph")
    end = grid_glyph_latent(generator, count, seed, second, "Second glyph")
    return morph_strip(generator, start, end, steps)


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


# The nearest-glyph captions: the distance under the invented glyph, the real character under its glyph, each
# in its own colour (told apart from the grey glyphs at a glance), large enough to read where the page shows
# the picture at about two thirds of its size.
CAPTION_PIXELS = 22
DISTANCE_COLOUR = (25, 80, 170)
CHARACTER_COLOUR = (170, 30, 30)


@functools.lru_cache(maxsize=1)
def caption_font(size: int = CAPTION_PIXELS) -> ImageFont.FreeTypeFont:
    """A font that has the characters the captions name: the first of the style fonts installed here (Pillow's
    own font has no CJK glyphs and draws each character as the same empty box)."""
    for style in ("sans", "hei", "ming", "kai"):
        try:
            font = resolve_font(style)
        except DataError:
            continue
        return ImageFont.truetype(str(font.path), size, index=font.face)
    return ImageFont.load_default(size=size)


def nearest_pairs(generator, real: torch.Tensor, labels: tuple[str, ...] = (), count: int = 36, seed: int = 0,
                  scale: int = 2) -> Image.Image:
    """Each generated glyph of the grid (left) beside the most similar real glyph (right, see quality.nearest_real),
    the distance under the first and the real character under the second."""
    count = bounded_number(count, "Number of glyphs", 1, MAX_GRID, integer=True)
    generated = quality.generate_images(generator, count, checked_seed(seed))
    # generate_images draws its own noise from the seed exactly as GanGenerator.generate does.
    nearest, distances = quality.nearest_real(generated, real)
    tiles, captions = [], []
    for index in range(count):
        tiles += [(1 - generated[index, 0].numpy()) / 2, (1 - real[nearest[index], 0].numpy()) / 2]
        name = labels[nearest[index]].split(" ")[0] if labels else ""
        captions += [f"{distances[index]:.2f}", name]
    columns = 2 * min(6, int(np.ceil(np.sqrt(count))))
    if not labels:
        return tile(tiles, columns=columns, scale=scale)
    return tile(tiles, columns=columns, scale=scale, captions=captions, font=caption_font(),
                caption_colours=[DISTANCE_COLOUR, CHARACTER_COLOUR] * count)


def build_tab(plugin, models: dict[str, DemoModel]) -> None:
    choices = list(models)
    for demo_model in models.values():  # the grids a visitor sees; figures are measured in float32
        serve_in_bfloat16_if_faster(demo_model.model)

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

    @user_facing
    def morph_glyphs(choice=choices[0], count=36, seed=0, first=1, second=2, steps=8):
        """API: glyph `first` of the grid of `count` glyphs from `seed` morphing into its glyph `second`
        (glyphs numbered from 1 at the top left, row by row)."""
        return grid_morph_strip(pick(choice).model, count, seed, first, second, steps)

    def remember_grid(choice, count, seed, first, second):
        """After a grid is shown: which grid it is (for choosing its glyphs), picks that fit in it, and a note."""
        count = int(count)
        first, second = (min(max(int(number or 1), 1), count) for number in (first, second))
        note = (f"This grid: {count} glyphs from seed {int(seed)}, numbered from 1 at the top left, row by row. "
                "Click two of them to morph the first into the second.")
        return {"choice": choice, "count": count, "seed": int(seed)}, first, second, 0, note

    def choose_glyph(shown, first, second, slot, event: gr.SelectData):
        """A click on the grid: the glyph under the pointer becomes the first pick, the next click the second."""
        if not shown:
            return first, second, slot, "Generate a grid first."
        size = pick(shown["choice"]).model.config.image_size
        number = glyph_at(event.index[0], event.index[1], shown["count"], size)
        if number is None:
            return first, second, slot, "That was between two glyphs: click on one."
        if slot == 0:
            return number, second, 1, f"Glyph {number} is the start; click the glyph to morph it into."
        return first, number, 0, f"Glyph {first} morphs into glyph {number}: press **Morph the chosen glyphs**."

    @user_facing
    def morph_chosen(shown, first, second, steps):
        if not shown:
            raise UnusableInputError("Generate a grid first, then click two of its glyphs (or type their numbers).")
        return grid_morph_strip(pick(shown["choice"]).model, shown["count"], shown["seed"], first, second, steps)

    gr.Markdown(
        "A generator turns random noise into a glyph that no font has. Pick a model and a **seed** (the same "
        "seed always gives the same glyphs), then see the grid, the real glyph nearest to each invented one "
        "(is it inventing or copying?), and a **morph** between two glyphs of the grid: click two of them."
    )
    notes = gr.Markdown(model_notes(choices[0]))
    shown_grid = gr.State(None)  # {"choice", "count", "seed"} of the grid on screen, for choosing its glyphs
    next_pick = gr.State(0)  # which pick a click on the grid fills: 0 the first, 1 the second
    with gr.Row():
        with gr.Column(scale=1):
            choice = gr.Radio(choices, value=choices[0], label="Model", elem_id="font-gan-model")
            count = gr.Slider(1, MAX_GRID, value=36, step=1, label="Number of glyphs", elem_id="font-gan-count")
            seed = gr.Number(value=0, precision=0, minimum=0, maximum=MAX_SEED, label="Seed", elem_id="font-gan-seed")
            generate_button = gr.Button("Generate", variant="primary", elem_id="font-gan-generate")
            first_reason = nearest_unavailable_reason(models[choices[0]].results)
            nearest_button = gr.Button("Find the nearest real glyphs", visible=first_reason is None,
                                       elem_id="font-gan-find-nearest")
            nearest_note = gr.Markdown(first_reason or "", visible=first_reason is not None,
                                       elem_id="font-gan-nearest-note")
            examples = gr.Examples([[36, 0], [16, 7], [64, 2024], [100, 31337]], [count, seed],
                                   label="Grids to try (click one)", example_labels=[
                                       "36 glyphs, seed 0", "16 glyphs, seed 7", "64 glyphs, seed 2024",
                                       "100 glyphs, seed 31337"],
                                   elem_id="font-gan-examples", api_visibility="private", cache_examples=False)
        with gr.Column(scale=2):
            # PNG: lossless glyph edges, and half of WebP's encoding time (13 vs 29 ms for 36 glyphs)
            grid = gr.Image(label="Invented glyphs (click two to morph one into the other)", type="pil",
                            format="png", elem_id="font-gan-grid")
            pairs = gr.Image(label="Invented (left) and the most similar training glyph (right), "
                                   "with the RMS pixel distance", type="pil", format="png", elem_id="font-gan-nearest")
    with gr.Row(equal_height=True):
        first = gr.Number(value=1, precision=0, minimum=1, maximum=MAX_GRID, label="Start glyph (number on the grid)",
                          elem_id="font-gan-first")
        second = gr.Number(value=2, precision=0, minimum=1, maximum=MAX_GRID, label="End glyph",
                           elem_id="font-gan-second")
        steps = gr.Slider(2, MAX_STEPS, value=8, step=1, label="Steps", elem_id="font-gan-steps")
        morph_chosen_button = gr.Button("Morph the chosen glyphs", variant="primary", elem_id="font-gan-morph-chosen")
    pick_note = gr.Markdown("Glyphs are numbered from 1 at the top left, row by row.", elem_id="font-gan-pick-note")
    with gr.Accordion("Or morph the first glyph of one seed into that of another", open=False):
        with gr.Row(equal_height=True):
            seed_a = gr.Number(value=0, precision=0, minimum=0, maximum=MAX_SEED, label="Seed A")
            seed_b = gr.Number(value=1, precision=0, minimum=0, maximum=MAX_SEED, label="Seed B")
            morph_button = gr.Button("Morph A into B")
    strip = gr.Image(label="Latent interpolation (spherical) between the two glyphs", type="pil", format="png",
                     elem_id="font-gan-morph")

    grid_shown = [choice, count, seed, first, second]
    remembered = [shown_grid, first, second, next_pick, pick_note]
    generated = generate_button.click(generate, [choice, count, seed], grid, api_name="font_gan_generate", **HEAVY)
    generated_remembered = generated.success(remember_grid, grid_shown, remembered, api_visibility="private")
    example = examples.load_input_event.then(generate, [choice, count, seed], grid, api_visibility="private",
                                             **HEAVY)
    example_remembered = example.success(remember_grid, grid_shown, remembered, api_visibility="private")
    grid.select(choose_glyph, [shown_grid, first, second, next_pick], [first, second, next_pick, pick_note],
                api_visibility="private")
    nearest_found = nearest_button.click(nearest, [choice, count, seed], pairs, api_name="font_gan_nearest", **HEAVY)
    morphed_chosen = morph_chosen_button.click(morph_chosen, [shown_grid, first, second, steps], strip,
                                               api_visibility="private", **LIGHT)
    morphed = morph_button.click(interpolate, [choice, seed_a, seed_b, steps], strip, api_name="font_gan_interpolate",
                                 **LIGHT)
    morph_glyphs_trigger = gr.Button(visible=False)  # the API's way to the same morph, without a grid on screen
    morph_glyphs_trigger.click(morph_glyphs, [choice, count, seed, first, second, steps], strip,
                               api_name="font_gan_morph_glyphs", **LIGHT)

    def show_model(choice: str):
        """The new model's notes and nearest-glyph button; pictures of the previous model are cleared."""
        reason = nearest_unavailable_reason(pick(choice).results)
        return (model_notes(choice), None, None, None, None, gr.Button(visible=reason is None),
                gr.Markdown(reason or "", visible=reason is not None))

    # Pictures of the previous model still on their way would land after the clearing: they are cancelled.
    previous_pictures = [generated, generated_remembered, example, example_remembered, nearest_found, morphed_chosen,
                         morphed]
    choice.change(show_model, choice, [notes, grid, pairs, strip, shown_grid, nearest_button, nearest_note],
                  cancels=previous_pictures, api_visibility="private")
