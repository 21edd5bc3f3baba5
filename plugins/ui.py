"""Gradio glue shared by the plugin tabs: errors users can read, and an image input that checks uploads.

Imported only by demo modules, so training never needs Gradio.
"""

from __future__ import annotations

import functools
import logging
import os
import tempfile
from pathlib import Path

import gradio as gr
from gradio import processing_utils
from PIL import Image, UnidentifiedImageError

from .errors import UnusableInputError

logger = logging.getLogger("dsl_hub")

# Concurrency groups for event listeners (`btn.click(..., **LIGHT)`): quick calls and heavy ones
# (composing, rendering audio, big grids) queue separately, so heavy work cannot starve light work. Every
# request computes on one intra-op thread, heavy ones at low CPU priority (plugins/hub.py): two heavy
# requests use both cores when nothing else wants them and yield at once to light ones. Light requests wait
# cheaply (a digit waits for its shared forward pass, plugins/batching.py), so many may be in flight.
LIGHT = {"concurrency_id": "light", "concurrency_limit": 16}
HEAVY = {"concurrency_id": "heavy", "concurrency_limit": 2}


def user_facing(function):
    """Run a demo callback; turn unusable input into a readable gr.Error and bugs into a short one.

    The HTTP API can be called with anything, so this is where a bad request
    ends: the user sees what to fix, the server logs the rest and keeps serving.
    """

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except UnusableInputError as error:
            raise gr.Error(str(error), print_exception=False) from None
        except gr.Error:
            raise
        except Exception:
            logger.exception("demo callback %s failed", function.__name__)
            raise gr.Error("Something went wrong on the server while handling this request; "
                           "it has been logged. Try other settings or another input.", print_exception=False) from None

    return wrapper


class CheckedImage(gr.Image):
    """`gr.Image` whose upload decoding failures become a readable error instead of a generic one.

    A template component: the browser renders it exactly like gr.Image.
    """

    is_template = True

    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except Image.DecompressionBombError as error:
            raise gr.Error("The uploaded image has too many pixels.", print_exception=False) from error
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
            raise gr.Error("The uploaded file is not an image this demo can read (try PNG or JPEG).",
                           print_exception=False) from error


# ---------------------------------------------------------------------------------------------
# Gradio 6.31 writes cached copies of outputs (and of converted image inputs) in place, at a path
# derived from their content: two requests producing the same picture or sound at the same moment
# write the same file, and one of them can read or send it while it is empty. Seen under load as
# "not an image" errors and truncated downloads. These replacements write a temporary file and
# rename it into place, so a reader only ever sees a complete file.
def _write_atomically(path: Path, write) -> str:
    path = path.resolve()
    if path.exists():
        return str(path)
    descriptor, staging = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(descriptor)
    try:
        write(staging)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return str(path)


def _save_pil_to_cache(img, cache_dir, name="image", format="webp"):
    data = processing_utils.encode_pil_to_bytes(img, format)
    folder = Path(cache_dir) / processing_utils.hash_bytes(data)
    folder.mkdir(exist_ok=True, parents=True)
    return _write_atomically(folder / f"{name}.{format}", lambda staging: Path(staging).write_bytes(data))


def _save_bytes_to_cache(data, file_name, cache_dir):
    folder = Path(cache_dir) / processing_utils.hash_bytes(data)
    folder.mkdir(exist_ok=True, parents=True)
    if not Path(file_name).suffix:
        file_name += processing_utils.detect_audio_format(data)
    return _write_atomically(folder / Path(file_name).name, lambda staging: Path(staging).write_bytes(data))


_gradio_save_audio_to_cache = processing_utils.save_audio_to_cache


def _save_audio_to_cache(data, sample_rate, format, cache_dir):
    with tempfile.TemporaryDirectory(dir=cache_dir) as private:
        written = Path(_gradio_save_audio_to_cache(data, sample_rate, format, private))
        target = Path(cache_dir) / written.parent.name / written.name
        target.parent.mkdir(exist_ok=True, parents=True)
        return _write_atomically(target, lambda staging: os.replace(written, staging))


def use_atomic_cache_writes() -> None:
    """Replace Gradio's three in-place cache writers (the hub calls this once when it builds its app)."""
    processing_utils.save_pil_to_cache = _save_pil_to_cache
    processing_utils.save_bytes_to_cache = _save_bytes_to_cache
    processing_utils.save_audio_to_cache = _save_audio_to_cache


# Gradio 6.31's ImageEditor (and so gr.Sketchpad) switches to its "image" tool when its bin icon clears the
# canvas (`remove_image()` in js/imageeditor/shared/ImageEditor.svelte calls handle_tool_change("image")).
# A sketchpad has no image sources, so that tool shows no buttons and ignores the mouse: strokes after a
# clear draw nothing, and Classify then finds no image. No component setting avoids that path, and a reset
# to an empty value from Python takes the same path (the editor's "no value" effect), so the page presses
# the sketchpad's own Brush button again once Gradio's clear handler has run.
def reselect_brush_after_clear(sketchpad: gr.ImageEditor) -> None:
    """Keep `sketchpad` (which needs an elem_id) ready to draw after its bin icon clears it."""
    brush = f"#{sketchpad.elem_id} button[aria-label='Brush']"
    sketchpad.clear(None, js=f'() => {{ setTimeout(() => document.querySelector("{brush}")?.click()); }}')
