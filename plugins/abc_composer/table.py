"""The comparison table of the README and the cards, from the `results.json` of trained folders.

    python -m plugins.abc_composer.table pretrained/abc-composer-lab pretrained/abc-composer-rnn ...
    python -m plugins.abc_composer.table --write-cards pretrained/abc-composer*

prints it; with --write-cards it also stores it in each folder's results.json ("comparison") and rewrites
each folder's card, which then shows it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def row(results: dict, config: dict) -> dict:
    test, recipe = results["test"], results["recipe"]
    window = config["window"]
    steps = results["steps"]
    characters = steps * recipe["batch_size"] * (window or 0)
    generated = test["generated"]
    validation, lab = test["validation"], test.get("validation_lab_tunes")
    return {
        "preset": results["preset"],
        "cell": test.get("cell", ""),
        "parameters": results["parameters"],
        "bpc": (validation["bpc"], validation["error"]),
        "bpc_lab": (lab["bpc"], lab["error"]) if lab else None,
        "by_position": validation["by_position"],
        "valid": (generated["valid"], generated["tunes"]),
        "ended": generated["ended_by_the_model"],
        "copy": generated.get("copy_share_mean"),
        "copy_error": generated.get("copy_share_error"),
        "train_seconds": results["train_seconds"],
        "train_characters": characters,
        "train_speed": characters / max(1e-9, results["train_seconds"]),
        "generation_speed": generated["characters_per_second_single"],
        "data": results["data"],
    }


def markdown(rows: list[dict]) -> str:
    lines = [
        "| preset | model | parameters | validation bits/char (all books) | bits/char, the lab's tunes | "
        "bits/char at positions 1-8 / 9-32 / 33-128 | tunes that parse and play | ended by the model | "
        "8-note n-grams copied | training | training characters/s | generation characters/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for item in rows:
        bands = " / ".join(f"{value:.2f}" for value, _ in item["by_position"].values())
        lab = f"{item['bpc_lab'][0]:.3f} ± {item['bpc_lab'][1]:.3f}" if item["bpc_lab"] else "–"
        everything = f"{item['bpc'][0]:.3f} ± {item['bpc'][1]:.3f}"
        if item["preset"] == "lab":
            everything = "– (saw one book)"
        copy = "–" if item["copy"] is None else f"{100 * item['copy']:.1f} ± {100 * (item['copy_error'] or 0):.1f} %"
        lines.append(
            f"| `{item['preset']}` | {item['cell']} | {item['parameters'] / 1e6:.2f} M | {everything} | {lab} | "
            f"{bands} | {item['valid'][0]} / {item['valid'][1]} | {item['ended']} / {item['valid'][1]} | {copy} | "
            f"{item['train_seconds'] / 60:.1f} min, {item['train_characters'] / 1e6:.2f} M characters | "
            f"{item['train_speed']:,.0f} | {item['generation_speed']:,.0f} |")
    return "\n".join(lines)


def main(arguments: list[str]) -> int:
    write_cards = "--write-cards" in arguments
    folders = [Path(argument) for argument in arguments if argument != "--write-cards"]
    rows = [row(json.loads((folder / "results.json").read_text()), json.loads((folder / "config.json").read_text()))
            for folder in folders]
    table = markdown(rows)
    print(table)
    if write_cards:
        from ..cards import write_comparison
        from ..registry import get_plugin

        write_comparison(get_plugin("abc-composer"), folders, table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
