"""The Hub's own "Use this model" code for the classifiers: `pipeline("image-classification", model=<repo id>,
trust_remote_code=True)` on photo-like pictures of each model's held-out test set, in a fresh isolated
process, offline, with the shipped folders laid out in a Hugging Face cache. And the image processor that
makes it work is the hub's own preparation, not an approximation of it."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import DATASETS, REPO_ROOT, clean_env, hub_cache
from models.cnn_classifier.image_processing_cnn_classifier import CnnClassifierImageProcessor
from plugins.cards import repo_id_for

PIPELINE_USER = """
import json, sys
from transformers import pipeline

answers = {}
for repo_id, pictures in json.loads(sys.argv[1]).items():
    classify = pipeline("image-classification", model=repo_id, trust_remote_code=True)
    answers[repo_id] = [classify(path)[0]["label"] for path in pictures]
print(json.dumps(answers))
"""
DIGIT_FOLDERS = ["mnist-cnn", "mnist-cnn-lecture-01a", "mnist-mlp", "mnist-mlp-lecture"]


def photo_like(ink: np.ndarray, side: int, seed: int) -> Image.Image:
    """Ink in [0, 1] -> an RGB 'photo': dark-blue pen on cream paper, enlarged, with sensor noise."""
    generator = np.random.default_rng(seed)
    large = np.asarray(Image.fromarray((ink * 255).astype(np.uint8)).resize((side, side), Image.Resampling.BICUBIC))
    ink = large.astype(np.float32)[..., None] / 255
    paper, pen = np.array([238, 232, 220], np.float32), np.array([30, 35, 60], np.float32)
    picture = paper * (1 - ink) + pen * ink + generator.normal(0, 4, (side, side, 3))
    return Image.fromarray(np.clip(picture, 0, 255).round().astype(np.uint8))


def held_out_digits(folder, count: int = 24) -> list[tuple[str, str]]:
    from plugins.mnist_cnn.data import read_idx

    mnist = DATASETS / "mnist"
    if not (mnist / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real MNIST not found in {mnist}")
    images, labels = read_idx(mnist / "t10k-images-idx3-ubyte.gz"), read_idx(mnist / "t10k-labels-idx1-ubyte.gz")
    pictures = []
    for index in np.random.default_rng(3).choice(len(labels), count, replace=False):
        path = folder / f"digit-{index}.png"
        photo_like(images[index] / 255.0, 180, int(index)).save(path)
        pictures.append((str(path), str(labels[index])))
    return pictures


def held_out_glyphs(folder, per_style: int = 4) -> list[tuple[str, str]]:
    from plugins.font_style.data import split_characters
    from plugins.glyphs import GlyphRenderer, character_list, resolve_font

    config = json.loads((REPO_ROOT / "pretrained" / "font-style-cnn" / "config.json").read_text())
    _, characters = character_list("moe")
    test = [character for character, split in split_characters(characters).items() if split == "test"]
    pictures = []
    for style in config["id2label"].values():
        try:
            renderer = GlyphRenderer(resolve_font(style))
        except Exception as error:  # noqa: BLE001 - a missing Debian font package
            pytest.skip(f"the {style} font is not installed: {error}")
        for number, character in enumerate(test[20: 20 + per_style]):
            path = folder / f"glyph-{style}-{number}.png"
            photo_like(renderer.render(character) / 255.0, 160, number).save(path)
            pictures.append((str(path), style))
    return pictures


def test_pipeline_classifies_held_out_photo_like_pictures_in_a_fresh_process(tmp_path):
    home = tmp_path / "hf-home"
    cases = {}
    for name in DIGIT_FOLDERS + ["font-style-cnn"]:
        folder = REPO_ROOT / "pretrained" / name
        if not (folder / "preprocessor_config.json").is_file():
            pytest.fail(f"pretrained/{name} has no preprocessor_config.json: pipeline() cannot load it")
        hub_cache(home, repo_id_for(name), folder)
    digits, glyphs = held_out_digits(tmp_path), held_out_glyphs(tmp_path)
    for name in DIGIT_FOLDERS:
        cases[repo_id_for(name)] = digits
    cases[repo_id_for("font-style-cnn")] = glyphs
    result = subprocess.run(
        [sys.executable, "-I", "-c", PIPELINE_USER, json.dumps({repo: [p for p, _ in pictures]
                                                                 for repo, pictures in cases.items()})],
        cwd=tmp_path, env=clean_env(HF_HOME=str(home)), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    for repo_id, pictures in cases.items():
        correct = sum(answer == label for answer, (_, label) in zip(answers[repo_id], pictures))
        # The models score 97-99.7 % on clean test images; a photo-like copy may cost one more miss.
        assert correct >= len(pictures) - 2, f"{repo_id}: {correct}/{len(pictures)} ({answers[repo_id]})"


def test_image_processor_prepares_exactly_like_the_hub(tmp_path):
    """The processor (the file that travels to the Hub) and the demo's preparation agree pixel for pixel on
    drawings and photos, both polarities, colour and grey."""
    from plugins.font_style.preprocess import glyph_like
    from plugins.mnist_cnn.preprocess import mnist_like

    generator = np.random.default_rng(0)
    ink = np.zeros((90, 70), np.float32)
    ink[10:80, 30:40] = 1.0
    ink[10:20, 15:55] = 0.8
    pictures = [photo_like(ink, 140, 1), Image.fromarray((255 - ink * 255).astype(np.uint8)),
                Image.fromarray((ink * 255).astype(np.uint8)).convert("RGB"),
                np.clip(1 - ink + generator.normal(0, 0.02, ink.shape), 0, 1).astype(np.float32)]
    digits, glyphs = CnnClassifierImageProcessor("mnist"), CnnClassifierImageProcessor("glyph")
    for picture in pictures:
        np.testing.assert_allclose(digits(picture)["pixel_values"][0, 0].numpy(), mnist_like(picture), atol=1e-5)
        np.testing.assert_allclose(glyphs(picture)["pixel_values"][0, 0].numpy(), glyph_like(picture), atol=1e-5)
    batch = digits(pictures[:2])["pixel_values"]
    assert tuple(batch.shape) == (2, 1, 28, 28)
    with pytest.raises(ValueError, match="blank"):
        digits(Image.new("RGB", (50, 50), "white"))
