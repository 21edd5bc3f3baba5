"""Real data parallelism over two CPU processes (gloo), launched the way users launch it."""

import json
import shutil
import subprocess
import sys

import pytest
import torch

from conftest import REPO_ROOT, clean_env, free_port

TINY_RUN = ["mnist-cnn", "--preset", "lecture-01a", "--synthetic", "256", "--batch-size", "16", "--max-steps", "8",
            "--checkpoint-every", "4"]


def check_two_process_run(output_dir):
    records = [json.loads(line) for line in (output_dir / "metrics.jsonl").read_text().splitlines()]
    assert records and all(record["num_processes"] == 2 for record in records)
    end = next(record for record in records if record.get("event") == "end")
    assert len(end["weights_fingerprints"]) == 2, "both ranks report their final weights"
    assert len(set(end["weights_fingerprints"])) == 1, "the two ranks ended with identical weights"
    checkpoint = output_dir / "checkpoints" / "step-0000008"
    assert {"random_states_0.pkl", "random_states_1.pkl"} <= {path.name for path in checkpoint.iterdir()}
    results = json.loads((output_dir / "model" / "results.json").read_text())
    assert results["num_processes"] == 2 and results["steps"] == 8

    from transformers import AutoModelForImageClassification
    model = AutoModelForImageClassification.from_pretrained(output_dir / "model", trust_remote_code=True)
    assert model(pixel_values=torch.rand(2, 1, 28, 28)).logits.shape == (2, 10)


def test_torchrun_two_cpu_processes(tmp_path):
    torchrun = shutil.which("torchrun", path=str(REPO_ROOT / ".venv" / "bin")) or shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun not installed")
    result = subprocess.run([torchrun, "--nproc_per_node", "2", "--master_port", str(free_port()), "train.py", *TINY_RUN,
                             "--output-dir", str(tmp_path)], cwd=REPO_ROOT, env=clean_env(OMP_NUM_THREADS="1"),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    check_two_process_run(tmp_path)


def test_accelerate_launch_two_cpu_processes(tmp_path):
    result = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                             "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                             "--main_process_port", str(free_port()), "train.py", *TINY_RUN, "--output-dir", str(tmp_path)],
                            cwd=REPO_ROOT, env=clean_env(OMP_NUM_THREADS="1"), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    check_two_process_run(tmp_path)


def test_accelerate_launch_trains_the_melody_vae_on_two_processes(tmp_path):
    """The newest plugin under the same launcher: its step (keys drawn per melody, the KL ramp read from the
    schedule) keeps two ranks' weights identical, and the saved folder loads with the Hub's snippet classes."""
    result = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                             "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                             "--main_process_port", str(free_port()), "train.py", "melody-vae", "--preset", "best",
                             "--synthetic", "128", "--batch-size", "8", "--max-steps", "4", "--checkpoint-every", "2",
                             "--output-dir", str(tmp_path)],
                            cwd=REPO_ROOT, env=clean_env(OMP_NUM_THREADS="1"), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert records and all(record["num_processes"] == 2 for record in records)
    end = next(record for record in records if record.get("event") == "end")
    assert len(end["weights_fingerprints"]) == 2 and len(set(end["weights_fingerprints"])) == 1

    from transformers import AutoModel
    model = AutoModel.from_pretrained(tmp_path / "model", trust_remote_code=True)
    assert model.sample(2, seed=0).shape == (2, model.config.num_steps)
