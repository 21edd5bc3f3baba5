"""Render a character list with a font into 48x48 grayscale glyph images, cached as .npy.

Conventions (the lecture's `font_data.npy`): an image is uint8 *ink
intensity*, 0 = paper and 255 = ink, shown black on white (matplotlib's
"Greys"); models see it scaled to [-1, 1] (ink = +1). Every glyph of a font is
drawn at the same scale (the font's em square spans `EM_FRACTION` of the
frame) and shifted so that the centre of its ink box is the centre of the
frame. Drawing happens at 4x the resolution and is averaged down, so strokes
keep sub-pixel positions and smooth edges.

A character the font does not have (not in its cmap, or drawn blank, or drawn
as the font's `.notdef` box) is reported in `GlyphSet.missing` and left out
of the images: a data set never contains tofu.
"""

from __future__ import annotations

import hashlib
import json
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..errors import DataError
from .fonts import FontSpec, font_codepoints

GLYPH_SIZE = 48
EM_FRACTION = 46 / 48  # the em square fills the frame but for a 1-pixel margin on each side
SUPERSAMPLE = 4
MAX_CHARACTERS = 30_000
RENDER_VERSION = 1  # bump when the rendering changes, so old caches are not reused
MOE_LIST = Path(__file__).with_name("moe-4808.txt")
CHARACTER_LISTS = ("moe", "big5-level1")


# ---------------------------------------------------------- character lists
def big5_level1() -> list[str]:
    """The Big5 level-1 block, bytes 0xA440-0xC67E, decoded with Python's big5 codec (5,401 characters)."""
    characters = []
    for high in range(0xA4, 0xC7):
        for low in (*range(0x40, 0x7F), *range(0xA1, 0xFF)):
            if 0xA440 <= (high << 8 | low) <= 0xC67E:
                try:
                    characters.append(bytes([high, low]).decode("big5"))
                except UnicodeDecodeError:
                    pass
    return characters


def parse_characters(text: str, source: str = "the list") -> list[str]:
    """Every visible character of `text` once, in order; whitespace and `#` comment lines are skipped."""
    characters, seen = [], set()
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        for character in line:
            if character.isspace() or character in seen:
                continue
            if unicodedata.category(character) in ("Cc", "Cf", "Cs", "Co", "Cn"):
                raise DataError(f"{source} contains U+{ord(character):04X}, a control or unassigned code point")
            seen.add(character)
            characters.append(character)
            if len(characters) > MAX_CHARACTERS:
                raise DataError(f"{source} has more than {MAX_CHARACTERS:,} characters")
    if not characters:
        raise DataError(f"{source} holds no characters")
    return characters


def character_list(name: str) -> tuple[str, list[str]]:
    """(short name, characters) for "moe" (default), "big5-level1", or a UTF-8 text file's path."""
    if name in ("moe", "moe-4808"):
        return "moe", parse_characters(MOE_LIST.read_text(encoding="utf-8"), "the MOE list")
    if name in ("big5", "big5-level1"):
        return "big5-level1", big5_level1()
    path = Path(name).expanduser()
    if not path.is_file():
        raise DataError(f"character list {name!r} is neither one of {', '.join(CHARACTER_LISTS)} nor a file")
    if path.stat().st_size > 8 * MAX_CHARACTERS:
        raise DataError(f"{path.name} is too large for a character list")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{path.name} is not UTF-8 text") from error
    return path.stem, parse_characters(text, path.name)


# ---------------------------------------------------------------- rendering
class GlyphRenderer:
    """Draws single characters of one font face at the data set's scale and centring."""

    def __init__(self, font: FontSpec, size: int = GLYPH_SIZE):
        self.font_spec = font
        self.size = size
        self.em = round(EM_FRACTION * size * SUPERSAMPLE)
        try:
            self.font = ImageFont.truetype(str(font.path), self.em, index=font.face)
        except OSError as error:
            raise DataError(f"cannot open {font.label}: {error}") from error
        self.codepoints = font_codepoints(font.path, font.face)
        # What the font draws for a character it lacks (usually a box): never accepted as a glyph.
        self._notdef = self._draw("\U0010fffd")

    def _draw(self, character: str) -> np.ndarray:
        canvas = Image.new("L", (2 * self.em, 2 * self.em), 0)
        ImageDraw.Draw(canvas).text((self.em, self.em), character, font=self.font, fill=255, anchor="mm")
        return np.asarray(canvas)

    def has(self, character: str) -> bool:
        return ord(character) in self.codepoints

    def render(self, character: str) -> np.ndarray | None:
        """uint8 (size, size) ink intensity, or None when the font lacks the character."""
        if len(character) != 1 or not self.has(character):
            return None
        drawn = self._draw(character)
        rows, columns = np.nonzero(drawn)
        if rows.size == 0 or np.array_equal(drawn, self._notdef):
            return None
        window = self.size * SUPERSAMPLE
        # Centre of the ink box at the centre of the frame (to a quarter pixel).
        top = (rows.min() + rows.max() + 1) // 2 - window // 2
        left = (columns.min() + columns.max() + 1) // 2 - window // 2
        framed = np.zeros((window, window), dtype=np.uint8)
        source_top, source_left = max(top, 0), max(left, 0)
        source_bottom, source_right = min(top + window, drawn.shape[0]), min(left + window, drawn.shape[1])
        framed[source_top - top:source_bottom - top, source_left - left:source_right - left] = \
            drawn[source_top:source_bottom, source_left:source_right]
        small = framed.reshape(self.size, SUPERSAMPLE, self.size, SUPERSAMPLE).astype(np.float32).mean(axis=(1, 3))
        return np.round(small).astype(np.uint8)


