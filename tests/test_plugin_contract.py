"""The contract every registered plugin keeps, tested for each plugin and preset.

A new plugin is covered the moment it registers: its presets build, train a
few steps on its synthetic data through the shared engine, and produce a
`save_pretrained` folder with code, card and results that loads again.
"""

import json

import pytest
import torch
import yaml
from safetensors.torch import load_file

from plugins.base import DataSplits, Plugin, Preset
from plugins.engine import TrainOptions, train
from plugins.registry import get_plugin, plugin_names

PLUGIN_PRESETS = [(name, preset) for name in plugin_names() for preset in get_plugin(name).presets]


@pytest.mark.parametrize("name", plugin_names())
def test_plugin_declares_the_contract(name):
    plugin = get_plugin(name)
    assert isinstance(plugin, Plugin)
    assert plugin.name == name and plugin.title and plugin.description
    assert plugin.default_preset in plugin.presets
    assert all(isinstance(preset, Preset) for preset in plugin.presets.values())
    assert plugin.usage_snippet("owner/repo").strip()


@pytest.mark.parametrize("name", plugin_names())
def test_synthetic_data_has_the_three_splits(name):
    plugin = get_plugin(name)
    data = plugin.synthetic_data(plugin.preset(), num_examples=32, seed=0)
    assert isinstance(data, DataSplits)
    assert len(data.train) >= 32 and len(data.validation) > 0
    batch = plugin.collate([data.train[i] for i in range(4)])
    assert isinstance(batch, dict) and all(isinstance(v, torch.Tensor) for v in batch.values())


@pytest.mark.parametrize(("name", "preset"), PLUGIN_PRESETS)
def test_preset_trains_and_saves_a_loadable_folder(name, preset, tmp_path):
    plugin = get_plugin(name)
    batch_size = 8
    model_dir = train(TrainOptions(plugin=name, preset=preset, output_dir=str(tmp_path), synthetic=48,
                                   max_steps=4, batch_size=batch_size, checkpoint_every=2, seed=3))

    files = {path.name for path in model_dir.iterdir()}
    assert {"config.json", "model.safetensors", "README.md", "results.json"} <= files
    assert any(file.startswith("modeling_") for file in files), "the model's code must travel with its weights"
    state = load_file(model_dir / "model.safetensors")
    assert all(torch.isfinite(tensor).all() for tensor in state.values() if tensor.is_floating_point())

    # Training moved the weights away from their initialisation (same seed, same init).
    torch.manual_seed(3)
    from accelerate.utils import set_seed
    set_seed(3)
    data = plugin.synthetic_data(plugin.preset(preset), num_examples=48, seed=3)
    fresh = plugin.build_training(plugin.preset(preset), plugin.preset(preset).training, data, 4).model.state_dict()
    changed = [key for key, value in state.items() if key in fresh and not torch.equal(value, fresh[key].to(value.dtype))]
    assert changed, "no weight changed during training"

    loaded = plugin.load_for_demo(model_dir)
    assert not loaded.training

    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert records and all(record["num_processes"] == 1 for record in records)
    assert any(record.get("split") == "validation" for record in records)
    results = json.loads((model_dir / "results.json").read_text())
    assert results["steps"] == 4 and results["plugin"] == name and results["preset"] == preset
    card = (model_dir / "README.md").read_text()
    metadata = yaml.safe_load(card.split("---")[1])
    assert metadata["library_name"] == "transformers"
    assert "SYNTHETIC" in card, "a smoke-test model's card must say its data was made up"
