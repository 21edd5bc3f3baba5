"""Glyph GAN benchmarks: training iterations per second against the lecture's Keras loops, and grid latency.

    python bench/bench_gan.py [--quick] [--steps 20] [--rounds 5] [--json bench/results/gan-cpu.json]

Training speed is ours as `train.py` runs it (bench/engine_rounds.py: the
plugin's D-then-G step inside `accelerator.accumulate`, batch 32 of 48x48
glyph-shaped images from the prepared DataLoader) with the speed plan the engine
measures for the run on this machine (plugins/speed.py: memory layout, threads;
measured afresh here, its timings printed), and the same without a plan
(contiguous), for the lecture's two networks and the `best` recipe. For the
lecture presets the peer is the lecture's own loop in Keras 3 on the torch
backend (bench/keras_gan_baseline.py), run in the same process, batch and threads
when Keras is installed (bench/requirements.txt); without it the ratio is left
out. The contenders alternate (bench/alternate.py): one warm-up round each, then
`--rounds` rounds of `--steps` iterations (five times as many for the fast MLP
GAN), and each prints its median and range, with the ratio of medians and the
range of the per-round ratios. Latency is `generate_grid(generator, 64, seed)`
end to end (noise, forward, tiling into a PIL image), as the demo's API serves
it. Numbers are per machine and per load: the machine and its load average are
printed with them.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plugins.cards import describe_hardware  # noqa: E402
from plugins.speed import SpeedPlan  # noqa: E402
from plugins.font_gan import FontGanPlugin  # noqa: E402
from plugins.font_gan.demo import generate_grid  # noqa: E402

from alternate import KERAS_MISSING, Comparison, alternate, keras_installed  # noqa: E402
from engine_rounds import describe_timings, engine_round, measured_plan  # noqa: E402
from kernel_profile import format_breakdown, kernel_breakdown, ratio_bound  # noqa: E402

LECTURE_PRESETS = ("lecture-07", "lecture-08")  # the presets with a Keras peer
EXAMPLES = 1024  # made-up glyphs of the real shape: 32 batches an epoch


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
    parser.add_argument("--steps", type=int, default=20, help="iterations per round (x5 for lecture-07)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per contender, alternating")
    parser.add_argument("--quick", action="store_true", help="3 rounds of 8 iterations, the lecture presets only")
    parser.add_argument("--weights", type=Path, default=ROOT / "pretrained" / "font-gan")
    parser.add_argument("--profile", action="store_true", help="also show where each side's step time goes")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.steps = 3, 8
        args.presets = [preset for preset in args.presets if preset in LECTURE_PRESETS]

    peer = importlib.import_module("keras_gan_baseline") if keras_installed() else None
    plugin = FontGanPlugin()
    results = {"machine": describe_hardware(), "load_average_before": os.getloadavg(), "torch": torch.__version__,
               "keras": peer.keras.__version__ if peer else None, "rounds": args.rounds, "training": []}
    print(f"Machine: {results['machine']}; load average {results['load_average_before']}")
    print(f"Keras {results['keras']} (torch backend) runs the lecture's loop beside ours" if peer else KERAS_MISSING)
    print(f"iterations/s, median (min-max) of {args.rounds} alternating rounds"
          + ("; ratio = ours / Keras: the ratio of the medians (min-max of the per-round ratios)" if peer else ""))
    default_threads = torch.get_num_threads()
    for preset in args.presets:
        steps = args.steps * (5 if preset == "lecture-07" else 1)
        has_peer = preset in LECTURE_PRESETS
        data = plugin.synthetic_data(plugin.preset(preset), num_examples=EXAMPLES, seed=0)
        torch.set_num_threads(default_threads)
        plan, timings = measured_plan(plugin, preset, 32, data, plugin.preset(preset).training.max_steps)
        threads = plan.threads or default_threads
        torch.set_num_threads(threads)  # both sides run on the plan's threads
        print(f"{preset}: the engine's plan here is {plan.describe()} ("
              + describe_timings(timings) + ")", flush=True)
        total_steps = (args.rounds + 3) * steps
        contenders = {"ours": engine_round(plugin, preset, 32, data, plan, steps, total_steps)}
        if plan != SpeedPlan(threads=plan.threads):
            contenders["ours, no plan"] = engine_round(plugin, preset, 32, data, SpeedPlan(), steps, total_steps)
        if peer and has_peer:
            contenders["keras"] = peer.training_round(preset, steps)
        rates = alternate(contenders, args.rounds)
        for label in (name for name in contenders if name != "keras"):
            comparison = Comparison(rates[label], rates.get("keras"))
            missing = KERAS_MISSING if has_peer else "no lecture peer"
            print(f"{preset:<11} {label:<14} {comparison.format('it/s', 2, missing, 'Keras')}", flush=True)
            results["training"].append({"preset": preset, "variant": label, "threads": threads, "steps": steps,
                                        "plan": asdict(plan if label == "ours" else SpeedPlan()),
                                        "plan_timings": timings, **comparison.as_dict()})
        if "ours, no plan" not in contenders:
            print(f"{preset:<11} the plan is the default: contiguous, eager")
        if args.profile and "keras" in contenders:
            profiles = {label: kernel_breakdown(contenders[label], steps) for label in ("ours", "keras")}
            for label, breakdown in profiles.items():
                print(f"{preset:<11} " + format_breakdown(label, breakdown))
            bound = ratio_bound(profiles["keras"], profiles["ours"])
            print(f"{preset:<11} Keras' step over ours in convolutions and matrix products alone: {bound:.2f}x, "
                  "the most any work outside those kernels could bring")
            next(entry for entry in results["training"] if entry["preset"] == preset and entry["variant"] == "ours")[
                "kernel_profile"] = {**profiles, "ratio_bound": bound}
    torch.set_num_threads(default_threads)
    results["grid_64"] = grid_latency(args.weights, repeats=5 if args.quick else 20)
    results["grid_64"]["threads"] = torch.get_num_threads()
    print(f"64-glyph grid ({results['grid_64']['weights']}, {torch.get_num_threads()} threads): "
          f"p50 {results['grid_64']['p50_ms']} ms, p95 {results['grid_64']['p95_ms']} ms")
    results["load_average_after"] = os.getloadavg()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
