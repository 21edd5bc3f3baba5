"""The Hugging Face Space folders, written from the plugins: `spaces/<plugin>/` for each and `spaces/hub/`.

A Space folder is derived data (a plugin's `space` card, its title and weight
folders, the pinned requirements), so it is generated, never edited by hand:
`python -m plugins spaces` rewrites them and `--check` fails when one is stale
(a test runs the check). `hub_upload.py --space` then copies a folder with the
code and weights it needs.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

from .cards import DEFAULT_HUB_OWNER
from .registry import get_plugin, plugin_names

ROOT = Path(__file__).resolve().parents[1]
HUB = "hub"
HUB_TITLE = "Deep Structured Learning Hub"
HUB_TAGLINE = "Digits, music and Chinese glyphs: a deep learning lecture"
HUB_SUMMARY = ("Demos of the lecture *Deep Structured Learning*: a CNN that reads handwritten digits, an LSTM that "
               "composes music from MIDI, and GANs that invent Chinese glyphs. Each tab serves a model trained with "
               "the hub's Accelerate engine.")
# What a Space installs with pip: the hub's runtime requirements, pinned as in requirements.txt (Gradio
# itself comes from the Space's sdk_version). A test checks that the Space's code imports each of them and
# nothing else outside the standard library.
SPACE_REQUIREMENTS = ("torch", "transformers", "accelerate", "huggingface-hub", "safetensors", "numpy", "pillow",
                      "pyyaml", "tqdm", "mido", "music21", "mcp")
# Imported by Gradio, not by our code: its MCP server mode (plugins.hub.serve turns it on) needs `mcp`.
GRADIO_EXTRAS = ("mcp",)
# The Spaces builder runs `pip install -r requirements.txt` against PyPI, where torch's Linux wheel pulls the
# CUDA stack; the CPU build ("+cpu" in the pin) is on PyTorch's own index.
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# The Spaces image defaults to Python 3.10, which this pinned set does not support (transformers 5 needs 3.11).
PYTHON_VERSION = "3.11"
SHORT_DESCRIPTION_LIMIT = 60  # characters, the Spaces configuration reference's limit

APP = '''"""{title}, as a Gradio Space.

    python spaces/{folder}/app.py   # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT change it)
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# In a Space the code sits beside this file; in the repository it is two folders up.
sys.path.insert(0, str(HERE if (HERE / "plugins").is_dir() else HERE.parents[1]))

from plugins.hub import serve  # noqa: E402

if __name__ == "__main__":
    serve({call})
'''


def pinned(names: tuple[str, ...] = SPACE_REQUIREMENTS, root: Path = ROOT) -> list[str]:
    lines = {line.split("==")[0].strip().lower(): line.strip()
             for line in (root / "requirements.txt").read_text().splitlines() if "==" in line}
    return [lines[name] for name in names]


def short_description(title: str, summary: str, tagline: str = "") -> str:
    """The one line the Spaces listing shows under a Space's title (at most 60 characters): the card's
    tagline, else the summary's first clause when it fits, else the title."""
    clause = re.split(r"[.:;]\s", summary.strip(), maxsplit=1)[0].strip().rstrip(".")
    for text in (tagline, clause, title):
        if 0 < len(text) <= SHORT_DESCRIPTION_LIMIT:
            return text
    return title[:SHORT_DESCRIPTION_LIMIT - 1].rstrip() + "…"


def _readme(title: str, emoji: str, colors: tuple[str, str], models: list[str], summary: str, pinned_space: bool,
            gradio_version: str, tagline: str) -> str:
    front = [
        "---", f"title: {title.replace(':', ' -')}", f"emoji: {emoji}", f"colorFrom: {colors[0]}",
        f"colorTo: {colors[1]}", "sdk: gradio", f"sdk_version: {gradio_version}", f'python_version: "{PYTHON_VERSION}"',
        "app_file: app.py", f"short_description: {json.dumps(tagline, ensure_ascii=False)}",
        f"pinned: {'true' if pinned_space else 'false'}", "license: mit", "models:",
        *(f"- {model}" for model in models), "---", "", "",
    ]
    return "\n".join(front) + textwrap.fill(summary, 80) + "\n\nPart of the Deep Structured Learning Hub.\n"


def space_requirements(root: Path = ROOT) -> str:
    """The requirements.txt of every Space: PyTorch's CPU index, then the pinned runtime packages."""
    return f"--extra-index-url {TORCH_CPU_INDEX}\n" + "\n".join(pinned(root=root)) + "\n"


def space_files(root: Path = ROOT) -> dict[str, str]:
    """Relative path -> text of every generated Space file."""
    gradio = pinned(("gradio",), root)[0].split("==")[1]
    requirements = space_requirements(root)
    files: dict[str, str] = {}
    everything_models, everything_packages = [], []
    for name in plugin_names():
        plugin = get_plugin(name)
        card = plugin.space
        title = card.title or plugin.title
        models = [f"{DEFAULT_HUB_OWNER}/{folder}" for folder in plugin.weight_folders().values()]
        everything_models += models
        everything_packages += [package for package in card.system_packages if package not in everything_packages]
        folder = f"spaces/{name}"
        files[f"{folder}/app.py"] = APP.format(title=title, folder=name, call=f'["{name}"], title={title!r}')
        files[f"{folder}/README.md"] = _readme(title, card.emoji, (card.color_from, card.color_to), models,
                                               card.summary or plugin.description, False, gradio,
                                               short_description(title, card.summary or plugin.description, card.tagline))
        files[f"{folder}/requirements.txt"] = requirements
        if card.system_packages:
            files[f"{folder}/packages.txt"] = "\n".join(card.system_packages) + "\n"
    files[f"spaces/{HUB}/app.py"] = APP.format(title=f"The {HUB_TITLE} (every registered plugin in one app)",
                                               folder=HUB, call="")
    files[f"spaces/{HUB}/README.md"] = _readme(HUB_TITLE, "🧠", ("indigo", "pink"), everything_models, HUB_SUMMARY,
                                               True, gradio, HUB_TAGLINE)
    files[f"spaces/{HUB}/requirements.txt"] = requirements
    files[f"spaces/{HUB}/packages.txt"] = "\n".join(everything_packages) + "\n"
    return files


def stale_space_files(root: Path = ROOT) -> list[str]:
    """Generated files that are missing or differ, and files in spaces/ that nothing generates."""
    files = space_files(root)
    stale = [path for path, text in files.items()
             if not (root / path).is_file() or (root / path).read_text() != text]
    present = {str(path.relative_to(root)) for path in (root / "spaces").rglob("*") if path.is_file()
               and "__pycache__" not in path.parts}
    return sorted(stale + [path for path in present if path not in files])


def write_spaces(root: Path = ROOT) -> list[str]:
    """Write every generated Space file, remove those nothing generates; returns what changed."""
    changed = stale_space_files(root)
    files = space_files(root)
    for path in changed:
        target = root / path
        if path in files:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(files[path])
        else:
            target.unlink()
    for folder in sorted((root / "spaces").iterdir(), reverse=True):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return changed
