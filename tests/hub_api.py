"""A client of the hub's documented HTTP API and the payloads an attacker sends, for tests/test_attacks.py and
bench/attack.py (one copy of each payload, so the benchmark measures exactly what the tests refuse)."""

from __future__ import annotations

import io
import json
import zlib
from pathlib import Path

import httpx
from PIL import Image, ImageDraw

DIGIT_MODEL = "best (ours)"
STYLE_MODEL = "four styles (best)"
COMPOSER_MODEL = "best (ours, rhythm kept)"
MELODY_MODEL = "best (ours, VAE)"


class Api:
    """Gradio's documented HTTP API (POST /gradio_api/call/<name>, then read the event), from one source address."""

    def __init__(self, url: str, address: str = "127.0.0.1"):
        self.url = url.rstrip("/")
        self.http = httpx.Client(timeout=60, transport=httpx.HTTPTransport(local_address=address))

    def submit(self, api: str, body) -> httpx.Response:
        content = body if isinstance(body, (bytes, str)) else json.dumps({"data": body})
        return self.http.post(f"{self.url}/gradio_api/call/{api}", content=content,
                              headers={"content-type": "application/json"})

    def result(self, api: str, event_id: str) -> tuple[str, object]:
        text = self.http.get(f"{self.url}/gradio_api/call/{api}/{event_id}").text
        events = [block.split("\n", 1) for block in text.strip().split("\n\n") if block.startswith("event:")]
        kind, data = events[-1]
        return kind.removeprefix("event: ").strip(), json.loads(data.removeprefix("data: "))

    def call(self, api: str, body) -> tuple[str, object]:
        response = self.submit(api, body)
        assert response.status_code == 200, response.text
        return self.result(api, response.json()["event_id"])

    def upload(self, name: str, data: bytes) -> dict:
        response = self.http.post(f"{self.url}/gradio_api/upload", files=[("files", (name, data))])
        assert response.status_code == 200, response.text
        return {"path": response.json()[0], "meta": {"_type": "gradio.FileData"}}


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def drawn_one() -> bytes:
    image = Image.new("L", (140, 140), 255)
    ImageDraw.Draw(image).line([(70, 20), (70, 120)], fill=0, width=12)
    return png(image)


def assert_refused(answer, *phrases: str) -> str:
    kind, data = answer
    assert kind == "error", f"expected a refusal, got {kind}: {str(data)[:200]}"
    message = data.get("error") if isinstance(data, dict) else None
    assert message, "the refusal must say why, not be empty"
    assert any(phrase in message for phrase in phrases), message
    return message


def assert_still_serving(api: Api) -> None:
    kind, data = api.call("mnist_cnn_classify", [api.upload("one.png", drawn_one()), DIGIT_MODEL])
    assert kind == "complete" and data[0]["label"] == "1", data


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def hub_folder(api: Api) -> Path:
    """The hub's private temporary folder, learnt from where an upload landed."""
    path = Path(api.upload("probe.png", drawn_one())["path"])
    return next(parent for parent in path.parents if parent.name.startswith("dsl-hub-"))


def bomb(side: int) -> bytes:
    """A PNG of side x side transparent pixels that compresses to well under a megabyte."""
    raw = zlib.compress(b"\x00" * (side * 4 + 1) * side, 9)  # every row: filter byte + RGBA zeros

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = side.to_bytes(4, "big") * 2 + bytes([8, 6, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def control_change_flood(count: int = 1_600_000) -> bytes:
    """A one-track MIDI file of `count` control changes in running status (3 bytes each): under 5 MB."""
    events = b"\x00\xb0\x07\x64" + b"\x00\x07\x64" * (count - 1) + b"\x00\xff\x2f\x00"
    return (b"MThd" + (6).to_bytes(4, "big") + b"\x00\x00\x00\x01\x01\xe0"
            + b"MTrk" + len(events).to_bytes(4, "big") + events)
