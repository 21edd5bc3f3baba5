"""The `melody-vae` plugin: Melody vae.

Made with `python -m plugins new melody-vae`. Everything the topic needs is in this
folder: the data (data.py), the named recipes (presets.py), the demo tab
(demo.py) and its test (test_melody_vae.py). The hub finds the folder by itself;
`python -m plugins spaces` writes its Space.
"""

from __future__ import annotations

import torch

from models.mlp_classifier import MlpClassifierConfig, MlpClassifierForImageClassification

from ..base import Plugin, SpaceCard
from ..classification import binomial_error, gather_logits, loss_and_accuracy
from ..registry import register_plugin
from .data import load_images, synthetic_images
from .presets import PRESETS


@register_plugin
class MelodyVaePlugin(Plugin):
    name = "melody-vae"
    title = "Melody vae"
    description = "A small image classifier made from the plugin template: say here what your topic is about."
    config_class = MlpClassifierConfig
    model_class = MlpClassifierForImageClassification
    auto_class = "AutoModelForImageClassification"
    presets = PRESETS
    default_preset = "best"
    card_metadata = {"license": "mit", "pipeline_tag": "image-classification", "tags": ["image-classification"]}
    space = SpaceCard(title="Melody vae", summary="Upload a picture and see what the classifier answers.")

    # The loss: the default training step is `model(**batch).loss`, and the engine does the update.
    def load_data(self, data_dir, preset, seed):
        return load_images(data_dir)

    def synthetic_data(self, preset, num_examples=64, seed=0):
        return synthetic_images(num_examples, seed)

    def evaluate(self, parts, dataloader, accelerator):
        return loss_and_accuracy(*gather_logits(parts.model, dataloader, accelerator))

    def final_report(self, model, data, output_dir, accelerator):
        """Test accuracy with its binomial error (the test split is looked at only here)."""
        test = data.test if data.test is not None else data.validation
        dataloader = accelerator.prepare(torch.utils.data.DataLoader(test, batch_size=1000, collate_fn=self.collate))
        logits, labels = gather_logits(model, dataloader, accelerator)
        accuracy = (logits.argmax(-1) == labels).float().mean().item()
        return {"metrics": [{"name": "Test accuracy", "type": "accuracy", "value": round(100 * accuracy, 4),
                              "error": round(100 * binomial_error(accuracy, len(labels)), 4), "unit": "%",
                              "split": "test"}]}

    def build_demo(self, models):
        from .demo import build_tab

        build_tab(self, models)
