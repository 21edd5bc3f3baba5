"""Concurrent classifications share one forward pass (plugins/batching.py) and get the answers they get alone.

The batchers under test are the ones the tabs serve with, around the shipped models; a gate holds the first
request's forward pass until the others are queued, so the others form one batch every time.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image, ImageDraw

from conftest import DATASETS, REPO_ROOT, digit_pictures
from plugins.batching import Batcher
from plugins.errors import UnusableInputError


def gated(batcher: Batcher) -> tuple[threading.Event, threading.Event]:
    """Hold the batcher's forward passes until the second event is set; the first is set once one is held."""
    held, gate, forward = threading.Event(), threading.Event(), batcher.function

    def function(items):
        held.set()
        gate.wait(timeout=60)
        return forward(items)

    batcher.function = function
    return held, gate


def together(classify, model, batcher, images, queued: int) -> list:
    """`classify(model, image, batcher)` for every image, the first one's forward pass held until `queued` others
    wait behind it. Returns each answer or the error it raised."""
    held, gate = gated(batcher)
    with ThreadPoolExecutor(len(images)) as pool:
        first = pool.submit(classify, model, images[0], batcher)
        held.wait(timeout=60)
        futures = [first] + [pool.submit(classify, model, image, batcher) for image in images[1:]]
        deadline = time.monotonic() + 60
        while batcher.waiting.qsize() < queued and time.monotonic() < deadline:
            time.sleep(0.01)
        gate.set()
        return [future.exception() or future.result() for future in futures]


def assert_same_answers(alone: list[dict], batched: list[dict]) -> None:
    for one, many in zip(alone, batched, strict=True):
        assert max(one, key=one.get) == max(many, key=many.get)
        assert one.keys() == many.keys()
        np.testing.assert_allclose([many[key] for key in one], list(one.values()), rtol=0, atol=1e-6)


@pytest.mark.skipif(not (REPO_ROOT / "pretrained" / "mnist-cnn" / "config.json").is_file(),
                    reason="no shipped mnist-cnn weights")
def test_digits_classified_together_get_the_answers_they_get_one_by_one(tmp_path):
    from plugins.mnist_cnn import MnistCnnPlugin
    from plugins.mnist_cnn.demo import classify, digit_batcher

    model = MnistCnnPlugin().load_for_demo(REPO_ROOT / "pretrained" / "mnist-cnn")
    pictures = [str(path) for path, _ in digit_pictures(tmp_path, DATASETS / "mnist", count=8)]
    pictures = (pictures * 8)[:8]  # without the data set: two drawn digits, repeated
    alone = [classify(model, picture) for picture in pictures]
    batcher = digit_batcher(model)

    batched = together(classify, model, batcher, pictures, queued=7)

    assert batcher.batch_sizes == [1, 7]
    assert_same_answers(alone, batched)


@pytest.mark.skipif(not (REPO_ROOT / "pretrained" / "font-style-cnn" / "config.json").is_file(),
                    reason="no shipped font-style-cnn weights")
def test_glyph_styles_classified_together_get_the_answers_they_get_one_by_one():
    from plugins.font_style import FontStylePlugin
    from plugins.font_style.demo import classify, glyph_batcher

    model = FontStylePlugin().load_for_demo(REPO_ROOT / "pretrained" / "font-style-cnn")
    pictures = []
    for index in range(6):
        picture = Image.new("L", (96, 96), 255)
        ImageDraw.Draw(picture).line([(10 + 5 * index, 20), (86, 30 + 8 * index)], fill=0, width=4 + index)
        ImageDraw.Draw(picture).line([(48, 8), (40 + 3 * index, 88)], fill=0, width=6)
        pictures.append(np.asarray(picture))
    alone = [classify(model, picture) for picture in pictures]
    batcher = glyph_batcher(model)

    batched = together(classify, model, batcher, pictures, queued=5)

    assert batcher.batch_sizes == [1, 5]
    assert_same_answers(alone, batched)


@pytest.mark.skipif(not (REPO_ROOT / "pretrained" / "mnist-cnn" / "config.json").is_file(),
                    reason="no shipped mnist-cnn weights")
def test_a_refused_request_leaves_the_requests_beside_it_alone(tmp_path):
    """A request is checked before it joins a batch, so its refusal is its own (Gradio's batched events would
    have given it to every request of the batch)."""
    from plugins.mnist_cnn import MnistCnnPlugin
    from plugins.mnist_cnn.demo import classify, digit_batcher

    model = MnistCnnPlugin().load_for_demo(REPO_ROOT / "pretrained" / "mnist-cnn")
    (digit, _), *_ = digit_pictures(tmp_path, DATASETS / "mnist", count=1)
    blank = tmp_path / "blank.png"
    Image.new("L", (200, 200), 255).save(blank)
    batcher = digit_batcher(model)

    answers = together(classify, model, batcher, [str(digit), str(blank), str(digit), str(digit)], queued=2)

    assert isinstance(answers[1], UnusableInputError) and "blank" in str(answers[1])
    assert sum(batcher.batch_sizes) == 3  # the refused request never joined a batch
    assert_same_answers([classify(model, str(digit))] * 3, [answers[0], answers[2], answers[3]])


def test_an_error_in_the_shared_pass_reaches_every_request_of_its_batch_and_the_batcher_goes_on():
    def forward(items):
        if "bug" in items:
            raise RuntimeError("the model failed")
        return [item.upper() for item in items]

    batcher = Batcher(forward, max_size=4)
    answers = together(lambda _model, item, batcher: batcher(item), None, batcher, ["a", "bug", "c"], queued=2)

    assert answers[0] == "A" and all(isinstance(answer, RuntimeError) for answer in answers[1:])
    assert batcher.batch_sizes == [1, 2]
    assert batcher("d") == "D"
