"""Where a demo's weights come from, and loading them safely.

Order: the Hub repo (when online), the local Hugging Face cache (when
`HF_HUB_OFFLINE=1`), then the folder shipped in this repository's
`pretrained/`. The demo says which one it used. Weights are always loaded
with this repository's own model classes from safetensors: the hub never runs
code downloaded from the Hub.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cards import repo_id_for
from .errors import UnusableInputError

REPO_ROOT = Path(__file__).resolve().parents[1]
PRETRAINED_ROOT = Path(os.environ.get("DSL_HUB_PRETRAINED", REPO_ROOT / "pretrained"))


@dataclass
class DemoModel:
    model: Any
    folder: Path
    source: str
    results: dict[str, Any] = field(default_factory=dict)

    def headline(self) -> str:
        """First measured metric of the card, e.g. 'Test accuracy 99.70 ± 0.05 %'."""
        from .cards import format_metric

        metrics = self.results.get("test", {}).get("metrics", [])
        return f"{metrics[0]['name']} {format_metric(metrics[0])}" if metrics else ""


def chosen_model(models: dict[str, DemoModel], choice) -> DemoModel:
    """The demo model a request chose by its label; any other value (the API takes anything) is refused."""
    if not isinstance(choice, str) or choice not in models:
        raise UnusableInputError(f"Unknown model {str(choice)[:60]!r}; choose one of: {', '.join(models)}.")
    return models[choice]


def resolve_weights(folder_name: str) -> tuple[Path, str]:
    """(folder holding config.json + model.safetensors, a sentence saying where it came from)."""
    repo_id = repo_id_for(folder_name)
    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
    why = "offline and not in the Hugging Face cache" if offline else "not reachable on the Hub"
    try:
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(repo_id, local_files_only=offline, etag_timeout=5,
                                        allow_patterns=["*.json", "*.safetensors", "*.md", "*.png", "*.mid", "*.wav"]))
        if (folder / "config.json").is_file():
            return folder, f"{repo_id} from {'the local Hugging Face cache' if offline else 'the Hugging Face Hub'}"
        why = "on the Hub without a config.json"
    except Exception as error:  # noqa: BLE001 - whatever the Hub did, the shipped copy serves; the reason is kept
        why = _why_not_from_the_hub(error, why)
    shipped = PRETRAINED_ROOT / folder_name
    if (shipped / "config.json").is_file():
        return shipped, f"pretrained/{folder_name}, shipped with the hub ({repo_id} is {why})"
    raise FileNotFoundError(f"no weights for {folder_name}: {repo_id} is {why}, and {shipped} does not exist "
                            "(train them with train.py)")


def _why_not_from_the_hub(error: Exception, default: str) -> str:
    from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled, RepositoryNotFoundError

    if isinstance(error, RepositoryNotFoundError):
        return "not on the Hub (no such repo, or a private one)"
    if isinstance(error, (LocalEntryNotFoundError, OfflineModeIsEnabled, OSError)):
        return default  # no connection (or offline) and nothing cached
    return f"not loadable from the Hub ({type(error).__name__}: {str(error).splitlines()[0][:120] if str(error) else ''})"


def load_demo_models(plugin) -> tuple[dict[str, DemoModel], dict[str, str]]:
    """Load every weight folder a plugin's demo offers; returns (loaded, failed label -> reason)."""
    loaded, failed = {}, {}
    for label, folder_name in plugin.weight_folders().items():
        try:
            folder, source = resolve_weights(folder_name)
            results_file = folder / "results.json"
            results = json.loads(results_file.read_text()) if results_file.is_file() else {}
            loaded[label] = DemoModel(plugin.load_for_demo(folder), folder, source, results)
        except Exception as error:  # noqa: BLE001 - one bad folder must not take the tab down
            failed[label] = f"{type(error).__name__}: {error}"
    return loaded, failed
