"""Named recipes for the glyph GANs: the lecture's two networks, faithfully, and our own.

The lecture (1304-example-07 and 08) trained with Keras 2: Glorot-uniform
weights, LeakyReLU's default slope 0.3, batch norm momentum 0.99 and epsilon
1e-3, Adam(2e-4, beta_1=0.5, epsilon=1e-7), batch 32, for 20,000 (GAN) and
3,000 (DCGAN) iterations. Each iteration is three `train_on_batch` calls:
the discriminator on a real batch (target 1), then on a batch of fakes
(target 0), then the generator through the frozen discriminator on fresh noise
(target 1). The lecture presets do exactly that, with every batch norm using
its batch's statistics: this reproduces the lecture's logged losses (at
iteration 200 of the DCGAN: D loss 0.47 and accuracy 77 % here, 0.466 and
85 % in the lecture; G loss 2.8 here, 2.1 there). Emulating Keras' inference
mode for `generator.predict` and the frozen discriminator instead made the
game degenerate in a few hundred steps (G loss 0.01: the discriminator only
ever saw fakes drawn with the lagging moving statistics), so it is not an
option. `best` changes what the measurements said to.

`options["data"]` names the data set: {"fonts": [...], "characters": ...}
for glyphs (several fonts are mixed, practice 02) or {"mnist": True}.
"""

from ..base import Preset, TrainingRecipe

KERAS_ADAM = {"betas": (0.5, 0.999), "eps": 1e-7}
KERAS_2 = dict(leaky_relu_slope=0.3, batch_norm_momentum=0.01, batch_norm_eps=1e-3, initializer="glorot_uniform")
LECTURE_STEP = dict(discriminator_updates="separate", fresh_noise_for_generator=True, label_smoothing=0.0, loss="bce")
KAI = {"fonts": ["kai"], "characters": "moe"}
KAI_AND_MING = {"fonts": ["kai", "ming"], "characters": "moe"}

LECTURE_07_MODEL = dict(
    architecture="mlp", latent_size=128, image_size=48,
    generator_hidden_sizes=[256, 512, 1024], discriminator_hidden_sizes=[512, 256],
    generator_activation="leaky_relu", generator_batch_norm=True, generator_norm_after_activation=True, **KERAS_2,
)
LECTURE_08_MODEL = dict(
    architecture="convolutional", latent_size=128, image_size=48,
    generator_start_size=14, generator_start_channels=64, generator_channels=[64, 64],
    generator_kernel_size=3, generator_padding=0, generator_output_kernel_size=3, generator_output_padding=0,
    generator_activation="relu", generator_batch_norm=True, generator_norm_after_activation=True,
    discriminator_channels=[32, 64, 128], discriminator_kernel_sizes=[6, 4, 4], discriminator_strides=[2, 2, 1],
    discriminator_paddings=[0, 0, 0], discriminator_batch_norm=[False, True, True], **KERAS_2,
)
BEST_MODEL = dict(
    architecture="convolutional", latent_size=128, image_size=48,
    generator_start_size=6, generator_start_channels=256, generator_channels=[128, 64, 32],
    generator_kernel_size=3, generator_padding=1, generator_output_kernel_size=3, generator_output_padding=1,
    generator_activation="relu", generator_batch_norm=True, generator_norm_after_activation=False,
    discriminator_channels=[64, 128, 256], discriminator_kernel_sizes=[4, 4, 4], discriminator_strides=[2, 2, 2],
    discriminator_paddings=[1, 1, 1], discriminator_batch_norm=[False, False, False], discriminator_spectral_norm=True,
    leaky_relu_slope=0.2, batch_norm_momentum=0.1, batch_norm_eps=1e-5, initializer="normal",
)
BEST_STEP = dict(discriminator_updates="joint", fresh_noise_for_generator=False, label_smoothing=0.0, loss="hinge",
                 ema_decay=0.999, augment_shift=3)


