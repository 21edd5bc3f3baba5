"""`--resume` with damaged checkpoints: say which and why, go on from the newest intact one, or stop in one line.

A `step-*` folder is complete when written, but its files can be damaged
later (a disk fault, a copy cut short, a hand edit). Each test copies a
finished run back to the state a kill at step 5 leaves (checkpoints at steps 2
and 4), damages step 4 one way, resumes in this process and expects the
weights of the uninterrupted run: the resume went on from step 2, exactly.
The MNIST plugin's `best` preset has a one-cycle schedule, dropout, batch norm
and random augmentation, so a lost scheduler or RNG state changes the weights.
"""

import json
import random
import shutil
import subprocess
import sys
import types
from pathlib import Path

import accelerate.checkpointing
import pytest
import torch
from safetensors.torch import load_file

from conftest import REPO_ROOT, clean_env
from plugins.engine import TrainOptions, train
from plugins.errors import DataError

# 4 steps an epoch, 8 steps in all; step 2 is mid-epoch, so the fallback also skips batches.
OPTIONS = dict(plugin="mnist-cnn", preset="best", synthetic=64, batch_size=16, max_steps=8, checkpoint_every=2,
               seed=7)
CLI = ["mnist-cnn", "--preset", "best", "--synthetic", "64", "--batch-size", "16", "--max-steps", "8",
       "--checkpoint-every", "2", "--seed", "7"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread, as in the child processes of test_engine.py: tiny steps run several times faster."""
    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMP_NUM_THREADS", "1")  # the engine then leaves the thread count alone
        torch.set_num_threads(1)
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    output_dir = tmp_path_factory.mktemp("uninterrupted")
    train(TrainOptions(**OPTIONS, output_dir=str(output_dir), keep_checkpoints=10))
    return output_dir


@pytest.fixture
def killed_at_step_5(uninterrupted, tmp_path) -> Path:
    """The folder a run killed at step 5 leaves: checkpoints at steps 2 and 4, no model."""
    run = tmp_path / "run"
    shutil.copytree(uninterrupted, run, ignore=shutil.ignore_patterns("model", "step-0000006", "step-0000008"))
    assert sorted(path.name for path in (run / "checkpoints").iterdir()) == ["step-0000002", "step-0000004"]
    return run


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def empty_folder(folder: Path) -> None:
    for path in folder.iterdir():
        path.unlink()


DAMAGE = {
    "truncated model.safetensors": (lambda step: truncate(step / "model.safetensors"), "model.safetensors"),
    "truncated optimizer.bin": (lambda step: truncate(step / "optimizer.bin"), "optimizer.bin"),
    "truncated random states": (lambda step: truncate(step / "random_states_0.pkl"), "random_states_0.pkl"),
    "trainer_state.json cut short": (lambda step: truncate(step / "trainer_state.json"), "trainer_state.json"),
    "trainer_state.json without a field": (
        lambda step: (step / "trainer_state.json").write_text(json.dumps({"epoch": 1, "global_step": 4})),
        "trainer_state.json"),
    "empty step folder": (empty_folder, "missing"),
}


def assert_same_weights(first: Path, second: Path) -> None:
    a, b = load_file(first / "model" / "model.safetensors"), load_file(second / "model" / "model.safetensors")
    assert a.keys() == b.keys()
    different = [key for key in a if not torch.equal(a[key], b[key])]
    assert not different, f"weights differ after resume: {different[:5]}"


@pytest.mark.parametrize("damage", DAMAGE)
def test_resume_skips_a_damaged_checkpoint_and_ends_exactly(damage, uninterrupted, killed_at_step_5, capsys):
    damage_step_4, named = DAMAGE[damage]
    damage_step_4(killed_at_step_5 / "checkpoints" / "step-0000004")
    train(TrainOptions(**OPTIONS, output_dir=str(killed_at_step_5), resume=True))
    printed = capsys.readouterr().out.splitlines()
    skipped = [line for line in printed if line.startswith("--resume:")]
    assert len(skipped) == 1, printed
    assert "step-0000004" in skipped[0] and named in skipped[0] and "falling back to step-0000002" in skipped[0]
    assert any(line.startswith("Resumed from") and "step-0000002" in line for line in printed), printed
    assert_same_weights(uninterrupted, killed_at_step_5)


def test_a_damaged_final_checkpoint_is_written_again(uninterrupted, tmp_path, capsys):
    """A run that died writing its report, with its last checkpoint damaged since: redo steps 7-8, save step 8 anew."""
    run = tmp_path / "run"
    shutil.copytree(uninterrupted, run, ignore=shutil.ignore_patterns("model", "step-0000002", "step-0000004"))
    final = run / "checkpoints" / "step-0000008"
    truncate(final / "model.safetensors")
    # Checkpoints every 5 steps from here on, so step 8 is saved by the end of the run, not by the loop.
    train(TrainOptions(**{**OPTIONS, "checkpoint_every": 5}, output_dir=str(run), resume=True))
    assert "falling back to step-0000006" in capsys.readouterr().out
    assert_same_weights(uninterrupted, run)
    assert load_file(final / "model.safetensors").keys() == load_file(run / "model" / "model.safetensors").keys()


def test_random_states_that_accelerate_fails_to_apply_stop_the_resume(killed_at_step_5, monkeypatch):
    """`load_state` catches a failure to apply the RNG states and only logs it; the engine must not go on."""
    def refuse(state):
        raise ValueError("cannot apply this state")

    monkeypatch.setattr(accelerate.checkpointing, "random", types.SimpleNamespace(getstate=random.getstate,
                                                                                 setstate=refuse))
    with pytest.raises(DataError, match="did not apply the random states"):
        train(TrainOptions(**OPTIONS, output_dir=str(killed_at_step_5), resume=True))


def test_no_intact_checkpoint_is_one_line_and_exit_code_2(killed_at_step_5):
    checkpoints = killed_at_step_5 / "checkpoints"
    truncate(checkpoints / "step-0000004" / "model.safetensors")
    empty_folder(checkpoints / "step-0000002")
    result = subprocess.run([sys.executable, str(REPO_ROOT / "train.py"), *CLI, "--output-dir", str(killed_at_step_5),
                             "--resume"], cwd=REPO_ROOT, env=clean_env(OMP_NUM_THREADS="1"), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert lines[0].startswith("error: --resume: no intact checkpoint")
    assert "step-0000004 (model.safetensors does not load" in lines[0] and "step-0000002 (" in lines[0]
    assert not (killed_at_step_5 / "model").exists()
