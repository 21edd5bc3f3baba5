"""The comparison table of the README and the cards, from the `results.json` of trained folders.

    python -m plugins.melody_vae.table pretrained/melody-vae-autoencoder pretrained/melody-vae-vae pretrained/melody-vae
    python -m plugins.melody_vae.table --write-cards pretrained/melody-vae-autoencoder ...

prints the table and the issue's claim (the VAE's midpoints against its own samples and against the autoencoder's
midpoints, over the same pairs); with --write-cards it also stores them in each folder's results.json
("comparison") and rewrites each folder's card.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from .evaluation import paired_difference


def cell(values, digits: int = 1, scale: float = 100.0) -> str:
    mean, error = values
    return f"{scale * mean:.{digits}f} ± {scale * (error or 0):.{digits}f}"


def markdown(folders: list[Path]) -> str:
    runs = [json.loads((folder / "results.json").read_text()) for folder in folders]
    lines = [
        "| preset | code | parameters | held-out reconstruction, % of steps (greedy) | KL per melody, nats | "
        "prior samples musical, % | midpoints musical, % (slerp) | midpoints musical, % (lerp) | "
        "steps changed per interpolation step, % | training |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for results in runs:
        test = results["test"]
        rebuilt, slerp = test["reconstruction"], test["interpolation"]["slerp"]
        kl = cell(rebuilt["kl"], 2, 1.0) if rebuilt.get("kl") else "–"
        lines.append(
            f"| `{results['preset']}` | {'Gaussian' if test['variational'] else 'a point'} | "
            f"{results['parameters'] / 1e6:.2f} M | {cell(rebuilt['greedy_accuracy'])} | {kl} | "
            f"{cell(test['prior_samples']['musical'])} | {cell(slerp['midpoint_musical'])} | "
            f"{cell(test['interpolation']['lerp']['midpoint_musical'])} | {cell(slerp['mean_change'])} | "
            f"{results['train_seconds'] / 60:.0f} min, {results['steps']:,} steps |")
    corpus = runs[0]["test"]["corpus_musical"]
    lines += ["", f"Held-out corpus melodies that pass the same checks: {cell(corpus['musical'])} % "
                  f"({corpus['count']:,} melodies)."]
    plain = next((results for results in runs if not results["test"]["variational"]), None)
    for results in runs:
        test = results["test"]
        if not test["variational"]:
            continue
        samples = test["prior_samples"]["musical"]
        for method in ("slerp", "lerp"):
            midpoints = test["interpolation"][method]["midpoint_musical"]
            versus_samples = midpoints[0] - samples[0], math.hypot(midpoints[1], samples[1])
            claim = (f"`{results['preset']}`, {method}: midpoints minus its own prior samples {cell(versus_samples)} "
                     "points (independent errors)")
            if plain is not None:
                own, other = (run["test"]["interpolation"][method]["midpoint_verdicts"] for run in (results, plain))
                claim += (f"; minus the autoencoder's {method} midpoints over the same pairs "
                          f"{cell(paired_difference(own, other))} points (paired error)")
            lines.append(f"- {claim}.")
    return "\n".join(lines)


def main(arguments: list[str]) -> int:
    write_cards = "--write-cards" in arguments
    folders = [Path(argument) for argument in arguments if argument != "--write-cards"]
    table = markdown(folders)
    print(table)
    if write_cards:
        from ..cards import write_comparison
        from ..registry import get_plugin

        write_comparison(get_plugin("melody-vae"), folders, table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
