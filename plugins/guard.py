"""What the hub refuses before any plugin code runs: the outside edge of every request.

The Gradio API can be called directly with any JSON, so a plugin's callback
must never be the first to look at a request. `HubBlocks` (the hub's
`gr.Blocks`) checks every event's inputs before Gradio preprocesses them:

- a file-typed input (image, drawing, MIDI, ...) must name a regular file
  inside the hub's own upload/cache folder, the only place Gradio writes
  uploads; any other path (another server file, a pipe, a device, `/proc`,
  a URL) is refused before anything opens it;
- an image's size is read from its header and refused above the hub's pixel
  limit before it is decoded, so a small compressed "bomb" never expands;
- a value of the wrong type (text for a slider, NaN, a list, a missing
  argument) is refused with a sentence naming the input, not an empty error.

`FairQueue` bounds the events one client may have waiting or running, so a
few clients cannot fill the queue for everyone, and `RequestLimits` bounds
request bodies and the files of one upload. A plugin gets all of this by
building its tab inside the hub; it only has to validate what its own
callback means (ranges, choices).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import stat
import warnings
from typing import Any

import gradio as gr
from gradio import queueing
from gradio.utils import get_upload_folder
from PIL import Image, UnidentifiedImageError

from .images import MAX_IMAGE_BYTES, MAX_IMAGE_SIDE

logger = logging.getLogger("dsl_hub")

MAX_PENDING_PER_CLIENT = 8  # events one client may have queued or running at once
MAX_BODY_BYTES = 1 * 2**20  # any request but an upload: JSON of a few settings and file references
MAX_FILE_BYTES = 10 * 2**20  # one uploaded file (Gradio's max_file_size)
MAX_UPLOAD_BYTES = MAX_FILE_BYTES + 2**20  # one upload request: one file at most that size, plus multipart framing
MAX_UPLOAD_FILES = 4  # files in one upload request (a drawing sends at most its background, layer and composite)
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")  # what Pillow may even try to parse

# Pillow's own bomb check, for any image decoded anywhere in the hub process: a warning above the
# hub's limit (turned into an error where the hub opens images) and an error above twice that.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_SIDE * MAX_IMAGE_SIDE

_FILE_COMPONENTS = (gr.Image, gr.ImageEditor, gr.File, gr.Audio, gr.Video, gr.Model3D, gr.Gallery)
_IMAGE_COMPONENTS = (gr.Image, gr.ImageEditor, gr.Gallery)


def _label(block) -> str:
    return getattr(block, "label", None) or block.get_block_name()


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------------- files
def _file_references(payload: Any):
    """Every {"path"/"url": ...} object in a component's payload, at any depth (with or without Gradio's meta)."""
    if isinstance(payload, dict):
        if "path" in payload or "url" in payload:
            yield payload
            return
        for value in payload.values():
            yield from _file_references(value)
    elif isinstance(payload, list):
        for value in payload:
            yield from _file_references(value)


def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def check_uploaded_file(reference: Any, label: str, *, image: bool, folder: str | None = None) -> None:
    """Refuse a file reference unless it is a regular file Gradio stored in the hub's upload/cache folder.

    Only lstat and realpath touch the path before it is accepted: neither opens it, so
    a FIFO or a device cannot block the worker. For images, the header alone is then
    read to refuse formats and sizes the hub does not take, before any pixel is decoded.
    """
    folder = os.path.realpath(folder or get_upload_folder())
    path = reference.get("path") if isinstance(reference, dict) else None
    if not isinstance(path, str) or not path or "://" in path or path.startswith("data:"):
        raise gr.Error(f"“{label}” must be a file uploaded to this hub (upload it first, then send its path).",
                       print_exception=False)
    url = reference.get("url")
    if isinstance(url, str) and url.startswith("data:"):  # Gradio would decode it instead of the file
        raise gr.Error(f"“{label}”: send files as uploads, not as data URLs.", print_exception=False)
    absolute = os.path.abspath(path)
    if not (_inside(absolute, folder) and _inside(os.path.realpath(absolute), folder)):
        raise gr.Error(f"“{label}”: the hub only reads files that were uploaded to it; upload the file first.",
                       print_exception=False)
    try:
        status = os.lstat(absolute)
    except OSError:
        raise gr.Error(f"“{label}”: the uploaded file could not be found on the server; upload it again.",
                       print_exception=False) from None
    if not stat.S_ISREG(status.st_mode):
        raise gr.Error(f"“{label}”: the hub only reads regular uploaded files.", print_exception=False)
    limit = MAX_IMAGE_BYTES if image else MAX_FILE_BYTES
    if status.st_size > limit:
        raise gr.Error(f"“{label}”: the file is {status.st_size / 2**20:.1f} MB; at most {limit // 2**20} MB "
                       "are accepted.", print_exception=False)
    if image:
        check_image_header(absolute, label)


def check_image_header(path: str, label: str) -> None:
    """Read only the image's header: refuse what is not an image, and sizes over the limit, undecoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=IMAGE_FORMATS) as image:
                width, height = image.size
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        width = height = math.inf
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise gr.Error(f"“{label}”: the file is not an image this demo can read (try PNG or JPEG).",
                       print_exception=False) from None
    if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE:
        size = f"over {MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE} pixels" if width == math.inf else f"{width}x{height} pixels"
        raise gr.Error(f"“{label}”: the image is {size}; the limit is {MAX_IMAGE_SIDE} pixels per side.",
                       print_exception=False)


