"""The shipped digit models on the real 10,000 test images: the card's figure, reproduced, above the bar."""

import json

import pytest
import torch
from transformers import AutoModelForImageClassification

from conftest import REPO_ROOT
from plugins.mnist_cnn.data import load_mnist

# Lower bounds for the measured test accuracy (%): the lecture's figures, beaten.
BARS = {"mnist-cnn": 99.65, "mnist-cnn-lecture-01a": 99.45}


@pytest.fixture(scope="module")
def test_set(mnist_dir):
    return load_mnist(mnist_dir).test


@pytest.mark.parametrize("name", sorted(BARS))
def test_shipped_accuracy_is_reproduced_and_clears_the_bar(name, test_set):
    folder = REPO_ROOT / "pretrained" / name
    if not (folder / "config.json").is_file():
        pytest.skip(f"{name} is not shipped")
    model = AutoModelForImageClassification.from_pretrained(folder, trust_remote_code=True).eval()
    with torch.no_grad():
        predictions = torch.cat([model(pixel_values=test_set.fields["pixel_values"][start:start + 1000]).logits.argmax(-1)
                                 for start in range(0, len(test_set), 1000)])
    wrong = int((predictions != test_set.fields["labels"]).sum())
    accuracy = 100 * (1 - wrong / len(test_set))
    card = json.loads((folder / "results.json").read_text())["test"]["metrics"][0]
    assert card["name"] == "Test accuracy"
    assert accuracy == pytest.approx(card["value"], abs=0.011), "the card reports what the weights do"
    assert accuracy >= BARS[name]
