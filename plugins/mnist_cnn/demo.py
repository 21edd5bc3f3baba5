"""The digits tab: draw or upload a digit, see what the CNN sees and what it answers.

Callbacks are thin: the work is in `classify` and `explain`, plain functions
that tests call directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np
import torch
from PIL import Image

from ..batching import Batcher
from ..images import tile
from ..serving import DemoModel, chosen_model
from ..ui import LIGHT, CheckedImage, reselect_brush_after_clear, user_facing
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


def build_tab(plugin, models: dict[str, DemoModel]) -> None:
    choices = list(models)

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

    def show_model(choice: str):
        """The new model's notes and pictures; the last answer is cleared, as another model gave it."""
        demo_model = models[choice]
        return (model_notes(choice), first_layer_filters(demo_model.model), misclassified_picture(demo_model),
                None, None, None)

    gr.Markdown(
        "Draw a digit (0-9) with the mouse, or upload a picture of one, and press **Classify**. "
        "The drawing is prepared like MNIST: inverted if dark-on-light, cropped to the ink, fitted in 20x20 "
        "and centred by its centre of mass in 28x28."
    )
    notes = gr.Markdown(model_notes(choices[0]))
    with gr.Row():
        with gr.Column():
            choice = gr.Radio(choices, value=choices[0], label="Model", elem_id="mnist-model")
            with gr.Tabs():
                with gr.Tab("Draw"):
                    sketch = gr.Sketchpad(
                        label="Draw a digit", canvas_size=(280, 280), type="numpy", image_mode="RGBA",
                        brush=gr.Brush(default_size=12, colors=["#000000"], color_mode="fixed"),
                        layers=False, elem_id="mnist-sketchpad",
                    )
                    reselect_brush_after_clear(sketch)
                    draw_button = gr.Button("Classify drawing", variant="primary", elem_id="mnist-classify-drawing")
                with gr.Tab("Upload"):
                    upload = CheckedImage(label="Upload an image of a digit", type="filepath", image_mode=None,
                                          sources=["upload", "clipboard"], elem_id="mnist-upload")
                    upload_button = gr.Button("Classify image", variant="primary", elem_id="mnist-classify-upload")
        with gr.Column():
            prediction = gr.Label(num_top_classes=3, label="Prediction (top 3)", elem_id="mnist-prediction")
            with gr.Row():
                seen = gr.Image(label="What the model sees (28x28)", height=200, elem_id="mnist-model-input")
                feature_maps = gr.Image(label="First convolution's feature maps for this input", height=200)
    with gr.Accordion("Inside the model: first-layer filters and the test digits it gets wrong", open=False):
        with gr.Row():
            filters = gr.Image(value=first_layer_filters(models[choices[0]].model), label="First-layer filters")
            mistakes = gr.Image(value=misclassified_picture(models[choices[0]]),
                                label="Misclassified test digits (true>predicted)")

    outputs = [prediction, seen, feature_maps]
    draw_button.click(explain_image, [sketch, choice], outputs, api_name="mnist_cnn_explain_drawing",
                      api_visibility="undocumented", **LIGHT)
    upload_button.click(explain_image, [upload, choice], outputs, api_name="mnist_cnn_explain",
                        **LIGHT)
    choice.change(show_model, choice, [notes, filters, mistakes, *outputs], api_visibility="private")
    # The lean API endpoint (image in, label + confidences out) has no button of its own.
    classify_trigger = gr.Button(visible=False)
    classify_trigger.click(classify_image, [upload, choice], prediction, api_name="mnist_cnn_classify",
                           **LIGHT)
