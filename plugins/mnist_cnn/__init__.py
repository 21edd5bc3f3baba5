"""The `mnist-cnn` plugin: the lecture's CNNs on handwritten digits, and a model that beats them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from models.cnn_classifier import CnnClassifierConfig, CnnClassifierForImageClassification

from ..base import DataSplits, Plugin, SpaceCard, TrainingParts, TrainingRecipe
from ..classification import binomial_error, gather_logits, keras_categorical_crossentropy, loss_and_accuracy
from ..images import confusion_matrix_picture, tile
from ..registry import register_plugin
from .data import load_mnist, synthetic_digits, to_dataset
from .presets import PRESETS


def random_affine(images: torch.Tensor, degrees: float, scale: float, shift_pixels: float) -> torch.Tensor:
    """Rotate, scale and shift each image of a (batch, 1, H, W) batch by its own random amount.

    Done on the batch, on the training device, with the global torch RNG, so
    it costs little and a resumed run draws exactly the same augmentations.
    """
    batch, _, height, width = images.shape
    device = images.device
    angle = (torch.rand(batch, device=device) * 2 - 1) * math.radians(degrees)
    zoom = 1 + (torch.rand(batch, device=device) * 2 - 1) * scale
    shift = (torch.rand(batch, 2, device=device) * 2 - 1) * shift_pixels * 2 / torch.tensor([width, height], device=device)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, align_corners=False, padding_mode="zeros")


@torch.no_grad()
def predict_probabilities(model: CnnClassifierForImageClassification, images: np.ndarray) -> np.ndarray:
    """(batch, 28, 28) or (28, 28) floats in [0, 1] -> (batch, labels) probabilities."""
    pixel_values = torch.as_tensor(np.asarray(images, dtype=np.float32)).reshape(-1, 1, *np.shape(images)[-2:])
    return model(pixel_values=pixel_values).logits.softmax(-1).numpy()


@register_plugin
class MnistCnnPlugin(Plugin):
    name = "mnist-cnn"
    title = "Digits (MNIST CNN)"
    description = (
        "A convolutional network that reads handwritten digits, trained on MNIST. The presets reproduce the "
        "lecture's two Keras CNNs (1304-example-01 and 01a) and a modern recipe that beats them."
    )
    config_class = CnnClassifierConfig
    model_class = CnnClassifierForImageClassification
    presets = PRESETS
    order = 20  # the hub's tab order: the lecture's
    lecture = ("Kai-Feng Chen (NTU), *Deep Structured Learning*: convolutional networks, the scripts "
               "1304-example-01 and 01a (a CNN on MNIST)")
    space = SpaceCard(
        title="Digits: the lecture's CNNs on MNIST", emoji="✍️", color_from="blue", color_to="indigo",
        summary="Draw a digit and watch a convolutional network read it: the lecture's Keras CNN (1304-example-01a) "
                "reproduced in PyTorch, and a stronger modern recipe. The tab shows the 28x28 image the model sees, "
                "the first layer's feature maps and filters, and the test digits the model still gets wrong.",
    )
    default_preset = "best"
    auto_class = "AutoModelForImageClassification"
    image_preparation = "mnist"
    card_metadata = {
        "license": "mit",
        "pipeline_tag": "image-classification",
        "tags": ["mnist", "cnn", "image-classification", "pytorch"],
        "datasets": ["ylecun/mnist"],
    }
    demo_weights = {"best (ours)": "mnist-cnn", "lecture-01a": "mnist-cnn-lecture-01a"}

    # -------------------------------------------------------------- data
    def load_data(self, data_dir, preset, seed):
        return load_mnist(data_dir, train_on_all=preset.training.options.get("train_on_all_60k", False))

    def synthetic_data(self, preset, num_examples=64, seed=0):
        images, labels = synthetic_digits(num_examples + 2 * max(8, num_examples // 4), seed)
        held_out = max(8, num_examples // 4)
        return DataSplits(
            train=to_dataset(images[:num_examples], labels[:num_examples]),
            validation=to_dataset(images[num_examples:num_examples + held_out], labels[num_examples:num_examples + held_out]),
            test=to_dataset(images[num_examples + held_out:], labels[num_examples + held_out:]),
            description=f"synthetic bars ({num_examples} examples)",
        )

    # ---------------------------------------------------------- training
    def training_step(self, parts: TrainingParts, batch, accelerator, recipe: TrainingRecipe):
        pixel_values, labels = batch["pixel_values"], batch["labels"]
        augment = recipe.options.get("augment")
        if augment:
            pixel_values = random_affine(pixel_values, **augment)
        logits = parts.model(pixel_values=pixel_values).logits
        if recipe.options.get("keras_probability_clip"):  # the lecture's loss, as Keras computed it
            loss = keras_categorical_crossentropy(logits, labels, recipe.options["keras_probability_clip"])
        else:
            loss = F.cross_entropy(logits, labels, label_smoothing=recipe.options.get("label_smoothing", 0.0))
        parts.update("model", loss, accelerator, recipe)
        return {"loss": loss.detach(), "accuracy": (logits.argmax(-1) == labels).float().mean().detach()}

    def evaluate(self, parts, dataloader, accelerator):
        return loss_and_accuracy(*gather_logits(parts.model, dataloader, accelerator))

    def final_report(self, model, data, output_dir, accelerator):
        """Test accuracy with its binomial error, the confusion matrix and the misclassified digits."""
        test = data.test if data.test is not None else data.validation
        dataloader = accelerator.prepare(torch.utils.data.DataLoader(test, batch_size=1000, collate_fn=self.collate))
        logits, labels = gather_logits(model, dataloader, accelerator)
        predictions = logits.argmax(-1)
        count = len(labels)
        accuracy = int((predictions == labels).sum()) / count
        confusion = np.zeros((model.config.num_labels,) * 2, dtype=np.int64)
        np.add.at(confusion, (labels.numpy(), predictions.numpy()), 1)
        wrong = torch.nonzero(predictions != labels).flatten().tolist()
        if accelerator.is_main_process:
            names = [model.config.id2label[i] for i in range(model.config.num_labels)]
            confusion_matrix_picture(confusion, names).save(Path(output_dir) / "confusion_matrix.png")
            shown = wrong[:100]
            if shown:
                images = test.fields["pixel_values"][shown, 0].numpy()
                captions = [f"{labels[i].item()}>{predictions[i].item()}" for i in shown]
                tile(list(images), columns=10, scale=2, captions=captions).save(Path(output_dir) / "misclassified.png")
        return {
            "metrics": [
                {"name": "Test accuracy", "type": "accuracy", "value": round(100 * accuracy, 4),
                 "error": round(100 * binomial_error(accuracy, count), 4), "unit": "%", "split": "test"},
                {"name": "Test loss", "type": "loss", "value": round(F.cross_entropy(logits, labels).item(), 5),
                 "digits": 4, "split": "test"},
                {"name": "Misclassified test images", "type": "errors", "value": len(wrong),
                 "digits": 0, "split": "test"},
            ],
            "test_examples": count,
            "confusion_matrix": confusion.tolist(),
            "misclassified_indices": wrong,
        }

    # -------------------------------------------------------------- card
    def data_licence_for(self, results):
        from ..cards import MNIST_LICENCE

        return MNIST_LICENCE

    def model_card(self, results):
        options = results.get("recipe", {}).get("options", {})
        held_out = ("it trained on all 60,000 training images, as the lecture did, so its validation figures "
                    "are not held out" if options.get("train_on_all_60k")
                    else "the validation split is held out of the 60,000 training images")
        loss = (f" Its training loss was Keras' categorical cross-entropy on the softmax output, probabilities "
                f"clipped at {options['keras_probability_clip']:g} as Keras does; the test loss below is the "
                "unclipped cross-entropy." if options.get("keras_probability_clip") else "")
        lines = ["## Evaluation", "",
                 f"Accuracy on the official 10,000 MNIST test images, which training never saw ({held_out}). "
                 f"The error is the binomial standard error sqrt(p(1-p)/n).{loss}", ""]
        test = results.get("test", {})
        if test.get("confusion_matrix"):
            lines += ["![Confusion matrix](confusion_matrix.png)", ""]
        if test.get("misclassified_indices"):
            lines += ["Misclassified test digits (true>predicted):", "", "![Misclassified digits](misclassified.png)", ""]
        lines += ["## Input", "",
                  "`pixel_values`: float tensor (batch, 1, 28, 28) in [0, 1], white digit on black, centred "
                  "like MNIST (fitted in 20x20, centre of mass in the middle). The model normalises internally.", ""]
        return "\n".join(lines)

    def usage_snippet(self, repo_id):
        return (
            "from PIL import Image, ImageDraw\n"
            "from transformers import pipeline\n\n"
            f'classify = pipeline("image-classification", model="{repo_id}", trust_remote_code=True)\n'
            "# Any photo or drawing of one digit: colour or grey, dark on light or light on dark, any size.\n"
            'picture = Image.new("RGB", (200, 200), "white")\n'
            'ImageDraw.Draw(picture).line([(100, 30), (100, 170)], fill="black", width=14)  # a "1"\n'
            "print(classify(picture)[0])  # {'label': '1', 'score': ...}\n"
        )

    # -------------------------------------------------------------- demo
    def build_demo(self, models):
        from .demo import build_tab

        build_tab(self, models)
