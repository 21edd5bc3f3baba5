"""GAN training through the shared engine: both networks learn, samples are saved, a resumed run equals an
uninterrupted one, and the card's Hub usage runs in a fresh process that cannot import this repository."""

import json
import re
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from conftest import REPO_ROOT, clean_env
from plugins.engine import make_accelerator
from plugins.glyphs.augment import random_shift
from plugins.registry import get_plugin

ENV = clean_env(OMP_NUM_THREADS="1")


def snapshot(module) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in module.state_dict().items()}


def changed(before: dict, module) -> list[str]:
    return [name for name, tensor in module.state_dict().items() if not torch.equal(before[name], tensor)]


@pytest.mark.parametrize("preset", ["lecture-07", "lecture-08", "best"])
def test_a_few_steps_change_both_networks(preset):
    plugin = get_plugin("font-gan")
    torch.manual_seed(0)
    recipe = plugin.preset(preset).training.overridden(batch_size=8)
    data = plugin.synthetic_data(plugin.preset(preset), num_examples=16, seed=0)
    parts = plugin.build_training(plugin.preset(preset), recipe, data, total_steps=3)
    accelerator = make_accelerator("no", 1, seed=0)
    before = {name: snapshot(model) for name, model in parts.models.items()}
    for step in range(3):
        batch = plugin.collate(data.train.__getitems__(list(range(8 * (step % 2), 8 * (step % 2) + 8))))
        with accelerator.accumulate(*parts.models.values()):
            metrics = plugin.training_step(parts, batch, accelerator, recipe)
    assert {"d_loss", "g_loss", "d_accuracy"} <= set(metrics)
    assert all(torch.isfinite(value) for value in metrics.values())
    for name, model in parts.models.items():
        weights = [key for key in changed(before[name], model) if "running" not in key and "num_batches" not in key]
        assert weights, f"the {name} did not learn"
    if "generator_ema" in parts.models:  # the average follows the generator but is not equal to it
        average, generator = parts.models["generator_ema"], parts.models["generator"]
        assert not torch.equal(average.output_layer.weight, generator.output_layer.weight)


def test_generator_update_leaves_the_discriminator_alone():
    plugin = get_plugin("font-gan")
    preset = plugin.preset("lecture-08")
    recipe = preset.training.overridden(batch_size=8)
    data = plugin.synthetic_data(preset, num_examples=8, seed=0)
    parts = plugin.build_training(preset, recipe, data, total_steps=1)
    accelerator = make_accelerator("no", 1, seed=0)
    batch = plugin.collate(data.train.__getitems__(list(range(8))))
    with accelerator.accumulate(*parts.models.values()):
        plugin.training_step(parts, batch, accelerator, recipe)
    # No gradient from G's loss is left on D (it would leak into D's next update).
    assert all(parameter.grad is None for parameter in parts.models["discriminator"].parameters())


def test_random_shift_moves_whole_images_and_fills_with_paper():
    torch.manual_seed(0)
    images = -torch.ones(64, 1, 12, 12)
    images[:, :, 5:7, 5:7] = 1.0
    shifted = random_shift(images, 3, fill=-1.0)
    assert shifted.shape == images.shape
    assert torch.all((shifted == 1.0).sum(dim=(1, 2, 3)) == 4), "the ink is moved, never lost or duplicated"
    assert len({tuple(torch.nonzero(image[0] == 1.0)[0].tolist()) for image in shifted}) > 10
    assert torch.equal(random_shift(images, 0, fill=-1.0), images)


