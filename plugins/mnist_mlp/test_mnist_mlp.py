"""`mnist-mlp` trains with the engine, saves a folder that loads, reads a drawn digit, and shows its templates."""

import numpy as np
import pytest

from plugins.engine import TrainOptions, train
from plugins.registry import get_plugin


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    model_dir = train(TrainOptions("mnist-mlp", preset="best", synthetic=64, max_steps=5, batch_size=16,
                                   output_dir=str(tmp_path_factory.mktemp("run"))))
    return get_plugin("mnist-mlp").load_for_demo(model_dir)


def test_mnist_mlp_trains_saves_and_classifies(trained):
    from plugins.mnist_mlp.demo import classify

    picture = np.full((140, 140), 255, dtype=np.uint8)
    picture[20:120, 64:76] = 0  # a "1", dark on white paper
    probabilities = classify(trained, picture)
    assert set(probabilities) == {str(digit) for digit in range(10)}
    assert abs(sum(probabilities.values()) - 1.0) < 1e-5


def test_the_tab_shows_first_layer_units_as_28x28_templates_of_the_most_excited_units(trained):
    from plugins.mnist_mlp.demo import SHOWN_UNITS, explain, first_layer_templates

    picture = np.full((140, 140), 255, dtype=np.uint8)
    picture[20:120, 64:76] = 0
    explanation = explain(trained, picture)
    cell = 28 * 3 + 2  # a 28x28 template enlarged 3 times, and its padding
    assert first_layer_templates(trained, [0]).size == (8 * cell + 2, cell + 2)  # one row of 8 places
    assert explanation.excited_units.size == (8 * cell + 2, 4 * cell + 2)  # the 32 strongest: 4 rows of 8
    assert str(SHOWN_UNITS) in explanation.caption


def test_presets_are_the_lab_network_and_a_deeper_one():
    plugin = get_plugin("mnist-mlp")
    from models.mlp_classifier import MlpClassifierForImageClassification

    lecture = MlpClassifierForImageClassification(plugin.build_config(plugin.preset("lecture"), None))
    assert lecture.num_parameters() == 101_770  # 784*128 + 128 + 128*10 + 10, as the lab's model.summary()
    assert plugin.preset("lecture").training.optimizer == "sgd"
