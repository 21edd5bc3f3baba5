"""The training engine's promises: metrics, checkpoints, exact resume after a kill, Ctrl-C, refusals.

Runs go through `python train.py` in child processes (as a user runs them),
on the MNIST plugin's synthetic digits: small enough to be quick, with
dropout, batch norm and random augmentation, so any RNG that a resume failed
to restore shows up as different weights.
"""

import json
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from conftest import REPO_ROOT, clean_env

# 40 steps per epoch; 100 steps cross two epoch boundaries; a checkpoint every 15 steps lands mid-epoch.
RUN = ["mnist-cnn", "--preset", "best", "--synthetic", "640", "--batch-size", "16", "--max-steps", "100",
       "--checkpoint-every", "15", "--seed", "7"]
ENV = clean_env(OMP_NUM_THREADS="1")


def train_command(output_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, str(REPO_ROOT / "train.py"), *RUN, "--output-dir", str(output_dir), *extra]


def run_train(output_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    result = subprocess.run(train_command(output_dir, *extra), cwd=REPO_ROOT, env=ENV,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def weights(output_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(output_dir / "model" / "model.safetensors")


def assert_same_weights(first: Path, second: Path) -> None:
    a, b = weights(first), weights(second)
    assert a.keys() == b.keys()
    different = [key for key in a if not torch.equal(a[key], b[key])]
    assert not different, f"weights differ after resume: {different[:5]}"


def start_and_wait_for_checkpoint(output_dir: Path, step: int) -> subprocess.Popen:
    process = subprocess.Popen(train_command(output_dir), cwd=REPO_ROOT, env=ENV,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    checkpoint = output_dir / "checkpoints" / f"step-{step:07d}"
    deadline = time.monotonic() + 240
    while not checkpoint.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no checkpoint at step {step}: {process.stderr.read()[-2000:]}")
        time.sleep(0.05)
    return process


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    output_dir = tmp_path_factory.mktemp("uninterrupted")
    run_train(output_dir)
    return output_dir


def test_metrics_log_and_final_folder(uninterrupted):
    records = [json.loads(line) for line in (uninterrupted / "metrics.jsonl").read_text().splitlines()]
    assert all(record["num_processes"] == 1 for record in records)
    assert [r["epoch"] for r in records if r.get("split") == "validation"] == [1, 2, 2.5]
    assert records[-1]["split"] == "test" and records[-1]["step"] == 100
    checkpoints = sorted(path.name for path in (uninterrupted / "checkpoints").iterdir())
    assert checkpoints == ["step-0000090", "step-0000100"], "keeps the last two, including the final one"
    results = json.loads((uninterrupted / "model" / "results.json").read_text())
    assert results["steps"] == 100 and results["num_processes"] == 1


def test_sigkill_then_resume_equals_uninterrupted_run(uninterrupted, tmp_path):
    process = start_and_wait_for_checkpoint(tmp_path, 15)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "model").exists(), "the run was killed before it finished"
    result = run_train(tmp_path, "--resume")
    assert "Resumed from" in result.stdout + result.stderr
    assert_same_weights(uninterrupted, tmp_path)
    steps = [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps), "records logged after the last checkpoint of the killed run are dropped"


def test_resuming_a_finished_run_adds_no_step(uninterrupted, tmp_path):
    """A run that died after its last step (say, while writing its report) resumes into the report only."""
    finished = tmp_path / "run"
    shutil.copytree(uninterrupted, finished, ignore=shutil.ignore_patterns("model"))
    result = run_train(finished, "--resume")
    assert result.returncode == 0, result.stderr[-2000:]
    assert_same_weights(uninterrupted, finished)
    ends = [record for record in map(json.loads, (finished / "metrics.jsonl").read_text().splitlines())
            if record.get("event") == "end"]
    assert [record["step"] for record in ends] == [100, 100]


def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(uninterrupted, tmp_path):
    process = start_and_wait_for_checkpoint(tmp_path, 15)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-2000:]
    assert "checkpoint saved" in stderr and "--resume" in stderr
    assert "Traceback" not in stderr
    saved = sorted(path.name for path in (tmp_path / "checkpoints").iterdir())
    assert saved and all(name.startswith("step-") for name in saved)
    run_train(tmp_path, "--resume")
    assert_same_weights(uninterrupted, tmp_path)


KILL_DURING_SAVE = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    import accelerate
    sys.path.insert(0, {root!r})
    real_save_state = accelerate.Accelerator.save_state
    calls = []

    def save_state_then_die(self, output_dir=None, **kwargs):
        calls.append(output_dir)
        if len(calls) == 2:  # the second checkpoint: write half of it, then die like a SIGKILL
            Path(output_dir, "model.safetensors").write_bytes(b"half a file")
            os.kill(os.getpid(), signal.SIGKILL)
        return real_save_state(self, output_dir, **kwargs)

    accelerate.Accelerator.save_state = save_state_then_die
    import train
    sys.exit(train.main(sys.argv[1:]))
""")


def test_kill_during_checkpoint_write_keeps_previous_checkpoint(uninterrupted, tmp_path):
    script = tmp_path / "dies_while_saving.py"
    script.write_text(KILL_DURING_SAVE.format(root=str(REPO_ROOT)))
    output_dir = tmp_path / "run"
    result = subprocess.run([sys.executable, str(script), *RUN, "--output-dir", str(output_dir)], cwd=REPO_ROOT,
                            env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == -signal.SIGKILL
    folders = sorted(path.name for path in (output_dir / "checkpoints").iterdir())
    assert folders == [".incomplete-step-0000030", "step-0000015"]
    run_train(output_dir, "--resume")
    assert not any(path.name.startswith(".incomplete") for path in (output_dir / "checkpoints").iterdir())
    assert_same_weights(uninterrupted, output_dir)


def test_refuses_to_overwrite_an_earlier_run(uninterrupted):
    result = subprocess.run(train_command(uninterrupted), cwd=REPO_ROOT, env=ENV, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert "--resume" in result.stderr and "Traceback" not in result.stderr


def test_unknown_plugin_and_preset_are_named_with_the_choices():
    result = subprocess.run([sys.executable, "train.py", "no-such-plugin"], cwd=REPO_ROOT, env=ENV,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "mnist-cnn" in result.stderr and "Traceback" not in result.stderr
    result = subprocess.run([sys.executable, "train.py", "mnist-cnn", "--preset", "nope"], cwd=REPO_ROOT, env=ENV,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "lecture-01a" in result.stderr and "Traceback" not in result.stderr


def test_missing_data_names_both_ways_to_get_it(tmp_path):
    result = subprocess.run([sys.executable, "train.py", "mnist-cnn", "--data-dir", str(tmp_path),
                             "--output-dir", str(tmp_path / "out")], cwd=REPO_ROOT, env=ENV,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "--data-dir" in result.stderr and "ylecun/mnist" in result.stderr and "Traceback" not in result.stderr


def test_bf16_mixed_precision_trains_on_cpu(tmp_path):
    result = subprocess.run([sys.executable, "train.py", "mnist-cnn", "--preset", "lecture-01", "--synthetic", "64",
                             "--batch-size", "16", "--max-steps", "4", "--mixed-precision", "bf16",
                             "--output-dir", str(tmp_path)], cwd=REPO_ROOT, env=ENV, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((tmp_path / "model" / "results.json").read_text())["mixed_precision"] == "bf16"


def test_evaluate_reports_a_saved_models_test_figures(uninterrupted):
    result = subprocess.run([sys.executable, "train.py", "mnist-cnn", "--evaluate", str(uninterrupted / "model"),
                             "--synthetic", "640", "--seed", "7"], cwd=REPO_ROOT, env=ENV, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    saved = json.loads((uninterrupted / "model" / "results.json").read_text())["test"]["metrics"][0]
    assert f"Test accuracy: {saved['value']:.2f} ± {saved['error']:.2f} %" in result.stdout
