"""The "not sure" check (plugins.familiarity) with the shipped statistics: real digits and characters pass,
junk does not. `python -m plugins.familiarity_fit` measures the same on more pictures."""

import numpy as np
import pytest

from conftest import REPO_ROOT
from plugins.errors import UnusableInputError
from plugins.familiarity import STATISTICS_FILE, DigitCheck, GlyphCheck
from plugins.familiarity_fit import drawn_digit, junk, photo_on_paper

JUNK = ("a dot", "specks", "a scribble", "hatching", "a filled box")


def shipped(folder: str):
    return pytest.mark.skipif(not (REPO_ROOT / "pretrained" / folder / STATISTICS_FILE).is_file(),
                              reason=f"no {STATISTICS_FILE} in pretrained/{folder}")


def not_sure(check, pictures) -> float:
    return float(np.mean([bool(check.doubt(picture)) for picture in pictures]))


@shipped("mnist-cnn")
def test_real_digits_pass_and_junk_is_not_sure(mnist_dir):
    from plugins.mnist_cnn.data import read_idx

    check = DigitCheck.load()
    rng = np.random.default_rng(1)
    test_images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")
    chosen = rng.choice(len(test_images), 300, replace=False)
    # About 1 % of real digits is "not sure" by construction (the 99th percentile of held-out digits).
    assert not_sure(check, test_images[chosen]) <= 0.03
    assert not_sure(check, [drawn_digit(str(index % 10), rng) for index in range(40)]) <= 0.05
    assert not_sure(check, [photo_on_paper(test_images[index] / 255.0, rng) for index in chosen[:40]]) <= 0.08
    for kind in JUNK:
        assert not_sure(check, [junk(kind, rng) for _ in range(30)]) >= 0.9, kind


@shipped("mnist-cnn")  # the glyph check asks the digit check whether a picture is a digit
def test_rendered_characters_pass_and_a_digit_is_not_a_character():
    from plugins.font_style.data import split_characters
    from plugins.glyphs import GlyphRenderer, character_list, resolve_font

    check = GlyphCheck.load()
    rng = np.random.default_rng(2)
    characters = [character for character, split in split_characters(character_list("moe")[1]).items()
                  if split == "test"][:60]
    glyphs = [255 - GlyphRenderer(resolve_font(style)).render(character)
              for style in ("kai", "ming") for character in characters[:30]]
    assert not_sure(check, glyphs) <= 0.05
    assert not_sure(check, [drawn_digit(str(index % 10), rng) for index in range(30)]) >= 0.9
    # Blots and specks are caught by the ink statistics (loose strokes pass for characters: see plugins.familiarity).
    for kind, at_least in (("a dot", 0.9), ("specks", 0.7), ("a filled box", 0.7)):
        assert not_sure(check, [junk(kind, rng) for _ in range(20)]) >= at_least, kind


def test_a_blank_picture_is_refused_not_judged():
    with pytest.raises(UnusableInputError, match="blank"):
        DigitCheck().doubt(np.full((280, 280), 255, np.uint8))
