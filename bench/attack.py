"""What attacks cost a running hub: its peak memory and disk under bombs, floods and a full queue.

    python bench/attack.py                          # starts spaces/hub/app.py itself
    python bench/attack.py --json bench/results/attack-cpu.json

Each case sends the payloads of tests/test_attacks.py (tests/hub_api.py holds them) while a
sampler reads the hub's resident memory (/proc/<pid>/status) and the size of its private
temporary folder every 20 ms. Reported per case: what the hub answered, and the peak RSS and
disk above the idle hub. The hub runs with a 256 MB disk budget here (DSL_HUB_DISK_BUDGET_MB),
so the upload flood shows the budget holding; the default is 1 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import HubServer, clean_env  # noqa: E402
from hub_api import (COMPOSER_MODEL, DIGIT_MODEL, STYLE_MODEL, Api, bomb, control_change_flood,  # noqa: E402
                     drawn_one, hub_folder, png, rss_bytes)

BUDGET_MB = 256


class Sampler:
    """Peak RSS of one process and peak size of one folder, sampled in a thread between start() and stop()."""

    def __init__(self, pid: int, folder: Path, every: float = 0.02):
        self.pid, self.folder, self.every = pid, folder, every
        self.peak_rss = self.peak_disk = 0
        self._running = False

    def disk(self) -> int:
        total = 0
        for root, _, names in os.walk(self.folder):
            for name in names:
                try:
                    total += os.lstat(os.path.join(root, name)).st_size
                except OSError:
                    pass
        return total

    def _run(self):
        while self._running:
            self.peak_rss = max(self.peak_rss, rss_bytes(self.pid))
            self.peak_disk = max(self.peak_disk, self.disk())
            time.sleep(self.every)

    def __enter__(self):
        self.peak_rss, self.peak_disk = rss_bytes(self.pid), self.disk()
        self._running = True
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        time.sleep(0.2)
        self._running = False
        self._thread.join()


def outcome(answer) -> str:
    kind, data = answer
    return "answered" if kind == "complete" else f"refused: {(data or {}).get('error') or 'empty error'}"


def cases(api: Api, url: str) -> dict:
    """Case name -> function sending it, returning a short description of the hub's answers."""
    big_digit = Image.new("L", (4096, 4096), 255)
    ImageDraw.Draw(big_digit).line([(2048, 600), (2048, 3500)], fill=0, width=400)
    big_digit_png = png(big_digit)

    def bomb_case():
        reference = api.upload("bomb.png", bomb(12000))
        answers = [api.call(endpoint, [reference, model]) for endpoint, model in
                   [("mnist_cnn_classify", DIGIT_MODEL), ("font_style_classify", STYLE_MODEL)] * 4]
        drawing = {"background": reference, "layers": [reference], "composite": reference}
        answers += [api.call("font_style_explain_drawing", [drawing, STYLE_MODEL]) for _ in range(4)]
        return sorted({outcome(answer) for answer in answers})

    def largest_accepted_images():
        # two clients of 8 requests each (8 is one client's allowance), twice the light tabs' 8 workers
        clients = [Api(url, address) for address in ("127.0.0.7", "127.0.0.8")]
        references = [client.upload("big.png", big_digit_png) for client in clients]
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda index: clients[index % 2].call(
                "mnist_cnn_explain", [references[index % 2], DIGIT_MODEL]), range(16)))
        return sorted({outcome(answer) for answer in answers}) + ["16 at once of 4096x4096 (the largest accepted)"]

    def upload_flood():
        refused = api.http.post(f"{api.url}/gradio_api/upload", files=[
            ("files", (f"flood{index}.bin", os.urandom(2**20))) for index in range(200)]).status_code
        accepted = 0
        for index in range(60):  # 600 MB of incompressible single-file uploads, over the 256 MB budget
            accepted += api.http.post(f"{api.url}/gradio_api/upload", files=[
                ("files", (f"big{index}.bin", os.urandom(10 * 2**20 - 4096)))]).status_code == 200
        return [f"200 files of 1 MB in one request: HTTP {refused}", f"60 uploads of 10 MB: {accepted} accepted"]

    def midi_flood():
        reference = api.upload("flood.mid", control_change_flood())
        answers = [api.call("lstm_composer_compose", [COMPOSER_MODEL, "greedy", 1.0, 0, 0.95, 4, 16, 0, "upload", None,
                                                      reference, "Acoustic Grand Piano", 100, 1.2, 12, ""])
                   for _ in range(4)]
        return sorted({outcome(answer) for answer in answers})

    def queue_flood():
        flood = [COMPOSER_MODEL, "sample", 1.0, 0, 0.95, 4, 2048, 0, "random", None, None, "Acoustic Grand Piano",
                 100, 1.2, 12, ""]
        accepted = {}
        for address in ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"):
            attacker = Api(url, address)
            accepted[address] = [attacker.submit("lstm_composer_compose", flood).status_code for _ in range(12)]
        stranger = Api(url, "127.0.0.6")
        latencies, answers = [], []
        for _ in range(6):
            started = time.perf_counter()
            answers.append(stranger.call("mnist_cnn_classify", [stranger.upload("one.png", drawn_one()),
                                                                 DIGIT_MODEL]))
            latencies.append(time.perf_counter() - started)
        return [f"each of 4 clients: {codes.count(200)} of 12 compositions queued, {codes.count(503)} refused"
                for codes in accepted.values()][:1] + [
            f"a stranger's digits: {sum(kind == 'complete' for kind, _ in answers)} of 6 answered, "
            f"median {1000 * np.median(latencies):.0f} ms, slowest {1000 * max(latencies):.0f} ms"]

    return {"image bomb (12000x12000 RGBA PNG, 0.6 MB)": bomb_case,
            "largest accepted images": largest_accepted_images,
            "upload flood": upload_flood,
            "MIDI flood (1.6 M control changes)": midi_flood,
            "queue flood (4 clients x 12 long compositions)": queue_flood}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()
    from plugins.cards import describe_hardware

    with tempfile.TemporaryDirectory() as scratch:
        server = HubServer(ROOT / "spaces" / "hub" / "app.py",
                           clean_env(TMPDIR=scratch, DSL_HUB_DISK_BUDGET_MB=str(BUDGET_MB)), Path(scratch) / "hub.log")
        try:
            api = Api(server.url)
            folder = hub_folder(api)
            time.sleep(2)
            idle = Sampler(server.process.pid, folder)
            idle_rss, idle_disk = rss_bytes(server.process.pid), idle.disk()
            report = {"machine": describe_hardware(), "idle_rss_mb": round(idle_rss / 2**20), "disk_budget_mb": BUDGET_MB,
                      "cases": {}}
            for name, send in cases(api, server.url).items():
                with Sampler(server.process.pid, folder) as sampler:
                    answers = send()
                report["cases"][name] = {
                    "answers": answers,
                    "peak_rss_mb": round(sampler.peak_rss / 2**20),
                    "peak_rss_above_idle_mb": round((sampler.peak_rss - idle_rss) / 2**20),
                    "peak_disk_mb": round(sampler.peak_disk / 2**20, 1),
                    "peak_disk_above_idle_mb": round((sampler.peak_disk - idle_disk) / 2**20, 1),
                }
                print(f"{name}: peak RSS {report['cases'][name]['peak_rss_mb']} MB, "
                      f"disk {report['cases'][name]['peak_disk_mb']} MB; {'; '.join(answers)}", flush=True)
        finally:
            server.stop()
    print(json.dumps(report, indent=2, ensure_ascii=False))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
