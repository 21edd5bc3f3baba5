"""The lecture's Keras CNN (1304-example-01a): the peer bench/bench_mnist.py times beside ours, and its accuracy.

Keras 3 on the torch backend is a benchmark requirement only (bench/requirements.txt, installed by
`make bench`). bench/bench_mnist.py imports `training_round` (`model.fit`, as the lecture trains) and
alternates it with our training step. Run as a script, this trains as the lecture did and prints the
test accuracy, the lecture's own figure reproduced in Keras:

    .venv/bin/python bench/keras_baseline.py --data-dir ../shared/datasets/mnist --fit-epochs 20 --seed 42
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import struct
import time
from pathlib import Path
from typing import Callable

os.environ["KERAS_BACKEND"] = "torch"  # read when keras is first imported

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402


def read_idx(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    dimensions = raw[3]
    shape = struct.unpack(f">{dimensions}I", raw[4: 4 + 4 * dimensions])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dimensions).reshape(shape)


def lecture_01a() -> keras.Model:
    model = keras.Sequential([
        keras.Input((28, 28)),
        layers.Reshape((28, 28, 1)),
        layers.Conv2D(32, kernel_size=(5, 5), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(32, kernel_size=(5, 5), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.2),
        layers.Dense(512, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(512, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.Adadelta(learning_rate=1.0),
                  metrics=["accuracy"])
    return model


def training_round(images: np.ndarray, labels: np.ndarray, batch_size: int, steps: int) -> Callable[[], float]:
    """A round of `model.fit` over `steps` batches (one epoch of that many images), returning images per second;
    `images` are float32 in [0, 1], (count, 28, 28), `labels` one-hot."""
    count = batch_size * steps
    if count > len(images):
        raise ValueError(f"{steps} batches of {batch_size} need {count:,} images; there are {len(images):,}")
    keras.utils.set_random_seed(0)
    model = lecture_01a()

    def run() -> float:
        started = time.perf_counter()
        model.fit(images[:count], labels[:count], batch_size=batch_size, epochs=1, verbose=0)
        return count / (time.perf_counter() - started)

    return run


def load_training_arrays(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(data_dir / "train-images-idx3-ubyte.gz").astype("float32") / 255.0
    return images, keras.utils.to_categorical(read_idx(data_dir / "train-labels-idx1-ubyte.gz"), 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--fit-epochs", type=int, default=20,
                        help="epochs over all 60,000 images at batch 32, as the lecture trained")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    images, labels = load_training_arrays(args.data_dir)
    keras.utils.set_random_seed(args.seed)
    model = lecture_01a()
    started = time.perf_counter()
    model.fit(images, labels, batch_size=32, epochs=args.fit_epochs, verbose=2)
    test_images = read_idx(args.data_dir / "t10k-images-idx3-ubyte.gz").astype("float32") / 255.0
    test_labels = keras.utils.to_categorical(read_idx(args.data_dir / "t10k-labels-idx1-ubyte.gz"), 10)
    loss, accuracy = model.evaluate(test_images, test_labels, verbose=0)
    results = {"keras": keras.__version__, "backend": keras.backend.backend(), "epochs": args.fit_epochs,
               "seed": args.seed, "test_accuracy": round(100 * accuracy, 2), "test_loss": round(loss, 4),
               "seconds": round(time.perf_counter() - started)}
    print(f"keras lecture-01a, {args.fit_epochs} epochs, seed {args.seed}: test accuracy {100 * accuracy:.2f} %, "
          f"loss {loss:.4f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
