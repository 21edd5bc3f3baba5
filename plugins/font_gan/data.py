"""The GAN's data: rendered glyphs of one or more fonts (mixed), or MNIST digits, as [-1, 1] images.

Glyph data: `options["data"] = {"fonts": ["kai"], "characters": "moe"}` by
default; a `glyphs.json` file in `--data-dir` with the same keys chooses any
other fonts (style names or font files, relative to that folder) and list.
A fixed 8 % of the *characters* (all their fonts' renders) is held out as the
validation split, so the discriminator's view of unseen real glyphs can be
watched for overfitting.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..base import DataSplits
from ..datasets import TensorDictDataset
from ..errors import DataError
from ..glyphs import character_list, render_glyph_set, resolve_font, to_model_space

VALIDATION_FRACTION = 0.08
SPLIT_SEED = 0  # the split is a property of the data set, not of a run
DATA_SPEC_FILE = "glyphs.json"


def glyph_spec(options: dict, data_dir: Path | None) -> dict:
    """The preset's data choice, or the one written in `<data_dir>/glyphs.json`."""
    spec = dict(options.get("data") or {"fonts": ["kai"], "characters": "moe"})
    if data_dir is not None and (Path(data_dir) / DATA_SPEC_FILE).is_file():
        try:
            chosen = json.loads((Path(data_dir) / DATA_SPEC_FILE).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise DataError(f"{DATA_SPEC_FILE} in {data_dir} is not valid JSON: {error}") from error
        if not isinstance(chosen, dict) or not isinstance(chosen.get("fonts", []), list):
            raise DataError(f'{DATA_SPEC_FILE} must look like {{"fonts": ["kai", "my.ttf"], "characters": "moe"}}')
        spec.update({key: chosen[key] for key in ("fonts", "characters") if key in chosen})
        spec["characters"] = str(_relative(spec.get("characters", "moe"), Path(data_dir)))
        spec["fonts"] = [str(_relative(font, Path(data_dir))) for font in spec["fonts"]]
    return spec


def _relative(name: str, folder: Path) -> str | Path:
    candidate = folder / str(name).rsplit(":", 1)[0]
    return folder / str(name) if candidate.is_file() else name


def split_characters(characters: list[str], fraction: float = VALIDATION_FRACTION) -> set[str]:
    """The held-out characters: a fixed random share of the list (at least one)."""
    order = np.random.default_rng(SPLIT_SEED).permutation(len(characters))
    count = max(1, round(fraction * len(characters)))
    return {characters[index] for index in order[:count]}


def load_glyph_splits(spec: dict, data_dir: Path | None) -> DataSplits:
    fonts = spec.get("fonts") or []
    if not fonts:
        raise DataError("name at least one font for the glyph data set")
    list_name, characters = character_list(str(spec.get("characters", "moe")))
    held_out = split_characters(characters)
    train, validation, notes, labels = [], [], [], []
    for index, name in enumerate(fonts):
        glyphs = render_glyph_set(resolve_font(name, data_dir), characters, list_name)
        in_validation = np.array([character in held_out for character in glyphs.characters])
        train.append(glyphs.images[~in_validation])
        validation.append(glyphs.images[in_validation])
        labels += [np.full(int((~in_validation).sum()), index), np.full(int(in_validation.sum()), index)]
        notes.append(glyphs.describe())

    def dataset(parts: list[np.ndarray], font_index: list[np.ndarray]) -> TensorDictDataset:
        images = torch.from_numpy(to_model_space(np.concatenate(parts)))[:, None]  # (N, 1, 48, 48) in [-1, 1]
        return TensorDictDataset(pixel_values=images, font=torch.from_numpy(np.concatenate(font_index)).long())

    data = DataSplits(
        train=dataset(train, labels[0::2]),
        validation=dataset(validation, labels[1::2]),
        description="; ".join(notes) + f". Held out for validation: {len(held_out)} characters "
                                        f"({VALIDATION_FRACTION:.0%} of the list, fixed), in every font.",
        extras={"fonts": list(fonts), "characters": list_name},
    )
    return data


def load_mnist_splits(data_dir: Path | None) -> DataSplits:
    from ..mnist_cnn.data import load_mnist

    mnist = load_mnist(data_dir)

    def to_gan(dataset) -> TensorDictDataset:
        pixels = dataset.fields["pixel_values"] * 2.0 - 1.0  # [0, 1] white digit -> [-1, 1], stroke = +1
        return TensorDictDataset(pixel_values=pixels, font=dataset.fields["labels"])

    return DataSplits(train=to_gan(mnist.train), validation=to_gan(mnist.validation),
                      description=f"MNIST digits: {mnist.description}", extras={"fonts": ["mnist"], "characters": "digits"})


def synthetic_glyphs(count: int, size: int, seed: int) -> np.ndarray:
    """Made-up "glyphs": a few random horizontal and vertical strokes, in [-1, 1] with ink = +1."""
    rng = np.random.default_rng(seed)
    images = -np.ones((count, size, size), dtype=np.float32)
    margin = size // 8
    for image in images:
        for _ in range(rng.integers(2, 6)):
            position, start = rng.integers(margin, size - margin, 2)
            length = rng.integers(size // 4, size - 2 * margin)
            width = rng.integers(1, max(2, size // 16) + 1)
            end = min(size - margin, start + length)
            if rng.random() < 0.5:
                image[position:position + width, start:end] = 1.0
            else:
                image[start:end, position:position + width] = 1.0
    return images


def synthetic_splits(count: int, size: int, seed: int) -> DataSplits:
    held_out = max(8, count // 4)
    images = torch.from_numpy(synthetic_glyphs(count + held_out, size, seed))[:, None]
    labels = torch.zeros(count + held_out, dtype=torch.long)
    return DataSplits(
        train=TensorDictDataset(pixel_values=images[:count], font=labels[:count]),
        validation=TensorDictDataset(pixel_values=images[count:], font=labels[count:]),
        description=f"synthetic strokes ({count} examples)",
    )
