"""Assemble the Gradio hub: one tab per plugin, built when asked (never at import).

`spaces/hub/app.py` serves every plugin; `spaces/<plugin>/app.py` serves one.
A plugin whose weights or demo fail to load gets a tab saying why; the other
tabs work as usual.
"""

from __future__ import annotations

import logging
import os
import signal

import gradio as gr
import torch
from starlette.middleware import Middleware

from .guard import MAX_FILE_BYTES, HubBlocks, RequestLimits
from .registry import get_plugin, plugin_names, unavailable_plugins
from .serving import load_demo_models, use_hub_timeouts
from .tempfiles import HubTempFolder
from .ui import CLAMP_TYPED_NUMBERS_JS, LIVE_DRAWING_JS, PAGE_CSS, tab_links, use_atomic_cache_writes

logger = logging.getLogger("dsl_hub")

INTRO = (
    "# Deep Structured Learning Hub\n"
    "Demos of the lecture *Deep Structured Learning* (Kai-Feng Chen, NTU): convolutional networks on "
    "handwritten digits, an LSTM that composes music, GANs that invent Chinese glyphs. "
    "Every model here was trained with this project's Accelerate engine; each tab says where its weights come from."
)


# Gradio 6 sketchpads start with no tool selected ("select the draw tool to start"); a stranger
# expects to draw at once, so the page selects the brush of every sketchpad as it appears.
SELECT_BRUSHES_JS = """
() => {
  const select = () => document.querySelectorAll('button[aria-label="Brush"]:not([data-brush-selected])')
    .forEach((button) => { button.dataset.brushSelected = "1"; button.click(); });
  select();
  new MutationObserver(select).observe(document.body, {childList: true, subtree: true});
}
"""


def _unavailable(title: str, reason: str) -> None:
    gr.Markdown(f"### {title} is unavailable\n\n```\n{reason}\n```")


def build_app(names: list[str] | None = None, title: str = "Deep Structured Learning Hub") -> gr.Blocks:
    names = names if names is not None else plugin_names()
    use_atomic_cache_writes()
    use_hub_timeouts()
    with HubBlocks(title=title) as app:
        gr.Markdown(INTRO)
        with gr.Tabs():
            for name in names:
                plugin = get_plugin(name)
                with gr.Tab(plugin.title, id=name):
                    gr.Markdown(tab_links(plugin), elem_classes="dsl-tab-links")
                    models, failed = load_demo_models(plugin)
                    if not models:
                        _unavailable(plugin.title, "no weights could be loaded:\n" +
                                     "\n".join(f"{label}: {reason}" for label, reason in failed.items()))
                        continue
                    if failed:
                        gr.Markdown("Some weights could not be loaded: " +
                                    "; ".join(f"**{label}**: {reason}" for label, reason in failed.items()))
                    try:
                        plugin.build_demo(models)
                    except Exception as error:  # noqa: BLE001 - one broken tab must not take the hub down
                        logger.exception("the %s demo failed to build", name)
                        _unavailable(plugin.title, f"{type(error).__name__}: {error}")
            for label, reason in unavailable_plugins().items():
                with gr.Tab(f"{label.split(' ')[0]} (unavailable)"):
                    _unavailable(label, reason)
    _name_tools_after_their_api(app)
    # Light calls (classifying a digit) and heavy ones (composing, rendering) have their own
    # concurrency groups (set per event), so a queue of heavy jobs cannot starve the light ones.
    app.queue(default_concurrency_limit=2, max_size=256)
    return app


def _name_tools_after_their_api(app: gr.Blocks) -> None:
    """Gradio names an MCP tool after its Python function, so two tabs' `classify_image` would become
    `classify_image` and `classify_image_1`; the API name (`mnist_cnn_classify`) is unique and names the
    plugin. Functions serving more than one named event keep their own name."""
    from collections import Counter

    named = [block_fn for block_fn in app.fns.values()  # private events (examples, live answers) are no tools
             if block_fn.api_name and block_fn.fn is not None and block_fn.api_visibility != "private"]
    uses = Counter(id(block_fn.fn) for block_fn in named)
    for block_fn in named:
        if uses[id(block_fn.fn)] == 1:
            try:
                block_fn.fn.__name__ = str(block_fn.api_name)
            except (AttributeError, TypeError):  # a bound method or a builtin: its own name stays
                pass


def serve(names: list[str] | None = None, title: str = "Deep Structured Learning Hub") -> None:
    """Build and serve the hub as a public Space must run: every file it writes in one private, swept folder
    (plugins.tempfiles), request limits in front of Gradio (plugins.guard), SIGTERM a clean shutdown.

    Serves on GRADIO_SERVER_NAME:GRADIO_SERVER_PORT (Gradio's own variables; 127.0.0.1:7860 by default).
    """
    folder = HubTempFolder().install()
    folder.start_sweeper()
    # Gradio's launch() closes the server on KeyboardInterrupt in the main thread; a SIGTERM (a Space
    # stopping, `docker stop`) does the same, and atexit then removes the folder.
    signal.signal(signal.SIGTERM, _interrupt)
    # Gradio recomputes its monitoring summary (a pandas group-by over the last 10,000 events) after every
    # event, whether or not anyone reads it: 2-11 ms of CPU per request, growing with the history. The hub
    # serves no monitoring pages (they would show strangers every endpoint's traffic), so nothing reads the
    # summary: recompute it once a million events. Read when the queue is created, in build_app.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000000")
    app = build_app(names, title)
    # One intra-op thread per request from here on (the request threads, started later, take it up): the hub's
    # parallelism is across requests, and on a small machine splitting one request's small kernels over busy
    # cores costs more than it gains (a training step of the lecture's CNN: 11 ms on one thread, 140 ms on
    # two busy cores).
    torch.set_num_threads(1)
    limits = Middleware(RequestLimits, before_upload=folder.sweep_before_upload)
    # mcp_server: every named API event is also an MCP tool (streamable HTTP at /gradio_api/mcp/), for agents.
    # Its file inputs arrive as data URLs, which Gradio stores and uploads through the same limits and
    # checks as a browser's upload; URLs are refused (the hub fetches nothing a caller names).
    app.launch(max_file_size=MAX_FILE_BYTES, show_error=False, css=PAGE_CSS,
               js=page_script(SELECT_BRUSHES_JS, CLAMP_TYPED_NUMBERS_JS, LIVE_DRAWING_JS),
               app_kwargs={"middleware": [limits]}, mcp_server=True, enable_monitoring=False)


def page_script(*scripts: str) -> str:
    """Several page scripts (each a JavaScript function) as the one function `launch(js=...)` runs on load."""
    return "() => {\n" + "".join(f"  ({script.strip()})();\n" for script in scripts) + "}"


def _interrupt(signum, frame):
    raise KeyboardInterrupt
