"""Gradio glue shared by the plugin tabs: errors users can read, an image input that checks uploads, and what
the hub's page adds to every tab (its scripts and style sheet, the line of links at the top of a tab).

Imported only by demo modules and the hub, so training never needs Gradio.
"""

from __future__ import annotations

import functools
import inspect
import io
import logging
import os
import tempfile
import threading
from pathlib import Path

import gradio as gr
from gradio import processing_utils
from PIL import Image, UnidentifiedImageError

from .errors import UnusableInputError

logger = logging.getLogger("dsl_hub")

# Concurrency groups for event listeners (`btn.click(..., **LIGHT)`): quick calls and heavy ones
# (composing, rendering audio, big grids) queue separately, so heavy work cannot starve light work: at most
# two heavy requests compute at once, one per core, each on one intra-op thread. Light requests wait cheaply
# (a digit waits for its shared forward pass, plugins/batching.py), so many may be in flight. Heavy work
# used to run on threads of lower OS priority; with Python's GIL that backfired: a low-priority thread
# descheduled while holding the GIL stalls every other request. Under the 32-visitor load test it gave
# 27.8 requests/s on average against 30.3 without (six runs each; README, Benchmarks).
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


def _encoded_image(img, format: str) -> bytes:
    """Gradio's encoding, but PNGs at zlib level 1: a 36-glyph grid encodes in 4 ms instead of 11 (a piano roll
    in 2 ms instead of 5) and is a quarter larger, a good trade for pictures made fresh for each request."""
    if format.lower() != "png":
        return processing_utils.encode_pil_to_bytes(img, format)
    with io.BytesIO() as encoded:
        img.save(encoded, "png", pnginfo=processing_utils.get_pil_metadata(img), compress_level=1)
        return encoded.getvalue()


def _save_pil_to_cache(img, cache_dir, name="image", format="webp"):
    data = _encoded_image(img, format)
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


# ---------------------------------------------------------------------------------------------
# Numbers typed out of range. Gradio 6.31's slider clamps a typed number only when its box loses focus, and
# silently; after Enter the box keeps the typed number while the slider uses another, and a gr.Number with
# bounds sends the typed number on, to be refused by the server. The page (plugins.hub.serve) runs this
# script: when a number box with bounds is changed (Enter or leaving the box), a value outside them is put
# back inside, the box shows the value that will be used, and a short notice under it says so. Integer steps
# round the same way. The server still checks every number (plugins.errors.bounded_number).
CLAMP_TYPED_NUMBERS_JS = """
() => {
  const nameOf = (input) => (input.getAttribute('aria-label') || 'This number').replace(/^number input for /, '');
  const notify = (input, text) => {
    const block = input.closest('.block') || input.parentElement;
    let note = block.querySelector(':scope > .dsl-range-note');
    if (!note) {
      note = document.createElement('div');
      note.className = 'dsl-range-note';
      note.setAttribute('role', 'status');
      block.appendChild(note);
    }
    note.textContent = text;
    clearTimeout(note.dslTimer);
    note.dslTimer = setTimeout(() => note.remove(), 12000);
  };
  document.addEventListener('change', (event) => {
    const input = event.target;
    if (!(input instanceof HTMLInputElement) || input.type !== 'number') return;
    const typed = Number(input.value);
    if (input.value.trim() === '' || !Number.isFinite(typed)) return;
    const low = input.min === '' ? -Infinity : Number(input.min);
    const high = input.max === '' ? Infinity : Number(input.max);
    const step = Number(input.step);
    let used = Math.min(Math.max(typed, low), high);
    let why = used !== typed ? `${typed} is outside ${low} to ${high}` : '';
    if (Number.isInteger(step) && step > 0 && Number.isFinite(low) && !Number.isInteger((used - low) / step)) {
      used = Math.min(low + Math.round((used - low) / step) * step, high);
      why = why || `${typed} is not a whole step of ${step}`;
    }
    if (!why) return;
    input.value = String(used);
    input.dispatchEvent(new Event('input', {bubbles: true}));
    notify(input, `${nameOf(input)}: ${why}, so ${used} is used.`);
  }, true);
}
"""


# The hub's style sheet (plugins.hub.serve passes it to launch). Gradio 6.31 floats an image's title and its
# buttons over the top of the picture, which hides the first row of a grid or a strip and cuts long titles
# short behind the buttons; a picture output gets a row of its own for them instead. (An output image is an
# `.image-container` holding the picture's button; an empty one or a sketchpad keeps Gradio's layout.)
PAGE_CSS = """
.block:has(> .image-container > button .image-frame) { display: flex; flex-direction: column; }
.block:has(> .image-container > button .image-frame) > label[data-testid="block-label"].float {
  position: static; flex: none; align-self: flex-start; max-width: calc(100% - 7.5rem); }
.block:has(> .image-container > button .image-frame) > .image-container { flex: 1 1 0%; min-height: 0; height: auto; }
.block:has(> .image-container > button .image-frame) > .image-container > .top-panel { top: auto; bottom: 100%; }
.dsl-range-note { margin-top: var(--spacing-sm); font-size: var(--text-sm); color: var(--body-text-color); }
.dsl-range-note::before { content: "⚠ "; color: var(--color-accent); }
.dsl-tab-links { font-size: var(--text-sm); color: var(--body-text-color-subdued); }
.dsl-live-trigger { display: none !important; }
"""


