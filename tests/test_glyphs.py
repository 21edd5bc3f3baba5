"""Glyph rendering: size, scale, centring, font coverage, missing glyphs reported (never tofu), character lists, cache."""

from pathlib import Path

import numpy as np
import pytest

from plugins.errors import DataError
from plugins.glyphs import (
    GlyphRenderer, big5_level1, character_list, font_codepoints, parse_characters, render_glyph_set, resolve_font,
)

KAI = Path("/usr/share/fonts/truetype/arphic/ukai.ttc")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
needs_kai = pytest.mark.skipif(not KAI.is_file(), reason="fonts-arphic-ukai is not installed")
needs_dejavu = pytest.mark.skipif(not DEJAVU.is_file(), reason="fonts-dejavu-core is not installed")


@pytest.fixture(scope="module")
def kai():
    if not KAI.is_file():
        pytest.skip("fonts-arphic-ukai is not installed")
    return GlyphRenderer(resolve_font("kai"))


def ink_box(image: np.ndarray, threshold: int = 0) -> tuple[int, int, int, int]:
    rows, columns = np.nonzero(image > threshold)
    return rows.min(), rows.max(), columns.min(), columns.max()


def test_character_lists():
    name, moe = character_list("moe")
    assert name == "moe" and len(moe) == len(set(moe)) == 4808 and moe[:3] == ["一", "丁", "七"]
    big5 = big5_level1()
    assert len(big5) == len(set(big5)) == 5401 and big5[0] == "一"
    # Every MOE character but one is in Big5 level 1 (彞's Big5 form is 彝).
    assert set(moe) - set(big5) == {"彞"}


def test_user_list_file_skips_comments_whitespace_and_repeats(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("# my characters\n永 和\n永\n\n九九\n", encoding="utf-8")
    assert character_list(str(path)) == ("mine", ["永", "和", "九"])
    with pytest.raises(DataError, match="control"):
        parse_characters("永\x07")
    with pytest.raises(DataError, match="no characters"):
        parse_characters("# nothing\n \n")
    with pytest.raises(DataError, match="neither"):
        character_list(str(tmp_path / "missing.txt"))


def test_render_is_48px_ink_on_paper_and_centred_on_the_ink_box(kai):
    for character in "永國一川丶":
        image = kai.render(character)
        assert image.shape == (48, 48) and image.dtype == np.uint8
        assert image.max() > 200 and image[0].max() == image[-1].max() == 0  # ink is high, paper (borders) 0
        top, bottom, left, right = ink_box(image, threshold=8)
        assert abs((top + bottom) / 2 - 23.5) <= 1.0, character
        assert abs((left + right) / 2 - 23.5) <= 1.0, character


def test_one_scale_for_every_glyph(kai):
    # A dot stays small and a full character stays large: glyphs are not each stretched to fill the frame.
    def extent(character):
        top, bottom, left, right = ink_box(kai.render(character), threshold=64)
        return max(bottom - top, right - left) + 1

    assert extent("丶") < 16
    assert 36 <= extent("國") <= 47
    assert abs(extent("二") - extent("三")) <= 4


@needs_kai
def test_font_coverage_from_the_cmap():
    _, moe = character_list("moe")
    kai = font_codepoints(KAI, 2)
    assert sum(ord(character) in kai for character in moe) == len(moe)
    if DEJAVU.is_file():
        dejavu = font_codepoints(DEJAVU, 0)
        assert ord("A") in dejavu and not any(ord(character) in dejavu for character in moe)


@needs_dejavu
def test_missing_glyphs_are_reported_not_rendered_as_tofu(tmp_path):
    font = resolve_font(str(DEJAVU))
    renderer = GlyphRenderer(font)
    assert renderer.render("永") is None  # the font has no such glyph: no .notdef box
    glyphs = render_glyph_set(font, ["A", "永", "b", "國"], "test", cache_dir=tmp_path)
    assert glyphs.characters == ["A", "b"] and glyphs.missing == ["永", "國"]
    assert glyphs.images.shape == (2, 48, 48)
    assert "2 not in the font" in glyphs.describe() and "永" in glyphs.describe()
    with pytest.raises(DataError, match="none of"):
        render_glyph_set(font, ["永", "國"], "cjk-only", cache_dir=tmp_path)


def test_missing_fonts_are_reported(tmp_path):
    with pytest.raises(DataError, match="not found"):
        resolve_font(str(tmp_path / "no-such-font.ttf"))
    not_a_font = tmp_path / "fake.ttf"
    not_a_font.write_bytes(b"this is not a font")
    with pytest.raises(DataError, match="not a TrueType"):
        resolve_font(str(not_a_font))
    if KAI.is_file():
        with pytest.raises(DataError, match="face"):
            resolve_font(f"{KAI}:9")


@needs_kai
def test_cache_is_keyed_by_font_and_list_and_reused(tmp_path):
    font = resolve_font("kai")
    first = render_glyph_set(font, list("永和九年"), "four", cache_dir=tmp_path)
    files = sorted(path.name for path in tmp_path.iterdir())
    assert len(files) == 2 and files[0].endswith(".json") and files[1].endswith(".npy")
    again = render_glyph_set(font, list("永和九年"), "four", cache_dir=tmp_path)
    assert np.array_equal(first.images, again.images) and again.characters == first.characters
    render_glyph_set(font, list("永和"), "two", cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npy"))) == 2
    np.save(tmp_path / "unrelated.npy", np.zeros(3))  # other files in the folder are left alone
    assert render_glyph_set(font, list("永和"), "two", cache_dir=tmp_path).images.shape == (2, 48, 48)
