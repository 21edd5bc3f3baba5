"""The composer tabs in a real browser (issue 15): an uploaded seed, greedy's loop, a stale piece, a melody played on
the on-screen keyboard or typed, clickable example primers, the piano roll's playhead following the audio player,
and Compose on the first screen; the same playhead, examples and loop notice in the ABC tab.

Each test does what a person does with the mouse and keyboard (upload a file, click keys and examples, type, press
Enter or Compose, play the audio, click the piano roll) and reads what the page then shows. Pieces are short: the
page is under test here, not the music.
"""

import pytest

from browser import BROWSER, VIEWPORT, open_tab
from conftest import DATASETS, REPO_ROOT

pytestmark = [*BROWSER, pytest.mark.skipif(not (REPO_ROOT / "pretrained" / "lstm-composer" / "config.json").is_file(),
                                           reason="no weights in pretrained/lstm-composer")]

TAB = "Composer (LSTM on MIDI)"
ABC_TAB = "Folk tunes (ABC text)"
INFO = "#composer-info"
ERROR_TOAST = ".toast-body"
MELODY = "#composer-melody input"


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


def open_accordion(page, accordion: str) -> None:
    page.locator(f"{accordion} button").first.click()
    page.wait_for_timeout(300)


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
    open_accordion(page, "#composer-more")
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


# ------------------------------------------------------------------ the first screen
def on_first_screen(page, selector: str) -> bool:
    """Whole and visible in the 1300 x 1100 window without scrolling."""
    box = page.locator(selector).first.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT["height"]


@pytest.mark.skipif(not (REPO_ROOT / "pretrained" / "abc-composer" / "config.json").is_file(), reason="no weights")
def test_compose_and_the_main_controls_are_on_the_first_screen_of_both_composers(page, hub, artifacts_dir):
    controls = {TAB: ["#composer-model", "#composer-strategy", "#composer-primer-source", MELODY,
                      "#composer-keyboard", "#composer-length", "#composer-compose"],
                ABC_TAB: ["#abc-model", "#abc-strategy", "#abc-start", "#abc-compose", "#abc-examples"]}
    page.goto(hub.url)
    for tab, selectors in controls.items():
        open_tab(page, tab)
        assert page.evaluate("() => window.scrollY") == 0
        page.screenshot(path=str(artifacts_dir / f"browser-first-screen-{tab.split()[0].lower()}.png"))
        hidden = [selector for selector in selectors if not on_first_screen(page, selector)]
        assert not hidden, f"below the fold in {tab}: {hidden}"


# ------------------------------------------------------------------ a melody, the playhead
AUDIO_LOADED_JS = "document.querySelector('{audio} audio')?.readyState >= 2"
PLAYHEAD_JS = """([roll, player]) => {
    const audio = document.querySelector(player + ' audio');
    const frame = document.querySelector(roll + ' .roll-frame').getBoundingClientRect();
    const head = document.querySelector(roll + ' .roll-playhead').getBoundingClientRect();
    const end = parseFloat(document.querySelector(roll + ' .roll-frame').dataset.end);
    return {audio: audio.currentTime, paused: audio.paused, end: end,
            head: (head.left + head.width / 2 - frame.left) / frame.width};
}"""


def playhead(page, roll: str, audio: str) -> dict:
    """Where the playhead is drawn (a share of the roll's width), the audio's time and the seconds the roll spans."""
    return page.evaluate(PLAYHEAD_JS, [roll, audio])


def assert_playhead_on_the_audio(page, roll: str, audio: str) -> dict:
    state = playhead(page, roll, audio)
    assert state["head"] == pytest.approx(min(1.0, state["audio"] / state["end"]), abs=0.02), state
    return state


def play_and_follow(page, roll: str, audio: str) -> None:
    """Press the player's play button with the mouse; while it plays, the line is where the audio is; clicking the
    roll moves both there; a seek (as the player's own slider does) moves the line too."""
    assert playhead(page, roll, audio)["head"] == pytest.approx(0, abs=0.01)
    player = page.locator(f"{audio} audio").bounding_box()
    page.mouse.click(player["x"] + 20, player["y"] + player["height"] / 2)  # the play button, left in the player
    page.wait_for_function(f"() => document.querySelector('{audio} audio').currentTime > 0.8", timeout=20_000)
    moving = assert_playhead_on_the_audio(page, roll, audio)
    assert not moving["paused"] and moving["head"] > 0.02
    page.wait_for_timeout(400)
    assert playhead(page, roll, audio)["head"] > moving["head"], "the line moves on while the music plays"
    frame = page.locator(f"{roll} .roll-frame").bounding_box()
    page.mouse.click(frame["x"] + 0.6 * frame["width"], frame["y"] + frame["height"] / 2)
    jumped = assert_playhead_on_the_audio(page, roll, audio)
    assert jumped["audio"] == pytest.approx(0.6 * jumped["end"], abs=0.4), "clicking the roll plays from there"
    page.mouse.click(player["x"] + 20, player["y"] + player["height"] / 2)  # pause
    page.evaluate(f"() => {{ document.querySelector('{audio} audio').currentTime = 0.25 * "
                  f"parseFloat(document.querySelector('{roll} .roll-frame').dataset.end); }}")
    page.wait_for_function(f"() => Math.abs(document.querySelector('{audio} audio').currentTime - 0.25 * "
                           f"parseFloat(document.querySelector('{roll} .roll-frame').dataset.end)) < 0.05")
    page.wait_for_timeout(200)
    sought = assert_playhead_on_the_audio(page, roll, audio)
    assert sought["paused"] and sought["head"] == pytest.approx(0.25, abs=0.02), "a seek moves the line"


