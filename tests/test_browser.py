"""The hub in a real browser: Debian's Chromium driven by Playwright, mouse drawing included.

Screenshots land in test-artifacts/ for a person to look at.
"""

from pathlib import Path

import pytest

from browser import BROWSER, draw, open_tab
from conftest import REPO_ROOT

pytestmark = BROWSER


def test_every_tab_opens(page, artifacts_dir):
    titles = [tab.inner_text().strip() for tab in page.query_selector_all("button[role='tab']")]
    assert "Digits (MNIST CNN)" in titles
    for index, title in enumerate(titles):
        open_tab(page, title)
        assert "Traceback" not in page.inner_text("body")
        page.screenshot(path=str(artifacts_dir / f"browser-tab-{index}.png"), full_page=True)


DIGITS = {
    "7": [[(0.3, 0.2), (0.7, 0.2), (0.45, 0.85)]],
    "1": [[(0.5, 0.15), (0.5, 0.85)]],
    "0": [[(0.5, 0.15), (0.32, 0.3), (0.3, 0.6), (0.5, 0.85), (0.68, 0.6), (0.68, 0.3), (0.5, 0.15)]],
}


@pytest.mark.skipif(not (REPO_ROOT / "pretrained" / "mnist-cnn" / "config.json").is_file(), reason="no weights")
@pytest.mark.parametrize("digit", DIGITS)
def test_drawing_a_digit_with_the_mouse_gives_its_label(page, hub, artifacts_dir, digit):
    page.goto(hub.url)  # a fresh page: no answer from an earlier drawing on screen
    open_tab(page, "Digits (MNIST CNN)")
    page.wait_for_selector("#mnist-sketchpad canvas")
    page.wait_for_timeout(500)
    draw(page, "#mnist-sketchpad canvas", DIGITS[digit])
    page.click("#mnist-classify-drawing")
    answer = page.locator("#mnist-prediction [data-testid='label-output-value']")
    answer.wait_for(timeout=60_000)
    page.wait_for_selector("#mnist-model-input img", timeout=60_000)
    page.screenshot(path=str(artifacts_dir / f"browser-drawn-{digit}.png"), full_page=True)
    assert answer.inner_text().strip() == digit


# The composers' player is the browser's own <audio> element (the piano roll's playhead follows it): once it has
# loaded the WAV, its duration is the piece's length in seconds.
AUDIO_SECONDS_JS = """() => {
    const audio = document.querySelector('#composer-audio audio');
    return audio && Number.isFinite(audio.duration) ? audio.duration : 0;
}"""


@pytest.mark.skipif(not (REPO_ROOT / "pretrained" / "lstm-composer" / "config.json").is_file(), reason="no weights")
def test_composing_gives_an_audio_player_with_music_in_it(page, hub, artifacts_dir):
    page.goto(hub.url)
    open_tab(page, "Composer (LSTM on MIDI)")
    page.click("#composer-compose")
    page.wait_for_function(AUDIO_SECONDS_JS, timeout=120_000)
    seconds = page.evaluate(AUDIO_SECONDS_JS)
    page.wait_for_selector("#composer-piano-roll img", timeout=60_000)
    page.screenshot(path=str(artifacts_dir / "browser-composed.png"), full_page=True)
    assert seconds > 1.0, "the player holds the rendered piece, not an empty file"
    assert "Traceback" not in page.inner_text("body")


GRID_SIZE_JS = """() => {
    const image = document.querySelector('#font-gan-grid img');
    return image && image.complete ? [image.naturalWidth, image.naturalHeight] : null;
}"""


@pytest.mark.skipif(not (REPO_ROOT / "pretrained" / "font-gan" / "config.json").is_file(), reason="no weights")
def test_generating_glyphs_shows_the_grid_image(page, hub, artifacts_dir):
    page.goto(hub.url)
    open_tab(page, "Glyph GAN")
    page.click("#font-gan-generate")
    page.wait_for_function(GRID_SIZE_JS, timeout=60_000)
    width, height = page.evaluate(GRID_SIZE_JS)
    page.screenshot(path=str(artifacts_dir / "browser-glyph-grid.png"), full_page=True)
    assert width >= 6 * 48 and height >= 6 * 48, "36 glyphs of 48x48 pixels by default"


ABC_INFO_JS = """() => {
    const info = document.querySelector('#abc-info');
    return info && /Plays|Does not play/.test(info.innerText) ? info.innerText : null;
}"""
ABC_AUDIO_SECONDS_JS = AUDIO_SECONDS_JS.replace("#composer-audio", "#abc-audio")


@pytest.mark.skipif(not (REPO_ROOT / "pretrained" / "abc-composer" / "config.json").is_file(), reason="no weights")
def test_an_abc_tune_grows_as_text_plays_and_every_model_continues_its_start(page, hub, artifacts_dir):
    page.goto(hub.url)
    open_tab(page, "Folk tunes (ABC text)")
    page.click("#abc-compose")
    info = page.wait_for_function(ABC_INFO_JS, timeout=180_000).json_value()
    text = page.input_value("#abc-text textarea")
    assert text.startswith("T:") and len(text) > 20
    if "Plays" in info:
        page.wait_for_function(ABC_AUDIO_SECONDS_JS, timeout=60_000)
        assert page.evaluate(ABC_AUDIO_SECONDS_JS) > 1.0
        page.wait_for_selector("#abc-roll img", timeout=60_000)
    page.click("#abc-compare")
    page.wait_for_function("() => document.querySelectorAll('#abc-comparison .abc-surprisal').length >= 2",
                           timeout=240_000)
    page.screenshot(path=str(artifacts_dir / "browser-abc-composer.png"), full_page=True)
    assert "Traceback" not in page.inner_text("body")