def test_after_step_saves_sample_grids_without_touching_the_global_rng(tmp_path):
    plugin = get_plugin("font-gan")
    preset = plugin.preset("best")
    data = plugin.synthetic_data(preset, num_examples=8, seed=0)
    parts = plugin.build_training(preset, preset.training, data, total_steps=1)
    accelerator = make_accelerator("no", 1, seed=0)
    state = torch.get_rng_state()
    plugin.after_step(parts, preset.training.options["sample_every"], tmp_path, accelerator, preset.training)
    plugin.after_step(parts, 1, tmp_path, accelerator, preset.training)  # not a sampling step
    assert torch.equal(torch.get_rng_state(), state)
    assert [path.name for path in (tmp_path / "samples").iterdir()] == ["step-0000250.png"]


def train(output_dir, *extra):
    command = [sys.executable, str(REPO_ROOT / "train.py"), "font-gan", "--preset", "best", "--synthetic", "48",
               "--batch-size", "8", "--checkpoint-every", "5", "--seed", "5", "--output-dir", str(output_dir), *extra]
    result = subprocess.run(command, cwd=REPO_ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gan-uninterrupted")
    train(folder, "--max-steps", "10")
    return folder


def test_resume_equals_an_uninterrupted_run(uninterrupted, tmp_path):
    # Stop after 5 steps (mid-epoch: 6 batches of 8 per epoch), then continue to 10 from the checkpoint.
    train(tmp_path, "--max-steps", "5")
    train(tmp_path, "--max-steps", "10", "--resume")
    for name in ("model.safetensors", "model_1.safetensors", "model_2.safetensors"):  # EMA, G and D
        first = load_file(uninterrupted / "checkpoints" / "step-0000010" / name)
        second = load_file(tmp_path / "checkpoints" / "step-0000010" / name)
        different = [key for key in first if not torch.equal(first[key], second[key])]
        assert not different, f"{name}: {different[:5]}"
    # The published generator is the moving average, and it is what the final checkpoint holds first.
    published = load_file(uninterrupted / "model" / "model.safetensors")
    assert all(torch.equal(tensor, load_file(uninterrupted / "checkpoints" / "step-0000010" / "model.safetensors")[key])
               for key, tensor in published.items())


def test_card_usage_runs_in_a_fresh_process_without_the_repo(uninterrupted, tmp_path):
    model_dir = uninterrupted / "model"
    card = (model_dir / "README.md").read_text()
    snippet = re.search(r"## Usage\s+```python\n(.*?)```", card, re.S).group(1)
    snippet = re.sub(r'from_pretrained\("[^"]+"', f'from_pretrained("{model_dir}"', snippet)
    script = tmp_path / "use_it.py"
    script.write_text(snippet + "\ntry:\n    import plugins\nexcept ImportError:\n    pass\n"
                      "else:\n    raise SystemExit('the repository is importable')\n")
    result = subprocess.run([sys.executable, "-I", str(script)], cwd=tmp_path, env=ENV, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    art = result.stdout.strip().splitlines()
    assert len(art) == 24 and all(len(line) == 48 and set(line) <= {"#", "."} for line in art)
    # The same seed gives the same glyph here, in this process, as in the fresh one.
    from plugins.font_gan import FontGanPlugin

    glyph = FontGanPlugin().load_for_demo(model_dir).generate(16, seed=0)[0, ::2]
    assert art == ["".join("#" if value < 0.5 else "." for value in row) for row in glyph]
    results = json.loads((model_dir / "results.json").read_text())
    assert results["steps"] == 10 and (model_dir / "samples.png").is_file()
    assert sorted(path.name for path in (uninterrupted / "samples").iterdir()) == ["step-0000010.png"]


def test_two_processes_with_mixed_precision_end_with_the_same_weights(tmp_path):
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", str(REPO_ROOT / "train.py"),
               "font-gan", "--preset", "best", "--synthetic", "64", "--batch-size", "8", "--max-steps", "4",
               "--mixed-precision", "bf16", "--output-dir", str(tmp_path)]
    result = subprocess.run(command, cwd=REPO_ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    end = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()
           if json.loads(line).get("event") == "end"][0]
    assert end["num_processes"] == 2 and len(set(end["weights_fingerprints"])) == 1
