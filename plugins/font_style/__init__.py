"""The `font-style` plugin: a CNN that tells script styles (Kai, Ming, Sans, Hei) of a Chinese glyph apart.

The lecture's practice 01 with the fonts Debian packages. It reuses the hub's
CNN family at 48x48, and its features are also the yardstick of the glyph
GAN's Fréchet distance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from models.cnn_classifier import CnnClassifierConfig, CnnClassifierForImageClassification

from ..base import Plugin, SpaceCard, TrainingParts, TrainingRecipe
from ..classification import binomial_error, gather_logits, loss_and_accuracy
from ..glyphs.augment import random_shift
from ..images import confusion_matrix_picture, tile
from ..registry import register_plugin
from .data import load_style_splits, synthetic_style_splits
from .presets import PRESETS


@torch.no_grad()
def style_probabilities(model: CnnClassifierForImageClassification, glyphs: np.ndarray) -> np.ndarray:
    """(batch, 48, 48) or (48, 48) ink intensities in [0, 1] (ink = 1) -> (batch, styles) probabilities."""
    pixels = torch.as_tensor(np.asarray(glyphs, dtype=np.float32)).reshape(-1, 1, *np.shape(glyphs)[-2:])
    return model(pixel_values=pixels).logits.softmax(-1).numpy()


@register_plugin
class FontStylePlugin(Plugin):
    name = "font-style"
    title = "Font style (CNN)"
    description = (
        "A convolutional network that tells which script style a 48x48 Chinese glyph is drawn in: Kai (regular "
        "script, brush), Ming (serif), Sans (Noto Sans CJK TC) or Hei (WenQuanYi Zen Hei). The lecture's practice "
        "01, trained on renders of the Ministry of Education's 4,808 common characters and tested on characters "
        "it never saw in any style."
    )
    config_class = CnnClassifierConfig
    model_class = CnnClassifierForImageClassification
    presets = PRESETS
    order = 50  # the hub's tab order: the lecture's
    lecture = ("Kai-Feng Chen (NTU), *Deep Structured Learning*: practice 01, a CNN that tells two "
               "script styles of Chinese characters apart")
    space = SpaceCard(
        title="Font style: which script is this glyph in?", tagline="A CNN tells Kai, Ming, Sans and Hei glyphs apart",
        emoji="🀄", color_from="green", color_to="gray",
        summary="The lecture's practice 01, grown to four script styles: a CNN tells Kai, Ming, Sans and Hei renders "
                "of a Chinese character apart. Type a character to see it in each font with the network's verdict, "
                "or draw one and see which style it is closest to.",
        system_packages=("fonts-arphic-ukai", "fonts-arphic-uming", "fonts-noto-cjk", "fonts-wqy-zenhei"),
    )
    default_preset = "best"
    auto_class = "AutoModelForImageClassification"
    image_preparation = "glyph"
    card_metadata = {
        "license": "mit",
        "pipeline_tag": "image-classification",
        "tags": ["cnn", "image-classification", "chinese-characters", "font-style", "pytorch"],
        "datasets": ["moe-4808-glyphs"],
    }
    demo_weights = {"four styles (best)": "font-style-cnn"}

    # -------------------------------------------------------------- data
    def load_data(self, data_dir, preset, seed):
        options = preset.training.options
        return load_style_splits(options["fonts"], options.get("characters", "moe"), data_dir)

    def synthetic_data(self, preset, num_examples=64, seed=0):
        return synthetic_style_splits(preset.training.options["fonts"], num_examples, seed)

    def build_config(self, preset, data):
        styles = data.extras["styles"]
        return CnnClassifierConfig(**preset.model, id2label=dict(enumerate(styles)))

    # ---------------------------------------------------------- training
    def training_step(self, parts: TrainingParts, batch, accelerator, recipe: TrainingRecipe):
        pixel_values = random_shift(batch["pixel_values"], recipe.options.get("shift", 0), 0.0)
        logits = parts.model(pixel_values=pixel_values).logits
        loss = F.cross_entropy(logits, batch["labels"])
        parts.update("model", loss, accelerator, recipe)
        return {"loss": loss.detach(), "accuracy": (logits.argmax(-1) == batch["labels"]).float().mean().detach()}

    def evaluate(self, parts, dataloader, accelerator):
        return loss_and_accuracy(*gather_logits(parts.model, dataloader, accelerator))

    def final_report(self, model, data, output_dir, accelerator):
        """Accuracy on held-out characters (± binomial error), Kai vs Ming alone, per style, confusion matrix."""
        test = data.test
        dataloader = accelerator.prepare(torch.utils.data.DataLoader(test, batch_size=500, collate_fn=self.collate))
        logits, labels = gather_logits(model, dataloader, accelerator)
        predictions = logits.argmax(-1)
        names = [model.config.id2label[index] for index in range(model.config.num_labels)]
        count = len(labels)
        accuracy = (predictions == labels).float().mean().item()
        metrics = [{"name": "Test accuracy (held-out characters)", "type": "accuracy",
                    "value": round(100 * accuracy, 4), "error": round(100 * binomial_error(accuracy, count), 4),
                    "unit": "%", "split": "test"}]
        if {"kai", "ming"} <= set(names):
            # Kai vs Ming alone: Kai and Ming test glyphs, the network's choice between those two styles.
            pair = [names.index("kai"), names.index("ming")]
            chosen = torch.isin(labels, torch.tensor(pair))
            pair_predictions = torch.tensor(pair)[logits[chosen][:, pair].argmax(-1)]
            pair_accuracy = (pair_predictions == labels[chosen]).float().mean().item()
            metrics.append({"name": "Kai vs Ming accuracy (held-out characters)", "type": "accuracy",
                            "value": round(100 * pair_accuracy, 4),
                            "error": round(100 * binomial_error(pair_accuracy, int(chosen.sum())), 4),
                            "unit": "%", "split": "test"})
        per_style = {}
        for index, name in enumerate(names):
            mask = labels == index
            per_style[name] = round(100 * (predictions[mask] == index).float().mean().item(), 3) if mask.any() else None
        confusion = np.zeros((len(names),) * 2, dtype=np.int64)
        np.add.at(confusion, (labels.numpy(), predictions.numpy()), 1)
        wrong = torch.nonzero(predictions != labels).flatten().tolist()
        if accelerator.is_main_process:
            confusion_matrix_picture(confusion, names).save(Path(output_dir) / "confusion_matrix.png")
            if wrong:
                shown = wrong[:60]
                images = 1.0 - test.fields["pixel_values"][shown, 0].numpy()
                captions = [f"{names[labels[i]][:4]}>{names[predictions[i]][:4]}" for i in shown]
                tile(list(images), columns=10, scale=1, captions=captions).save(Path(output_dir) / "misclassified.png")
        return {"metrics": metrics, "test_examples": count, "test_characters": len(set(test.fields["codepoint"].tolist())),
                "per_style_accuracy": per_style, "confusion_matrix": confusion.tolist(), "misclassified": len(wrong)}

    # -------------------------------------------------------------- card
    def data_licence_for(self, results):
        from ..cards import glyph_licence

        return glyph_licence(["kai", "ming", "sans", "hei"])

    def model_card(self, results):
        test = results.get("test", {})
        lines = ["## Evaluation", "",
                 "Train, validation and test sets are split **by character**: the test characters were never seen "
                 "in any font during training. Errors are binomial standard errors sqrt(p(1-p)/n).", ""]
        if test.get("per_style_accuracy"):
            lines += ["| style | test accuracy |", "|---|---|"]
            lines += [f"| {style} | {value:.2f} % |" for style, value in test["per_style_accuracy"].items()
                      if value is not None]
            lines.append("")
        if test.get("confusion_matrix"):
            lines += ["![Confusion matrix](confusion_matrix.png)", ""]
        if test.get("misclassified"):
            lines += ["Misclassified test glyphs (true>predicted):", "", "![Misclassified glyphs](misclassified.png)", ""]
        lines += ["## Input", "",
                  "`pixel_values`: float tensor (batch, 1, 48, 48) in [0, 1], ink = 1 on paper = 0, the glyph centred "
                  "on its ink box with the font's em square spanning 46 of the 48 pixels.", ""]
        return "\n".join(lines)

    def usage_snippet(self, repo_id):
        return (
            "from huggingface_hub import hf_hub_download\n"
            "from PIL import Image\n"
            "from transformers import pipeline\n\n"
            f'classify = pipeline("image-classification", model="{repo_id}", trust_remote_code=True)\n'
            "# A photo, scan or drawing of one Chinese character; the repo holds one (a held-out character in Kai).\n"
            f'picture = Image.open(hf_hub_download("{repo_id}", "example.png"))\n'
            "print(classify(picture))  # one score per style: kai, ming, sans, hei\n"
        )

    # -------------------------------------------------------------- demo
    def build_demo(self, models):
        from .demo import build_tab

        build_tab(self, models)
