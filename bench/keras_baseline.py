"""The lecture's Keras CNN (1304-example-01a), timed on the same machine as our PyTorch version.

Needs its own environment with Keras 3 on the torch backend (not a project requirement):

    python3 -m venv /tmp/keras && /tmp/keras/bin/pip install torch==2.13.0 "keras==3.*" numpy
    KERAS_BACKEND=torch /tmp/keras/bin/python bench/keras_baseline.py --data-dir ../shared/datasets/mnist

Prints training images per second for `model.fit`, as the lecture trains, at
the batch sizes bench/bench_mnist.py uses.
"""

import argparse
import gzip
import json
import os
import struct
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--images", type=int, default=9600, help="training images timed per batch size")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--fit-epochs", type=int, default=0,
                        help="also train as the lecture did (all 60,000 images, batch 32, this many epochs) "
                             "and print the test accuracy: the lecture's own figure, reproduced in Keras")
    parser.add_argument("--seed", type=int, default=42, help="seed of the --fit-epochs run")
    args = parser.parse_args()
    images = read_idx(Path(args.data_dir) / "train-images-idx3-ubyte.gz").astype("float32") / 255.0
    labels = keras.utils.to_categorical(read_idx(Path(args.data_dir) / "train-labels-idx1-ubyte.gz"), 10)
    results = {"keras": keras.__version__, "backend": keras.backend.backend(), "training_images_per_second": []}
    for batch_size in (32, 128):
        model = lecture_01a()
        model.fit(images[:batch_size * 10], labels[:batch_size * 10], batch_size=batch_size, epochs=1, verbose=0)
        started = time.perf_counter()
        model.fit(images[: args.images], labels[: args.images], batch_size=batch_size, epochs=1, verbose=0)
        rate = args.images / (time.perf_counter() - started)
        results["training_images_per_second"].append({"batch_size": batch_size, "images_per_second": round(rate)})
        print(f"keras lecture-01a batch {batch_size:4d} {rate:8.0f} images/s", flush=True)
    if args.fit_epochs:
        keras.utils.set_random_seed(args.seed)
        model = lecture_01a()
        started = time.perf_counter()
        model.fit(images, labels, batch_size=32, epochs=args.fit_epochs, verbose=2)
        test_images = read_idx(Path(args.data_dir) / "t10k-images-idx3-ubyte.gz").astype("float32") / 255.0
        test_labels = keras.utils.to_categorical(read_idx(Path(args.data_dir) / "t10k-labels-idx1-ubyte.gz"), 10)
        loss, accuracy = model.evaluate(test_images, test_labels, verbose=0)
        results["lecture_fit"] = {"epochs": args.fit_epochs, "seed": args.seed, "test_accuracy": round(100 * accuracy, 2),
                                  "test_loss": round(loss, 4), "seconds": round(time.perf_counter() - started)}
        print(f"keras lecture-01a, {args.fit_epochs} epochs, seed {args.seed}: test accuracy {100 * accuracy:.2f} %, loss {loss:.4f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
