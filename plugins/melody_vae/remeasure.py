"""Measure a trained folder's report again (after a change of the checks in music.py, say) and rewrite its
results.json and card; the training figures are kept as they were.

    python -m plugins.melody_vae.remeasure pretrained/melody-vae --preset best --data-dir ../shared/datasets/midi
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..cards import repo_id_for, write_model_card
from ..engine import TrainOptions, evaluate_saved
from ..registry import get_plugin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plugins.melody_vae.remeasure", description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--preset", required=True)
    parser.add_argument("--data-dir", required=True)
    args = parser.parse_args(argv)
    results_file = args.folder / "results.json"
    results = json.loads(results_file.read_text())
    if results.get("preset") != args.preset:
        parser.error(f"{args.folder} was trained with preset {results.get('preset')!r}, not {args.preset!r}")
    # The report writes the shipped melodies and the sample into the folder itself, as a training run does.
    results["test"] = evaluate_saved(TrainOptions("melody-vae", preset=args.preset, data_dir=args.data_dir,
                                                  output_dir=str(args.folder)), args.folder)
    results_file.write_text(json.dumps(results, indent=2) + "\n")
    write_model_card(get_plugin("melody-vae"), args.folder, results, repo_id_for(args.folder.resolve().name))
    for metric in results["test"]["metrics"]:
        print(f"{metric['name']}: {metric['value']} ± {metric['error']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
