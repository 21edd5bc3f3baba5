"""The lecture's two Keras GANs (1304-example-07 and 08), timed on the same machine as our PyTorch versions.

Needs Keras 3 on the torch backend, which is not a project requirement; keep it out of the project's venv:

    .venv/bin/pip install --target /tmp/keras-lib --no-deps "keras==3.*" absl-py namex optree ml-dtypes h5py \
        rich markdown-it-py mdurl pygments
    PYTHONPATH=/tmp/keras-lib KERAS_BACKEND=torch .venv/bin/python bench/keras_gan_baseline.py [--threads 1 2]

Runs the lecture's training loop as written (generator.predict, then three
train_on_batch calls per iteration, batch 32) on random 48x48 images and
prints iterations per second, to compare with bench/bench_gan.py.
"""

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from keras.layers import BatchNormalization, Conv2D, Dense, Flatten, Input, LeakyReLU, Reshape, UpSampling2D  # noqa: E402
from keras.models import Model, Sequential  # noqa: E402
from keras.optimizers import Adam  # noqa: E402

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


def iterations_per_second(build, steps: int, warmup: int) -> float:
    generator, discriminator = build()
    discriminator.compile(loss="binary_crossentropy", optimizer=Adam(0.0002, 0.5), metrics=["accuracy"])
    noise = Input(shape=(LATENT_SIZE,))
    discriminator.trainable = False
    combined = Model(noise, discriminator(generator(noise)))
    combined.compile(loss="binary_crossentropy", optimizer=Adam(0.0002, 0.5))
    x_train = np.random.default_rng(0).uniform(-1, 1, (4808,) + IMAGE_SHAPE).astype(np.float32)
    batch_size = 32
    started = None
    for step in range(warmup + steps):
        if step == warmup:
            started = time.perf_counter()
        images_real = x_train[np.random.randint(0, len(x_train), batch_size)]
        images_fake = generator.predict(np.random.randn(batch_size, LATENT_SIZE), verbose=0)
        discriminator.train_on_batch(images_real, np.ones((batch_size, 1)))
        discriminator.train_on_batch(images_fake, np.zeros((batch_size, 1)))
        combined.train_on_batch(np.random.randn(batch_size, LATENT_SIZE), np.ones((batch_size, 1)))
    return steps / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {"keras": keras.__version__, "backend": keras.backend.backend(), "load_average": os.getloadavg(),
               "training": []}
    for threads in args.threads:
        torch.set_num_threads(threads)
        for name, build, scale in (("lecture-07", lecture_07, 5), ("lecture-08", lecture_08, 1)):
            speed = iterations_per_second(build, args.steps * scale, warmup=5)
            print(f"Keras {keras.__version__} ({keras.backend.backend()}) {name}, {threads} thread(s): "
                  f"{speed:.2f} iterations/s", flush=True)
            results["training"].append({"preset": name, "threads": threads, "steps_per_second": round(speed, 2)})
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
