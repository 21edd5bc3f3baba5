"""Where a demo's weights come from, and loading them safely.

Order: the Hub repo (when online), the local Hugging Face cache (when
`HF_HUB_OFFLINE=1`), then the folder shipped in this repository's
`pretrained/`. The demo says which one it used. Weights are always loaded
with this repository's own model classes from safetensors: the hub never runs
code downloaded from the Hub.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cards import repo_id_for
from .errors import UnusableInputError

logger = logging.getLogger("dsl_hub")
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


# huggingface_hub's HTTP client has no timeout of its own: a Hub (or a proxy) that accepts the connection
# and never answers would hold a Space's start for ever. Every call gets this deadline instead.
HUB_TIMEOUT_SECONDS = float(os.environ.get("DSL_HUB_HUB_TIMEOUT", "5"))
# Set by the first call that could not reach the Hub: the other weight folders of the same start go
# straight to their shipped copies instead of each waiting out the timeout again.
_hub_unavailable: str | None = None


def use_hub_timeouts(seconds: float = HUB_TIMEOUT_SECONDS) -> None:
    """Give every huggingface_hub HTTP call (metadata, downloads, uploads) a connect and read deadline.

    Setting the client's timeout is not enough: many huggingface_hub calls pass `timeout=None` per
    request, which means "no deadline" to httpx. A request hook fills in the deadline wherever a request
    carries none, on the library's own client (its other hooks: user agent, offline mode)."""
    import huggingface_hub
    from huggingface_hub.utils._http import default_client_factory

    def with_deadline(request) -> None:
        limits = request.extensions.get("timeout") or {}
        request.extensions["timeout"] = {phase: seconds if limits.get(phase) is None else limits[phase]
                                         for phase in ("connect", "read", "write", "pool")}

    def client_with_deadline():
        client = default_client_factory()
        client.event_hooks = {**client.event_hooks, "request": [*client.event_hooks["request"], with_deadline]}
        return client

    huggingface_hub.set_client_factory(client_with_deadline)


def resolve_weights(folder_name: str) -> tuple[Path, str]:
    """(folder holding config.json + model.safetensors, a sentence saying where it came from)."""
    global _hub_unavailable
    repo_id = repo_id_for(folder_name)
    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
    why = (f"offline mode is on (HF_HUB_OFFLINE) and {repo_id} is not in the local cache" if offline
           else _hub_unavailable)
    if why is None:
        try:
            from huggingface_hub import snapshot_download

            folder = Path(snapshot_download(
                repo_id, etag_timeout=HUB_TIMEOUT_SECONDS,
                allow_patterns=["*.json", "*.safetensors", "*.md", "*.png", "*.mid", "*.wav"]))
            if (folder / "config.json").is_file():
                return folder, f"{repo_id} from the Hugging Face Hub"
            why = f"{repo_id} on the Hub has no config.json"
        except Exception as error:  # noqa: BLE001 - whatever the Hub did, the shipped copy serves; the reason is kept
            why, hub_down = _why_not_from_the_hub(error, repo_id)
            if hub_down:
                _hub_unavailable = why
                logger.warning("not using the Hugging Face Hub for the rest of this start: %s", why)
    if offline or why == _hub_unavailable:
        cached = _cached_snapshot(repo_id)
        if cached is not None:
            return cached, f"{repo_id} from the local Hugging Face cache" + ("" if offline else f" ({why})")
    shipped = PRETRAINED_ROOT / folder_name
    if (shipped / "config.json").is_file():
        # A calm note of where the weights come from; the reason the Hub copy was not used comes second.
        return shipped, (f"the copy shipped with the hub, pretrained/{folder_name} (the Hub copy, {repo_id}, "
                         f"is used when it can be fetched; at this start {why})")
    raise FileNotFoundError(f"no weights for {folder_name}: {why}, and {shipped} does not exist "
                            "(train them with train.py)")


def _cached_snapshot(repo_id: str) -> Path | None:
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # noqa: BLE001 - not cached (or a broken cache entry): the shipped copy serves
        return None
    return folder if (folder / "config.json").is_file() else None


def _why_not_from_the_hub(error: Exception, repo_id: str) -> tuple[str, bool]:
    """(why the Hub copy was not used, whether the Hub itself is down rather than this one repo)."""
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    text = str(error)
    if isinstance(error, RepositoryNotFoundError):
        return f"{repo_id} is not on the Hub, or is private", False
    if "Timeout" in text.split("\n")[0] or "timed out" in text:
        return f"the Hugging Face Hub did not answer within {HUB_TIMEOUT_SECONDS:g} s", True
    if "ConnectError" in text.split("\n")[0] or isinstance(error, OSError) and not isinstance(error, HfHubHTTPError):
        return "the Hugging Face Hub could not be reached", True
    if isinstance(error, HfHubHTTPError) and error.response is not None and error.response.status_code >= 500:
        return f"the Hugging Face Hub answered HTTP {error.response.status_code}", True
    first_line = text.splitlines()[0][:120] if text else ""
    return f"{repo_id} could not be loaded from the Hub ({type(error).__name__}: {first_line})", False


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
