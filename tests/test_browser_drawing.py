"""The user traps of issue 15 in a real browser: clearing a sketchpad, switching models, the tabs' own words.

Each test does what the tester did with the mouse (draw, press the bin icon, draw again, pick another model)
and reads what a person would then see on the page.
"""

import pytest

from browser import BROWSER, draw, open_tab
from conftest import REPO_ROOT

pytestmark = BROWSER

SEVEN = [[(0.3, 0.2), (0.7, 0.2), (0.45, 0.85)]]
ONE = [[(0.5, 0.15), (0.5, 0.85)]]
ERROR_TOAST = ".toast-body"


def needs_weights(*folders: str):
    missing = [name for name in folders if not (REPO_ROOT / "pretrained" / name / "config.json").is_file()]
    return pytest.mark.skipif(bool(missing), reason=f"no weights in pretrained/{', '.join(missing)}")


def open_sketchpad(page, hub, tab: str, sketchpad: str) -> None:
    page.goto(hub.url)
    open_tab(page, tab)
    page.wait_for_selector(f"{sketchpad} button[aria-label='Brush'].highlight")  # the hub selects the brush


def clear_canvas(page, sketchpad: str) -> None:
    page.click(f"{sketchpad} button[aria-label='Clear canvas']")


def answer_or_error(page, answer: str) -> str:
    """The label the page shows, or fail with the error message it shows instead."""
    page.wait_for_selector(f"{answer}, {ERROR_TOAST}", timeout=60_000)
    errors = [toast.inner_text() for toast in page.query_selector_all(ERROR_TOAST)]
    assert not errors, errors
    return page.inner_text(answer).strip()


@pytest.mark.parametrize(("tab", "prefix", "other_model"), [
    pytest.param("Digits (MNIST CNN)", "mnist", "lecture-01a",
                 marks=needs_weights("mnist-cnn", "mnist-cnn-lecture-01a"), id="cnn"),
    pytest.param("Digits (MNIST MLP)", "mnist-mlp", "lecture (MIT 6.S191 lab)",
                 marks=needs_weights("mnist-mlp", "mnist-mlp-lecture"), id="mlp"),
])
def test_a_digit_drawn_after_clearing_is_classified_and_another_model_clears_the_answer(
        page, hub, tab, prefix, other_model):
    sketchpad = f"#{prefix}-sketchpad"
    open_sketchpad(page, hub, tab, sketchpad)
    draw(page, f"{sketchpad} canvas", SEVEN)
    clear_canvas(page, sketchpad)
    draw(page, f"{sketchpad} canvas", ONE)
    page.click(f"#{prefix}-classify-drawing")
    answer = f"#{prefix}-prediction [data-testid='label-output-value']"
    # The tab also answers while drawing, so the 7's answer may show for a moment: wait for the last one.
    page.wait_for_function(f"""() => document.querySelector("{answer}")?.innerText.trim() === '1'
                               || document.querySelector("{ERROR_TOAST}")""", timeout=60_000)
    assert answer_or_error(page, answer) == "1", "the new stroke alone: the 7 was cleared, the 1 was drawn"
    page.wait_for_selector(f"#{prefix}-model-input img")

    page.locator(f"#{prefix}-model").get_by_text(other_model, exact=True).click()
    page.wait_for_selector(answer, state="detached", timeout=10_000)
    assert page.locator(f"#{prefix}-model-input img").count() == 0, "no picture from the previous model stays"


@needs_weights("mnist-cnn", "mnist-cnn-lecture-01a")
def test_an_answer_asked_before_another_model_was_chosen_but_arriving_after_does_not_land(page, hub):
    """Gradio's page cancels only the events the hub has acknowledged: a live answer whose request is still on
    its way (its drawing uploading, its queue request sent) when the model changes reaches the hub afterwards,
    computed for the old model. A slow network, here the live answer's queue request held until the switch is
    done, makes that moment last; the hub must drop the stale answer."""
    sketchpad = "#mnist-sketchpad"
    open_sketchpad(page, hub, "Digits (MNIST CNN)", sketchpad)
    held, passed = [], []

    def hold_the_first(route):
        if held:
            passed.append(route.request.url)
            route.continue_()
        else:
            held.append(route)

    page.route("**/gradio_api/queue/join*", hold_the_first)
    try:
        draw(page, f"{sketchpad} canvas", ONE)
        for _ in range(100):  # the live answer is asked for 250 ms after the stroke
            if held:
                break
            page.wait_for_timeout(100)
        assert held, "no answer was asked for while drawing"

        page.locator("#mnist-model").get_by_text("lecture-01a", exact=True).click()
        page.wait_for_function("() => document.querySelector('#mnist-notes').innerText.startsWith('lecture-01a:')",
                               timeout=30_000)
        assert passed, "the switch went through while the live answer was held"
        with page.expect_response("**/gradio_api/queue/join*", timeout=30_000) as answer:
            held[0].continue_()
        assert answer.value.ok, answer.value.status  # the stale request reached the hub and was queued
    finally:
        page.unroute("**/gradio_api/queue/join*", hold_the_first)
    page.wait_for_timeout(3_000)  # the stale answer is computed in milliseconds; it would have landed by now
    assert page.locator("#mnist-prediction [data-testid='label-output-value']").count() == 0
    assert page.locator("#mnist-model-input img").count() == 0, "the old model's answer landed after the switch"


@needs_weights("font-style-cnn")
def test_the_font_style_sketchpad_asks_for_a_character_and_draws_after_clearing(page, hub):
    sketchpad = "#font-style-sketchpad"
    open_sketchpad(page, hub, "Font style (CNN)", sketchpad)
    draw(page, f"{sketchpad} canvas", SEVEN)
    clear_canvas(page, sketchpad)
    page.click("#font-style-classify-drawing")
    message = page.wait_for_selector(ERROR_TOAST, timeout=30_000).inner_text()
    assert "character" in message and "digit" not in message, message
    page.click(f"{ERROR_TOAST} button")  # close it, as a person would, so it does not read as the next answer

    draw(page, f"{sketchpad} canvas", [[(0.2, 0.3), (0.8, 0.3)], *ONE, [(0.5, 0.5), (0.2, 0.8)]])
    page.click("#font-style-classify-drawing")
    assert answer_or_error(page, "#font-style-prediction [data-testid='label-output-value']")


@needs_weights("font-gan", "font-gan-mnist")
def test_another_gan_model_clears_the_glyphs_and_mnist_has_no_nearest_button(page, hub):
    page.goto(hub.url)
    open_tab(page, "Glyph GAN")
    page.click("#font-gan-generate")
    page.wait_for_selector("#font-gan-grid img", timeout=60_000)

    page.locator("#font-gan-model").get_by_text("MNIST digits", exact=True).click()
    page.wait_for_selector("#font-gan-grid img", state="detached", timeout=10_000)
    note = page.wait_for_selector("#font-gan-nearest-note", state="visible", timeout=10_000).inner_text()
    assert "MNIST" in note, note
    assert not page.is_visible("#font-gan-find-nearest"), "the nearest-glyph button cannot work for MNIST"

    page.locator("#font-gan-model").get_by_text("Kai (best)", exact=True).click()
    page.wait_for_selector("#font-gan-find-nearest", state="visible", timeout=10_000)
    assert not page.is_visible("#font-gan-nearest-note")
