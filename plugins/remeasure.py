"""Measure a trained folder's report again (after a change of a plugin's evaluation or its defaults, say) and
rewrite its results.json and card; the training figures are kept as they were.

    python -m plugins.remeasure abc-composer pretrained/abc-composer --preset best --data-dir ../shared/datasets/abc
    python -m plugins.remeasure melody-vae pretrained/melody-vae --preset best --data-dir ../shared/datasets/midi

The plugin's report may write files into the folder itself (the ABC corpus file and sample tune, the melody VAE's
shipped melodies), as a training run does. `python -m plugins.<plugin>.remeasure FOLDER ...` is the same command
with the plugin already chosen.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .cards import repo_id_for, write_model_card
from .engine import TrainOptions, evaluate_saved
from .registry import get_plugin


def main(argv: list[str] | None = None, plugin_name: str | None = None) -> int:
    prog = f"python -m plugins.{plugin_name.replace('-', '_')}.remeasure" if plugin_name else "python -m plugins.remeasure"
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    if plugin_name is None:
        parser.add_argument("plugin", help="the plugin that trained the folder, e.g. melody-vae")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--preset", required=True)
    parser.add_argument("--data-dir", required=True)
    args = parser.parse_args(argv)
    plugin_name = plugin_name or args.plugin
    results_file = args.folder / "results.json"
    results = json.loads(results_file.read_text())
    if results.get("preset") != args.preset:
        parser.error(f"{args.folder} was trained with preset {results.get('preset')!r}, not {args.preset!r}")
    results["test"] = evaluate_saved(TrainOptions(plugin_name, preset=args.preset, data_dir=args.data_dir,
                                                  output_dir=str(args.folder)), args.folder)
    results_file.write_text(json.dumps(results, indent=2) + "\n")
    write_model_card(get_plugin(plugin_name), args.folder, results, repo_id_for(args.folder.resolve().name))
    for metric in results["test"].get("metrics", []):
        print(f"{metric['name']}: {metric['value']} ± {metric['error']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
