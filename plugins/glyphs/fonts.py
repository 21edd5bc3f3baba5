"""Fonts for glyph data sets: finding them by style or path, and which characters they really have.

A font is a file (TTF, OTF, or a TTC/OTC collection with a face index). The
four script styles of the hub name Debian's packaged Traditional-Chinese
fonts; any other font is given by path, `file.ttc:face` for a collection.

Which characters a font has comes from its `cmap` table, read here directly
(formats 4 and 12 cover every CJK font in use), so a character the font lacks
is reported instead of being rendered as the `.notdef` "tofu" box.
"""

from __future__ import annotations

import functools
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError

FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")


@dataclass(frozen=True)
class FontSpec:
    """One face of one font file."""

    path: Path
    face: int = 0
    style: str = ""  # "kai", "ming", ... when it stands for a script style

    @property
    def label(self) -> str:
        collection = self.path.suffix.lower() in (".ttc", ".otc")
        name = f"{self.path.name}:{self.face}" if self.face or collection else self.path.name
        return f"{self.style} ({name})" if self.style else name


@dataclass(frozen=True)
class StyleFont:
    file_name: str
    face: int
    family: str
    package: str


# The script styles and the Debian font that stands for each (see shared/datasets/fonts/README.md).
STYLE_FONTS: dict[str, StyleFont] = {
    "kai": StyleFont("ukai.ttc", 2, "AR PL UKai TW", "fonts-arphic-ukai"),
    "ming": StyleFont("uming.ttc", 2, "AR PL UMing TW", "fonts-arphic-uming"),
    "sans": StyleFont("NotoSansCJK-Regular.ttc", 3, "Noto Sans CJK TC", "fonts-noto-cjk"),
    "hei": StyleFont("wqy-zenhei.ttc", 0, "WenQuanYi Zen Hei", "fonts-wqy-zenhei"),
}


def font_folders(extra: Path | None = None) -> list[Path]:
    """Where fonts are looked for: `extra` (e.g. --data-dir) first, then the usual system and user folders."""
    folders = [extra] if extra is not None else []
    folders += [Path(folder) for folder in os.environ.get("DSL_HUB_FONT_DIRS", "").split(os.pathsep) if folder]
    folders += [Path.home() / ".local/share/fonts", Path.home() / ".fonts",
                Path("/usr/local/share/fonts"), Path("/usr/share/fonts")]
    return [folder for folder in folders if folder.is_dir()]


@functools.lru_cache(maxsize=64)
def _find_file(file_name: str, folders: tuple[Path, ...]) -> Path | None:
    for folder in folders:
        direct = folder / file_name
        if direct.is_file():
            return direct
        for candidate in folder.rglob(file_name):
            if candidate.is_file():
                return candidate
    return None


def resolve_font(spec: str, search: Path | None = None) -> FontSpec:
    """`"kai"`, `"path/font.ttf"`, `"path/font.ttc:2"` or a bare file name found in the font folders."""
    spec = str(spec).strip()
    if not spec:
        raise DataError("empty font name: give a style (kai, ming, sans, hei) or a font file path")
    folders = tuple(font_folders(search))
    if spec.lower() in STYLE_FONTS:
        style = STYLE_FONTS[spec.lower()]
        path = _find_file(style.file_name, folders)
        if path is None:
            raise DataError(
                f"the {spec.lower()} font ({style.family}, {style.file_name}) is not installed: "
                f"`apt-get install {style.package}`, or put {style.file_name} in --data-dir"
            )
        return FontSpec(path, style.face, spec.lower())
    name, face = spec, 0
    head, separator, tail = spec.rpartition(":")
    if separator and tail.isdigit():
        name, face = head, int(tail)
    path = Path(name).expanduser()
    if not path.is_file() and not path.is_absolute() and len(path.parts) == 1:
        path = _find_file(path.name, folders) or path
    if not path.is_file():
        looked = ", ".join(map(str, folders)) or "no font folder"
        raise DataError(f"font file {name} not found (looked as a path and in {looked})")
    if path.suffix.lower() not in FONT_SUFFIXES:
        raise DataError(f"{path.name} is not a TrueType/OpenType font ({', '.join(FONT_SUFFIXES)})")
    faces = count_faces(path)
    if not 0 <= face < faces:
        raise DataError(f"{path.name} has {faces} face(s); face index {face} does not exist")
    return FontSpec(path, face)


# ------------------------------------------------------------------- cmap
def _read(handle, offset: int, size: int) -> bytes:
    handle.seek(offset)
    data = handle.read(size)
    if len(data) != size:
        raise DataError(f"{handle.name} is truncated (wanted {size} bytes at {offset})")
    return data


