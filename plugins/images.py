"""Reading user images safely and tiling arrays into pictures (no plotting library needed)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError
from PIL.Image import DecompressionBombError

from models.cnn_classifier.image_processing_cnn_classifier import ink_of

from .errors import UnusableInputError

MAX_IMAGE_SIDE = 4096
MAX_IMAGE_BYTES = 20 * 1024 * 1024
# Larger pictures are box-reduced to this many pixels per side before any float maths: every demo
# shrinks its input to 28-48 pixels anyway, and a 4096x4096 picture in float32 RGBA would take 268 MB.
WORKING_SIDE = 1024


def to_grayscale(image) -> np.ndarray:
    """Any image a user can send (PIL, array, file path, Gradio editor value) -> float32 (H, W) in [0, 1].

    Transparent pixels are laid on white, as a drawing on paper; 16-bit and
    float images are scaled by their type's range, CMYK and palettes go through
    RGB. Raises UnusableInputError for what is not an image or is too big.
    """
    if isinstance(image, dict):  # gr.ImageEditor / gr.Sketchpad value
        image = image.get("composite")
    if image is None:
        raise UnusableInputError("No image was given: draw a digit or upload a picture.")
    if isinstance(image, (str, Path)):
        path = Path(image)
        if not path.is_file():
            raise UnusableInputError("The uploaded file could not be found on the server; please upload it again.")
        if path.stat().st_size > MAX_IMAGE_BYTES:
            raise UnusableInputError(f"The file is larger than {MAX_IMAGE_BYTES // 2**20} MB; upload a smaller image.")
        try:
            with Image.open(path) as opened:
                _check_size(opened.size)
                opened.draft(opened.mode, (WORKING_SIDE, WORKING_SIDE))  # JPEG decodes at a fraction of its size
                opened.load()
                image = _reduced(opened)
        except UnusableInputError:
            raise
        except DecompressionBombError as error:
            raise UnusableInputError("The image has far too many pixels to be a drawing of a digit.") from error
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
            raise UnusableInputError("The file is not an image this demo can read (try PNG or JPEG).") from error
    if isinstance(image, Image.Image):
        return _pil_to_gray(image)
    array = np.asarray(image)
    if array.dtype == object or array.size == 0:
        raise UnusableInputError("The image is empty or not made of pixel values.")
    if array.ndim == 3 and array.shape[-1] in (1, 2, 3, 4):
        pass
    elif array.ndim != 2:
        raise UnusableInputError(f"An image must be 2-D (gray) or 3-D (colour), got an array of shape {array.shape}.")
    _check_size((array.shape[1], array.shape[0]))
    array = _reduced_array(array)
    array = _scale_to_unit(array)
    if array.ndim == 3:
        channels = array.shape[-1]
        if channels in (2, 4):  # gray+alpha or RGBA: lay on white paper
            colour, alpha = array[..., :-1], array[..., -1:]
            array = colour * alpha + (1.0 - alpha)
        array = array.mean(axis=-1) if array.shape[-1] > 1 else array[..., 0]
    return np.clip(array, 0.0, 1.0).astype(np.float32)


def _reduced(image: Image.Image) -> Image.Image:
    """A copy at most WORKING_SIDE pixels per side (box filter: a thin stroke keeps its ink)."""
    factor = -(-max(image.size) // WORKING_SIDE)
    if factor <= 1:
        return image.copy()
    if image.mode not in ("L", "LA", "RGB", "RGBA", "I", "F"):
        image = image.convert("RGBA")
    return image.reduce(factor)


def _reduced_array(array: np.ndarray) -> np.ndarray:
    factor = -(-max(array.shape[:2]) // WORKING_SIDE)
    if factor <= 1:
        return array
    if array.dtype == np.uint8 and (array.ndim == 2 or array.shape[-1] in (3, 4)):
        return np.asarray(Image.fromarray(array).reduce(factor))
    return array[::factor, ::factor]


def _check_size(size: tuple[int, int]) -> None:
    width, height = size
    if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE:
        raise UnusableInputError(f"The image is {width}x{height} pixels; the limit is {MAX_IMAGE_SIDE} per side.")
    if width < 8 or height < 8:
        raise UnusableInputError(f"The image is only {width}x{height} pixels; it needs at least 8x8.")


def _scale_to_unit(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    if np.issubdtype(array.dtype, np.integer):
        top = 65535.0 if array.dtype.itemsize >= 2 and array.max(initial=0) > 255 else 255.0
        return array.astype(np.float32) / top
    if not np.isfinite(array).all():
        raise UnusableInputError("The image contains values that are not numbers (NaN or infinity).")
    array = array.astype(np.float64)
    array = array / 255.0 if array.max(initial=0.0) > 1.0 else array
    return np.clip(array, 0.0, 1.0).astype(np.float32)


def _pil_to_gray(image: Image.Image) -> np.ndarray:
    _check_size(image.size)
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return np.clip(_scale_to_unit(np.asarray(image)), 0.0, 1.0).astype(np.float32)
    if image.mode in ("L", "RGB"):  # no transparency to lay on white: the same numbers, without an RGBA copy
        pixels = np.asarray(image, dtype=np.float32) / 255.0
        return pixels if image.mode == "L" else pixels.mean(axis=-1, dtype=np.float32)
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
    colour, alpha = rgba[..., :3], rgba[..., 3:]
    return (colour * alpha + (1.0 - alpha)).mean(axis=-1).astype(np.float32)


# ------------------------------------------------------------------ ink on paper
# A photo of a digit on real paper has grain, a shadow and specks of dust. Stretching the picture between its
# darkest and lightest pixel and calling everything above 20 % ink (what a clean drawing needs) makes that
# noise ink too: the crop takes the whole sheet and the digit shrinks to a corner. So the paper level is read
# from the border, ink is what stands out from it after a light blur (Otsu's threshold between the two), and
# only ink that belongs to the main strokes is kept. The code is the image processor's, which travels with
# the weights, so the hub's tabs and a Hub user's pipeline() see the same ink.


def ink_on_paper(gray: np.ndarray, keep_fraction: float) -> np.ndarray | None:
    """Gray picture (1 = white) -> ink in [0, 1] (1 = ink), whichever way round it was drawn, with the paper's
    grain and specks removed; None when nothing stands out from the paper (a blank picture)."""
    try:
        return ink_of(gray, keep_fraction)
    except ValueError:  # blank: the processor's one refusal
        return None


def image_from_bytes(data: bytes) -> Image.Image:
    """Decode bytes that claim to be an image, with the same limits as uploads."""
    if len(data) > MAX_IMAGE_BYTES:
        raise UnusableInputError(f"The image is larger than {MAX_IMAGE_BYTES // 2**20} MB.")
    try:
        image = Image.open(io.BytesIO(data))
        _check_size(image.size)
        image.load()
    except UnusableInputError:
        raise
    except DecompressionBombError as error:
        raise UnusableInputError("The image has far too many pixels.") from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise UnusableInputError("The data is not an image this demo can read (try PNG or JPEG).") from error
    return image


CAPTION_PIXELS = 10  # Pillow's own font, at its own size: the training reports' captions (tiles of 28-96 pixels)


def tile(tiles: list[np.ndarray], columns: int, scale: int = 1, padding: int = 2,
         captions: list[str] | None = None, normalize_each: bool = False, font: ImageFont.FreeTypeFont | None = None,
         caption_colours: list[tuple[int, int, int]] | None = None) -> Image.Image:
    """Lay equally sized 2-D arrays (values in [0, 1], or any range with `normalize_each`) on a grid.

    Captions go under their tile in `font` (default: Pillow's own, which has Latin letters only: CJK text
    needs a CJK font, or every character comes out as the same empty box), in black or, with
    `caption_colours`, one colour per caption (the sheet is then RGB)."""
    if not tiles:
        raise ValueError("nothing to tile")
    height, width = tiles[0].shape
    if captions and font is None:
        font = ImageFont.load_default(size=CAPTION_PIXELS)
    caption_height = round(1.3 * getattr(font, "size", CAPTION_PIXELS)) + 2 if captions else 0
    rows = -(-len(tiles) // columns)
    cell_w, cell_h = width * scale + padding, height * scale + padding + caption_height
    mode = "RGB" if caption_colours else "L"
    sheet = Image.new(mode, (columns * cell_w + padding, rows * cell_h + padding), color="white")
    draw = ImageDraw.Draw(sheet)
    for index, array in enumerate(tiles):
        array = np.asarray(array, dtype=np.float32)
        if normalize_each:
            low, high = float(array.min()), float(array.max())
            array = (array - low) / (high - low) if high > low else np.zeros_like(array)
        picture = Image.fromarray((np.clip(array, 0, 1) * 255).astype(np.uint8), mode="L")
        picture = picture.resize((width * scale, height * scale), Image.Resampling.NEAREST)
        x, y = padding + (index % columns) * cell_w, padding + (index // columns) * cell_h
        sheet.paste(picture.convert(mode), (x, y))
        if captions:
            colour = caption_colours[index] if caption_colours else 0
            draw.text((x + 1, y + height * scale + 1), captions[index], fill=colour, font=font)
    return sheet


def confusion_matrix_picture(matrix: np.ndarray, labels: list[str], cell: int = 34) -> Image.Image:
    """A confusion matrix as a picture: rows are true labels, columns predictions, counts in the cells."""
    size = len(labels)
    margin = 46
    sheet = Image.new("RGB", (margin + size * cell + 4, margin + size * cell + 4), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    off_diagonal_max = max(1, int((matrix - np.diag(np.diag(matrix))).max()))
    draw.text((margin, 2), "predicted", fill="black", font=font)
    draw.text((2, margin - 14), "true", fill="black", font=font)
    for index, label in enumerate(labels):
        draw.text((margin + index * cell + cell // 3, 18), label[:4], fill="black", font=font)
        draw.text((8, margin + index * cell + cell // 3), label[:5], fill="black", font=font)
    for row in range(size):
        for column in range(size):
            count = int(matrix[row, column])
            if row == column:
                colour = (200, 230, 200)
            elif count:
                shade = int(235 - 150 * min(1.0, count / off_diagonal_max))
                colour = (255, shade, shade)
            else:
                colour = (250, 250, 250)
            x, y = margin + column * cell, margin + row * cell
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=colour, outline=(210, 210, 210))
            if count:
                draw.text((x + 3, y + cell // 3), str(count), fill="black", font=font)
    return sheet
