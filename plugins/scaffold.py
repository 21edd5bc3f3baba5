"""`python -m plugins new <name>`: a new topic as one working folder, written from `plugins/_template/`.

The new plugin trains (on made-up data until its `load_data` reads real data),
has a demo tab and a test, and shows up in `train.py --list` and in the hub
with no other edit: the registry finds every folder of `plugins/`. Its Space
folder is written too (`plugins.spaces`). It starts on the MLP family of
`models/mlp_classifier/`; a topic with a new model family adds
`models/<family>/` beside it.
"""

from __future__ import annotations

from pathlib import Path

from .base import PLUGIN_NAME

TEMPLATE = Path(__file__).resolve().parent / "_template"


def new_plugin(name: str, root: Path) -> list[Path]:
    """Write `plugins/<package>/` for a plugin called `name`; returns the files written."""
    if not PLUGIN_NAME.match(name):
        raise ValueError(f"plugin name {name!r} must be lower-case words joined by dashes, e.g. 'my-topic'")
    package = name.replace("-", "_")
    folder = root / "plugins" / package
    if folder.exists():
        raise FileExistsError(f"{folder} already exists")
    values = {"name": name, "package": package, "title": name.replace("-", " ").capitalize(),
              "class_name": "".join(word.capitalize() for word in name.split("-")) + "Plugin"}
    files = {(f"test_{package}.py" if template.name == "test_plugin.py.tmpl" else template.name[:-5]):
             template.read_text().format(**values) for template in sorted(TEMPLATE.glob("*.tmpl"))}
    folder.mkdir()
    for file_name, text in files.items():
        (folder / file_name).write_text(text)
    return [folder / file_name for file_name in files]
