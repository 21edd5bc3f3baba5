"""Every shipped weights folder is a complete `save_pretrained` folder whose card's code runs as written.

The snippet is taken from the card, its repo id replaced by the folder's
path, and run in a fresh interpreter whose working directory is elsewhere and
which cannot import this repository (`python -I`): exactly what a Hub user
with only the runtime packages installed would do.
"""

import json
import re
import subprocess
import sys

import pytest
import yaml
from safetensors import safe_open

from conftest import REPO_ROOT, clean_env

SHIPPED = sorted(path for path in (REPO_ROOT / "pretrained").glob("*") if (path / "config.json").is_file())
MAX_FOLDER_BYTES = 10 * 2**20


def usage_snippet(card: str) -> str:
    match = re.search(r"## Usage\s+```python\n(.*?)```", card, re.S)
    assert match, "the card has a ## Usage section with a python block"
    return match.group(1)


@pytest.mark.parametrize("folder", SHIPPED, ids=[path.name for path in SHIPPED])
def test_folder_is_complete_small_and_safetensors_only(folder):
    files = {path.name for path in folder.iterdir()}
    assert {"config.json", "model.safetensors", "README.md", "results.json"} <= files
    assert not any(name.endswith((".bin", ".pt", ".pth", ".pkl", ".ckpt")) for name in files), "no pickles"
    assert sum(path.stat().st_size for path in folder.iterdir()) < MAX_FOLDER_BYTES
    config = json.loads((folder / "config.json").read_text())
    for module in {entry.split(".")[0] for entry in config["auto_map"].values()}:
        assert f"{module}.py" in files, f"{module}.py must travel with the weights"
    with safe_open(folder / "model.safetensors", "pt") as weights:
        assert list(weights.keys())


@pytest.mark.parametrize("folder", SHIPPED, ids=[path.name for path in SHIPPED])
def test_card_metrics_are_the_saved_results(folder):
    card = (folder / "README.md").read_text()
    metadata = yaml.safe_load(card.split("---")[1])
    results = json.loads((folder / "results.json").read_text())
    saved = {metric["name"]: metric["value"] for metric in results["test"].get("metrics", [])}
    carded = {metric["name"]: metric["value"]
              for entry in metadata.get("model-index", []) for result in entry["results"] for metric in result["metrics"]}
    assert carded == saved


@pytest.mark.parametrize("folder", SHIPPED, ids=[path.name for path in SHIPPED])
def test_card_usage_snippet_runs_in_a_fresh_process_without_the_repo(folder, tmp_path):
    snippet = re.sub(r'from_pretrained\("[^"]+"', f'from_pretrained("{folder}"', usage_snippet((folder / "README.md").read_text()))
    script = tmp_path / "use_it.py"
    script.write_text(snippet + "\nimport sys\nassert not any('work/main' in p and 'site-packages' not in p for p in sys.path)\n"
                      "try:\n    import plugins\nexcept ImportError:\n    pass\nelse:\n    raise SystemExit('repo importable')\n")
    result = subprocess.run([sys.executable, "-I", str(script)], cwd=tmp_path, env=clean_env(), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    if folder.name.startswith("mnist-cnn"):
        assert result.stdout.strip().splitlines()[-1] == "1", "the snippet's stroke reads as a 1"
