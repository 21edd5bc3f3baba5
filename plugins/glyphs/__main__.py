"""Render a glyph data set and report it: `python -m plugins.glyphs --font FONT [--characters LIST] [--output DIR]`.

Writes the cached .npy/.json pair into --output (default: the user cache) and
a preview of the first glyphs, and prints which characters the font lacks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import DataError
from ..images import tile
from .fonts import STYLE_FONTS, resolve_font
from .render import CHARACTER_LISTS, character_list, default_cache_dir, render_glyph_set, to_picture


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--font", required=True,
                        help=f"a style ({', '.join(STYLE_FONTS)}) or a font file, 'file.ttc:FACE' for a collection")
    parser.add_argument("--characters", default="moe", help=f"{' or '.join(CHARACTER_LISTS)} or a UTF-8 text file")
    parser.add_argument("--output", type=Path, help=f"folder for the .npy cache and preview (default {default_cache_dir()})")
    args = parser.parse_args(argv)
    try:
        font = resolve_font(args.font)
        list_name, characters = character_list(args.characters)
        glyphs = render_glyph_set(font, characters, list_name, cache_dir=args.output)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    folder = args.output or default_cache_dir()
    preview = folder / f"preview-{font.path.stem}-{font.face}-{list_name}.png"
    tile(list(to_picture(glyphs.images[:100])), columns=10, scale=2).save(preview)
    print(glyphs.describe())
    print(f"cache and preview in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
