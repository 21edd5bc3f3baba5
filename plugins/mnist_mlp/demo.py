"""The MLP digits tab: draw or upload a digit; see the answer, and which whole-image templates it excited.

A first-layer unit of an MLP has one weight per pixel, so its weights are a
28x28 picture: the template it matches the whole digit against. The tab shows
the units most excited by the input, with how much, next to the answer.
Callbacks are thin; `classify` and `explain` are plain functions tests call.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np
import torch
from PIL import Image

from ..images import tile
from ..familiarity import DigitCheck
from ..mnist_cnn import predict_probabilities
from ..mnist_cnn.demo import digit_examples, live
from ..mnist_cnn.preprocess import mnist_like
from ..serving import DemoModel, chosen_model
from ..ui import LIGHT, CheckedImage, ModelsOnScreen, live_trigger, reselect_brush_after_clear, user_facing

SHOWN_UNITS = 32


def first_layer_templates(model, units: list[int] | None = None) -> Image.Image:
    """The first layer's weights of `units` (default: the first 64) as 28x28 pictures, each scaled to its range."""
    weights = model.layers[0].dense.weight.detach()  # (units, 784)
    size = model.config.image_size
    chosen = units if units is not None else list(range(min(64, len(weights))))
    return tile([weights[unit].reshape(size, size).numpy() for unit in chosen], columns=8, scale=3,
                normalize_each=True)


def classify(model, image) -> dict[str, float]:
    """Any image of a digit -> {label: probability} for the ten digits."""
    probabilities = predict_probabilities(model, mnist_like(image))[0]
    return {model.config.id2label[i]: float(p) for i, p in enumerate(probabilities)}


@dataclass
class Explanation:
    probabilities: dict[str, float]
    model_input: Image.Image  # the 28x28 the model saw, enlarged
    excited_units: Image.Image  # the templates of the most active first-layer units
    caption: str


@torch.no_grad()
def explain(model, image) -> Explanation:
    digit = mnist_like(image)
    output = model(pixel_values=torch.from_numpy(digit)[None, None], output_hidden_states=True)
    probabilities = output.logits.softmax(-1)[0].numpy()
    activity = output.hidden_states[0][0].numpy()  # (units,) after the first layer's activation
    strongest = [int(unit) for unit in np.argsort(-activity)[:SHOWN_UNITS]]
    active = int((activity > 0).sum())
    return Explanation(
        probabilities={model.config.id2label[i]: float(p) for i, p in enumerate(probabilities)},
        model_input=tile([digit], columns=1, scale=8, padding=0),
        excited_units=first_layer_templates(model, strongest),
        caption=f"{active} of {len(activity)} first-layer units respond to this input; the {SHOWN_UNITS} "
                "strongest are shown, strongest first (bright: pixels that excite the unit, dark: that inhibit it).",
    )