@dataclass
class GlyphSet:
    """Rendered glyphs of one font and character list."""

    images: np.ndarray  # uint8 (count, size, size), 0 = paper, 255 = ink
    characters: list[str]  # one per image
    missing: list[str] = field(default_factory=list)  # in the list, not in the font
    font: str = ""
    list_name: str = ""

    def __len__(self) -> int:
        return len(self.characters)

    def describe(self) -> str:
        text = f"{len(self):,} glyphs of the {self.list_name} list in {self.font}"
        if self.missing:
            shown = "".join(self.missing[:20]) + ("..." if len(self.missing) > 20 else "")
            text += f" ({len(self.missing)} not in the font, left out: {shown})"
        return text


def default_cache_dir() -> Path:
    """`$DSL_HUB_CACHE/glyphs`, else `$XDG_CACHE_HOME/dsl-hub/glyphs`, else ~/.cache/dsl-hub/glyphs."""
    if os.environ.get("DSL_HUB_CACHE"):
        return Path(os.environ["DSL_HUB_CACHE"]) / "glyphs"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dsl-hub" / "glyphs"


def cache_key(font: FontSpec, characters: list[str], size: int) -> str:
    stat = font.path.stat()
    identity = json.dumps({"font": str(font.path.resolve()), "face": font.face, "bytes": stat.st_size,
                           "mtime": int(stat.st_mtime), "size": size, "version": RENDER_VERSION,
                           "characters": "".join(characters)}, ensure_ascii=False)
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


def render_glyph_set(font: FontSpec, characters: list[str], list_name: str = "custom", size: int = GLYPH_SIZE,
                     cache_dir: Path | None = None) -> GlyphSet:
    """Render (or load from the cache) every character of the list that the font has.

    The cache is a pair `<font>-<face>-<list>-<key>.npy` (images) and `.json`
    (characters, missing) whose key hashes the font file, face, size and the
    list itself, so a changed font or list is rendered again.
    """
    if not characters:
        raise DataError("the character list is empty")
    if len(characters) > MAX_CHARACTERS:
        raise DataError(f"at most {MAX_CHARACTERS:,} characters can be rendered at once, got {len(characters):,}")
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    stem = f"{font.path.stem}-{font.face}-{list_name}-{size}px-{cache_key(font, characters, size)}"
    images_file, index_file = cache_dir / f"{stem}.npy", cache_dir / f"{stem}.json"
    if images_file.is_file() and index_file.is_file():
        index = json.loads(index_file.read_text(encoding="utf-8"))
        images = np.load(images_file, allow_pickle=False)
        if images.shape == (len(index["characters"]), size, size) and images.dtype == np.uint8:
            return GlyphSet(images, index["characters"], index["missing"], font.label, list_name)

    renderer = GlyphRenderer(font, size)
    images, kept, missing = [], [], []
    for character in characters:
        image = renderer.render(character)
        if image is None:
            missing.append(character)
        else:
            images.append(image)
            kept.append(character)
    if not kept:
        raise DataError(f"{font.label} has none of the {len(characters):,} characters of the {list_name} list")
    glyphs = GlyphSet(np.stack(images), kept, missing, font.label, list_name)

    cache_dir.mkdir(parents=True, exist_ok=True)
    for path, write in ((images_file, lambda handle: np.save(handle, glyphs.images, allow_pickle=False)),
                        (index_file, lambda handle: handle.write(json.dumps(
                            {"font": font.label, "list": list_name, "characters": kept, "missing": missing},
                            ensure_ascii=False).encode()))):
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(temporary, "wb") as handle:
            write(handle)
        os.replace(temporary, path)  # a reader never sees half a file
    return glyphs


def to_model_space(images: np.ndarray) -> np.ndarray:
    """uint8 ink intensity -> float32 in [-1, 1], ink = +1 (the lecture's x/127.5 - 1)."""
    return images.astype(np.float32) / 127.5 - 1.0


def to_picture(images: np.ndarray) -> np.ndarray:
    """Ink intensity (uint8, or floats in [-1, 1]) -> floats in [0, 1] for display, black ink on white."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return 1.0 - images.astype(np.float32) / 255.0
    return np.clip((1.0 - images.astype(np.float32)) / 2.0, 0.0, 1.0)


__all__ = ["CHARACTER_LISTS", "GLYPH_SIZE", "GlyphRenderer", "GlyphSet", "MAX_CHARACTERS", "big5_level1",
           "character_list", "default_cache_dir", "parse_characters", "render_glyph_set", "to_model_space",
           "to_picture"]
