"""The font-style tab: type a character to see it in every font with the network's verdict, or draw one.

Callbacks are thin; `classify` and `compare_fonts` are plain functions that tests call directly.
"""

from __future__ import annotations

import functools
import unicodedata

import gradio as gr
import numpy as np
from PIL import Image

from ..batching import Batcher
from ..errors import DataError, UnusableInputError
from ..familiarity import GlyphCheck
from ..glyphs import STYLE_FONTS, GlyphRenderer, resolve_font
from ..images import tile
from ..serving import DemoModel, chosen_model
from ..ui import LIGHT, CheckedImage, reselect_brush_after_clear, user_facing
from . import style_probabilities
from .preprocess import glyph_like


def required_picture(image):
    """`image` as it came; a missing one is refused in this tab's words (the shared image reader asks for a digit)."""
    if (image.get("composite") if isinstance(image, dict) else image) is None:
        raise UnusableInputError("No image was given: draw a character or upload a picture of one.")
    return image


def classify(model, image, batcher: Batcher | None = None) -> dict[str, float]:
    """Any image of a character -> {style: probability}; with a `glyph_batcher` of `model`, the forward pass is
    shared with concurrent requests."""
    glyph = glyph_like(required_picture(image))
    probabilities = style_probabilities(model, glyph)[0] if batcher is None else batcher(glyph)
    return {model.config.id2label[index]: float(p) for index, p in enumerate(probabilities)}


def glyph_batcher(model) -> Batcher:
    """48x48 glyphs of concurrent requests -> their style probabilities, in one forward pass (plugins/batching.py)."""
    return Batcher(lambda glyphs: list(style_probabilities(model, np.stack(glyphs))), name="font-style glyphs")


@functools.lru_cache(maxsize=8)
def renderer(style: str) -> GlyphRenderer | None:
    try:
        return GlyphRenderer(resolve_font(style))
    except DataError:
        return None  # the font is not installed here: the comparison says so


def single_character(text) -> str:
    if not isinstance(text, str):
        raise UnusableInputError("Type one Chinese character.")
    text = text.strip()
    if len(text) != 1:
        raise UnusableInputError(f"Type exactly one character (got {len(text)}).")
    if unicodedata.category(text) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zs"):
        raise UnusableInputError("That is not a visible character; type a Chinese character such as 永.")
    return text


def compare_fonts(model, text: str = "永") -> tuple[Image.Image, str]:
    """The character in each style's font (where the font has it) and what the network says of each render."""
    character = single_character(text)
    styles = [model.config.id2label[index] for index in range(model.config.num_labels)]
    tiles, captions, rows = [], [], ["| font | prediction |", "|---|---|"]
    for style in [*styles, *(name for name in STYLE_FONTS if name not in styles)]:
        font = renderer(style)
        glyph = font.render(character) if font is not None else None
        if glyph is None:
            reason = "font not installed" if font is None else "not in this font"
            rows.append(f"| {style} | {reason} |")
            continue
        ink = glyph.astype(np.float32) / 255.0
        probabilities = style_probabilities(model, ink)[0]
        best = int(probabilities.argmax())
        verdict = f"{model.config.id2label[best]} {100 * probabilities[best]:.1f} %"
        tiles.append(1.0 - ink)
        captions.append(f"{style}: {verdict}")
        mark = "✓" if model.config.id2label[best] == style else ("✗" if style in styles else "(style not learnt)")
        rows.append(f"| {style} | {verdict} {mark} |")
    if not tiles:
        raise UnusableInputError(f"None of the fonts here has the character {character!r}.")
    return tile(tiles, columns=len(tiles), scale=3, captions=captions, padding=6), "\n".join(rows)


# Characters to click: the calligraphers' classic 永 (it holds the eight basic strokes), and a few with many or
# few strokes, where the styles differ most.
CHARACTER_EXAMPLES = ["永", "龍", "書", "風", "之", "學"]


