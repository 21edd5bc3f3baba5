"""Named recipes for the font-style classifier (practice 01 of the lecture, with the hub's fonts).

The lecture's practice data (clerical vs semi-cursive scripts) has no packaged
font here, so practice 01 becomes Kai vs Ming; `best` tells all four styles
apart. Both reuse the hub's CNN family at 48x48.
"""

from ..base import Preset, TrainingRecipe

KERAS_ADADELTA = {"rho": 0.95, "eps": 1e-7}
FOUR_STYLES = ["kai", "ming", "sans", "hei"]

PRESETS = {
    "practice-01": Preset(
        description="practice 01 on Kai vs Ming: the lecture's 1304-example-01a network at 48x48 "
                    "(2 x [Conv32 5x5 ReLU, MaxPool 2], Dense 512, Dense 512, dropout 0.2), Adadelta(1.0), 5 epochs",
        model=dict(image_size=48, conv_channels=[32, 32], conv_kernel_sizes=[5, 5], conv_strides=[1, 1],
                   conv_paddings=[0, 0], pool_after=[True, True], dropout_after=[0.0, 0.0],
                   hidden_sizes=[512, 512], classifier_dropout=0.2),
        training=TrainingRecipe(epochs=5, batch_size=32, learning_rate=1.0, optimizer="adadelta",
                                optimizer_options=KERAS_ADADELTA, checkpoint_every=1000, log_every=100,
                                options={"fonts": ["kai", "ming"], "characters": "moe"}),
    ),
    "best": Preset(
        description="four styles (kai, ming, sans, hei): 4 x [conv 3x3 + batch norm + ReLU] 32-64-128-128 with "
                    "2x2 pooling after the first three, dropout 0.3, AdamW with a one-cycle schedule, "
                    "random +-2 px shifts, 8 epochs",
        model=dict(image_size=48, conv_channels=[32, 64, 128, 128], conv_kernel_sizes=[3, 3, 3, 3],
                   conv_strides=[1, 1, 1, 1], conv_paddings=[1, 1, 1, 1], pool_after=[True, True, True, False],
                   dropout_after=[0.0, 0.0, 0.0, 0.0], use_batch_norm=True, hidden_sizes=[],
                   classifier_dropout=0.3),
        training=TrainingRecipe(epochs=8, batch_size=64, learning_rate=2e-3, optimizer="adamw",
                                optimizer_options={"weight_decay": 1e-4}, schedule="onecycle",
                                checkpoint_every=1000, log_every=100,
                                options={"fonts": FOUR_STYLES, "characters": "moe", "shift": 2}),
    ),
}
