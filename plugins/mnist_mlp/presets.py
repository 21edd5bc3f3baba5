"""Named recipes for the MNIST MLP: the lecture's dense network, faithfully, and the best we can justify.

`lecture` is the dense network of the MIT 6.S191 lab the seed material reports
("Fully connected NN accuracy 96.2 %"): Flatten, Dense(128, ReLU), Dense(10,
softmax), SGD at 0.1, batch 64, 5 epochs, on all 60,000 training images, with
Keras' clipped cross-entropy, as `model.fit` ran it.
"""

from ..base import Preset, TrainingRecipe
from ..mnist_cnn.presets import DIGIT_LABELS, KERAS_FIT

PRESETS = {
    "lecture": Preset(
        description="MIT 6.S191 lab 2's dense network: Flatten, Dense 128 ReLU, Dense 10 (101,770 parameters), "
                    "SGD(0.1), batch 64, 5 epochs",
        model=dict(hidden_sizes=[128], id2label=DIGIT_LABELS),
        training=TrainingRecipe(epochs=5, batch_size=64, learning_rate=0.1, optimizer="sgd",
                                checkpoint_every=5000, log_every=200, options=KERAS_FIT),
        reference="96.2 % test accuracy (the seed material's report of the lab)",
    ),
    "best": Preset(
        description="our recipe: 2 x [Dense 512, batch norm, ReLU, dropout 0.3], random affine augmentation "
                    "(rotate 10 deg, scale 10 %, shift 2 px), AdamW with a one-cycle schedule, label smoothing "
                    "0.05, 20 epochs",
        model=dict(hidden_sizes=[512, 512], use_batch_norm=True, hidden_dropout=0.3,
                   input_mean=0.1307, input_std=0.3081, id2label=DIGIT_LABELS),
        training=TrainingRecipe(
            epochs=20, batch_size=128, learning_rate=2e-3, optimizer="adamw",
            optimizer_options={"weight_decay": 5e-4}, schedule="onecycle", checkpoint_every=2000,
            options={"augment": {"degrees": 10.0, "scale": 0.1, "shift_pixels": 2.0}, "label_smoothing": 0.05},
        ),
    ),
}
