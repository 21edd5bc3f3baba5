"""The lecture's two Keras GANs (1304-example-07 and 08), the peers bench/bench_gan.py times beside ours.

Keras 3 on the torch backend is a benchmark requirement only (bench/requirements.txt, installed by
`make bench`); import this module after `alternate.keras_installed()` has chosen the backend.

`training_round` runs the lecture's training loop (generator.predict, then
three train_on_batch calls per iteration, batch 32) on random 48x48 images, in
the same process and on the same torch threads as ours. One change, so that it
does the lecture's work: Keras 2 fixed which weights a model trains when it was
compiled, so the lecture sets `discriminator.trainable = False` once, after
compiling D, to freeze D inside `combined` only. Keras 3 reads the flag at every
step, so as written D's own train_on_batch calls would train nothing (Keras
warns "The model does not have any trainable weights") and skip D's backward
pass and update; the loop sets the flag before each update instead.
"""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np
from keras.layers import BatchNormalization, Conv2D, Dense, Flatten, Input, LeakyReLU, Reshape, UpSampling2D
from keras.models import Model, Sequential
from keras.optimizers import Adam

from alternate import steps_per_second

LATENT_SIZE = 128
IMAGE_SHAPE = (48, 48)


def lecture_07():
    discriminator = Sequential([Input(IMAGE_SHAPE), Reshape((int(np.prod(IMAGE_SHAPE)),)), Dense(512),
                                LeakyReLU(0.3), Dense(256), LeakyReLU(0.3), Dense(1, activation="sigmoid")])
    generator = Sequential([Input((LATENT_SIZE,)), Dense(256), LeakyReLU(0.3), BatchNormalization(), Dense(512),
                            LeakyReLU(0.3), BatchNormalization(), Dense(1024), LeakyReLU(0.3), BatchNormalization(),
                            Dense(int(np.prod(IMAGE_SHAPE)), activation="tanh"), Reshape(IMAGE_SHAPE)])
    return generator, discriminator


def lecture_08():
    discriminator = Sequential([Input(IMAGE_SHAPE), Reshape(IMAGE_SHAPE + (1,)), Conv2D(32, kernel_size=6, strides=2),
                                LeakyReLU(0.3), Conv2D(64, kernel_size=4, strides=2), BatchNormalization(),
                                LeakyReLU(0.3), Conv2D(128, kernel_size=4, strides=1), BatchNormalization(),
                                LeakyReLU(0.3), Flatten(), Dense(1, activation="sigmoid")])
    generator = Sequential([Input((LATENT_SIZE,)), Dense(14 * 14 * 64, activation="relu"), Reshape((14, 14, 64)),
                            UpSampling2D(), Conv2D(64, kernel_size=3, activation="relu"), BatchNormalization(),
                            UpSampling2D(), Conv2D(64, kernel_size=3, activation="relu"), BatchNormalization(),
                            Conv2D(1, kernel_size=3, activation="tanh"), Reshape(IMAGE_SHAPE)])
    return generator, discriminator


LECTURE_MODELS = {"lecture-07": lecture_07, "lecture-08": lecture_08}


def training_round(preset: str, steps: int, batch_size: int = 32) -> Callable[[], float]:
    """A round of `steps` lecture iterations, returning iterations per second; the models are built once."""
    keras.utils.set_random_seed(0)
    generator, discriminator = LECTURE_MODELS[preset]()
    discriminator.compile(loss="binary_crossentropy", optimizer=Adam(0.0002, 0.5), metrics=["accuracy"])
    noise = Input(shape=(LATENT_SIZE,))
    discriminator.trainable = False
    combined = Model(noise, discriminator(generator(noise)))
    combined.compile(loss="binary_crossentropy", optimizer=Adam(0.0002, 0.5))
    x_train = np.random.default_rng(0).uniform(-1, 1, (4808,) + IMAGE_SHAPE).astype(np.float32)

    def iteration() -> None:
        images_real = x_train[np.random.randint(0, len(x_train), batch_size)]
        images_fake = generator.predict(np.random.randn(batch_size, LATENT_SIZE), verbose=0)
        discriminator.trainable = True
        discriminator.train_on_batch(images_real, np.ones((batch_size, 1)))
        discriminator.train_on_batch(images_fake, np.zeros((batch_size, 1)))
        discriminator.trainable = False
        combined.train_on_batch(np.random.randn(batch_size, LATENT_SIZE), np.ones((batch_size, 1)))

    return lambda: steps_per_second(iteration, steps)
