"""The CNN model family: the lecture's architectures exactly, the config's checks, the forward contract."""

import pytest
import torch

from models.cnn_classifier import CnnClassifierConfig, CnnClassifierForImageClassification
from plugins.mnist_cnn.presets import PRESETS


def build(preset: str) -> CnnClassifierForImageClassification:
    return CnnClassifierForImageClassification(CnnClassifierConfig(**PRESETS[preset].model))


def count(model) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


def test_lecture_01_has_the_23466_parameters_the_lecture_states():
    assert count(build("lecture-01")) == 23_466


def test_lecture_01a_matches_the_keras_layer_by_layer():
    model = build("lecture-01a")
    # Keras: Conv2D(32,5x5) 832, Conv2D(32,5x5) 25,632, Dense(512) 262,656, Dense(512) 262,656, Dense(10) 5,130.
    convolutions = [sum(p.numel() for p in block.parameters()) for block in model.convolutions]
    dense = [sum(p.numel() for p in layer.parameters()) for layer in model.classifier if isinstance(layer, torch.nn.Linear)]
    assert convolutions == [832, 25_632] and dense == [262_656, 262_656, 5_130]
    assert count(model) == 556_906
    assert model.config.feature_map_size() == 4  # 28 -conv5-> 24 -pool-> 12 -conv5-> 8 -pool-> 4


def test_forward_contract_logits_loss_and_feature_maps():
    model = build("best").eval()
    pixels = torch.rand(3, 1, 28, 28)
    output = model(pixel_values=pixels, labels=torch.tensor([0, 1, 2]), output_hidden_states=True)
    assert output.logits.shape == (3, 10)
    assert output.loss.ndim == 0 and output.loss > 0
    assert len(output.hidden_states) == 7 and output.hidden_states[0].shape == (3, 32, 28, 28)
    assert model(pixel_values=pixels).loss is None


def test_normalisation_happens_inside_the_model():
    config = CnnClassifierConfig(**{**PRESETS["lecture-01"].model, "input_mean": 0.5, "input_std": 0.25})
    model = CnnClassifierForImageClassification(config).eval()
    reference = CnnClassifierForImageClassification(CnnClassifierConfig(**PRESETS["lecture-01"].model)).eval()
    reference.load_state_dict(model.state_dict())
    pixels = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(model(pixel_values=pixels).logits, reference(pixel_values=(pixels - 0.5) / 0.25).logits)


def test_input_size_is_a_config_field():
    config = CnnClassifierConfig(**{**PRESETS["lecture-01a"].model, "image_size": 48,
                                    "id2label": {0: "kai", 1: "ming"}})
    model = CnnClassifierForImageClassification(config)
    assert model(pixel_values=torch.rand(2, 1, 48, 48)).logits.shape == (2, 2)


@pytest.mark.parametrize(("change", "message"), [
    ({"conv_kernel_sizes": [5, 5]}, "one entry per convolution"),
    ({"dropout_after": [1.5]}, "dropout"),
    ({"input_std": 0.0}, "input_std"),
    ({"conv_kernel_sizes": [40]}, "shrink"),
    ({"conv_channels": []}, "at least one"),
])
def test_bad_configs_raise_value_error(change, message):
    with pytest.raises(ValueError, match=message):
        CnnClassifierConfig(**{**PRESETS["lecture-01"].model, **change})


def test_save_and_load_round_trip(tmp_path):
    model = build("lecture-01a").eval()
    model.save_pretrained(tmp_path)
    loaded = CnnClassifierForImageClassification.from_pretrained(tmp_path).eval()
    pixels = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(model(pixel_values=pixels).logits, loaded(pixel_values=pixels).logits)
    assert loaded.config.id2label[7] == "7"
