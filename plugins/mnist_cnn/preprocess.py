"""Turn a drawing or a photo of a digit into the 28x28 image an MNIST model expects.

MNIST's own recipe (LeCun et al.): white ink on black, the digit fitted into a
20x20 box keeping its aspect ratio, then placed in the 28x28 frame so that
its centre of mass sits at the centre.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..errors import UnusableInputError
from ..images import ink_on_paper, to_grayscale

KEEP_FRACTION = 0.1  # a digit is one or two strokes: pieces of ink a tenth the size of the largest are specks


def mnist_like(image) -> np.ndarray:
    """Any image -> float32 (28, 28) in [0, 1], white digit on black, MNIST-centred."""
    return mnist_frame(picture_ink(image))


def picture_ink(image) -> np.ndarray:
    """Any image -> its ink in [0, 1] at its own size (paper 0), without the paper's grain and specks."""
    ink = ink_on_paper(to_grayscale(image), KEEP_FRACTION)
    if ink is None:
        raise UnusableInputError("The picture is blank (a single colour): draw or upload a digit.")
    return ink


def mnist_frame(ink: np.ndarray) -> np.ndarray:
    """Ink -> (28, 28): fitted in 20x20 keeping its aspect, centre of mass at the centre (MNIST's own recipe)."""
    rows, columns = np.nonzero(ink)
    ink = ink[rows.min(): rows.max() + 1, columns.min(): columns.max() + 1]
    height, width = ink.shape
    scale = 20.0 / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    boxed = np.asarray(Image.fromarray(ink, mode="F").resize(size, Image.Resampling.LANCZOS))
    boxed = np.clip(boxed, 0.0, None)
    boxed /= boxed.max() if boxed.max() > 0 else 1.0

    total = boxed.sum()
    grid_y, grid_x = np.indices(boxed.shape)
    centre_y, centre_x = (grid_y * boxed).sum() / total, (grid_x * boxed).sum() / total
    top = int(round(13.5 - centre_y))
    left = int(round(13.5 - centre_x))
    top = min(max(top, 0), 28 - boxed.shape[0])
    left = min(max(left, 0), 28 - boxed.shape[1])
    frame = np.zeros((28, 28), dtype=np.float32)
    frame[top: top + boxed.shape[0], left: left + boxed.shape[1]] = boxed
    return frame
