"""The digits tab: draw or upload a digit, see what the CNN sees and what it answers.

Callbacks are thin: the work is in `classify` and `explain`, plain functions
that tests call directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image

from ..batching import Batcher
from ..errors import UnusableInputError
from ..familiarity import DigitCheck
from ..images import tile
from ..serving import DemoModel, chosen_model
from ..ui import LIGHT, CheckedImage, ModelsOnScreen, live_trigger, reselect_brush_after_clear, user_facing
from . import predict_probabilities
from .preprocess import mnist_like


def classify(model, image, batcher: Batcher | None = None) -> dict[str, float]:
    """Any image of a digit -> {label: probability} for the ten digits; with a `digit_batcher` of `model`, the
    forward pass is shared with concurrent requests."""
    digit = mnist_like(image)
    probabilities = predict_probabilities(model, digit)[0] if batcher is None else batcher(digit)
    return {model.config.id2label[i]: float(p) for i, p in enumerate(probabilities)}


def digit_batcher(model) -> Batcher:
    """28x28 digits of concurrent requests -> their probabilities, in one forward pass (plugins/batching.py)."""
    return Batcher(lambda digits: list(predict_probabilities(model, np.stack(digits))), name="mnist-cnn digits")


@dataclass
class Explanation:
    probabilities: dict[str, float]
    model_input: Image.Image  # the 28x28 the model saw, enlarged
    feature_maps: Image.Image  # first convolution's activations for this input


@torch.no_grad()
def explain(model, image) -> Explanation:
    digit = mnist_like(image)
    output = model(pixel_values=torch.from_numpy(digit)[None, None], output_hidden_states=True)
    probabilities = output.logits.softmax(-1)[0].numpy()
    maps = output.hidden_states[0][0].numpy()  # (channels, height, width) after conv + ReLU
    return Explanation(
        probabilities={model.config.id2label[i]: float(p) for i, p in enumerate(probabilities)},
        model_input=tile([digit], columns=1, scale=8, padding=0),
        feature_maps=tile(list(maps), columns=8, scale=3, normalize_each=True),
    )


def first_layer_filters(model) -> Image.Image:
    weights = model.convolutions[0].convolution.weight.detach()[:, 0].numpy()  # (channels, k, k)
    return tile(list(weights), columns=8, scale=10, normalize_each=True)


def misclassified_picture(demo_model: DemoModel) -> Image.Image | None:
    path = demo_model.folder / "misclassified.png"
    return Image.open(path) if path.is_file() else None


# Pictures a visitor can click: drawings as the sketchpad makes them, a photo on grainy ruled paper with
# dust, chalk on a blackboard (light on dark) and a scribble that is no digit (the tab says it is not sure).
EXAMPLES = Path(__file__).parent / "examples"
DIGIT_EXAMPLES = {"drawn-3.png": "a drawn 3", "drawn-5.png": "a drawn 5", "drawn-8.png": "a drawn 8",
                  "photo-4.jpg": "a 4 on grainy ruled paper", "chalk-6.jpg": "a 6 in chalk",
                  "scribble.png": "a scribble"}


def digit_examples(upload, elem_id: str) -> gr.Examples:
    """Clickable example pictures that fill `upload`; the caller chains what a click then runs."""
    return gr.Examples([[str(EXAMPLES / name)] for name in DIGIT_EXAMPLES], [upload],
                       label="Examples (click one): " + ", ".join(DIGIT_EXAMPLES.values()), elem_id=elem_id,
                       api_visibility="private", cache_examples=False, examples_per_page=len(DIGIT_EXAMPLES))


def live(answer, empty: tuple):
    """`answer` for live updates while drawing: an empty canvas gives `empty` instead of an error message."""

    def while_drawing(image, choice):
        try:
            return answer(image, choice)
        except UnusableInputError:
            return empty

    return while_drawing


def build_tab(plugin, models: dict[str, DemoModel]) -> None:
    choices = list(models)
    check = DigitCheck.load()  # one yardstick for every digit model (plugins.familiarity says why)

    def model_notes(choice: str) -> str:
        demo_model = models[choice]
        headline = demo_model.headline()
        return f"**{choice}**: {headline or 'no measured figures in its folder'}. Weights: {demo_model.source}."

    batchers = {label: digit_batcher(demo_model.model) for label, demo_model in models.items()}

    @user_facing
    def classify_image(image, choice: str):
        """API: an image of a digit in, {label: probability} out."""
        return classify(chosen_model(models, choice).model, image, batchers[choice])

    @user_facing
    def explain_image(image, choice: str):
        explanation = explain(chosen_model(models, choice).model, image)
        return explanation.probabilities, explanation.model_input, explanation.feature_maps

    @user_facing
    def doubt(image, choice: str) -> str:
        """API: an image in; why the answer should not be trusted (it does not look like a digit), or ""."""
        chosen_model(models, choice)
        return check.doubt(image)

    @user_facing
    def explain_and_doubt(image, choice: str):
        return (*explain_image.__wrapped__(image, choice), doubt.__wrapped__(image, choice))

    def show_model(choice: str, request: gr.Request):
        """The new model's notes and pictures; the last answer is cleared, as another model gave it."""
        on_screen.switched(choice, request)
        demo_model = models[choice]
        return (model_notes(choice), first_layer_filters(demo_model.model), misclassified_picture(demo_model),
                None, None, None, "")

    gr.Markdown(
        "Draw a digit (0-9) with the mouse: the answer follows your drawing (**Classify** asks again). Or upload "
        "a picture of one, or click an example. The drawing is prepared like MNIST: inverted if dark-on-light, "
        "cropped to the ink, fitted in 20x20 and centred by its centre of mass in 28x28. When the picture does "
        "not look like any MNIST digit, the tab says so."
    )
    notes = gr.Markdown(model_notes(choices[0]), elem_id="mnist-notes")
    with gr.Row():
        with gr.Column():
            choice = gr.Radio(choices, value=choices[0], label="Model", elem_id="mnist-model")
            with gr.Tabs() as sources:
                with gr.Tab("Draw", id="draw"):
                    sketch = gr.Sketchpad(
                        label="Draw a digit", canvas_size=(280, 280), type="numpy", image_mode="RGBA",
                        brush=gr.Brush(default_size=12, colors=["#000000"], color_mode="fixed"),
                        layers=False, elem_id="mnist-sketchpad",
                    )
                    reselect_brush_after_clear(sketch)
                    draw_button = gr.Button("Classify drawing", variant="primary", elem_id="mnist-classify-drawing")
                with gr.Tab("Upload", id="upload"):
                    upload = CheckedImage(label="Upload an image of a digit", type="filepath", image_mode=None,
                                          sources=["upload", "clipboard"], elem_id="mnist-upload")
                    upload_button = gr.Button("Classify image", variant="primary", elem_id="mnist-classify-upload")
            examples = digit_examples(upload, "mnist-examples")
        with gr.Column():
            prediction = gr.Label(num_top_classes=3, label="Prediction (top 3)", elem_id="mnist-prediction")
            doubt_note = gr.Markdown(elem_id="mnist-doubt")
            with gr.Row():
                seen = gr.Image(label="What the model sees (28x28)", height=230, elem_id="mnist-model-input")
                feature_maps = gr.Image(label="First convolution's feature maps for this input", height=230,
                                        elem_id="mnist-feature-maps")
    with gr.Accordion("Inside the model: first-layer filters and the test digits it gets wrong", open=False):
        with gr.Row():
            filters = gr.Image(value=first_layer_filters(models[choices[0]].model), label="First-layer filters")
            mistakes = gr.Image(value=misclassified_picture(models[choices[0]]),
                                label="Misclassified test digits (true>predicted)")

    # Answers computed for a model the page has since switched away from change nothing (plugins.ui says why).
    on_screen = ModelsOnScreen()
    outputs = [prediction, seen, feature_maps]
    explained, doubted = on_screen.answer(explain_image, len(outputs)), on_screen.answer(doubt, 1)
    draw_button.click(None, None, doubt_note, js="() => ''")  # a new answer: the last one's doubt goes
    drawn = draw_button.click(explained, [sketch, choice], outputs, api_name="mnist_cnn_explain_drawing",
                              api_visibility="undocumented", **LIGHT)
    drawn_doubt = drawn.success(doubted, [sketch, choice], doubt_note, api_visibility="private", **LIGHT)
    upload_button.click(None, None, doubt_note, js="() => ''")
    uploaded = upload_button.click(explained, [upload, choice], outputs, api_name="mnist_cnn_explain", **LIGHT)
    uploaded_doubt = uploaded.success(doubted, [upload, choice], doubt_note, api_name="mnist_cnn_doubt", **LIGHT)
    # Live: each change of the drawing asks again; "always_last" keeps at most one request waiting per page
    # (strokes made meanwhile are read together), so drawing fast does not flood the queue.
    nothing = (None, None, None, "")
    answering = live_trigger(sketch).click(
        on_screen.answer(live(explain_and_doubt.__wrapped__, nothing), len(nothing)), [sketch, choice],
        [*outputs, doubt_note], trigger_mode="always_last", show_progress="hidden", api_visibility="private", **LIGHT)
    # A cleared canvas or another model: an answer still on its way is for something else.
    sketch.clear(lambda: nothing, None, [*outputs, doubt_note], cancels=[answering], api_visibility="private")
    examples.load_input_event.then(lambda: gr.Tabs(selected="upload"), None, sources, api_visibility="private").then(
        on_screen.answer(explain_and_doubt, len(nothing)), [upload, choice], [*outputs, doubt_note],
        api_visibility="private", **LIGHT)
    # Another model: answers of the previous one still on their way would land after the clearing.
    previous_answers = [answering, drawn, drawn_doubt, uploaded, uploaded_doubt]
    choice.change(show_model, choice, [notes, filters, mistakes, *outputs, doubt_note], cancels=previous_answers,
                  api_visibility="private")
    # The lean API endpoint (image in, label + confidences out) has no button of its own.
    classify_trigger = gr.Button(visible=False)
    classify_trigger.click(classify_image, [upload, choice], prediction, api_name="mnist_cnn_classify",
                           **LIGHT)