# --------------------------------------------------------------------------------- values
def _check_value(block, payload: Any) -> None:
    """The JSON type each simple component takes; Gradio's own errors for the rest are made readable later."""
    label = _label(block)
    if payload is None:
        return
    if isinstance(block, (gr.Number, gr.Slider)):
        if isinstance(payload, bool) or not isinstance(payload, (int, float)):
            raise gr.Error(f"“{label}” must be a number; got {_short(payload)}.", print_exception=False)
        if not math.isfinite(payload):
            raise gr.Error(f"“{label}” must be a finite number; got {payload!r}.", print_exception=False)
    elif isinstance(block, (gr.Textbox, gr.Radio)) and not isinstance(payload, str):
        raise gr.Error(f"“{label}” must be text; got {_short(payload)}.", print_exception=False)
    elif isinstance(block, gr.Checkbox) and not isinstance(payload, bool):
        raise gr.Error(f"“{label}” must be true or false; got {_short(payload)}.", print_exception=False)
    elif isinstance(block, _FILE_COMPONENTS):
        several = isinstance(block, gr.Gallery) or getattr(block, "file_count", "single") != "single"
        if not isinstance(payload, (list, dict) if several else dict):
            raise gr.Error(f"“{label}” must be an uploaded file; got {_short(payload)}.", print_exception=False)
        if isinstance(block, gr.ImageEditor):  # {"background": file, "layers": [file, ...], "composite": file}
            parts = [payload.get("background"), payload.get("composite"), *(payload.get("layers") or [])]
            if not isinstance(payload.get("layers") or [], list) or any(
                    part is not None and not isinstance(part, dict) for part in parts):
                raise gr.Error(f"“{label}”: each part of a drawing must be an uploaded file.", print_exception=False)
        for reference in _file_references(payload):
            check_uploaded_file(reference, label, image=isinstance(block, _IMAGE_COMPONENTS))


class HubBlocks(gr.Blocks):
    """`gr.Blocks` that checks every event's inputs (see the module docstring) and answers in sentences."""

    async def preprocess_data(self, block_fn, inputs, state, explicit_call: bool = False):
        if not explicit_call:  # explicit calls come from the app's own code (examples), not from a request
            if len(inputs) < len(block_fn.inputs):
                wanted = ", ".join(f"“{_label(block)}”" for block in block_fn.inputs)
                raise gr.Error(f"This endpoint takes {len(block_fn.inputs)} inputs ({wanted}); the request gave "
                               f"{len(inputs)}.", print_exception=False)
            for index, block in enumerate(block_fn.inputs):
                if not getattr(block, "stateful", False):
                    _check_value(block, inputs[index])
        try:
            return await super().preprocess_data(block_fn, inputs, state, explicit_call)
        except gr.Error:
            raise
        except Exception as error:  # noqa: BLE001 - Gradio's own refusals of a malformed request
            logger.warning("refused a request to %s: %s: %s", block_fn.name, type(error).__name__,
                           str(error).splitlines()[0][:200])
            raise gr.Error("The request's inputs could not be read; check their types against the API "
                           "page (“Use via API” at the bottom of the hub).", print_exception=False) from None

    def queue(self, *args, per_client: int = MAX_PENDING_PER_CLIENT, **kwargs):
        super().queue(*args, **kwargs)
        # Gradio builds its queue here and reaches it only through `self._queue` afterwards.
        built = self._queue
        self._queue = FairQueue(per_client, live_updates=built.live_updates, concurrency_count=built.max_thread_count,
                                update_intervals=built.update_intervals, max_size=built.max_size, blocks=self,
                                default_concurrency_limit=built.default_concurrency_limit)
        return self


