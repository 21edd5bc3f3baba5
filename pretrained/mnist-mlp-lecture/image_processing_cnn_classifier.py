"""Image processor of the hub's classifiers: a picture as a user has it -> the frame the model was trained on.

A stock image processor does not fit these models: they read one channel of ink (1) on paper (0), and
MNIST digits are not merely resized but fitted into a 20x20 box and placed by their centre of mass, as in
LeCun et al.'s preparation of the data set. This file does exactly the hub's preparation, so that
`pipeline("image-classification", model=<repo>, trust_remote_code=True)` reads a photo or a drawing
(RGB or grey, dark-on-light or light-on-dark, any size) the way the demo does.

Two preparations, named in `preprocessor_config.json`:
- "mnist": the digit fitted in 20x20 (aspect kept), centre of mass at the centre of 28x28.
- "glyph": the character's ink box scaled so its longer side is 42 px, centred in 48x48 (like the
  rendered training glyphs of the font-style classifier).

Plain numpy and Pillow: this file travels to the Hub with the weights.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from transformers.image_processing_utils import BaseImageProcessor, BatchFeature

PREPARATIONS = ("mnist", "glyph")
MIN_CONTRAST = 0.15  # below this, the picture is one colour: nothing was drawn
INK_THRESHOLD = 0.2  # paper grain and JPEG noise are not ink
# Pieces of ink smaller than this share of the largest piece are specks on the paper: a digit is one or two
# strokes; a character has many, some of them small dots.
KEEP_FRACTION = {"mnist": 0.1, "glyph": 0.02}
COMPONENT_SIDE = 256  # pieces of ink are found on a copy at most this many pixels a side


def to_gray(image) -> np.ndarray:
    """A PIL image or an array (H, W), (H, W, C) or (C, H, W) -> float32 (H, W) in [0, 1], 1 = white.

    Transparent pixels are laid on white paper; integer arrays are scaled by their type's range."""
    if isinstance(image, Image.Image):
        if image.mode in ("I", "I;16", "I;16B", "F"):
            array = np.asarray(image, dtype=np.float32)
            return np.clip(array / (65535.0 if image.mode != "F" else max(1.0, float(array.max()))), 0, 1)
        image = image.convert("RGBA") if "A" in image.getbands() or image.mode == "P" else image.convert("RGB")
    array = np.asarray(image)
    if isinstance(image, torch.Tensor):
        array = image.detach().cpu().numpy()
    if array.ndim == 3 and array.shape[0] in (1, 2, 3, 4) and array.shape[-1] not in (1, 2, 3, 4):
        array = np.moveaxis(array, 0, -1)  # channels first -> last
    if array.ndim not in (2, 3) or array.size == 0:
        raise ValueError(f"an image must be (H, W) or (H, W, C), got shape {array.shape}")
    if np.issubdtype(array.dtype, np.integer):
        array = array.astype(np.float32) / float(np.iinfo(array.dtype).max)
    else:
        array = array.astype(np.float32)
        if array.max() > 1.0:
            array = array / 255.0
    if array.ndim == 3:
        if array.shape[-1] in (2, 4):
            colour, alpha = array[..., :-1], array[..., -1:]
            array = colour * alpha + (1.0 - alpha)
        array = array.mean(axis=-1)
    return np.clip(array, 0.0, 1.0)


