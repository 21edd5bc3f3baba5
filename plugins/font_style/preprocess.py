"""Turn a drawing or a photo of a Chinese character into the 48x48 glyph the style classifier reads.

Like the training renders: ink = 1 on paper = 0, the ink box centred in the
frame; its longer side is scaled to 42 pixels, the typical size of a rendered
glyph (the em square spans 46 of 48 pixels and most glyphs fill ~90 % of it).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..errors import UnusableInputError
from ..images import ink_on_paper, to_grayscale

GLYPH_SIZE = 48
INK_BOX = 42
# A character has many strokes, some of them small dots: only pieces under 2 % of the largest are specks.
KEEP_FRACTION = 0.02


def glyph_like(image) -> np.ndarray:
    """Any image of a character -> float32 (48, 48) in [0, 1], ink = 1, centred on its ink box."""
    return glyph_frame(picture_ink(image))


def picture_ink(image) -> np.ndarray:
    """Any image -> its ink in [0, 1] at its own size (paper 0), without the paper's grain and specks."""
    ink = ink_on_paper(to_grayscale(image), KEEP_FRACTION)
    if ink is None:
        raise UnusableInputError("The picture is blank (a single colour): draw or upload a Chinese character.")
    return ink


def glyph_frame(ink: np.ndarray) -> np.ndarray:
    """Ink -> (48, 48): the ink box's longer side scaled to 42 pixels, centred (like the rendered glyphs)."""
    rows, columns = np.nonzero(ink)
    ink = ink[rows.min(): rows.max() + 1, columns.min(): columns.max() + 1]
    height, width = ink.shape
    scale = INK_BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    boxed = np.clip(np.asarray(Image.fromarray(ink.astype(np.float32), mode="F").resize(size, Image.Resampling.BOX)), 0, 1)
    frame = np.zeros((GLYPH_SIZE, GLYPH_SIZE), dtype=np.float32)
    top, left = (GLYPH_SIZE - boxed.shape[0]) // 2, (GLYPH_SIZE - boxed.shape[1]) // 2
    frame[top: top + boxed.shape[0], left: left + boxed.shape[1]] = boxed
    return frame
