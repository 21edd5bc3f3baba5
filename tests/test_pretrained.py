"""Every shipped weights folder is a complete `save_pretrained` folder whose card's code runs as written.

Each card's code runs as written in tests/test_hub_upload.py, on the folder
hub_upload.py builds for the Hub (laid out as a Hugging Face cache).
"""

import json

import pytest
import yaml
from safetensors import safe_open

from conftest import REPO_ROOT

SHIPPED = sorted(path for path in (REPO_ROOT / "pretrained").glob("*") if (path / "config.json").is_file())
MAX_FOLDER_BYTES = 10 * 2**20
# The MIT lab's faithful model (Embedding 256 -> LSTM 1024 -> Dense) has 5.35 M parameters: 10.7 MB even stored in
# bfloat16, the smallest that loads back without code of our own. Its folder may hold that and the usual extras.
LARGER_FOLDERS = {"abc-composer-lab": 12 * 2**20}


@pytest.mark.parametrize("folder", SHIPPED, ids=[path.name for path in SHIPPED])
def test_folder_is_complete_small_and_safetensors_only(folder):
    files = {path.name for path in folder.iterdir()}
    assert {"config.json", "model.safetensors", "README.md", "results.json"} <= files
    assert not any(name.endswith((".bin", ".pt", ".pth", ".pkl", ".ckpt")) for name in files), "no pickles"
    assert sum(path.stat().st_size for path in folder.iterdir()) < LARGER_FOLDERS.get(folder.name, MAX_FOLDER_BYTES)
    config = json.loads((folder / "config.json").read_text())
    for module in {entry.split(".")[0] for entry in config["auto_map"].values()}:
        assert f"{module}.py" in files, f"{module}.py must travel with the weights"
    with safe_open(folder / "model.safetensors", "pt") as weights:
        assert list(weights.keys())


@pytest.mark.parametrize("folder", SHIPPED, ids=[path.name for path in SHIPPED])
def test_card_metadata_follows_the_hub_spec_and_holds_the_saved_results(folder):
    """huggingface_hub's own parser reads the card; data sets are Hub ids; the model-index (only for data on
    the Hub) and the results table carry exactly the run's saved figures, and no error sits in `args`."""
    from huggingface_hub import ModelCard

    card_text = (folder / "README.md").read_text()
    card = ModelCard(card_text)
    metadata = yaml.safe_load(card_text.split("---")[1])
    results = json.loads((folder / "results.json").read_text())
    saved = {metric["name"]: metric["value"] for metric in results["test"].get("metrics", [])}
    assert all(name.count("/") == 1 for name in metadata.get("datasets", [])), metadata.get("datasets")
    if "model-index" in metadata:
        evaluations = card.data.eval_results
        assert {result.metric_name: result.metric_value for result in evaluations} == saved
        assert all(result.dataset_type in metadata["datasets"] and not result.metric_args for result in evaluations)
    for name in saved:
        assert f"| {name} |" in card_text, f"{name} is missing from the card's results table"
    if results.get("test", {}).get("data_kind") == "mnist" or folder.name.startswith("mnist-"):
        assert metadata["datasets"] == ["ylecun/mnist"] and "chinese-characters" not in metadata["tags"]
        assert "MNIST" in card_text.split("## Training")[-1] and "Arphic" not in card_text
