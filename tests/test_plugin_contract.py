"""The contract every registered plugin keeps, tested for each plugin and preset.

A new plugin is covered the moment it registers: its presets build, train a
few steps on its synthetic data through the shared engine, and produce a
`save_pretrained` folder with code, card and results that loads again; its
steps leave every optimizer update to `TrainingParts.update`, so the recipe's
gradient clipping holds for each of them.
"""

import ast
import inspect
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import yaml
from accelerate.utils import set_seed
from safetensors.torch import load_file

from conftest import REPO_ROOT
from plugins.base import DataSplits, Plugin, Preset, TrainingParts
from plugins.engine import TrainOptions, make_accelerator, train
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
    # The loop steps every schedule once per optimizer step of the run, however many updates a step makes.
    schedules = sorted((tmp_path / "checkpoints" / "step-0000004").glob("scheduler*.bin"))
    assert schedules and all(torch.load(path, weights_only=True)["last_epoch"] == 4 for path in schedules)
    card = (model_dir / "README.md").read_text()
    metadata = yaml.safe_load(card.split("---")[1])
    assert metadata["library_name"] == "transformers"
    assert "SYNTHETIC" in card, "a smoke-test model's card must say its data was made up"


# ------------------------------------------------------------------ the update is the engine's
def gradient_norms_when_optimizers_step(name: str, preset_name: str, max_grad_norm: float | None) -> dict:
    """Optimizer name -> the norm of all its gradients each time it stepped, over two training steps."""
    plugin = get_plugin(name)
    preset = plugin.preset(preset_name)
    recipe = replace(preset.training, batch_size=8, max_grad_norm=max_grad_norm)
    set_seed(0)
    data = plugin.synthetic_data(preset, num_examples=16, seed=0)
    parts = plugin.build_training(preset, recipe, data, total_steps=2)
    norms = {optimizer_name: [] for optimizer_name in parts.optimizers}
    for optimizer_name, optimizer in parts.optimizers.items():
        def record(optimizer, args, kwargs, seen=norms[optimizer_name]):
            gradients = [parameter.grad for group in optimizer.param_groups for parameter in group["params"]
                         if parameter.grad is not None]
            seen.append(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in gradients])).item())
        optimizer.register_step_pre_hook(record)
    accelerator = make_accelerator("no", 1, seed=0)
    prepared = accelerator.prepare(*parts.models.values(), *parts.optimizers.values())
    parts = TrainingParts(dict(zip(parts.models, prepared)), dict(zip(parts.optimizers, prepared[len(parts.models):])))
    for start in (0, 8):
        batch = plugin.collate([data.train[index] for index in range(start, start + 8)])
        with accelerator.accumulate(*parts.models.values()):
            plugin.training_step(parts, batch, accelerator, recipe)
    return norms


@pytest.mark.parametrize(("name", "preset"), PLUGIN_PRESETS)
def test_max_grad_norm_bounds_every_optimizer_update(name, preset):
    limit = 1e-4
    free = gradient_norms_when_optimizers_step(name, preset, None)
    clipped = gradient_norms_when_optimizers_step(name, preset, limit)
    for optimizer_name, norms in free.items():
        assert norms and len(clipped[optimizer_name]) == len(norms), f"the {optimizer_name} optimizer did not step"
        assert max(norms) > 10 * limit, "unclipped gradients this small would not show that clipping works"
        assert all(norm <= limit * (1 + 1e-3) for norm in clipped[optimizer_name]), (
            f"recipe.max_grad_norm={limit} is ignored by the {optimizer_name} update: {clipped[optimizer_name]}")


def optimizer_calls(path: Path) -> list[str]:
    """Calls in `path` that belong to an optimizer update: backward, gradient clipping, zero_grad, and the step
    of anything named like an optimizer or a scheduler."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        method, receiver = node.func.attr, ast.unparse(node.func.value).lower()
        if (method in ("backward", "clip_grad_norm_", "clip_grad_value_", "zero_grad")
                or method == "step" and ("optim" in receiver or "sched" in receiver)):
            where = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
            found.append((node.lineno, f"{where}:{node.lineno} {ast.unparse(node.func)}(...)"))
    return [call for _, call in sorted(found)]


@pytest.mark.parametrize("name", plugin_names())
def test_plugins_leave_the_optimizer_update_to_the_engine(name):
    module = Path(inspect.getfile(type(get_plugin(name))))
    files = sorted(module.parent.rglob("*.py")) if module.name == "__init__.py" else [module]
    calls = [call for path in files if not path.name.startswith("test_") for call in optimizer_calls(path)]
    assert not calls, (f"plugin {name!r} updates an optimizer itself; return the loss to "
                       f"parts.update(name, loss, accelerator, recipe) instead: {calls}")


def test_the_source_scan_finds_an_update_written_by_hand(tmp_path):
    step = tmp_path / "step.py"
    step.write_text("accelerator.backward(loss)\nparts.optimizers['generator'].step()\nscheduler.step()\n"
                    "model.zero_grad()\ntorch.nn.utils.clip_grad_norm_(params, 1.0)\nsampler.step()\n")
    assert [call.split(" ")[1] for call in optimizer_calls(step)] == [
        "accelerator.backward(...)", "parts.optimizers['generator'].step(...)", "scheduler.step(...)",
        "model.zero_grad(...)", "torch.nn.utils.clip_grad_norm_(...)"]
