"""The melody VAE tab in a real browser: pick two melodies, interpolate, and an audio player with the piece appears."""

import json

import pytest

from browser import BROWSER, open_tab
from conftest import REPO_ROOT

SHIPPED = REPO_ROOT / "pretrained" / "melody-vae"
pytestmark = [*BROWSER, pytest.mark.skipif(not (SHIPPED / "melodies.json").is_file(),
                                           reason="no weights in pretrained/melody-vae")]

AUDIO_SECONDS_JS = """() => {
    const shown = document.querySelector('#melody-vae-audio time#duration');
    if (!shown) return 0;
    const [minutes, seconds] = shown.innerText.trim().split(':').map(Number);
    return 60 * minutes + seconds || 0;
}"""


def pick(page, dropdown: str, name: str) -> None:
    """Select what its dropdown shows, type the start of a melody's name and click the entry it leaves, as a
    person does."""
    box = page.locator(f"{dropdown} input")
    box.click()
    box.press("Control+a")
    box.press_sequentially(name[:30])
    page.locator(dropdown).get_by_role("option", name=name, exact=True).click()


def test_two_melodies_interpolated_play_as_one_piece(page, hub, artifacts_dir):
    names = [entry["name"] for entry in json.loads((SHIPPED / "melodies.json").read_text())["melodies"]]
    first = next(name for name in names if name.startswith("Bach"))
    last = next(name for name in names if "Ryan's" in name)
    page.goto(hub.url)
    open_tab(page, "Melody VAE (latent space)")
    pick(page, "#melody-vae-first", first)
    pick(page, "#melody-vae-last", last)
    page.click("#melody-vae-interpolate")
    page.wait_for_function(AUDIO_SECONDS_JS, timeout=120_000)
    page.wait_for_selector("#melody-vae-roll img", timeout=60_000)
    page.wait_for_selector("#melody-vae-map img", timeout=60_000)
    page.screenshot(path=str(artifacts_dir / "browser-melody-vae.png"), full_page=True)
    info = page.inner_text("#melody-vae-info")
    assert f"From {first}" in info and f"to {last}" in info, info[:300]
    assert page.evaluate(AUDIO_SECONDS_JS) > 8 * 8 * 60 / 100 - 1, "nine steps of two bars at 100 BPM"
    assert "Traceback" not in page.inner_text("body")


def test_typed_notes_play_on_enter_and_start_the_path(page, hub):
    page.goto(hub.url)
    open_tab(page, "Melody VAE (latent space)")
    box = page.locator("#melody-vae-first-notes textarea, #melody-vae-first-notes input").first
    box.click()
    box.press_sequentially("C4 E4 G4 E4 | C5:2 G4:2")
    box.press("Enter")  # plays the typed melody, as "Listen to the first" does
    page.wait_for_function("""() => {
        const shown = document.querySelector('#melody-vae-first-audio time#duration');
        return shown && shown.innerText.trim() !== '0:00';
    }""", timeout=60_000)
    page.click("#melody-vae-interpolate")
    page.wait_for_function(AUDIO_SECONDS_JS, timeout=120_000)
    info = page.inner_text("#melody-vae-info")
    assert "From the notes you typed (6 notes" in info, info[:300]
    assert "Traceback" not in page.inner_text("body")
