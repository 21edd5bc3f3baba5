"""The `melody-vae` tab: upload a picture, see the label probabilities. `classify` is plain, so tests call it."""

from __future__ import annotations

import gradio as gr
import numpy as np
import torch
from PIL import Image

from ..images import to_grayscale
from ..serving import chosen_model
from ..ui import LIGHT, user_facing


@torch.no_grad()
def classify(model, image) -> dict[str, float]:
    """Any picture -> {label: probability}: grey, resized to the model's input, bright ink on dark."""
    gray = to_grayscale(image)  # (H, W) in [0, 1], dark ink on white paper
    size = model.config.image_size
    small = np.asarray(Image.fromarray((255 * (1.0 - gray)).astype(np.uint8)).resize((size, size)), np.float32)
    logits = model(pixel_values=torch.from_numpy(small / 255.0)[None, None]).logits
    return {model.config.id2label[index]: float(p) for index, p in enumerate(logits.softmax(-1)[0])}


def build_tab(plugin, models) -> None:
    choices = list(models)

    @user_facing
    def classify_image(image, choice: str = choices[0]):
        """API: a picture in, {label: probability} out."""
        return classify(chosen_model(models, choice).model, image)

    gr.Markdown(plugin.description)
    choice = gr.Radio(choices, value=choices[0], label="Model", visible=len(choices) > 1)
    with gr.Row():
        upload = gr.Image(label="A picture", type="filepath", sources=["upload", "clipboard"])
        prediction = gr.Label(label="Prediction")
    button = gr.Button("Classify", variant="primary")
    button.click(classify_image, [upload, choice], prediction, api_name="melody_vae_classify", **LIGHT)