def tab_links(plugin) -> str:
    """The line at the top of a tab: the Hub card of each model it offers, and the lecture the topic comes from."""
    from .cards import repo_id_for

    repos = [repo_id_for(folder) for folder in plugin.weight_folders().values()]
    cards = ", ".join(f"[{repo}](https://huggingface.co/{repo})" for repo in repos)
    lecture = plugin.lecture or "the lecture *Deep Structured Learning* (Kai-Feng Chen, NTU)"
    return f"Model card{'s' if len(repos) > 1 else ''}: {cards}. Lecture: {lecture}."


# ---------------------------------------------------------------------------------------------
# Answers that follow a drawing. Gradio 6.31's sketchpad `change`/`input` events send the drawing ahead as
# separate blobs and the event can be processed before they arrive (the callback then gets no picture), so
# the page presses a hidden button instead, shortly after each stroke (or a clear or an undo) ends: that
# click reads the sketchpad as the Classify button does. The button's event uses trigger_mode="always_last",
# so a page has at most one such request running and one waiting, however fast the strokes come.
LIVE_DRAWING_JS = """
() => {
  const timers = {};
  const blockOf = (event) => event.target instanceof Element && event.target.closest('.block[id]');
  document.addEventListener('pointerup', (event) => {
    const block = blockOf(event);
    const trigger = block && document.getElementById(`${block.id}-live`);
    if (!trigger) return;
    clearTimeout(timers[block.id]);
    timers[block.id] = setTimeout(() => { delete timers[block.id]; trigger.click(); }, 250);
  }, true);
  // A press elsewhere (Classify, another model) answers or clears by itself: no live answer on top of it.
  document.addEventListener('pointerdown', (event) => {
    const block = blockOf(event);
    for (const id of Object.keys(timers)) {
      if (!block || block.id !== id) { clearTimeout(timers[id]); delete timers[id]; }
    }
  }, true);
}
"""


def live_trigger(sketchpad: gr.ImageEditor) -> gr.Button:
    """The hidden button the page presses after each stroke on `sketchpad` (which needs an elem_id); give its
    click the answer to show, with trigger_mode="always_last"."""
    return gr.Button("Answer while drawing", elem_id=f"{sketchpad.elem_id}-live", elem_classes="dsl-live-trigger")


class ModelsOnScreen:
    """The model each page last switched to, so that an answer computed for the previous one changes nothing.

    Switching model clears the answers and cancels the events still running, but Gradio's page cancels only
    the events the hub has acknowledged. One whose drawing or queue request is still on its way goes on with
    the old model's name, reaches the hub after the switch and would land under the new model's notes (seen
    in CI under load: a live answer started 17 ms after the switch). The hub remembers each page's last
    switch (a bounded number of pages, the oldest forgotten) and drops such answers. API callers never
    switch, so their answers always pass.
    """

    def __init__(self, pages: int = 10_000):
        self._chosen: dict[str, str] = {}  # session -> model; insertion order is the order of the last switch
        self._pages = pages
        self._lock = threading.Lock()

    def switched(self, choice: str, request: gr.Request | None) -> None:
        if request is None or not request.session_hash:
            return
        with self._lock:
            self._chosen.pop(request.session_hash, None)
            self._chosen[request.session_hash] = choice
            while len(self._chosen) > self._pages:
                del self._chosen[next(iter(self._chosen))]

    def shows(self, choice: str, request: gr.Request | None) -> bool:
        """Whether `choice` is what the page that sent `request` shows (always, for a page that never switched)."""
        if request is None or not request.session_hash:
            return True
        with self._lock:
            return self._chosen.get(request.session_hash, choice) == choice

    def answer(self, function, outputs: int, choice_at: int = -1):
        """`function` for an event listener, whose answer is dropped (each of its `outputs` left as it is) when
        the page has switched away from the model named by input `choice_at` by the time it is computed.

        Gradio passes the request to a parameter annotated gr.Request, and reads the API's parameter names and
        defaults from the signature: the wrapper's signature is `function`'s with the request put first."""
        unchanged = gr.skip() if outputs == 1 else tuple(gr.skip() for _ in range(outputs))

        def answer_for_the_model_on_screen(request: gr.Request, *inputs):
            if not self.shows(inputs[choice_at], request):  # switched before it arrived: nothing to compute
                return unchanged
            result = function(*inputs)
            return result if self.shows(inputs[choice_at], request) else unchanged  # or while it was computed

        signature = inspect.signature(function)
        request = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=gr.Request)
        answer_for_the_model_on_screen.__signature__ = signature.replace(
            parameters=[request, *signature.parameters.values()])
        answer_for_the_model_on_screen.__name__ = function.__name__
        answer_for_the_model_on_screen.__doc__ = function.__doc__
        return answer_for_the_model_on_screen
