"""The engine's speed plan (plugins/speed.py): measured once and cached, kept by a resumed run, and safe.

Runs of fewer than `MIN_STEPS` steps keep the defaults, so these tests lower that bar to measure a tiny run
of the MNIST plugin's synthetic digits; the cache goes to a temporary XDG_CACHE_HOME.
"""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

from plugins import speed
from plugins.engine import TrainOptions, make_accelerator, train
from plugins.registry import get_plugin

OPTIONS = dict(plugin="mnist-cnn", preset="best", synthetic=64, batch_size=16, max_steps=8, checkpoint_every=2,
               seed=7, keep_checkpoints=10)


@pytest.fixture(autouse=True)
def measured_here(tmp_path, monkeypatch):
    """One torch thread (the engine then measures layouts only), any run long enough, a private cache."""
    threads = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(speed, "MIN_STEPS", 1)
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def start_record(output_dir):
    return json.loads((output_dir / "metrics.jsonl").read_text().splitlines()[0])


def test_a_plan_is_measured_once_per_machine_cached_and_logged(tmp_path, capsys):
    first, second = tmp_path / "first", tmp_path / "second"
    train(TrainOptions(**OPTIONS, output_dir=str(first)))
    assert "speed plan for mnist-cnn on this machine" in capsys.readouterr().out
    plans = json.loads(speed.plans_file().read_text())
    (entry,) = plans.values()
    assert set(entry["seconds_per_step"]) == {"contiguous", "channels-last"}  # a model with convolutions
    assert json.loads((first / speed.RUN_PLAN_FILE).read_text()) == entry["plan"] == start_record(first)["speed_plan"]
    cached = speed.plans_file().read_bytes()

    train(TrainOptions(**OPTIONS, output_dir=str(second)))
    assert "speed plan" not in capsys.readouterr().out  # not measured again
    assert speed.plans_file().read_bytes() == cached
    assert start_record(second)["speed_plan"] == entry["plan"]


def test_a_resumed_run_keeps_its_channels_last_plan_and_ends_as_the_uninterrupted_run(tmp_path, monkeypatch):
    plugin = get_plugin("mnist-cnn")
    recipe = plugin.preset("best").training.overridden(batch_size=16, max_steps=8, checkpoint_every=2)
    key = speed.plan_key(plugin, plugin.preset("best"), recipe, make_accelerator("no", 1, seed=7))
    channels_last = speed.SpeedPlan(channels_last=True)
    speed._remember(key, channels_last, {})  # as if this machine had measured channels-last faster
    uninterrupted = tmp_path / "uninterrupted"
    train(TrainOptions(**OPTIONS, output_dir=str(uninterrupted)))
    assert start_record(uninterrupted)["speed_plan"]["channels_last"] is True

    # The folder a kill at step 5 leaves; this machine's cache is gone since and nothing would be measured,
    # so only the run's own plan file can make the resumed run compute in channels-last again.
    run = tmp_path / "run"
    shutil.copytree(uninterrupted, run, ignore=shutil.ignore_patterns("model", "step-0000006", "step-0000008"))
    speed.plans_file().unlink()
    monkeypatch.setattr(speed, "MIN_STEPS", 500)
    train(TrainOptions(**OPTIONS, output_dir=str(run), resume=True))

    assert json.loads((run / speed.RUN_PLAN_FILE).read_text())["channels_last"] is True
    a, b = (load_file(folder / "model" / "model.safetensors") for folder in (uninterrupted, run))
    assert [key for key in a if not torch.equal(a[key], b[key])] == []


def test_a_short_run_keeps_the_defaults_without_measuring(tmp_path, monkeypatch):
    monkeypatch.setattr(speed, "MIN_STEPS", 500)
    train(TrainOptions(**OPTIONS, output_dir=str(tmp_path / "run")))
    assert not speed.plans_file().exists()
    assert start_record(tmp_path / "run")["speed_plan"] == {"channels_last": False, "threads": None,
                                                            "compiled_optimizer": False}


def test_a_compiled_step_that_cannot_compile_runs_eagerly(tmp_path, monkeypatch, capsys):
    """No C compiler: inductor fails before updating anything, and the eager step gives the eager result."""
    import torch._inductor.config as inductor_config

    monkeypatch.setattr(inductor_config.cpp, "cxx", (str(tmp_path / "no-such-compiler"),))
    monkeypatch.setattr(inductor_config, "fx_graph_cache", False)
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    torch._dynamo.reset()
    weights = [torch.nn.Parameter(torch.ones(3)) for _ in range(2)]
    expected = [torch.nn.Parameter(torch.ones(3)) for _ in range(2)]
    optimizers = [torch.optim.Adadelta(group, lr=1.0, foreach=True) for group in (weights, expected)]
    step = speed.compiled_step(optimizers[0].step)
    for _ in range(2):
        for group in (weights, expected):
            for parameter in group:
                parameter.grad = torch.full_like(parameter, 0.5)
        step()
        optimizers[1].step()
    torch._dynamo.reset()
    assert "compiling the optimizer step failed" in capsys.readouterr().out
    assert all(torch.equal(got, want) for got, want in zip(weights, expected))


def test_only_image_batches_change_layout():
    batch = {"pixel_values": torch.rand(2, 3, 4, 4), "labels": torch.tensor([1, 2]), "ids": torch.ones(2, 3, 4, 4,
                                                                                                       dtype=torch.long)}
    arranged = speed.SpeedPlan(channels_last=True).arrange(batch)
    assert arranged["pixel_values"].is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(arranged["pixel_values"], batch["pixel_values"])
    assert arranged["labels"] is batch["labels"] and arranged["ids"] is batch["ids"]
    assert speed.SpeedPlan().arrange(batch) is batch


def timer_giving(seconds: list[float], calls: list):
    """A candidate's timer that measures `seconds` in turn (the last one from then on), counting its rounds."""
    def seconds_per_step():
        calls.append(1)
        return seconds[min(len(calls), len(seconds)) - 1]
    return seconds_per_step


def test_a_clear_winner_takes_three_rounds_and_close_candidates_more_until_one_pulls_ahead():
    clear, slower = [], []
    timings = speed._fastest_of_rounds({"fast": timer_giving([1.0], clear), "slow": timer_giving([1.5], slower)})
    assert (len(clear), len(slower)) == (3, 3) and min(timings, key=timings.get) == "fast"

    # a slow minute over the first three rounds makes the faster layout look 5 % slower; the rounds go on
    steady, unlucky = [], []
    timings = speed._fastest_of_rounds({"contiguous": timer_giving([1.0], steady),
                                        "channels-last": timer_giving([1.05, 1.05, 1.05, 0.87], unlucky)})
    assert min(timings, key=timings.get) == "channels-last"
    assert len(steady) == len(unlucky) == 4  # one round more, then 0.87 against 1.0 is clear

    tied, also_tied = [], []
    speed._fastest_of_rounds({"a": timer_giving([1.0], tied), "b": timer_giving([1.02], also_tied)})
    assert len(tied) == len(also_tied) == 8  # never clear: at most eight rounds