def build_tab(plugin, models: dict[str, DemoModel]) -> None:
    choices = list(models)
    check = GlyphCheck.load()

    def pick(choice) -> DemoModel:
        return chosen_model(models, choice)

    batchers = {label: glyph_batcher(demo_model.model) for label, demo_model in models.items()}

    @user_facing
    def classify_image(image, choice=choices[0]):
        """API: an image of a character in, {style: probability} out."""
        return classify(pick(choice).model, image, batchers[choice])

    @user_facing
    def explain_image(image, choice=choices[0]):
        glyph = glyph_like(required_picture(image))
        return classify(pick(choice).model, glyph), tile([1.0 - glyph], columns=1, scale=4, padding=0)

    @user_facing
    def doubt(image, choice=choices[0]) -> str:
        """API: an image in; why the style answer should not be trusted (it does not look like a Chinese
        character), or ""."""
        pick(choice)
        return check.doubt(required_picture(image))

    @user_facing
    def compare(text="永", choice=choices[0]):
        return compare_fonts(pick(choice).model, text)

    def notes(choice: str) -> str:
        demo_model = models[choice]
        return f"**{choice}**: {demo_model.headline() or 'no measured figures'}. Weights: {demo_model.source}."

    gr.Markdown(
        "Which script style is a glyph drawn in? The network learnt **" +
        ", ".join(models[choices[0]].model.config.id2label.values()) +
        "** from rendered fonts, and was tested on characters it never saw in any font. Type a character and "
        "press Enter (or click one below), or draw one."
    )
    gr.Markdown(notes(choices[0]))
    choice = gr.Radio(choices, value=choices[0], label="Model", visible=len(choices) > 1)
    with gr.Row():
        with gr.Column():
            text = gr.Textbox(value="永", max_length=8, label="Type a character", elem_id="font-style-character")
            compare_button = gr.Button("Show it in every font", variant="primary", elem_id="font-style-compare")
            examples = gr.Examples([[character] for character in CHARACTER_EXAMPLES], [text],
                                   label="Characters to try (click one)", elem_id="font-style-examples",
                                   api_visibility="private", cache_examples=False)
        with gr.Column(scale=2):
            renders = gr.Image(label="The character in each font, with the network's prediction", type="pil",
                               elem_id="font-style-renders")
            table = gr.Markdown(elem_id="font-style-table")
    with gr.Row():
        with gr.Column():
            with gr.Tabs():
                with gr.Tab("Draw"):
                    sketch = gr.Sketchpad(
                        label="Draw a character", canvas_size=(280, 280), type="numpy", image_mode="RGBA",
                        brush=gr.Brush(default_size=10, colors=["#000000"], color_mode="fixed"), layers=False,
                        elem_id="font-style-sketchpad",
                    )
                    reselect_brush_after_clear(sketch)
                    draw_button = gr.Button("Classify drawing", variant="primary",
                                            elem_id="font-style-classify-drawing")
                with gr.Tab("Upload"):
                    upload = CheckedImage(label="Upload a picture of one character", type="filepath", image_mode=None,
                                          sources=["upload", "clipboard"], elem_id="font-style-upload")
                    upload_button = gr.Button("Classify image", variant="primary", elem_id="font-style-classify-upload")
        with gr.Column():
            probabilities = gr.Label(label="Style probabilities", elem_id="font-style-prediction")
            doubt_note = gr.Markdown(elem_id="font-style-doubt")
            seen = gr.Image(label="What the network sees (48x48)", height=230, elem_id="font-style-model-input")

    compare_button.click(compare, [text, choice], [renders, table], api_name="font_style_compare", **LIGHT)
    text.submit(compare, [text, choice], [renders, table], api_visibility="private", **LIGHT)  # Enter in the box
    examples.load_input_event.then(compare, [text, choice], [renders, table], api_visibility="private", **LIGHT)
    draw_button.click(None, None, doubt_note, js="() => ''")  # a new answer: the last one's doubt goes
    upload_button.click(None, None, doubt_note, js="() => ''")
    draw_button.click(explain_image, [sketch, choice], [probabilities, seen], api_name="font_style_explain_drawing",
                      api_visibility="undocumented", **LIGHT).success(
        doubt, [sketch, choice], doubt_note, api_visibility="private", **LIGHT)
    upload_button.click(explain_image, [upload, choice], [probabilities, seen], api_name="font_style_explain",
                        **LIGHT).success(doubt, [upload, choice], doubt_note, api_name="font_style_doubt", **LIGHT)
    classify_trigger = gr.Button(visible=False)
    classify_trigger.click(classify_image, [upload, choice], probabilities, api_name="font_style_classify", **LIGHT)