def ink_of(gray: np.ndarray, keep_fraction: float = KEEP_FRACTION["mnist"]) -> np.ndarray:
    """Gray picture -> ink in [0, 1] (1 = ink), whichever way round it was drawn, without the paper's grain and
    specks. Raises ValueError for a blank picture.

    The paper level is read from the border (what fills it is paper); ink is what stands out from it after a
    light blur (Otsu's threshold between the two); only pieces of ink at least `keep_fraction` the size of the
    largest are kept, grown by a pixel for their soft edges. A clean drawing comes through as it is; a photo
    on noisy paper is not cropped to its noise."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    ink = 1.0 - gray if float(np.median(border)) > 0.5 else gray.copy()
    smooth = box_mean(ink, max(1, round(max(ink.shape) / 200)))
    paper = float(np.median(np.concatenate([smooth[0], smooth[-1], smooth[:, 0], smooth[:, -1]])))
    if float(smooth.max()) - paper < MIN_CONTRAST:
        raise ValueError("the picture is blank (a single colour): nothing to classify")
    level = (smooth - paper) / (float(smooth.max()) - paper)
    strokes = grown(main_pieces(level > max(INK_THRESHOLD, otsu_threshold(level)), keep_fraction))
    peak = float(ink[strokes].max()) if strokes.any() else 0.0
    if peak - paper < MIN_CONTRAST:
        raise ValueError("the picture is blank (a single colour): nothing to classify")
    ink = np.clip((ink - paper) / (peak - paper), 0.0, 1.0) * strokes
    ink[ink < INK_THRESHOLD] = 0.0
    return ink.astype(np.float32)


def box_mean(array: np.ndarray, radius: int) -> np.ndarray:
    """Mean over the (2 radius + 1)^2 square around each pixel (edges repeated)."""
    size = 2 * radius + 1
    padded = np.pad(array.astype(np.float64), ((radius + 1, radius), (radius + 1, radius)), mode="edge")
    sums = padded.cumsum(0).cumsum(1)
    return ((sums[size:, size:] - sums[:-size, size:] - sums[size:, :-size] + sums[:-size, :-size])
            / size ** 2).astype(np.float32)


def otsu_threshold(values: np.ndarray, bins: int = 64) -> float:
    """The level in [0, 1] that best splits `values` into two groups (the largest between-group variance)."""
    counts, edges = np.histogram(np.clip(values, 0, 1), bins=bins, range=(0.0, 1.0))
    centres = (edges[:-1] + edges[1:]) / 2
    below = counts.cumsum().astype(np.float64)
    mass = (counts * centres).cumsum()
    total, total_mass = below[-1], mass[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (total_mass * below - mass * total) ** 2 / (below * (total - below))
    return float(edges[int(np.nanargmax(np.nan_to_num(between, nan=-1.0))) + 1])


def main_pieces(mask: np.ndarray, keep_fraction: float) -> np.ndarray:
    """`mask` keeping only the 8-connected pieces at least `keep_fraction` the size of the largest one (found
    on a copy reduced to COMPONENT_SIDE pixels a side, with a union-find over the runs of each row)."""
    factor = max(1, -(-max(mask.shape) // COMPONENT_SIDE))
    height, width = -(-mask.shape[0] // factor), -(-mask.shape[1] // factor)
    padded = np.zeros((height * factor, width * factor), dtype=bool)
    padded[:mask.shape[0], :mask.shape[1]] = mask
    small = padded.reshape(height, factor, width, factor).any(axis=(1, 3))
    parent = []

    def root(run):
        while parent[run] != run:
            parent[run] = parent[parent[run]]
            run = parent[run]
        return run

    runs, previous = [], []
    for row in range(height):
        line = np.concatenate([[False], small[row], [False]])
        changes = np.flatnonzero(line[1:] != line[:-1])
        current = []
        for start, end in zip(changes[::2], changes[1::2]):
            index = len(runs)
            runs.append((row, int(start), int(end)))
            parent.append(index)
            for other in previous:  # 8-connected: touching or diagonal
                _, other_start, other_end = runs[other]
                if other_start <= end and start <= other_end:
                    parent[root(index)] = root(other)
            current.append(index)
        previous = current
    if not runs:
        return np.zeros_like(mask)
    sizes = {}
    for index, (_, start, end) in enumerate(runs):
        sizes[root(index)] = sizes.get(root(index), 0) + end - start
    largest = max(sizes.values())
    kept_small = np.zeros_like(small)
    for index, (row, start, end) in enumerate(runs):
        if sizes[root(index)] >= keep_fraction * largest:
            kept_small[row, start:end] = True
    kept = np.repeat(np.repeat(kept_small, factor, axis=0), factor, axis=1)[:mask.shape[0], :mask.shape[1]]
    return mask & kept


def grown(mask: np.ndarray) -> np.ndarray:
    """`mask` grown by one pixel in every direction."""
    padded = np.pad(mask, 1)
    out = np.zeros_like(mask)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            out |= padded[dy:dy + mask.shape[0], dx:dx + mask.shape[1]]
    return out


def cropped_to_ink(ink: np.ndarray) -> np.ndarray:
    rows, columns = np.nonzero(ink)
    return ink[rows.min(): rows.max() + 1, columns.min(): columns.max() + 1]


def scaled(ink: np.ndarray, longer_side: int, resample: Image.Resampling) -> np.ndarray:
    height, width = ink.shape
    scale = longer_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(ink.astype(np.float32), mode="F").resize(size, resample))


def mnist_frame(ink: np.ndarray) -> np.ndarray:
    """Ink -> (28, 28): fitted in 20x20, centre of mass at the centre (MNIST's own preparation)."""
    boxed = np.clip(scaled(cropped_to_ink(ink), 20, Image.Resampling.LANCZOS), 0.0, None)
    boxed /= boxed.max() if boxed.max() > 0 else 1.0
    grid_y, grid_x = np.indices(boxed.shape)
    total = boxed.sum()
    centre_y, centre_x = (grid_y * boxed).sum() / total, (grid_x * boxed).sum() / total
    top = min(max(int(round(13.5 - centre_y)), 0), 28 - boxed.shape[0])
    left = min(max(int(round(13.5 - centre_x)), 0), 28 - boxed.shape[1])
    frame = np.zeros((28, 28), dtype=np.float32)
    frame[top: top + boxed.shape[0], left: left + boxed.shape[1]] = boxed
    return frame


def glyph_frame(ink: np.ndarray, size: int = 48, ink_box: int = 42) -> np.ndarray:
    """Ink -> (48, 48): the ink box's longer side scaled to 42 px, centred (like the rendered glyphs)."""
    boxed = np.clip(scaled(cropped_to_ink(ink), ink_box, Image.Resampling.BOX), 0.0, 1.0)
    frame = np.zeros((size, size), dtype=np.float32)
    top, left = (size - boxed.shape[0]) // 2, (size - boxed.shape[1]) // 2
    frame[top: top + boxed.shape[0], left: left + boxed.shape[1]] = boxed
    return frame


class CnnClassifierImageProcessor(BaseImageProcessor):
    """Pictures -> `pixel_values` (batch, 1, H, W), float in [0, 1], ink = 1 on paper = 0."""

    model_input_names = ["pixel_values"]

    def __init__(self, preparation: str = "mnist", **kwargs):
        if preparation not in PREPARATIONS:
            raise ValueError(f"preparation must be one of {PREPARATIONS}, got {preparation!r}")
        super().__init__(**kwargs)
        self.preparation = preparation

    def prepare(self, image) -> np.ndarray:
        ink = ink_of(to_gray(image), KEEP_FRACTION[self.preparation])
        return mnist_frame(ink) if self.preparation == "mnist" else glyph_frame(ink)

    def preprocess(self, images, return_tensors: str | None = "pt", **kwargs) -> BatchFeature:
        if isinstance(images, (Image.Image, np.ndarray, torch.Tensor)) and not (
                isinstance(images, (np.ndarray, torch.Tensor)) and images.ndim == 4):
            images = [images]
        frames = np.stack([self.prepare(image) for image in images])[:, None]  # (batch, 1, H, W)
        return BatchFeature({"pixel_values": frames}, tensor_type=return_tensors)
