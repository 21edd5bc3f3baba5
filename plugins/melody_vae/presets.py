"""Named recipes for `melody-vae`: the model's configuration and how to train it."""

from ..base import Preset, TrainingRecipe
from .data import LABELS

PRESETS = {
    "best": Preset(
        description="a multilayer perceptron with one hidden layer of 128 units, Adam, 5 epochs",
        model=dict(hidden_sizes=[128], id2label=LABELS),
        training=TrainingRecipe(epochs=5, batch_size=32, learning_rate=1e-3, optimizer="adam"),
    ),
}
