"""Glyph GAN benchmarks: training steps per second per preset, against the lecture's Keras loop, and grid latency.

    python bench/bench_gan.py [--steps 40] [--rounds 5] [--threads 1 2] [--json bench/results/gan.json]

Training speed is the plugin's real training step (D then G, as `train.py`
runs it, inside `accelerator.accumulate`) on batches of 32 48x48 glyph-shaped
images, for the lecture's two networks and the `best` recipe, with each of
the thread counts asked for and with/without channels-last memory. For the
lecture presets the peer is the lecture's own loop in Keras 3 on the torch
backend (bench/keras_gan_baseline.py), run here in the same process, batch and
threads, when Keras is installed (bench/requirements.txt); without it the
ratio is left out. The contenders alternate (bench/alternate.py): one warm-up
round each, then `--rounds` rounds of `--steps` iterations (five times as many
for the fast MLP GAN), and each prints its median and range, with the ratio of
medians and the range of the per-round ratios. Latency is
`generate_grid(generator, 64, seed)` end to end (noise, forward, tiling into
a PIL image), as the demo's API serves it. Numbers are per machine: the
machine and its load average are printed with them.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plugins.cards import describe_hardware  # noqa: E402
from plugins.engine import make_accelerator  # noqa: E402
from plugins.font_gan import FontGanPlugin  # noqa: E402
from plugins.font_gan.demo import generate_grid  # noqa: E402

from alternate import KERAS_MISSING, Comparison, alternate, keras_installed, steps_per_second  # noqa: E402

LAYOUTS = {"contiguous": False, "channels-last": True}
LECTURE_PRESETS = ("lecture-07", "lecture-08")  # the presets with a Keras peer


def training_round(preset_name: str, channels_last: bool, steps: int, rounds: int):
    """A round of `steps` training iterations (one D update and one G update, batch 32), returning iterations
    per second; the models and batches are built once."""
    plugin = FontGanPlugin()
    preset = plugin.preset(preset_name)
    recipe = preset.training.overridden(batch_size=32)
    data = plugin.synthetic_data(preset, num_examples=256, seed=0)
    torch.manual_seed(0)
    parts = plugin.build_training(preset, recipe, data, total_steps=steps * (rounds + 1))
    if channels_last:
        for model in parts.models.values():
            model.to(memory_format=torch.channels_last)
    accelerator = make_accelerator("no", 1, seed=0)
    images = data.train.fields["pixel_values"]
    batches = [images[start:start + 32] for start in range(0, len(images) - 31, 32)]
    if channels_last:
        batches = [batch.contiguous(memory_format=torch.channels_last) for batch in batches]
    count = 0

    def iteration() -> None:
        nonlocal count
        with accelerator.accumulate(*parts.models.values()):
            plugin.training_step(parts, {"pixel_values": batches[count % len(batches)]}, accelerator, recipe)
        count += 1

    return lambda: steps_per_second(iteration, steps)


def grid_latency(weights: Path | None, repeats: int) -> dict:
    plugin = FontGanPlugin()
    if weights is not None and (weights / "config.json").is_file():
        generator = plugin.load_for_demo(weights)
        source = str(weights.relative_to(ROOT) if weights.is_relative_to(ROOT) else weights)
    else:
        from models.gan import GanConfig, GanGenerator

        generator, source = GanGenerator(GanConfig(**plugin.preset("best").model)).eval(), "untrained best generator"
    for seed in range(3):
        generate_grid(generator, 64, seed)
    timings = []
    for seed in range(repeats):
        started = time.perf_counter()
        generate_grid(generator, 64, seed)
        timings.append(time.perf_counter() - started)
    milliseconds = np.asarray(timings) * 1000
    return {"weights": source, "p50_ms": round(float(np.percentile(milliseconds, 50)), 1),
            "p95_ms": round(float(np.percentile(milliseconds, 95)), 1), "mean_ms": round(statistics.fmean(milliseconds), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["lecture-07", "lecture-08", "best"])
    parser.add_argument("--steps", type=int, default=40, help="iterations per round (x5 for lecture-07)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per contender, alternating")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--weights", type=Path, default=ROOT / "pretrained" / "font-gan")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    peer = importlib.import_module("keras_gan_baseline") if keras_installed() else None
    results = {"machine": describe_hardware(), "load_average_before": os.getloadavg(), "training": [],
               "keras": peer.keras.__version__ if peer else None, "rounds": args.rounds}
    print(f"Machine: {results['machine']}; load average {results['load_average_before']}")
    print(f"Keras {results['keras']} (torch backend) runs the lecture's loop beside ours" if peer else KERAS_MISSING)
    print(f"iterations/s, median (min-max) of {args.rounds} alternating rounds"
          + ("; ratio = ours / Keras: the ratio of the medians (min-max of the per-round ratios)" if peer else ""))
    for preset in args.presets:
        steps = args.steps * (5 if preset == "lecture-07" else 1)
        has_peer = preset in LECTURE_PRESETS
        for threads in args.threads:
            torch.set_num_threads(threads)
            contenders = {layout: training_round(preset, channels_last, steps, args.rounds)
                          for layout, channels_last in LAYOUTS.items()}
            if peer and has_peer:
                contenders["keras"] = peer.training_round(preset, steps)
            rates = alternate(contenders, args.rounds)
            for layout in LAYOUTS:
                comparison = Comparison(rates[layout], rates.get("keras"))
                missing = KERAS_MISSING if has_peer else "no lecture peer"
                print(f"{preset:<11} {threads} thread(s) {layout:<13} {comparison.format('it/s', 2, missing, 'Keras')}",
                      flush=True)
                results["training"].append({"preset": preset, "threads": threads, "layout": layout, "steps": steps,
                                            **comparison.as_dict()})
    torch.set_num_threads(max(args.threads))
    results["grid_64"] = grid_latency(args.weights, repeats=20)
    results["grid_64"]["threads"] = torch.get_num_threads()
    print(f"64-glyph grid ({results['grid_64']['weights']}, {torch.get_num_threads()} threads): "
          f"p50 {results['grid_64']['p50_ms']} ms, p95 {results['grid_64']['p95_ms']} ms")
    results["load_average_after"] = os.getloadavg()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
