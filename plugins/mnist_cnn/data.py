"""MNIST from the original IDX files (a local folder) or from the Hub data set.

The 60,000 training images are split once, with a fixed permutation, into
55,000 for training and 5,000 for validation, so validation figures are
comparable across runs and seeds; the official 10,000 test images are only
used for the final report. The lecture's presets train on all 60,000, as the
lecture did; their validation images are then part of the training set, so
their validation figures only show that training runs, not how it generalises.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from ..base import DataSplits
from ..datasets import TensorDictDataset
from ..errors import DataError

HUB_DATASET = "ylecun/mnist"
VALIDATION_SIZE = 5_000
SPLIT_SEED = 0  # the validation split is a property of the data, not of a run
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
MISSING_DATA_HELP = (
    "MNIST not found. Either pass --data-dir pointing at a folder with the four original IDX files "
    "(train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], "
    f"t10k-labels-idx1-ubyte[.gz]), or leave --data-dir out on a machine that can reach the Hugging Face Hub "
    f"to download the data set {HUB_DATASET}."
)


class MnistDataError(DataError):
    pass


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (optionally gzip-compressed) into a uint8 array, checking its header.

    A damaged file (gzip cut short, not gzip at all, a wrong header) is a
    MnistDataError naming the file, so `train.py` says so in one line.
    """
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
        detail = str(error) or "the compressed data ends early"
        raise MnistDataError(f"{path} cannot be read as {'gzip' if path.suffix == '.gz' else 'a file'}: "
                             f"{detail}") from error
    if len(raw) < 8 or raw[0:2] != b"\x00\x00" or raw[2] != 0x08:
        raise MnistDataError(f"{path} is not an IDX file of unsigned bytes")
    dimensions = raw[3]
    header = 4 + 4 * dimensions
    if len(raw) < header:
        raise MnistDataError(f"{path}: the IDX header of {dimensions} dimensions is cut short")
    shape = struct.unpack(f">{dimensions}I", raw[4:header])
    expected = math.prod(shape)
    if len(raw) - header != expected:
        raise MnistDataError(f"{path}: header promises {expected} values of shape {shape}, file has {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def find_idx_files(data_dir: Path) -> dict[str, Path] | None:
    """The four IDX files in `data_dir` or `data_dir/mnist`, compressed or not; None if any is missing."""
    for folder in (data_dir, data_dir / "mnist"):
        found = {}
        for key, stem in IDX_FILES.items():
            candidates = [folder / f"{stem}.gz", folder / stem, folder / f"{stem.replace('-idx', '.idx')}"]
            found[key] = next((path for path in candidates if path.is_file()), None)
        if all(found.values()):
            return found
    return None


def load_idx_folder(data_dir: Path) -> dict[str, np.ndarray]:
    files = find_idx_files(data_dir)
    if files is None:
        raise MnistDataError(f"{MISSING_DATA_HELP} (looked in {data_dir} and {data_dir / 'mnist'})")
    arrays = {key: read_idx(path) for key, path in files.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        names = f"{files[f'{split}_images']} and {files[f'{split}_labels']}"
        if (images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1 or len(images) != len(labels)
                or len(labels) == 0):
            raise MnistDataError(f"{names} have shapes {images.shape} and {labels.shape}, not MNIST's")
        if labels.max() > 9:
            raise MnistDataError(f"{files[f'{split}_labels']}: labels go up to {labels.max()}, MNIST has 0-9")
    return arrays


def load_from_hub(local_files_only: bool = False) -> dict[str, np.ndarray]:
    """Download `ylecun/mnist` (parquet files of PNG images) with huggingface_hub, or with `local_files_only`
    read the copy an earlier download left in the Hugging Face cache."""
    from huggingface_hub import snapshot_download
    from PIL import Image

    try:
        folder = Path(snapshot_download(HUB_DATASET, repo_type="dataset", allow_patterns=["*.parquet"],
                                        local_files_only=local_files_only))
    except Exception as error:  # offline, unreachable, no cache: all say the same to the user
        where = "not in the Hugging Face cache, and HF_HUB_OFFLINE=1 is set" if local_files_only else \
            f"Hub download failed: {type(error).__name__}"
        raise MnistDataError(f"{MISSING_DATA_HELP} ({where})") from error
    try:
        import pyarrow.parquet as parquet
    except ImportError as error:
        raise MnistDataError("reading the Hub's MNIST parquet files needs pyarrow: pip install pyarrow") from error
    arrays = {}
    for split in ("train", "test"):
        files = sorted(folder.rglob(f"{split}-*.parquet"))
        if not files:
            raise MnistDataError(f"the Hub data set {HUB_DATASET} has no {split} parquet file")
        try:
            table = parquet.read_table(files[0]).to_pydict()
            arrays[f"{split}_images"] = np.stack([np.asarray(Image.open(io.BytesIO(item["bytes"])).convert("L"))
                                                  for item in table["image"]])
            arrays[f"{split}_labels"] = np.asarray(table["label"], dtype=np.uint8)
        except (OSError, ValueError, KeyError, TypeError) as error:  # pyarrow's errors subclass these
            raise MnistDataError(f"{files[0]} (cached from {HUB_DATASET}) cannot be read: "
                                 f"{' '.join(str(error).split())[:200]}") from error
    return arrays


def to_dataset(images: np.ndarray, labels: np.ndarray) -> TensorDictDataset:
    pixel_values = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)  # (N, 1, 28, 28)
    return TensorDictDataset(pixel_values=pixel_values, labels=torch.from_numpy(labels.astype(np.int64)))


def load_mnist(data_dir: Path | None, train_on_all: bool = False) -> DataSplits:
    if data_dir is not None:
        if not Path(data_dir).is_dir():
            raise MnistDataError(f"--data-dir {data_dir} is not a folder. {MISSING_DATA_HELP}")
        arrays, source = load_idx_folder(Path(data_dir)), f"IDX files in {Path(data_dir).name}/"
    else:
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        arrays, source = load_from_hub(local_files_only=offline), f"the Hub data set {HUB_DATASET}"
    permutation = np.random.default_rng(SPLIT_SEED).permutation(len(arrays["train_labels"]))
    validation, train = permutation[:VALIDATION_SIZE], permutation[VALIDATION_SIZE:]
    if train_on_all:
        train = permutation
    images, labels = arrays["train_images"], arrays["train_labels"]
    split = ("all 60,000 for training, as the lecture; validation is a subset of them" if train_on_all
             else "a fixed split of the 60,000")
    return DataSplits(
        train=to_dataset(images[train], labels[train]),
        validation=to_dataset(images[validation], labels[validation]),
        test=to_dataset(arrays["test_images"], arrays["test_labels"]),
        description=(
            f"MNIST (LeCun, Cortes, Burges) from {source}: {len(train):,} training and {len(validation):,} "
            f"validation images ({split}), "
            f"{len(arrays['test_labels']):,} official test images"
        ),
    )


def synthetic_digits(num_examples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Made-up 28x28 "digits": a bar whose position encodes the label, plus noise. Learnable in a few steps."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=num_examples).astype(np.uint8)
    images = (rng.random((num_examples, 28, 28)) * 40).astype(np.uint8)
    for image, label in zip(images, labels):
        row = 4 + 2 * int(label)
        image[row:row + 2, 6:22] = 255
    return images, labels
