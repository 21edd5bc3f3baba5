"""Gradio glue shared by the plugin tabs: errors users can read, and an image input that checks uploads.

Imported only by demo modules, so training never needs Gradio.
"""

from __future__ import annotations

import functools
import logging

import gradio as gr
from PIL import Image, UnidentifiedImageError

from .errors import UnusableInputError

logger = logging.getLogger("dsl_hub")

# Concurrency groups for event listeners (`btn.click(..., **LIGHT)`): quick calls and heavy ones
# (composing, rendering audio, big grids) queue separately, so heavy work cannot starve light work.
LIGHT = {"concurrency_id": "light", "concurrency_limit": 8}
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
