"""The README's benchmark tables, from the JSON files `make bench` writes (bench/results/*-cpu.json).

    python bench/report.py [--results bench/results]

Prints Markdown: the machine and its load, then every same-run ratio with its range (training speed against
the lecture's Keras scripts) and the load test's figures per endpoint. `make bench` runs it last, so its
output is the whole run's summary; paste it into the README's Benchmarks section.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def spread(entry: dict | None, digits: int, unit: str = "") -> str:
    if entry is None:
        return "not measured"
    return f"{entry['median']:,.{digits}f}{unit} ({entry['min']:,.{digits}f}-{entry['max']:,.{digits}f})"


def load(figures: dict) -> str:
    before, after = figures.get("load_average_before"), figures.get("load_average_after")
    if not before:
        return "load not recorded"
    return f"load average {before[0]:.1f} before, {after[0]:.1f} after" if after else f"load average {before[0]:.1f}"


def plan_text(entry: dict) -> str:
    plan = entry.get("plan") or {}
    threads = entry.get("threads")
    words = ["channels-last" if plan.get("channels_last") else "contiguous"]
    words += [f"{threads} thread{'s' * (threads != 1)}"] if threads else []
    words += ["compiled optimizer step"] if plan.get("compiled_optimizer") else []
    return ", ".join(words)


def training_table(rows: list[dict], unit: str, digits: int) -> list[str]:
    lines = [f"| preset | ours ({unit}) | how | Keras 3 ({unit}) | ours / Keras |", "|---|---|---|---|---|"]
    for entry in rows:
        preset = entry["preset"] + (f", batch {entry['batch_size']}" if "batch_size" in entry else "")
        ratio = spread(entry.get("ratio"), 2, "x") if entry.get("ratio") else "no peer"
        lines.append(f"| `{preset}` {entry['variant']} | {spread(entry['ours'], digits)} | {plan_text(entry)} | "
                     f"{spread(entry.get('peer'), digits) if entry.get('peer') else ''} | {ratio} |")
    return lines


def profiles(rows: list[dict]) -> list[str]:
    lines = []
    for entry in rows:
        profile = entry.get("kernel_profile")
        if not profile:
            continue
        described = "; ".join(
            f"{side} {profile[side]['total']:.1f} ms/step, of which convolutions {profile[side]['convolutions']:.1f} "
            f"and matrix products {profile[side]['matrix products']:.1f}" for side in ("ours", "keras"))
        lines.append(f"- `{entry['preset']}` under the profiler: {described}; Keras' step over ours in those "
                     f"kernels alone: {profile['ratio_bound']:.2f}x")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    out: list[str] = []
    mnist, gan, serving = (args.results / name for name in ("mnist-cpu.json", "gan-cpu.json", "load-cpu.json"))
    if mnist.is_file():
        figures = json.loads(mnist.read_text())
        out += [f"**Digits training** (`bench/bench_mnist.py`, {figures['machine']}, torch {figures['torch']}, "
                f"Keras {figures['keras']}; {load(figures)}; median (min-max) of {figures['rounds']} alternating "
                f"rounds of {figures.get('steps', '?')} batches)", ""]
        out += training_table(figures["training_images_per_second"], "images/s", 0)
        out += [""] + profiles(figures["training_images_per_second"])
        if "http_classify_reused_tls_ms" in figures:
            http = figures["http_classify_reused_tls_ms"]
            out += ["", f"One drawing through HTTP (gradio_client, one TLS context): p50 {http['p50']:.0f} ms, "
                        f"p95 {http['p95']:.0f} ms, p99 {http['p99']:.0f} ms."]
        out.append("")
    if gan.is_file():
        figures = json.loads(gan.read_text())
        out += [f"**Glyph GAN training** (`bench/bench_gan.py`, {figures['machine']}, torch {figures['torch']}, "
                f"Keras {figures['keras']}; {load(figures)}; median (min-max) of {figures['rounds']} alternating "
                "rounds, batch 32)", ""]
        out += training_table(figures["training"], "it/s", 2)
        out += [""] + profiles(figures["training"])
        grid = figures.get("grid_64")
        if grid:
            out += ["", f"A 64-glyph grid ({grid['weights']}, {grid['threads']} thread(s)): p50 {grid['p50_ms']} ms, "
                        f"p95 {grid['p95_ms']} ms."]
        out.append("")
    if serving.is_file():
        figures = json.loads(serving.read_text())
        cpu = figures.get("cpu_seconds") or {}
        out += [f"**Serving** (`bench/load_test.py`, {figures['clients']} visitors for {figures['seconds']} s, "
                f"{figures['machine']}; {load(figures)}): {figures['requests']} requests, {figures['failed']} failed, "
                f"**{figures['throughput_per_second']} requests/s**; CPU: hub and renderers "
                f"{cpu.get('hub_and_renderers')} s, visitors {cpu.get('clients')} s, of {cpu.get('available')} s", "",
                "| endpoint | requests | p50 | p95 | p99 | hub CPU per request, alone |", "|---|---|---|---|---|---|"]
        for name, endpoint in figures["endpoints"].items():
            alone = endpoint.get("hub_cpu_ms_per_request_alone")
            out.append(f"| `{name}` | {endpoint['requests']} | {endpoint.get('p50_ms', '-')} ms | "
                       f"{endpoint.get('p95_ms', '-')} ms | {endpoint.get('p99_ms', '-')} ms | "
                       f"{'-' if alone is None else f'{alone} ms'} |")
        out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
