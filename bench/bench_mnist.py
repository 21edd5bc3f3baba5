"""MNIST CNN benchmarks: training throughput and one-drawing prediction latency.

    python bench/bench_mnist.py --data-dir ../shared/datasets/mnist [--http] [--json bench/results/mnist.json]

Training throughput is measured through the real engine pieces (the plugin's
training step inside `accelerator.accumulate`, batches from the DataLoader over
the real MNIST arrays), for several ways of running the same model, so the
README's choice is a measurement, not a guess. For `lecture-01a` the peer is
the lecture's own script in Keras 3 on the torch backend (`model.fit`,
bench/keras_baseline.py), run in the same process, batch and threads when Keras
is installed (bench/requirements.txt); without it the ratio is left out. The
variants and the peer alternate (bench/alternate.py): one warm-up round each,
then `--rounds` rounds of `--steps` batches, each printed as median (min-max),
with the ratio of medians and the range of the per-round ratios. Latency is one drawing, end to
end in the process (preprocessing + forward) and, with --http, through a live
hub with gradio_client. Run it on a quiet machine: numbers are per machine.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plugins.cards import describe_hardware  # noqa: E402
from plugins.engine import make_accelerator  # noqa: E402
from plugins.mnist_cnn import MnistCnnPlugin  # noqa: E402
from plugins.mnist_cnn.data import load_mnist  # noqa: E402

from alternate import KERAS_MISSING, Comparison, alternate, keras_installed, steps_per_second  # noqa: E402


def training_round(preset: str, batch_size: int, data, channels_last: bool, compiled: bool, steps: int,
                   total_steps: int):
    """A round of `steps` training steps of the plugin on real batches, returning images per second; the model,
    optimizer and loader are built once (`total_steps`: the scheduler's length over all rounds)."""
    plugin = MnistCnnPlugin()
    recipe = plugin.preset(preset).training.overridden(batch_size=batch_size)
    accelerator = make_accelerator("no", 1, seed=0)
    parts = plugin.build_training(plugin.preset(preset), recipe, data, total_steps=total_steps)
    if channels_last:
        parts.models["model"] = parts.model.to(memory_format=torch.channels_last)
    if compiled:
        parts.models["model"] = torch.compile(parts.model)
    loader = torch.utils.data.DataLoader(data.train, batch_size=batch_size, shuffle=True, drop_last=True,
                                         collate_fn=plugin.collate)
    model, optimizer, scheduler, loader = accelerator.prepare(parts.model, parts.optimizer, parts.scheduler, loader)
    parts.models["model"], parts.optimizers["model"], parts.schedulers["model"] = model, optimizer, scheduler
    batches = iter(loader)

    def step() -> None:
        nonlocal batches
        batch = next(batches, None)
        if batch is None:  # a new epoch
            batches = iter(loader)
            batch = next(batches)
        if channels_last:
            batch["pixel_values"] = batch["pixel_values"].contiguous(memory_format=torch.channels_last)
        with accelerator.accumulate(model):
            plugin.training_step(parts, batch, accelerator, recipe)

    return lambda: batch_size * steps_per_second(step, steps)


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
    parser.add_argument("--http", action="store_true", help="also time the classifier through a live hub")
    parser.add_argument("--compile", action="store_true", help="also try torch.compile (slow to warm up)")
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()

    data = load_mnist(Path(args.data_dir))
    peer = importlib.import_module("keras_baseline") if keras_installed() else None
    peer_arrays = peer.load_training_arrays(Path(args.data_dir)) if peer else None
    results = {"machine": describe_hardware(), "torch": torch.__version__, "threads": torch.get_num_threads(),
               "keras": peer.keras.__version__ if peer else None, "rounds": args.rounds,
               "training_images_per_second": []}
    print(f"Keras {results['keras']} (torch backend) runs the lecture's model.fit beside ours" if peer
          else KERAS_MISSING)
    print(f"training images/s, median (min-max) of {args.rounds} alternating rounds of {args.steps} batches"
          + ("; ratio = ours / Keras: the ratio of the medians (min-max of the per-round ratios)" if peer else ""))
    variants = {"eager": (False, False), "channels-last": (True, False)}
    if args.compile:
        variants["compiled"] = (False, True)
    for preset, batch_sizes in (("lecture-01a", (32, 128)), ("best", (128,))):
        has_peer = preset == "lecture-01a"
        for batch_size in batch_sizes:
            contenders = {label: training_round(preset, batch_size, data, channels_last, compiled, args.steps,
                                                total_steps=(args.rounds + 1) * args.steps)
                          for label, (channels_last, compiled) in variants.items()}
            if peer and has_peer:
                contenders["keras"] = peer.training_round(*peer_arrays, batch_size, args.steps)
            rates = alternate(contenders, args.rounds)
            for label in variants:
                comparison = Comparison(rates[label], rates.get("keras"))
                missing = KERAS_MISSING if has_peer else "no lecture peer"
                results["training_images_per_second"].append(
                    {"preset": preset, "batch_size": batch_size, "variant": label, **comparison.as_dict()})
                print(f"train {preset:12s} batch {batch_size:4d} {label:14s} "
                      f"{comparison.format('images/s', 0, missing, 'Keras')}", flush=True)

    weights = ROOT / "pretrained" / "mnist-cnn"
    if (weights / "config.json").is_file():
        results.update(prediction_latency(weights, repeats=300))
        print(f"latency model forward       p50 {results['model_forward_ms']['p50']:.2f} ms, "
              f"p95 {results['model_forward_ms']['p95']:.2f} ms")
        print(f"latency drawing -> label    p50 {results['drawing_to_label_ms']['p50']:.2f} ms, "
              f"p95 {results['drawing_to_label_ms']['p95']:.2f} ms")
    if args.http:
        results.update(http_latency(repeats=200))
        for key, label in (("http_classify_ms", "default Client"), ("http_classify_reused_tls_ms", "reused TLS context")):
            http = results[key]
            print(f"latency HTTP gradio_client, {label:18s} p50 {http['p50']:.1f} ms, p95 {http['p95']:.1f} ms, "
                  f"p99 {http['p99']:.1f} ms")
    print(f"machine: {results['machine']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