def test_a_melody_played_on_the_keyboard_is_the_primer_and_the_playhead_follows_the_audio(page, hub, artifacts_dir):
    open_composer(page, hub, 32)
    for key in ("C4", "E4", "G4"):
        page.click(f"#composer-keyboard button[aria-label='{key}']")
    page.check("#composer-keyboard input[value='2']")
    page.click("#composer-keyboard button[aria-label='C5']")
    page.click("#composer-keyboard button[aria-label='Rest']")
    page.click("#composer-keyboard button[aria-label='Remove the last note']")
    assert page.input_value(MELODY) == "C4 E4 G4 C5:2"
    assert page.is_checked("#composer-primer-source input[value='melody']"), "playing a melody makes it the primer"
    page.click(MELODY)
    page.keyboard.press("End")
    page.keyboard.type(" H4")
    page.keyboard.press("Enter")
    page.wait_for_selector(ERROR_TOAST, timeout=60_000)
    assert "“H4” is not a note" in page.inner_text(ERROR_TOAST)
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    page.keyboard.type("B4:1/2")
    page.keyboard.press("Enter")  # Enter composes
    page.wait_for_function(f"() => (document.querySelector('{INFO}')?.innerText || '').includes('Timing:')",
                           timeout=60_000)
    assert "Primer: your melody (5 notes)" in page.inner_text(INFO)
    page.wait_for_selector("#composer-piano-roll .roll-frame img", timeout=30_000)
    page.wait_for_function(f"() => {AUDIO_LOADED_JS.format(audio='#composer-audio')}", timeout=30_000)
    play_and_follow(page, "#composer-piano-roll", "#composer-audio")
    page.screenshot(path=str(artifacts_dir / "browser-composer-melody-playhead.png"), full_page=True)


def test_clicking_an_example_makes_its_midi_file_the_primer(page, hub, artifacts_dir):
    open_composer(page, hub, 16)
    page.get_by_text("The Castle of Dromore").click()
    page.wait_for_function("() => document.querySelector(\"#composer-primer-source input[value='upload']\").checked",
                           timeout=15_000)
    assert "oneills_the_castle_of_dromore_opening.mid" in page.inner_text("#composer-primer").replace("\n", "")
    notes = compose_and_wait(page)
    page.screenshot(path=str(artifacts_dir / "browser-composer-example.png"), full_page=True)
    assert "the opening of your MIDI file oneills_the_castle_of_dromore_opening.mid" in notes


# ------------------------------------------------------------------ the ABC tab
ABC_INFO = "#abc-info"
ABC_DONE_JS = "() => /Plays|Does not play/.test(document.querySelector('#abc-info')?.innerText || '')"


@pytest.mark.skipif(not (REPO_ROOT / "pretrained" / "abc-composer" / "config.json").is_file(), reason="no weights")
def test_abc_examples_greedys_loop_notice_and_the_playhead(page, hub, artifacts_dir):
    page.goto(hub.url)
    open_tab(page, ABC_TAB)
    page.get_by_text("The Irish Hautboy.").click()
    page.wait_for_function("() => document.querySelector('#abc-start textarea').value.startsWith("
                           "'T:The Irish Hautboy.')", timeout=15_000)
    page.check("#abc-strategy input[value='greedy']")
    open_accordion(page, "#abc-more")
    set_number(page, "#abc-repetition-penalty", 1)  # greedy as the lecture has it: no remedy
    set_number(page, "#abc-no-repeat-ngram", 0)
    page.click("#abc-compose")
    page.wait_for_function(ABC_DONE_JS, timeout=120_000)
    looping = page.inner_text(ABC_INFO)
    assert "This tune loops: a phrase of" in looping and "greedy, no remedies against loops" in looping
    set_number(page, "#abc-repetition-penalty", 1.2)
    set_number(page, "#abc-no-repeat-ngram", 16)
    page.click("#abc-compose")
    page.wait_for_function("() => (document.querySelector('#abc-info')?.innerText || '').includes("
                           "'repetition penalty 1.2 and no repeated 16-character n-grams')", timeout=120_000)
    remedied = page.inner_text(ABC_INFO)
    assert "Plays" in remedied and "This tune loops" not in remedied
    page.wait_for_selector("#abc-roll .roll-frame img", timeout=30_000)
    page.wait_for_function(f"() => {AUDIO_LOADED_JS.format(audio='#abc-audio')}", timeout=30_000)
    play_and_follow(page, "#abc-roll", "#abc-audio")
    page.screenshot(path=str(artifacts_dir / "browser-abc-playhead.png"), full_page=True)