def count_faces(path: Path) -> int:
    with open(path, "rb") as handle:
        tag = _read(handle, 0, 4)
        if tag == b"ttcf":
            return struct.unpack(">I", _read(handle, 8, 4))[0]
        if tag in (b"\x00\x01\x00\x00", b"OTTO", b"true"):
            return 1
    raise DataError(f"{path.name} is not a TrueType/OpenType font file")


def _table_offset(handle, face: int, wanted: bytes) -> int:
    """Offset of table `wanted` in face `face` of a font file or collection."""
    start = 0
    if _read(handle, 0, 4) == b"ttcf":
        count = struct.unpack(">I", _read(handle, 8, 4))[0]
        if not 0 <= face < count:
            raise DataError(f"{handle.name} has {count} faces; face index {face} does not exist")
        start = struct.unpack(">I", _read(handle, 12 + 4 * face, 4))[0]
    tables = struct.unpack(">H", _read(handle, start + 4, 2))[0]
    for index in range(tables):
        tag, _checksum, offset, _length = struct.unpack(">4sIII", _read(handle, start + 12 + 16 * index, 16))
        if tag == wanted:
            return offset
    raise DataError(f"{handle.name} face {face} has no {wanted.decode()} table")


def _format_4(handle, offset: int) -> set[int]:
    length = struct.unpack(">H", _read(handle, offset + 2, 2))[0]
    data = _read(handle, offset, length)
    segments = struct.unpack(">H", data[6:8])[0] // 2
    ends = struct.unpack(f">{segments}H", data[14:14 + 2 * segments])
    base = 16 + 2 * segments
    starts = struct.unpack(f">{segments}H", data[base:base + 2 * segments])
    deltas = struct.unpack(f">{segments}h", data[base + 2 * segments:base + 4 * segments])
    range_base = base + 4 * segments
    ranges = struct.unpack(f">{segments}H", data[range_base:range_base + 2 * segments])
    mapped = set()
    for segment, (start, end, delta, range_offset) in enumerate(zip(starts, ends, deltas, ranges)):
        for code in range(start, end + 1):
            if code == 0xFFFF:
                continue
            if range_offset == 0:
                glyph = (code + delta) & 0xFFFF
            else:
                where = range_base + 2 * segment + range_offset + 2 * (code - start)
                if where + 2 > len(data):
                    continue
                glyph = struct.unpack(">H", data[where:where + 2])[0]
                glyph = (glyph + delta) & 0xFFFF if glyph else 0
            if glyph:
                mapped.add(code)
    return mapped


def _format_12(handle, offset: int) -> set[int]:
    groups = struct.unpack(">I", _read(handle, offset + 12, 4))[0]
    data = _read(handle, offset + 16, 12 * groups)
    mapped = set()
    for index in range(groups):
        start, end, first_glyph = struct.unpack(">III", data[12 * index:12 * index + 12])
        end = min(end, 0x10FFFF)
        mapped.update(code for code in range(start, end + 1) if first_glyph + code - start)
    return mapped


@functools.lru_cache(maxsize=16)
def font_codepoints(path: Path, face: int = 0) -> frozenset[int]:
    """Every Unicode code point the face's cmap maps to a real glyph (not glyph 0, .notdef)."""
    with open(path, "rb") as handle:
        cmap = _table_offset(handle, face, b"cmap")
        count = struct.unpack(">H", _read(handle, cmap + 2, 2))[0]
        subtables = {}
        for index in range(count):
            platform, encoding, offset = struct.unpack(">HHI", _read(handle, cmap + 4 + 8 * index, 8))
            subtable_format = struct.unpack(">H", _read(handle, cmap + offset, 2))[0]
            subtables[(platform, encoding, subtable_format)] = cmap + offset
        # Full-repertoire Unicode tables first, then the BMP ones.
        for key in ((3, 10, 12), (0, 4, 12), (0, 6, 12), (3, 1, 4), (0, 3, 4), (0, 1, 4), (0, 0, 4)):
            if key in subtables:
                reader = _format_12 if key[2] == 12 else _format_4
                return frozenset(reader(handle, subtables[key]))
    raise DataError(f"{path.name} face {face} has no Unicode cmap (format 4 or 12) this reader understands")


__all__ = ["FONT_SUFFIXES", "FontSpec", "STYLE_FONTS", "count_faces", "font_codepoints", "font_folders", "resolve_font"]
