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


def ink_of(gray: np.ndarray) -> np.ndarray:
    """Gray picture -> ink in [0, 1] (1 = ink), whichever way round it was drawn: the paper is what fills
    the border. Raises ValueError for a blank picture."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    ink = 1.0 - gray if float(np.median(border)) > 0.5 else gray
    low, high = float(ink.min()), float(ink.max())
    if high - low < MIN_CONTRAST:
        raise ValueError("the picture is blank (a single colour): nothing to classify")
    ink = (ink - low) / (high - low)
    ink[ink < INK_THRESHOLD] = 0.0
    return ink


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
        ink = ink_of(to_gray(image))
        return mnist_frame(ink) if self.preparation == "mnist" else glyph_frame(ink)

    def preprocess(self, images, return_tensors: str | None = "pt", **kwargs) -> BatchFeature:
        if isinstance(images, (Image.Image, np.ndarray, torch.Tensor)) and not (
                isinstance(images, (np.ndarray, torch.Tensor)) and images.ndim == 4):
            images = [images]
        frames = np.stack([self.prepare(image) for image in images])[:, None]  # (batch, 1, H, W)
        return BatchFeature({"pixel_values": frames}, tensor_type=return_tensors)
