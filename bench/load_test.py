"""Load test: N concurrent gradio_client clients against a local hub, mixing every plugin's API.

    python bench/load_test.py                       # starts the hub itself, 32 clients, 60 s
    python bench/load_test.py --url http://127.0.0.1:7860/ --clients 32 --seconds 60 --json out.json

Each client loops over the endpoints the hub offers (a digit to classify, a
64-token piece to compose, a 36-glyph grid to generate, a glyph style to
classify), in a shuffled order of its own. Reports requests, failures,
throughput and latency percentiles per endpoint and overall, and the CPU time
the hub (with its FluidSynth renderers) and the clients spent: on a small
machine the clients share the cores with the hub. Light calls (digits) and
heavy calls (composing, big grids) run in separate Gradio concurrency groups, so
the light p95 shows whether heavy work starves them.

Each client holds one TLS context for its requests, as a long-lived client
does: gradio_client's default builds a new one for every HTTP request (httpx
loads the certificate bundle, ~15 ms of CPU, three requests per prediction),
which on a 2-core machine takes CPU from the hub it is measuring.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def request_builders(folder: Path) -> dict:
    """Endpoint -> function(client) making one realistic request, for the endpoints this hub may offer."""
    from gradio_client import handle_file
    from PIL import Image, ImageDraw

    seven = folder / "seven.png"
    image = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(image).line([(90, 60), (190, 60), (130, 230)], fill=0, width=18)
    image.save(seven)
    glyph = folder / "glyph.png"
    image = Image.new("L", (96, 96), 255)
    ImageDraw.Draw(image).line([(20, 30), (76, 30)], fill=0, width=6)
    ImageDraw.Draw(image).line([(48, 10), (48, 86)], fill=0, width=6)
    image.save(glyph)
    return {
        "/mnist_cnn_classify": lambda client: client.predict(handle_file(str(seven)), api_name="/mnist_cnn_classify"),
        "/lstm_composer_compose": lambda client: client.predict(api_name="/lstm_composer_compose", length=64),
        "/font_gan_generate": lambda client: client.predict(api_name="/font_gan_generate"),
        "/font_style_classify": lambda client: client.predict(handle_file(str(glyph)), api_name="/font_style_classify"),
    }


def cpu_seconds(pid: int, with_children: bool = True) -> float:
    """User + system CPU time of a process (and of its waited-for children, e.g. FluidSynth renderers)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if with_children else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def run(url: str, clients: int, seconds: float, folder: Path, server_pid: int | None = None) -> dict:
    import ssl

    import certifi
    from gradio_client import Client

    tls = ssl.create_default_context(cafile=certifi.where())
    probe = Client(url, verbose=False, ssl_verify=tls)
    offered = set(probe.view_api(print_info=False, return_format="dict")["named_endpoints"])
    builders = {name: build for name, build in request_builders(folder).items() if name in offered}
    if not builders:
        raise SystemExit(f"the hub at {url} offers none of the known endpoints: {sorted(offered)}")
    latencies: dict[str, list[float]] = defaultdict(list)
    failures: dict[str, list[str]] = defaultdict(list)
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker(index: int) -> None:
        client = Client(url, verbose=False, ssl_verify=tls)
        order = list(builders)
        random.Random(index).shuffle(order)
        position = index
        while time.monotonic() < deadline:
            name = order[position % len(order)]
            position += 1
            started = time.perf_counter()
            try:
                builders[name](client)
                with lock:
                    latencies[name].append(time.perf_counter() - started)
            except Exception as error:  # noqa: BLE001 - every failure is counted and reported
                with lock:
                    failures[name].append(f"{type(error).__name__}: {error}"[:200])

    started = time.monotonic()
    server_cpu = cpu_seconds(server_pid) if server_pid else None
    own_cpu = time.process_time()
    threads = [threading.Thread(target=worker, args=(index,), daemon=True) for index in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 600)
    elapsed = time.monotonic() - started
    own_cpu = time.process_time() - own_cpu
    server_cpu = cpu_seconds(server_pid) - server_cpu if server_pid else None

    def summary(values: list[float]) -> dict:
        milliseconds = np.asarray(values) * 1000
        return {"requests": len(values), "p50_ms": round(float(np.percentile(milliseconds, 50)), 1),
                "p95_ms": round(float(np.percentile(milliseconds, 95)), 1),
                "p99_ms": round(float(np.percentile(milliseconds, 99)), 1)} if values else {"requests": 0}

    everything = [value for values in latencies.values() for value in values]
    return {
        "clients": clients, "seconds": round(elapsed, 1),
        "requests": len(everything), "failed": sum(len(v) for v in failures.values()),
        "throughput_per_second": round(len(everything) / elapsed, 2),
        "cpu_seconds": {"hub_and_renderers": None if server_cpu is None else round(server_cpu, 1),
                        "clients": round(own_cpu, 1), "available": round(elapsed * (os.cpu_count() or 1), 1)},
        "overall": summary(everything),
        "endpoints": {name: {**summary(latencies[name]), "failed": len(failures[name]),
                             "failure_examples": failures[name][:3]} for name in builders},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running hub (default: start spaces/hub/app.py on a free port)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()

    from conftest import HubServer, clean_env

    from plugins.cards import describe_hardware

    with tempfile.TemporaryDirectory() as folder:
        server = None if args.url else HubServer(ROOT / "spaces" / "hub" / "app.py", clean_env(),
                                                 Path(folder) / "hub.log")
        try:
            report = run(args.url or server.url, args.clients, args.seconds, Path(folder),
                         None if server is None else server.process.pid)
        finally:
            if server is not None:
                server.stop()
    report["machine"] = describe_hardware()
    report["load_average_after"] = os.getloadavg()
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if report["failed"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