def build_tab(plugin, models: dict[str, DemoModel]) -> None:
    choices = list(models)
    check = DigitCheck.load()  # one yardstick for every digit model (plugins.familiarity says why)

    def pick(choice) -> DemoModel:
        return chosen_model(models, choice)

    def model_notes(choice: str) -> str:
        demo_model = models[choice]
        return (f"**{choice}**: {demo_model.headline() or 'no measured figures in its folder'}; "
                f"{demo_model.model.num_parameters():,} parameters. Weights: {demo_model.source}.")

    @user_facing
    def classify_image(image, choice: str = choices[0]):
        """API: an image of a digit in, {label: probability} out."""
        return classify(pick(choice).model, image)

    @user_facing
    def explain_image(image, choice: str = choices[0]):
        explanation = explain(pick(choice).model, image)
        return explanation.probabilities, explanation.model_input, explanation.excited_units, explanation.caption

    @user_facing
    def doubt(image, choice: str = choices[0]) -> str:
        """API: an image in; why the answer should not be trusted (it does not look like a digit), or ""."""
        pick(choice)
        return check.doubt(image)

    @user_facing
    def explain_and_doubt(image, choice: str = choices[0]):
        return (*explain_image.__wrapped__(image, choice), doubt.__wrapped__(image, choice))

    def show_model(choice: str, request: gr.Request):
        """The new model's notes and templates; the last answer is cleared, as another model gave it."""
        on_screen.switched(choice, request)
        return model_notes(choice), first_layer_templates(pick(choice).model), None, None, None, "", ""

    gr.Markdown(
        "A network **without convolutions**: the drawing is prepared like MNIST, then its 28x28 pixels are "
        "flattened into 784 numbers, and every first-layer unit weighs all of them at once. So each unit is a "
        "template of a whole digit-sized picture, not a small stroke it could find anywhere; compare the CNN's "
        "tab beside this one, which is more accurate with fewer weights. Draw a digit (the answer follows the "
        "drawing), upload one or click an example."
    )
    notes = gr.Markdown(model_notes(choices[0]))
    with gr.Row():
        with gr.Column():
            choice = gr.Radio(choices, value=choices[0], label="Model", elem_id="mnist-mlp-model")
            with gr.Tabs() as sources:
                with gr.Tab("Draw", id="draw"):
                    sketch = gr.Sketchpad(
                        label="Draw a digit", canvas_size=(280, 280), type="numpy", image_mode="RGBA",
                        brush=gr.Brush(default_size=12, colors=["#000000"], color_mode="fixed"),
                        layers=False, elem_id="mnist-mlp-sketchpad",
                    )
                    reselect_brush_after_clear(sketch)
                    draw_button = gr.Button("Classify drawing", variant="primary", elem_id="mnist-mlp-classify-drawing")
                with gr.Tab("Upload", id="upload"):
                    upload = CheckedImage(label="Upload an image of a digit", type="filepath", image_mode=None,
                                          sources=["upload", "clipboard"], elem_id="mnist-mlp-upload")
                    upload_button = gr.Button("Classify image", variant="primary", elem_id="mnist-mlp-classify-upload")
            examples = digit_examples(upload, "mnist-mlp-examples")
        with gr.Column():
            prediction = gr.Label(num_top_classes=3, label="Prediction (top 3)", elem_id="mnist-mlp-prediction")
            doubt_note = gr.Markdown(elem_id="mnist-mlp-doubt")
            seen = gr.Image(label="What the model sees (28x28)", height=230, elem_id="mnist-mlp-model-input")
    with gr.Row():
        excited = gr.Image(label="First-layer units this input excites most", height=330,
                           elem_id="mnist-mlp-excited")
        caption = gr.Markdown()
    with gr.Accordion("Inside the model: the first 64 first-layer units as 28x28 templates", open=False):
        templates = gr.Image(value=first_layer_templates(models[choices[0]].model), label="First-layer weights")

    # Answers computed for a model the page has since switched away from change nothing (plugins.ui says why).
    on_screen = ModelsOnScreen()
    outputs = [prediction, seen, excited, caption]
    explained, doubted = on_screen.answer(explain_image, len(outputs)), on_screen.answer(doubt, 1)
    draw_button.click(None, None, doubt_note, js="() => ''")  # a new answer: the last one's doubt goes
    drawn = draw_button.click(explained, [sketch, choice], outputs, api_name="mnist_mlp_explain_drawing",
                              api_visibility="undocumented", **LIGHT)
    drawn_doubt = drawn.success(doubted, [sketch, choice], doubt_note, api_visibility="private", **LIGHT)
    upload_button.click(None, None, doubt_note, js="() => ''")
    uploaded = upload_button.click(explained, [upload, choice], outputs, api_name="mnist_mlp_explain", **LIGHT)
    uploaded_doubt = uploaded.success(doubted, [upload, choice], doubt_note, api_name="mnist_mlp_doubt", **LIGHT)
    # Live while drawing, at most one request waiting per page (see the CNN's tab).
    nothing = (None, None, None, "", "")
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
    choice.change(show_model, choice, [notes, templates, *outputs, doubt_note], cancels=previous_answers,
                  api_visibility="private")
    classify_trigger = gr.Button(visible=False)
    classify_trigger.click(classify_image, [upload, choice], prediction, api_name="mnist_mlp_classify", **LIGHT)
