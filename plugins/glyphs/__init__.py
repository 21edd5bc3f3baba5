"""Chinese glyph data sets, shared by the font GAN and the font-style classifier.

    python -m plugins.glyphs --font kai --characters moe --output /tmp/kai   # render, report, preview

`fonts` finds a font (a style name such as "kai" or any TTF/TTC/OTF path with
a face index) and reads which characters it has; `render` draws a character
list as 48x48 glyph images and caches them as .npy, reporting the characters
the font lacks instead of drawing tofu.
"""

from .fonts import STYLE_FONTS, FontSpec, font_codepoints, resolve_font
from .render import (
    CHARACTER_LISTS, GLYPH_SIZE, MAX_CHARACTERS, GlyphRenderer, GlyphSet, big5_level1, character_list,
    default_cache_dir, parse_characters, render_glyph_set, to_model_space, to_picture,
)

__all__ = [
    "CHARACTER_LISTS", "GLYPH_SIZE", "MAX_CHARACTERS", "STYLE_FONTS", "FontSpec", "GlyphRenderer", "GlyphSet",
    "big5_level1", "character_list", "default_cache_dir", "font_codepoints", "parse_characters", "render_glyph_set",
    "resolve_font", "to_model_space", "to_picture",
]
