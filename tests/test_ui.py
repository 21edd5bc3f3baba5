"""Gradio glue: readable errors, and cached output files that are never seen half-written."""

import io
import threading

import gradio as gr
import numpy as np
import pytest
from gradio import processing_utils
from PIL import Image

from plugins.errors import UnusableInputError, bounded_number
from plugins.ui import use_atomic_cache_writes, user_facing


def test_user_facing_turns_unusable_input_into_its_message():
    @user_facing
    def refuse(_):
        raise UnusableInputError("Draw something first.")

    with pytest.raises(gr.Error, match="Draw something first."):
        refuse(None)


def test_user_facing_hides_bugs_behind_a_short_message(caplog):
    @user_facing
    def broken(_):
        raise ZeroDivisionError("internal detail")

    with pytest.raises(gr.Error) as caught:
        broken(None)
    assert "internal detail" not in str(caught.value) and "went wrong" in str(caught.value)
    assert "ZeroDivisionError" in caplog.text


@pytest.mark.parametrize(("value", "message"), [
    ("abc", "must be a number"), (float("nan"), "finite"), (float("inf"), "finite"), (-1, "between"),
    (10**12, "between"), (2.5, "whole number"), (None, "must be a number"),
])
def test_bounded_number_refuses_what_is_out_of_range(value, message):
    with pytest.raises(UnusableInputError, match=message):
        bounded_number(value, "Length", 1, 100, integer=True)


def test_bounded_number_accepts_numbers_and_numeric_strings():
    assert bounded_number("42", "Length", 1, 100, integer=True) == 42
    assert bounded_number(0.5, "Temperature", 0.1, 2.0) == 0.5


@pytest.mark.parametrize("save", ["pil", "bytes", "audio"])
def test_concurrent_identical_outputs_are_always_complete_files(tmp_path, save):
    use_atomic_cache_writes()
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 255, (400, 400, 3), dtype=np.uint8))
    sound = (np.sin(np.linspace(0, 2000, 44100 * 2)) * 20000).astype(np.int16)
    png = io.BytesIO()
    picture.save(png, format="PNG")
    writers = {
        "pil": lambda: processing_utils.save_pil_to_cache(picture, str(tmp_path), format="png"),
        "bytes": lambda: processing_utils.save_bytes_to_cache(png.getvalue(), "same.png", str(tmp_path)),
        "audio": lambda: processing_utils.save_audio_to_cache(sound, 44100, "wav", str(tmp_path)),
    }
    sizes, errors = [], []

    def write_then_read():
        try:
            for _ in range(10):
                with open(writers[save](), "rb") as handle:
                    sizes.append(len(handle.read()))
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=write_then_read) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(set(sizes)) == 1 and sizes[0] > 1000, "every reader saw the same complete file"
