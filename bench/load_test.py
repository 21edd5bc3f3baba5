"""Load test: N concurrent visitors against a local hub, mixing every plugin's API.

    python bench/load_test.py                       # starts the hub itself, 32 visitors, 60 s
    python bench/load_test.py --url http://127.0.0.1:7860/ --clients 32 --seconds 60 --json out.json

Each visitor loops over the endpoints the hub offers (a digit to classify, a
64-token piece to compose, a 36-glyph grid to generate, a glyph style to
classify; every other argument at the API's default, as gradio_client sends
it), in a shuffled order of its own. Reports requests, failures, throughput and
latency percentiles per endpoint and overall, and the CPU time the hub (with its
FluidSynth renderers) and the visitors spent: on a small machine the visitors
share the cores with the hub. Light calls (digits) and heavy calls (composing,
big grids) run in separate Gradio concurrency groups, so the light p95 shows
whether heavy work starves them. Each endpoint is called once before the test
(first calls load and start things), then 10 times alone for the hub's CPU time
per request (what bounds the throughput: two cores over the mix's average
cost), the visitors arrive over 2 s, and the
figures count the requests started in the `--seconds` after that (steady state,
not the stampede of 32 visitors arriving in the same millisecond).

Each visitor comes from its own loopback address (127.0.0.2, 127.0.0.3, ...):
the hub's queue lets one address have at most 8 requests waiting or running
(plugins/guard.py), so 32 clients from one address are one visitor to it, and
most of their requests are refused. gradio_client cannot choose its source
address, so the visitors speak Gradio's documented HTTP API (upload, POST
/gradio_api/call/<name>, read the event stream) through tests/hub_api.py, each
with one session and one persistent connection pool (and TLS context), as a
browser or a long-lived gradio_client does. (Without a session, each call starts
a new Gradio session, which costs the hub 11 ms of CPU: the configuration of its
169 blocks is copied for it.)
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
import uuid
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RAMP_UP_SECONDS = 2.0  # visitors arrive over this long; the requests they start meanwhile are not counted
CALLS_ALONE = 10  # requests per endpoint, one at a time before the visitors come, for its CPU cost alone
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def request_builders(folder: Path, endpoints: dict) -> dict:
    """Endpoint -> function(api) making one realistic request (returns Gradio's final event), for the endpoints
    this hub offers; `endpoints` is the hub's API description (/gradio_api/info), for the defaults."""
    from hub_api import png
    from PIL import Image, ImageDraw

    image = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(image).line([(90, 60), (190, 60), (130, 230)], fill=0, width=18)
    seven = png(image)
    image = Image.new("L", (96, 96), 255)
    ImageDraw.Draw(image).line([(20, 30), (76, 30)], fill=0, width=6)
    ImageDraw.Draw(image).line([(48, 10), (48, 86)], fill=0, width=6)
    glyph = png(image)

    def call(api, name: str, **given):
        """The endpoint with every argument at its default but `given`, in the visitor's session."""
        data = [given.get(parameter["parameter_name"], parameter.get("parameter_default"))
                for parameter in endpoints[name]["parameters"]]
        return api.call(name.lstrip("/"), json.dumps({"data": data, "session_hash": api.session_hash}))

    builders = {
        "/mnist_cnn_classify": lambda api: call(api, "/mnist_cnn_classify", image=api.upload("seven.png", seven)),
        "/lstm_composer_compose": lambda api: call(api, "/lstm_composer_compose", length=64),
        "/font_gan_generate": lambda api: call(api, "/font_gan_generate"),
        "/font_style_classify": lambda api: call(api, "/font_style_classify", image=api.upload("glyph.png", glyph)),
    }
    return {name: build for name, build in builders.items() if name in endpoints}


def cpu_seconds(pid: int, with_children: bool = True) -> float:
    """User + system CPU time of a process (and of its waited-for children, e.g. FluidSynth renderers)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if with_children else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def run(url: str, clients: int, seconds: float, folder: Path, server_pid: int | None = None) -> dict:
    import httpx
    from hub_api import Api

    endpoints = httpx.get(f"{url.rstrip('/')}/gradio_api/info", timeout=60).json()["named_endpoints"]
    builders = request_builders(folder, endpoints)
    if not builders:
        raise SystemExit(f"the hub at {url} offers none of the known endpoints: {sorted(endpoints)}")
    def visitor(address: str) -> Api:
        api = Api(url, address=address)
        api.session_hash = uuid.uuid4().hex  # one session per visitor, as a browser or gradio_client keeps
        return api

    warm_up = visitor("127.0.0.254")
    for build in builders.values():  # first calls load models, start renderers and batchers: not timed
        build(warm_up)
    alone = {}  # the hub's CPU time per request of each endpoint, one request at a time: what each one costs
    if server_pid:
        for name, build in builders.items():
            before = cpu_seconds(server_pid)
            for _ in range(CALLS_ALONE):
                build(warm_up)
            alone[name] = round(1000 * (cpu_seconds(server_pid) - before) / CALLS_ALONE, 1)
    latencies: dict[str, list[float]] = defaultdict(list)
    failures: dict[str, list[str]] = defaultdict(list)
    lock = threading.Lock()
    begin = time.monotonic()
    counted_from, deadline = begin + RAMP_UP_SECONDS, begin + RAMP_UP_SECONDS + seconds

    def worker(index: int) -> None:
        api = visitor(f"127.0.0.{index + 2}")  # a visitor of its own (see the module's docstring)
        order = list(builders)
        random.Random(index).shuffle(order)
        position = index
        time.sleep(index * RAMP_UP_SECONDS / clients)  # visitors arrive one after another over the ramp-up
        while time.monotonic() < deadline:
            name = order[position % len(order)]
            position += 1
            counted = time.monotonic() >= counted_from
            started = time.perf_counter()
            try:
                kind, data = builders[name](api)
                if kind != "complete":
                    raise RuntimeError(f"{kind}: {str(data)[:150]}")
                if counted:
                    with lock:
                        latencies[name].append(time.perf_counter() - started)
            except Exception as error:  # noqa: BLE001 - every failure is counted and reported
                with lock:
                    failures[name].append(f"{type(error).__name__}: {error}"[:200])

    threads = [threading.Thread(target=worker, args=(index,), daemon=True) for index in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, counted_from - time.monotonic()))
    server_cpu = cpu_seconds(server_pid) if server_pid else None
    own_cpu = time.process_time()
    for thread in threads:
        thread.join(timeout=seconds + 600)
    elapsed = time.monotonic() - counted_from  # requests started in the window, ended by its last one
    own_cpu = time.process_time() - own_cpu
    server_cpu = cpu_seconds(server_pid) - server_cpu if server_pid else None

    def summary(values: list[float]) -> dict:
        milliseconds = np.asarray(values) * 1000
        return {"requests": len(values), "p50_ms": round(float(np.percentile(milliseconds, 50)), 1),
                "p95_ms": round(float(np.percentile(milliseconds, 95)), 1),
                "p99_ms": round(float(np.percentile(milliseconds, 99)), 1)} if values else {"requests": 0}

    everything = [value for values in latencies.values() for value in values]
    return {
        "clients": clients, "ramp_up_seconds": RAMP_UP_SECONDS, "seconds": round(elapsed, 1),
        "requests": len(everything), "failed": sum(len(v) for v in failures.values()),
        "throughput_per_second": round(len(everything) / elapsed, 2),
        "cpu_seconds": {"hub_and_renderers": None if server_cpu is None else round(server_cpu, 1),
                        "clients": round(own_cpu, 1), "available": round(elapsed * (os.cpu_count() or 1), 1)},
        "overall": summary(everything),
        "endpoints": {name: {**summary(latencies[name]), "failed": len(failures[name]),
                             "failure_examples": failures[name][:3],
                             "hub_cpu_ms_per_request_alone": alone.get(name)} for name in builders},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running hub (default: start spaces/hub/app.py on a free port)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--quick", action="store_true", help="20 seconds")
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()
    if args.quick:
        args.seconds = 20

    from conftest import HubServer, clean_env

    from plugins.cards import describe_hardware

    load_before = os.getloadavg()
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
    report["load_average_before"] = load_before
    report["load_average_after"] = os.getloadavg()
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if report["failed"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
