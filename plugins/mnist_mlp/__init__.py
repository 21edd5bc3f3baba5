"""The `mnist-mlp` plugin: the lecture's starting point, a multilayer perceptron on flattened MNIST digits.

"Last time, we reached 98.5 % accuracy on MNIST using a standard neural network
(MLP) with many tricks" (the lecture's first slide). Its tab sits before the
CNN's, so a student sees what flattening 28x28 into 784 costs: the first
layer's weights are whole-image templates, where a convolution's are small
reusable strokes.

Made with `python -m plugins new mnist-mlp`; it keeps the CNN plugin's data,
training step, evaluation and card (the same task, measured the same way) and
brings its own model family, presets and tab.
"""

from __future__ import annotations

from models.mlp_classifier import MlpClassifierConfig, MlpClassifierForImageClassification

from ..base import SpaceCard
from ..mnist_cnn import MnistCnnPlugin
from ..registry import register_plugin
from .presets import PRESETS


@register_plugin
class MnistMlpPlugin(MnistCnnPlugin):
    name = "mnist-mlp"
    title = "Digits (MNIST MLP)"
    description = (
        "A multilayer perceptron that reads handwritten digits from their 784 pixels, trained on MNIST: the "
        "lecture's starting point before convolutions. The presets are the MIT 6.S191 lab's dense network and "
        "the best MLP we can justify (the tricks the lecture alludes to)."
    )
    config_class = MlpClassifierConfig
    model_class = MlpClassifierForImageClassification
    presets = PRESETS
    default_preset = "best"
    order = 10  # the hub's tab order: the lecture's (the MLP comes before the CNN)
    lecture = ("[MIT 6.S191](https://introtodeeplearning.com) lab 2, the dense network on MNIST "
               "([lab code](https://github.com/aamini/introtodeeplearning)); the NTU lecture's "
               "starting point before its CNNs")
    card_metadata = {
        "license": "mit",
        "pipeline_tag": "image-classification",
        "tags": ["mnist", "mlp", "image-classification", "pytorch"],
        "datasets": ["ylecun/mnist"],
    }
    demo_weights = {"best (ours)": "mnist-mlp", "lecture (MIT 6.S191 lab)": "mnist-mlp-lecture"}
    space = SpaceCard(
        title="Digits: a multilayer perceptron on MNIST", emoji="🔢", color_from="blue", color_to="gray",
        summary="Draw a digit and see how a network without convolutions reads it: every one of the 784 pixels is "
                "its own input. The tab shows what the first layer's units look for (each a whole-image template) "
                "and which of them your drawing excites, beside the lecture's CNN.",
    )

    def build_demo(self, models):
        from .demo import build_tab

        build_tab(self, models)
