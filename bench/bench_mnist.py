"""MNIST CNN benchmarks: training throughput against the lecture's Keras script, and prediction latency.

    python bench/bench_mnist.py --data-dir ../shared/datasets/mnist [--quick] [--http] [--json bench/results/mnist-cpu.json]

Training throughput is ours as `train.py` runs it (bench/engine_rounds.py: the
plugin's step inside `accelerator.accumulate`, batches from the prepared
DataLoader over the real MNIST arrays) with the speed plan the engine measures
for the run on this machine (plugins/speed.py: memory layout, threads, compiled
optimizer step; measured afresh here, its timings printed), and the same without
a plan (contiguous, eager: what the plan gains). For `lecture-01a` the peer is the
lecture's own script in Keras 3 on the torch backend (`model.fit`,
bench/keras_baseline.py), run in the same process, batch 32 and the same threads
when Keras is installed (bench/requirements.txt); without it the ratio is left
out. The contenders alternate (bench/alternate.py): one warm-up round each, then
`--rounds` rounds of `--steps` batches, each printed as median (min-max), with the
ratio of medians and the range of the per-round ratios. Latency is one drawing,
end to end in the process (preprocessing + forward) and, with --http, through a
live hub with gradio_client. Numbers are per machine and per load: the machine
and its load average are printed with them.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plugins.cards import describe_hardware  # noqa: E402
from plugins.speed import SpeedPlan  # noqa: E402
from plugins.mnist_cnn import MnistCnnPlugin  # noqa: E402
from plugins.mnist_cnn.data import load_mnist  # noqa: E402

from alternate import KERAS_MISSING, Comparison, alternate, keras_installed  # noqa: E402
from engine_rounds import describe_timings, engine_round, measured_plan  # noqa: E402
from kernel_profile import format_breakdown, kernel_breakdown, ratio_bound  # noqa: E402


def percentile(values, q):
    return float(np.percentile(np.asarray(values) * 1000, q))


def prediction_latency(weights: Path, repeats: int) -> dict:
    from PIL import Image, ImageDraw

    from plugins.mnist_cnn.demo import classify

    model = MnistCnnPlugin().load_for_demo(weights)
    drawing = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(drawing).line([(90, 60), (190, 60), (130, 230)], fill=(0, 0, 0, 255), width=18)
    canvas = np.asarray(drawing)
    pixels = torch.rand(1, 1, 28, 28)
    forward, end_to_end = [], []
    with torch.no_grad():
        for _ in range(20):
            model(pixel_values=pixels)
        for _ in range(repeats):
            started = time.perf_counter()
            model(pixel_values=pixels)
            forward.append(time.perf_counter() - started)
            started = time.perf_counter()
            classify(model, canvas)
            end_to_end.append(time.perf_counter() - started)
    return {"model_forward_ms": {"p50": percentile(forward, 50), "p95": percentile(forward, 95)},
            "drawing_to_label_ms": {"p50": percentile(end_to_end, 50), "p95": percentile(end_to_end, 95)}}


def http_latency(repeats: int) -> dict:
    """One drawing through a live hub with gradio_client, with the default Client and with a Client that is
    given one TLS context to reuse. The default Client builds a new TLS context for every HTTP request (httpx
    loads the certificate bundle each time, ~15 ms of CPU, three requests per prediction), even for a plain
    http:// URL; passing a ready context keeps certificate checking and skips that work."""
    import ssl

    import certifi
    from gradio_client import Client, handle_file
    from PIL import Image, ImageDraw

    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import HubServer, clean_env

    clients = {"http_classify_ms": {}, "http_classify_reused_tls_ms": {
        "ssl_verify": ssl.create_default_context(cafile=certifi.where())}}
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        picture = Path(folder) / "seven.png"
        image = Image.new("L", (280, 280), 255)
        ImageDraw.Draw(image).line([(90, 60), (190, 60), (130, 230)], fill=0, width=18)
        image.save(picture)
        server = HubServer(ROOT / "spaces" / "hub" / "app.py", clean_env(), Path(folder) / "hub.log")
        try:
            for key, options in clients.items():
                client = Client(server.url, verbose=False, **options)
                for _ in range(5):
                    client.predict(handle_file(str(picture)), api_name="/mnist_cnn_classify")
                timings = []
                for _ in range(repeats):
                    started = time.perf_counter()
                    client.predict(handle_file(str(picture)), api_name="/mnist_cnn_classify")
                    timings.append(time.perf_counter() - started)
                results[key] = {"p50": percentile(timings, 50), "p95": percentile(timings, 95),
                                "p99": percentile(timings, 99)}
        finally:
            server.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True, help="folder with the MNIST IDX files")
    parser.add_argument("--steps", type=int, default=150, help="training steps per round")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per contender, alternating")
    parser.add_argument("--quick", action="store_true", help="3 rounds of 60 steps, lecture-01a only, fewer "
                                                             "latency repeats")
    parser.add_argument("--http", action="store_true", help="also time the classifier through a live hub")
    parser.add_argument("--profile", action="store_true", help="also show where each side's step time goes")
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.steps = 3, 60

    data = load_mnist(Path(args.data_dir), train_on_all=True)
    peer = importlib.import_module("keras_baseline") if keras_installed() else None
    peer_arrays = peer.load_training_arrays(Path(args.data_dir)) if peer else None
    plugin = MnistCnnPlugin()
    results = {"machine": describe_hardware(), "load_average_before": os.getloadavg(), "torch": torch.__version__,
               "keras": peer.keras.__version__ if peer else None, "rounds": args.rounds, "steps": args.steps,
               "training_images_per_second": []}
    print(f"Machine: {results['machine']}; load average {results['load_average_before']}")
    print(f"Keras {results['keras']} (torch backend) runs the lecture's model.fit beside ours" if peer
          else KERAS_MISSING)
    print(f"training images/s, median (min-max) of {args.rounds} alternating rounds of {args.steps} batches "
          f"({max(10, args.steps // 5)} for `best`)"
          + ("; ratio = ours / Keras: the ratio of the medians (min-max of the per-round ratios)" if peer else ""))
    default_threads = torch.get_num_threads()
    for preset, batch_size in (("lecture-01a", 32),) + ((("best", 128),) if not args.quick else ()):
        has_peer = preset == "lecture-01a"
        recipe = plugin.preset(preset).training
        run_steps = recipe.epochs * (len(data.train) // batch_size)  # what train.py would run: decides compiling
        torch.set_num_threads(default_threads)
        plan, timings = measured_plan(plugin, preset, batch_size, data, run_steps)
        threads = plan.threads or default_threads
        torch.set_num_threads(threads)  # both sides run on the plan's threads
        print(f"{preset}, batch {batch_size}: the engine's plan here is {plan.describe()} ("
              + describe_timings(timings) + ")", flush=True)
        steps = args.steps if preset == "lecture-01a" else max(10, args.steps // 5)  # `best`: 4x the batch, deeper
        total_steps = (args.rounds + 3) * steps
        ours = engine_round(plugin, preset, batch_size, data, plan, steps, total_steps)
        unplanned = engine_round(plugin, preset, batch_size, data, SpeedPlan(), steps, total_steps)
        contenders = {"ours": lambda: batch_size * ours(), "ours, no plan": lambda: batch_size * unplanned()}
        if peer and has_peer:
            contenders["keras"] = peer.training_round(*peer_arrays, batch_size, steps)  # images/s already
        rates = alternate(contenders, args.rounds)
        for label in ("ours", "ours, no plan"):
            comparison = Comparison(rates[label], rates.get("keras"))
            missing = KERAS_MISSING if has_peer else "no lecture peer"
            results["training_images_per_second"].append(
                {"preset": preset, "batch_size": batch_size, "variant": label, "threads": threads, "steps": steps,
                 "plan": asdict(plan) if label == "ours" else asdict(SpeedPlan()), "plan_timings": timings,
                 "first_step_seconds": (ours if label == "ours" else unplanned).first_step_seconds,
                 **comparison.as_dict()})
            print(f"train {preset:12s} batch {batch_size:4d} {label:14s} "
                  f"{comparison.format('images/s', 0, missing, 'Keras')}", flush=True)
        if plan.compiled_optimizer:
            print(f"  compiling the optimizer step: first step {ours.first_step_seconds:.1f} s (once per run)")
        if args.profile and peer and has_peer:
            profiles = {label: kernel_breakdown(contenders[label], steps) for label in ("ours", "keras")}
            for label, breakdown in profiles.items():
                print("  " + format_breakdown(label, breakdown))
            bound = ratio_bound(profiles["keras"], profiles["ours"])
            print(f"  Keras' step over ours in convolutions and matrix products alone: {bound:.2f}x, the most any "
                  "work outside those kernels could bring")
            results["training_images_per_second"][-2]["kernel_profile"] = {**profiles, "ratio_bound": bound}
    torch.set_num_threads(default_threads)

    weights = ROOT / "pretrained" / "mnist-cnn"
    if (weights / "config.json").is_file():
        results.update(prediction_latency(weights, repeats=50 if args.quick else 300))
        print(f"latency model forward       p50 {results['model_forward_ms']['p50']:.2f} ms, "
              f"p95 {results['model_forward_ms']['p95']:.2f} ms")
        print(f"latency drawing -> label    p50 {results['drawing_to_label_ms']['p50']:.2f} ms, "
              f"p95 {results['drawing_to_label_ms']['p95']:.2f} ms")
    if args.http:
        results.update(http_latency(repeats=50 if args.quick else 200))
        for key, label in (("http_classify_ms", "default Client"), ("http_classify_reused_tls_ms", "reused TLS context")):
            http = results[key]
            print(f"latency HTTP gradio_client, {label:18s} p50 {http['p50']:.1f} ms, p95 {http['p95']:.1f} ms, "
                  f"p99 {http['p99']:.1f} ms")
    results["load_average_after"] = os.getloadavg()
    print(f"machine: {results['machine']}; load average after {results['load_average_after']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
