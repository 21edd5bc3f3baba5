"""The font-style classifier: the split is by character, drawings are read like renders, the demo reports
missing glyphs, and the shipped model tells Kai from Ming on characters it never saw."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from conftest import REPO_ROOT
from models.cnn_classifier import CnnClassifierConfig, CnnClassifierForImageClassification
from plugins.errors import UnusableInputError
from plugins.font_style import FontStylePlugin, style_probabilities
from plugins.font_style.data import load_style_splits, split_characters
from plugins.font_style.demo import classify, compare_fonts
from plugins.font_style.preprocess import glyph_like
from plugins.glyphs import GlyphRenderer, character_list, resolve_font

FONTS = Path("/usr/share/fonts/truetype/arphic")
needs_fonts = pytest.mark.skipif(not (FONTS / "ukai.ttc").is_file() or not (FONTS / "uming.ttc").is_file(),
                                 reason="fonts-arphic-ukai/uming are not installed")
SHIPPED = REPO_ROOT / "pretrained" / "font-style-cnn"


def codepoints(dataset) -> set[int]:
    return set(dataset.fields["codepoint"].tolist())


def test_character_split_is_fixed_and_disjoint():
    _, characters = character_list("moe")
    assignment = split_characters(characters)
    assert assignment == split_characters(characters), "the split is a property of the data set"
    counts = {split: sum(value == split for value in assignment.values()) for split in ("train", "validation", "test")}
    test, validation = round(0.2 * len(characters)), round(0.1 * len(characters))  # 20 % test, 10 % validation
    assert counts == {"train": len(characters) - test - validation, "validation": validation, "test": test}


def test_synthetic_splits_never_share_a_character():
    plugin = FontStylePlugin()
    data = plugin.synthetic_data(plugin.preset(), num_examples=64, seed=0)
    assert not codepoints(data.train) & codepoints(data.test)
    assert not codepoints(data.train) & codepoints(data.validation)


@needs_fonts
def test_real_split_is_by_character_with_every_font(tmp_path):
    preface = "永和九年歲在癸丑暮春之初會于會稽山陰蘭亭修禊事也群賢畢至少長咸集此地有崇山峻嶺茂林修竹"
    (tmp_path / "list.txt").write_text(preface, encoding="utf-8")
    data = load_style_splits(["kai", "ming"], str(tmp_path / "list.txt"), None)
    train, validation, test = codepoints(data.train), codepoints(data.validation), codepoints(data.test)
    assert train and test and not (train & test) and not (train & validation) and not (validation & test)
    for split in (data.train, data.validation, data.test):
        labels, points = split.fields["labels"], split.fields["codepoint"]
        for point in set(points.tolist()):  # each character of a split is there once in each font
            assert sorted(labels[points == point].tolist()) == [0, 1]
    assert "split by character" in data.description


def drawing(size=280, dark_on_light=True, mode="L"):
    paper, ink = (255, 0) if dark_on_light else (0, 255)
    image = Image.new(mode, (size, size), paper if mode == "L" else (paper, paper, paper, 0))
    draw = ImageDraw.Draw(image)
    colour = ink if mode == "L" else (ink, ink, ink, 255)
    draw.line([(60, 100), (220, 100)], fill=colour, width=14)
    draw.line([(140, 40), (140, 240)], fill=colour, width=14)
    return image


@pytest.mark.parametrize("dark_on_light", [True, False])
def test_drawings_become_centred_48px_glyphs(dark_on_light):
    glyph = glyph_like(drawing(dark_on_light=dark_on_light))
    assert glyph.shape == (48, 48) and glyph.dtype == np.float32 and 0 <= glyph.min() and glyph.max() <= 1
    rows, columns = np.nonzero(glyph > 0.3)
    assert abs((rows.min() + rows.max()) / 2 - 23.5) <= 1 and abs((columns.min() + columns.max()) / 2 - 23.5) <= 1
    assert max(rows.max() - rows.min(), columns.max() - columns.min()) + 1 == pytest.approx(42, abs=2)
    assert glyph[0].max() == 0, "paper is 0, ink is 1, like the renders"


def test_transparent_drawings_and_unusable_pictures():
    assert glyph_like(np.asarray(drawing(mode="RGBA"))).max() > 0.9  # a Sketchpad layer: ink on transparency
    for blank in (Image.new("L", (100, 100), 255), np.zeros((60, 60, 4), dtype=np.uint8)):
        with pytest.raises(UnusableInputError, match="blank"):
            glyph_like(blank)
    with pytest.raises(UnusableInputError):
        glyph_like(np.zeros((5000, 10), dtype=np.uint8))
    with pytest.raises(UnusableInputError):
        glyph_like(None)


@pytest.fixture(scope="module")
def untrained():
    plugin = FontStylePlugin()
    config = CnnClassifierConfig(**plugin.preset().model, id2label=dict(enumerate(["kai", "ming", "sans", "hei"])))
    return CnnClassifierForImageClassification(config).eval()


def test_classify_returns_a_probability_per_style(untrained):
    probabilities = classify(untrained, drawing())
    assert list(probabilities) == ["kai", "ming", "sans", "hei"]
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-5)


@needs_fonts
def test_compare_fonts_reports_missing_glyphs_instead_of_tofu(untrained):
    picture, table = compare_fonts(untrained, "永")
    assert isinstance(picture, Image.Image) and "| kai |" in table and "not in this font" not in table
    rare = "\U0002a6d6"  # CJK Extension B: not in the Arphic fonts
    if GlyphRenderer(resolve_font("kai")).has(rare):
        pytest.skip("this Kai font has Extension B")
    try:
        _, table = compare_fonts(untrained, rare)
    except UnusableInputError as error:  # no font here has it at all
        assert "None of the fonts" in str(error)
    else:
        assert "| kai | not in this font |" in table
    for text in ("", "永和", " ", "\x07", None, 5):
        with pytest.raises(UnusableInputError):
            compare_fonts(untrained, text)


@pytest.mark.skipif(not (SHIPPED / "config.json").is_file(), reason="no shipped font-style-cnn")
@needs_fonts
def test_shipped_model_tells_kai_from_ming_on_unseen_characters():
    results = json.loads((SHIPPED / "results.json").read_text())
    metrics = {metric["name"]: metric for metric in results["test"]["metrics"]}
    assert metrics["Kai vs Ming accuracy (held-out characters)"]["value"] >= 99.0
    # Check it again here on 150 held-out characters per font, rendered now.
    model = FontStylePlugin().load_for_demo(SHIPPED)
    _, characters = character_list("moe")
    test_characters = [c for c, split in split_characters(characters).items() if split == "test"][:150]
    styles = [model.config.id2label[index] for index in range(model.config.num_labels)]
    correct = 0
    for style in ("kai", "ming"):
        renderer = GlyphRenderer(resolve_font(style))
        glyphs = np.stack([renderer.render(character) for character in test_characters]).astype(np.float32) / 255
        probabilities = style_probabilities(model, glyphs)[:, [styles.index("kai"), styles.index("ming")]]
        correct += int((probabilities.argmax(1) == ("kai", "ming").index(style)).sum())
    assert correct >= 0.97 * 2 * len(test_characters)
    assert torch.is_tensor(next(model.parameters()))
