"""Glyphs of several fonts, labelled by style, split by *character*.

A character is in exactly one split, with all its fonts: the test set asks
the network about characters it never saw in any style, so it must have
learnt the style (brush strokes, serifs, stroke contrast), not the shapes of
particular characters. Only characters that every font has are used, so each
split is balanced across styles.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..base import DataSplits
from ..datasets import TensorDictDataset
from ..errors import DataError
from ..glyphs import character_list, render_glyph_set, resolve_font

TEST_FRACTION = 0.2
VALIDATION_FRACTION = 0.1
SPLIT_SEED = 0  # the split is a property of the data set, not of a run


def split_characters(characters: list[str]) -> dict[str, str]:
    """character -> "train" | "validation" | "test", a fixed random assignment."""
    order = np.random.default_rng(SPLIT_SEED).permutation(len(characters))
    test = max(1, round(TEST_FRACTION * len(characters)))
    validation = max(1, round(VALIDATION_FRACTION * len(characters)))
    assignment = {}
    for rank, index in enumerate(order):
        assignment[characters[index]] = "test" if rank < test else "validation" if rank < test + validation else "train"
    return assignment


def style_dataset(images: list[np.ndarray], labels: list[int], codepoints: list[int]) -> TensorDictDataset:
    pixels = torch.from_numpy(np.stack(images).astype(np.float32) / 255.0)[:, None]  # (N, 1, 48, 48), ink = 1
    return TensorDictDataset(pixel_values=pixels, labels=torch.tensor(labels, dtype=torch.long),
                             codepoint=torch.tensor(codepoints, dtype=torch.long))


def load_style_splits(styles: list[str], characters_name: str, data_dir: Path | None) -> DataSplits:
    if len(styles) < 2:
        raise DataError("a style classifier needs at least two fonts")
    list_name, characters = character_list(characters_name)
    sets = [render_glyph_set(resolve_font(style, data_dir), characters, list_name) for style in styles]
    common = set.intersection(*(set(glyphs.characters) for glyphs in sets))
    if len(common) < 10:
        raise DataError(f"the fonts share only {len(common)} characters of the {list_name} list")
    ordered = [character for character in characters if character in common]
    assignment = split_characters(ordered)
    parts = {split: ([], [], []) for split in ("train", "validation", "test")}
    for label, glyphs in enumerate(sets):
        for character, image in zip(glyphs.characters, glyphs.images):
            if character in common:
                images, labels, codepoints = parts[assignment[character]]
                images.append(image)
                labels.append(label)
                codepoints.append(ord(character))
    left_out = sorted(set(characters) - common)
    counts = {split: len(parts[split][0]) // len(styles) for split in parts}
    description = (
        f"{list_name} list rendered in {len(styles)} fonts ({', '.join(glyphs.font for glyphs in sets)}); "
        f"split by character: {counts['train']:,} train, {counts['validation']:,} validation, "
        f"{counts['test']:,} test characters, each in every font"
        + (f"; {len(left_out)} characters missing from some font left out ({''.join(left_out[:10])})" if left_out else "")
    )
    return DataSplits(train=style_dataset(*parts["train"]), validation=style_dataset(*parts["validation"]),
                      test=style_dataset(*parts["test"]), description=description, extras={"styles": list(styles)})


def synthetic_style_splits(styles: list[str], count: int, seed: int) -> DataSplits:
    """Two made-up "styles" per label: thin vs thick strokes, split by made-up character number."""
    rng = np.random.default_rng(seed)
    per_split = {"train": count, "validation": max(8, count // 4), "test": max(8, count // 4)}
    splits, codepoint = {}, 0x4E00
    for split, total in per_split.items():
        images, labels, codepoints = [], [], []
        for index in range(total):
            label = index % len(styles)
            image = np.zeros((48, 48), dtype=np.uint8)
            width = 1 + 2 * label
            for _ in range(3):
                row, start = rng.integers(6, 40, 2)
                image[row:row + width, start:min(44, start + 20)] = 255
                image[start:min(44, start + 20), row:row + width] = 255
            images.append(image)
            labels.append(label)
            codepoints.append(codepoint + index // len(styles))
        codepoint += total
        splits[split] = style_dataset(images, labels, codepoints)
    return DataSplits(train=splits["train"], validation=splits["validation"], test=splits["test"],
                      description=f"synthetic strokes ({count} examples)", extras={"styles": list(styles)})
