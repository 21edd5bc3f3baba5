"""The data of `melody-vae`: images with labels, from `--data-dir`, or made up for tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..base import DataSplits
from ..datasets import TensorDictDataset
from ..errors import DataError

IMAGE_SIZE = 28
LABELS = {0: "horizontal", 1: "vertical"}


def to_dataset(images: np.ndarray, labels: np.ndarray) -> TensorDictDataset:
    pixel_values = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)  # (N, 1, size, size)
    return TensorDictDataset(pixel_values=pixel_values, labels=torch.from_numpy(labels.astype(np.int64)))


def load_images(data_dir: Path | None) -> DataSplits:
    """`train.npz` and `test.npz` in `data_dir`, each with `images` (N, size, size) uint8 and `labels` (N,)."""
    if data_dir is None:
        raise DataError("pass --data-dir: a folder with train.npz and test.npz (arrays 'images' and 'labels')")
    try:
        train, test = (np.load(Path(data_dir) / f"{split}.npz", allow_pickle=False) for split in ("train", "test"))
        images, labels = train["images"], train["labels"]
        test_split = to_dataset(test["images"], test["labels"])
    except (OSError, KeyError, ValueError) as error:
        raise DataError(f"cannot read the data in {data_dir}: {error}") from None
    order = np.random.default_rng(0).permutation(len(labels))  # a fixed validation split, whatever the seed
    held_out, kept = order[: len(order) // 10], order[len(order) // 10:]
    return DataSplits(train=to_dataset(images[kept], labels[kept]), validation=to_dataset(images[held_out],
                      labels[held_out]), test=test_split,
                      description=f"{len(kept):,} training, {len(held_out):,} validation images from {data_dir}")


def synthetic_images(num_examples: int, seed: int) -> DataSplits:
    """Made-up pictures: a horizontal or a vertical bar on noise. Learnable in a few steps."""
    rng = np.random.default_rng(seed)
    count = num_examples + 2 * max(8, num_examples // 4)
    labels = rng.integers(0, len(LABELS), size=count).astype(np.int64)
    images = (rng.random((count, IMAGE_SIZE, IMAGE_SIZE)) * 40).astype(np.uint8)
    for image, label in zip(images, labels):
        place = rng.integers(4, IMAGE_SIZE - 6)
        if label == 0:
            image[place:place + 3, 4:-4] = 255
        else:
            image[4:-4, place:place + 3] = 255
    split = [num_examples, num_examples + max(8, num_examples // 4)]
    parts = [to_dataset(part_images, part_labels)
             for part_images, part_labels in zip(np.split(images, split), np.split(labels, split))]
    return DataSplits(*parts, description=f"synthetic bars ({num_examples} examples)")
