"""The composer tab's user traps of issue 15 in a real browser: an uploaded seed, greedy's loop, a stale piece.

Each test does what a person does with the mouse (upload a file, pick a strategy, press Compose) and reads what
the page then shows. Pieces are short: the page is under test here, not the music.
"""

import pytest

from browser import BROWSER, open_tab
from conftest import DATASETS, REPO_ROOT

pytestmark = [*BROWSER, pytest.mark.skipif(not (REPO_ROOT / "pretrained" / "lstm-composer" / "config.json").is_file(),
                                           reason="no weights in pretrained/lstm-composer")]

TAB = "Composer (LSTM on MIDI)"
INFO = "#composer-info"
ERROR_TOAST = ".toast-body"


def small_corpus_midi():
    """The smallest real MIDI file of the shared corpus, or a skip."""
    files = sorted((DATASETS / "midi").rglob("*.mid"), key=lambda path: (path.stat().st_size, path.name))
    if not files:
        pytest.skip(f"no MIDI files in {DATASETS / 'midi'}")
    return files[0]


def open_composer(page, hub, length: int) -> None:
    page.goto(hub.url)  # a fresh page: nothing composed on screen yet
    open_tab(page, TAB)
    set_number(page, "#composer-length", length)


def set_number(page, slider: str, value: float) -> None:
    box = page.locator(f"{slider} input[type='number']")
    box.fill(str(value))
    box.press("Tab")  # the slider takes the typed value when the box loses focus


def compose_and_wait(page) -> str:
    page.click("#composer-compose")
    page.wait_for_function(f"() => (document.querySelector('{INFO}')?.innerText || '').includes('Timing:')",
                           timeout=60_000)
    return page.inner_text(INFO)


def test_uploading_a_midi_file_makes_it_the_primer(page, hub, artifacts_dir):
    midi = small_corpus_midi()
    open_composer(page, hub, 32)
    assert page.is_checked("#composer-primer-source input[value='random']")
    page.set_input_files("#composer-primer input[type='file']", str(midi))
    page.wait_for_function("() => document.querySelector(\"#composer-primer-source input[value='upload']\").checked",
                           timeout=15_000)
    notes = compose_and_wait(page)
    page.screenshot(path=str(artifacts_dir / "browser-composer-upload.png"), full_page=True)
    assert f"the opening of your MIDI file {midi.name}" in notes


def test_greedy_without_remedies_shows_the_loop_warning(page, hub, artifacts_dir):
    open_composer(page, hub, 128)
    page.check("#composer-strategy input[value='greedy']")
    set_number(page, "#composer-repetition-penalty", 1)
    set_number(page, "#composer-no-repeat-ngram", 0)
    notes = compose_and_wait(page)
    page.screenshot(path=str(artifacts_dir / "browser-composer-loop.png"), full_page=True)
    assert "This piece loops: one bar plays" in notes
    assert "greedy, no remedies against loops" in notes


def test_an_error_after_a_piece_leaves_no_notes_of_that_piece(page, hub, tmp_path, artifacts_dir):
    open_composer(page, hub, 16)
    assert "Timing:" in compose_and_wait(page)
    fake = tmp_path / "letter.mid"
    fake.write_text("Dear composer, this is a letter, not a MIDI file.\n")
    page.set_input_files("#composer-primer input[type='file']", str(fake))
    page.wait_for_function("() => document.querySelector(\"#composer-primer-source input[value='upload']\").checked",
                           timeout=15_000)
    page.click("#composer-compose")
    page.wait_for_selector(ERROR_TOAST, timeout=60_000)
    page.screenshot(path=str(artifacts_dir / "browser-composer-error.png"), full_page=True)
    assert "not a MIDI file" in page.inner_text(ERROR_TOAST)
    assert "Timing:" not in page.inner_text(INFO), "the notes of the last piece are gone"
    assert page.locator("#composer-piano-roll img").count() == 0, "so is its piano roll"
