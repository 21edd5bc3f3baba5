"""Glyph GAN benchmarks: training steps per second per preset, and the latency of a 64-glyph grid.

    python bench/bench_gan.py [--steps 40] [--threads 1 2] [--json bench/results/gan.json]

Training speed is the plugin's real training step (D then G, as `train.py`
runs it, inside `accelerator.accumulate`) on batches of 32 48x48 glyph-shaped
images, for the lecture's two networks and the `best` recipe, with each of
the thread counts asked for and with/without channels-last memory. The lecture's
models written in Keras 3 (torch backend) run at about 8.1 (GAN) and 1.4
(DCGAN) iterations per second, batch 32, on these 2-core machines. Latency is
`generate_grid(generator, 64, seed)` end to end (noise, forward, tiling into
a PIL image), as the demo's API serves it. Numbers are per machine: the
machine and its load average are printed with them.
"""

from __future__ import annotations

import argparse
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

KERAS_STEPS_PER_SECOND = {"lecture-07": 8.1, "lecture-08": 1.4}


def training_speed(preset_name: str, channels_last: bool, steps: int, warmup: int) -> float:
    """Training iterations (one D update and one G update) per second at batch 32."""
    plugin = FontGanPlugin()
    preset = plugin.preset(preset_name)
    recipe = preset.training.overridden(batch_size=32)
    data = plugin.synthetic_data(preset, num_examples=256, seed=0)
    torch.manual_seed(0)
    parts = plugin.build_training(preset, recipe, data, total_steps=steps + warmup)
    if channels_last:
        for model in parts.models.values():
            model.to(memory_format=torch.channels_last)
    accelerator = make_accelerator("no", 1, seed=0)
    images = data.train.fields["pixel_values"]
    batches = [images[start:start + 32] for start in range(0, len(images) - 31, 32)]
    if channels_last:
        batches = [batch.contiguous(memory_format=torch.channels_last) for batch in batches]
    started = None
    for step in range(warmup + steps):
        if step == warmup:
            started = time.perf_counter()
        with accelerator.accumulate(*parts.models.values()):
            plugin.training_step(parts, {"pixel_values": batches[step % len(batches)]}, accelerator, recipe)
    return steps / (time.perf_counter() - started)


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
    parser.add_argument("--steps", type=int, default=40, help="timed iterations per configuration")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--weights", type=Path, default=ROOT / "pretrained" / "font-gan")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    results = {"machine": describe_hardware(), "load_average_before": os.getloadavg(), "training": []}
    print(f"Machine: {results['machine']}; load average {results['load_average_before']}")
    print(f"{'preset':<12}{'threads':>8}{'layout':>15}{'steps/s':>10}{'vs Keras':>10}")
    for preset in args.presets:
        for threads in args.threads:
            torch.set_num_threads(threads)
            for channels_last in (False, True):
                warmup = 20 if preset == "lecture-07" else 5
                steps = args.steps * (5 if preset == "lecture-07" else 1)
                speed = training_speed(preset, channels_last, steps, warmup)
                keras = KERAS_STEPS_PER_SECOND.get(preset)
                ratio = f"{speed / keras:.2f}x" if keras else "-"
                layout = "channels-last" if channels_last else "contiguous"
                print(f"{preset:<12}{threads:>8}{layout:>15}{speed:>10.2f}{ratio:>10}", flush=True)
                results["training"].append({"preset": preset, "threads": threads, "layout": layout,
                                            "steps_per_second": round(speed, 2), "keras_steps_per_second": keras})
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