def lecture_07(data: dict, steps: int = 20_000) -> Preset:
    return Preset(
        description="1304-example-07: MLP GAN, G 128->256->512->1024->2304 (LeakyReLU 0.3 + batch norm, tanh), "
                    "D 2304->512->256->1 (LeakyReLU 0.3), Adam(2e-4, 0.5), batch 32, 20,000 iterations",
        model=LECTURE_07_MODEL,
        training=TrainingRecipe(max_steps=steps, batch_size=32, learning_rate=2e-4, optimizer="adam",
                                optimizer_options=KERAS_ADAM, checkpoint_every=2000, log_every=200,
                                options={**LECTURE_STEP, "data": data, "sample_every": 1000}),
        reference="blurry glyph-like shapes, none readable, after 20,000 iterations (D loss 0.11, G loss 5.1)",
    )


def lecture_08(data: dict, steps: int = 3_000) -> Preset:
    return Preset(
        description="1304-example-08: DCGAN, G dense 14x14x64 (ReLU) -> 2 x [upsample, conv 64 3x3 ReLU + batch norm] "
                    "-> conv 1 3x3 tanh (valid padding, 14->28->26->52->50->48); D conv 32/6/2, 64/4/2 + BN, "
                    "128/4/1 + BN (LeakyReLU 0.3) -> dense 1; Adam(2e-4, 0.5), batch 32, 3,000 iterations",
        model=LECTURE_08_MODEL,
        training=TrainingRecipe(max_steps=steps, batch_size=32, learning_rate=2e-4, optimizer="adam",
                                optimizer_options=KERAS_ADAM, checkpoint_every=500, log_every=100,
                                options={**LECTURE_STEP, "data": data, "sample_every": 250}),
        reference="smoother glyph-like shapes than the MLP GAN, none readable, after 3,000 iterations "
                  "(D loss 0.09, G loss 4.4)",
    )


def best(data: dict, steps: int = 6_000, description: str = "") -> Preset:
    return Preset(
        description=description or (
            "our recipe: DCGAN-style G (dense 6x6x256 -> 3 x [upsample, conv 3x3 + batch norm + ReLU] 128-64-32 "
            "-> conv tanh, same padding), spectrally normalised strided-conv D 64-128-256, hinge loss, one joint "
            "D update per G update on the same fakes, random +-3 px shifts of what D sees (real and fake), "
            "exponential moving average of G's weights (0.999), Adam(2e-4, 0.5), batch 32"),
        model=BEST_MODEL,
        training=TrainingRecipe(max_steps=steps, batch_size=32, learning_rate=2e-4, optimizer="adam",
                                optimizer_options={"betas": (0.5, 0.999)}, checkpoint_every=500, log_every=100,
                                options={**BEST_STEP, "data": data, "sample_every": 250}),
    )


MNIST_MODEL = dict(BEST_MODEL, latent_size=100, image_size=28, generator_start_size=7,
                   generator_start_channels=128, generator_channels=[64, 32], discriminator_channels=[64, 128])
MNIST_MODEL.update(discriminator_kernel_sizes=[4, 4], discriminator_strides=[2, 2], discriminator_paddings=[1, 1],
                   discriminator_batch_norm=[False, False])

PRESETS = {
    "lecture-07": lecture_07(KAI),
    "lecture-08": lecture_08(KAI),
    "best": best(KAI),
    "best-mixed": best(KAI_AND_MING, description=(
        "practice 02: the best recipe on Kai and Ming renders of the MOE list mixed into one data set, "
        "to invent a style between the two")),
    "mnist": Preset(
        description="the best recipe on MNIST digits: latent 100 -> 7x7x128 -> 14 -> 28, D 64-128, hinge loss, EMA",
        model=MNIST_MODEL,
        training=TrainingRecipe(max_steps=6_000, batch_size=64, learning_rate=2e-4, optimizer="adam",
                                optimizer_options={"betas": (0.5, 0.999)}, checkpoint_every=500, log_every=100,
                                options={**BEST_STEP, "augment_shift": 2, "data": {"mnist": True},
                                         "sample_every": 500}),
    ),
}