# --------------------------------------------------------------------------------- the queue
def client_address(request) -> str:
    """Who sent a request: the peer's address, or in a Hugging Face Space (behind its proxy) the
    first X-Forwarded-For address. That header is trusted only where SPACE_ID is set; whether the
    Space's proxy passes a client's own forged entry through has not been checked (see the notes)."""
    if request is None:
        return "unknown"
    forwarded = request.headers.get("x-forwarded-for", "") if os.environ.get("SPACE_ID") else ""
    if forwarded.strip():
        return forwarded.split(",")[0].strip()
    return request.client.host if request.client else "unknown"


class FairQueue(queueing.Queue):
    """Gradio's queue, with at most `per_client` events per client waiting or running at once."""

    def __init__(self, per_client: int, **kwargs):
        super().__init__(**kwargs)
        self.per_client = per_client
        self._admission = asyncio.Lock()

    async def push(self, body, request, username):
        async with self._admission:
            client = client_address(request)
            pending = sum(client_address(event.request) == client for event in list(self.event_ids_to_events.values()))
            if pending >= self.per_client:
                return (False, f"You already have {pending} requests waiting or running, the most one visitor may "
                               "have at once; wait for one to finish.", "queue_full")
            return await super().push(body, request, username)


# --------------------------------------------------------------------------------- bodies
class RequestLimits:
    """ASGI middleware: request bodies bounded in bytes, and one upload request bounded in files.

    A body must declare its length (411 otherwise) and stay under the route's limit (413,
    before any byte is read). Files are counted by their multipart boundaries as the body
    streams in, so a request of many small files is cut off at the first one too many.
    """

    def __init__(self, app, body_bytes: int = MAX_BODY_BYTES, upload_bytes: int = MAX_UPLOAD_BYTES,
                 upload_files: int = MAX_UPLOAD_FILES, before_upload=None):
        self.app = app
        self.body_bytes, self.upload_bytes, self.upload_files = body_bytes, upload_bytes, upload_files
        self.before_upload = before_upload  # called with its size before an upload is read (the disk budget's sweep)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        upload = scope["path"].rstrip("/").endswith("/upload")
        limit = self.upload_bytes if upload else self.body_bytes
        length = headers.get("content-length")
        if length is None:
            if headers.get("transfer-encoding"):
                return await _refuse(send, 411, "Send the request with a Content-Length.")
            return await self.app(scope, receive, send)
        if not length.isdigit() or int(length) > limit:
            return await _refuse(send, 413, f"The request body is over the hub's limit of {limit // 2**10} KB.")
        if not upload:
            return await self.app(scope, receive, send)
        if self.before_upload is not None:
            self.before_upload(int(length))
        boundary = headers.get("content-type", "").partition("boundary=")[2].split(";")[0].strip('"')
        marker = f"\r\n--{boundary}".encode() if boundary else None
        counted = {"parts": 0, "tail": b"\r\n", "refused": False, "started": False}

        async def counting_receive():
            message = await receive()
            if message["type"] == "http.request" and marker is not None:
                chunk = counted["tail"] + message.get("body", b"")
                counted["parts"] += chunk.count(marker)
                counted["tail"] = chunk[-len(marker):]
                if counted["parts"] > self.upload_files + 1:  # the closing boundary is one more than the files
                    counted["refused"] = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if not counted["refused"]:
                counted["started"] = True
                await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not counted["refused"]:
                raise
        if counted["refused"] and not counted["started"]:
            await _refuse(send, 413, f"At most {self.upload_files} files may be uploaded in one request.")


async def _refuse(send, status: int, message: str) -> None:
    body = json.dumps({"detail": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


__all__ = ["HubBlocks", "FairQueue", "RequestLimits", "check_uploaded_file", "client_address"]
