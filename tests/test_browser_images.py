"""Issue 15 in the image tabs, in a real browser: answers while drawing, an honest "not sure", examples to click,
glyphs chosen from the grid, readable nearest-glyph captions, Enter in the character box, pictures whose title
hides nothing.

Each test does what a person does (strokes with the mouse, clicks on examples and on the grid, typing, Enter)
and reads the page, or the pictures the page shows, as a person would see them.
"""

import io

import numpy as np
import pytest
from PIL import Image

from browser import BROWSER, draw, open_tab
from conftest import DATASETS, REPO_ROOT

pytestmark = BROWSER

ONE = [[(0.5, 0.15), (0.5, 0.85)]]
DOT = [[(0.5, 0.5), (0.51, 0.51)]]
ERROR_TOAST = ".toast-body"


def needs_weights(*folders: str):
    missing = [name for name in folders if not (REPO_ROOT / "pretrained" / name / "config.json").is_file()]
    return pytest.mark.skipif(bool(missing), reason=f"no weights in pretrained/{', '.join(missing)}")


def picture(page, selector: str) -> Image.Image:
    """The picture an <img> shows, fetched from the hub as the browser did."""
    page.wait_for_function(f"""() => {{ const image = document.querySelector("{selector} img");
        return image && image.complete && image.naturalWidth > 0; }}""", timeout=60_000)
    return Image.open(io.BytesIO(page.request.get(page.get_attribute(f"{selector} img", "src")).body())).convert("RGB")


def shown_scale(page, selector: str) -> float:
    """Screen pixels per picture pixel of an <img> drawn with object-fit: scale-down."""
    return page.evaluate(f"""() => {{ const image = document.querySelector("{selector} img");
        return Math.min(1, image.clientWidth / image.naturalWidth, image.clientHeight / image.naturalHeight); }}""")


def assert_title_and_buttons_above_the_picture(page, block: str) -> None:
    """Issue 15 trap 10: Gradio floated a picture's title and buttons over its first row, and cut long titles."""
    title = page.locator(f"{block} label[data-testid='block-label']").bounding_box()
    buttons = page.locator(f"{block} .top-panel").bounding_box()
    image = page.locator(f"{block} img").bounding_box()
    assert title["y"] + title["height"] <= image["y"] + 1, f"{block}: the title covers the picture"
    assert buttons["y"] + buttons["height"] <= image["y"] + 1, f"{block}: the buttons cover the picture"
    assert title["x"] + title["width"] <= buttons["x"] + 1, f"{block}: the title runs under the buttons"
    clipped = page.evaluate(f"""() => {{
        const label = document.querySelector("{block} label[data-testid='block-label']");
        return label.scrollWidth > label.clientWidth + 1 || label.scrollHeight > label.clientHeight + 1; }}""")
    assert not clipped, f"{block}: the title is cut short"


def wait_for_text(page, selector: str, words: str, timeout: float = 60_000) -> str:
    page.wait_for_function(f"""() => (document.querySelector("{selector}")?.innerText || '').includes({words!r})""",
                           timeout=timeout)
    return page.inner_text(selector)


@pytest.mark.parametrize(("tab", "prefix", "picture_block"), [
    pytest.param("Digits (MNIST CNN)", "mnist", "#mnist-feature-maps", marks=needs_weights("mnist-cnn"), id="cnn"),
    pytest.param("Digits (MNIST MLP)", "mnist-mlp", "#mnist-mlp-excited",
                 marks=needs_weights("mnist-cnn", "mnist-mlp"), id="mlp"),
])
def test_the_answer_follows_the_drawing_and_a_dot_is_not_sure(page, hub, tab, prefix, picture_block):
    answer = f"#{prefix}-prediction [data-testid='label-output-value']"
    page.goto(hub.url)
    open_tab(page, tab)
    sketchpad = f"#{prefix}-sketchpad"
    page.wait_for_selector(f"{sketchpad} button[aria-label='Brush'].highlight")
    live_requests = []

    def count(request):
        if "queue/join" in request.url:
            live_requests.append(request.url)

    page.on("request", count)
    # A long stroke of many mouse moves, and no button pressed: one request for the stroke, not one per move.
    box = page.locator(f"{sketchpad} canvas").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 0.15 * box["height"])
    page.mouse.down()
    for step in range(1, 41):
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + (0.15 + 0.7 * step / 40) * box["height"])
    page.mouse.up()
    page.wait_for_selector(answer, timeout=60_000)
    assert page.inner_text(answer).strip() == "1"
    assert page.inner_text(f"#{prefix}-doubt").strip() == ""
    page.remove_listener("request", count)
    assert len(live_requests) <= 2, "one request per stroke, however many mouse moves it has"
    assert_title_and_buttons_above_the_picture(page, picture_block)

    page.click(f"{sketchpad} button[aria-label='Clear canvas']")
    page.wait_for_selector(answer, state="detached", timeout=60_000)  # a cleared canvas clears the answer
    draw(page, f"{sketchpad} canvas", DOT)
    doubt = wait_for_text(page, f"#{prefix}-doubt", "Not sure")
    assert "small spot" in doubt, doubt
    assert not page.query_selector_all(ERROR_TOAST)


@needs_weights("mnist-cnn")
def test_examples_and_a_digit_photographed_on_noisy_paper(page, hub, tmp_path):
    """Clicking an example shows it and its answer; a scribble is "not sure"; a digit photographed on grainy
    paper with dust is read (it was cropped to the noise and read as a 9 at 24 %)."""
    page.goto(hub.url)
    open_tab(page, "Digits (MNIST CNN)")
    examples = page.locator("#mnist-examples button")
    examples.nth(5).click()  # the scribble
    assert "does not look like a handwritten digit" in wait_for_text(page, "#mnist-doubt", "Not sure")
    examples.nth(3).click()  # a 4 on grainy ruled paper
    page.wait_for_function("""() => document.querySelector("#mnist-prediction [data-testid='label-output-value']")
        ?.innerText.trim() === '4'""", timeout=60_000)
    page.wait_for_function("() => !document.querySelector('#mnist-doubt').innerText.trim()", timeout=10_000)
    assert page.locator("#mnist-upload img").count() == 1, "the example is shown in the Upload tab"

    digit, label = noisy_photo(tmp_path)
    page.set_input_files("#mnist-upload input[type='file']", str(digit))
    page.click("#mnist-classify-upload")
    page.wait_for_function(f"""() => document.querySelector("#mnist-prediction [data-testid='label-output-value']")
        ?.innerText.trim() === '{label}'""", timeout=60_000)


def noisy_photo(folder):
    """A test digit of MNIST (or a drawn one without the data set) photographed on grainy, dusty paper."""
    from plugins.familiarity_fit import drawn_digit, photo_on_paper
    from plugins.mnist_cnn.data import read_idx

    rng = np.random.default_rng(0)
    mnist = DATASETS / "mnist"
    if (mnist / "t10k-images-idx3-ubyte.gz").is_file():
        ink, label = read_idx(mnist / "t10k-images-idx3-ubyte.gz")[0] / 255.0, "7"  # read as 0 before the fix
    else:
        ink, label = 1.0 - drawn_digit("7", rng) / 255.0, "7"
    path = folder / "photo.png"
    Image.fromarray(photo_on_paper(ink, rng)).convert("RGB").save(path)
    return path, label


@needs_weights("font-style-cnn")
def test_font_style_enter_examples_and_a_digit_is_not_a_character(page, hub):
    page.goto(hub.url)
    open_tab(page, "Font style (CNN)")
    character = page.locator("#font-style-character textarea, #font-style-character input").first
    character.fill("龍")
    character.press("Enter")
    page.wait_for_selector("#font-style-renders img", timeout=60_000)
    first = page.get_attribute("#font-style-renders img", "src")
    page.locator("#font-style-examples").get_by_text("風", exact=True).click()
    page.wait_for_function(f"""() => document.querySelector('#font-style-renders img')?.src !== {first!r}""",
                           timeout=60_000)
    assert character.input_value() == "風"

    page.get_by_role("tab", name="Upload").filter(visible=True).click()
    page.set_input_files("#font-style-upload input[type='file']",
                         str(REPO_ROOT / "plugins" / "mnist_cnn" / "examples" / "drawn-3.png"))
    page.click("#font-style-classify-upload")
    assert "looks like a handwritten digit" in wait_for_text(page, "#font-style-doubt", "Not sure")


@needs_weights("font-gan")
def test_two_glyphs_chosen_on_the_grid_morph_and_the_nearest_captions_are_readable(page, hub):
    page.goto(hub.url)
    open_tab(page, "Glyph GAN")
    page.locator("#font-gan-examples").get_by_text("16 glyphs, seed 7").click()
    grid = picture(page, "#font-gan-grid")
    wait_for_text(page, "#font-gan-pick-note", "16 glyphs from seed 7")
    assert_title_and_buttons_above_the_picture(page, "#font-gan-grid")

    # Click glyph 6 (second row, second column of 4 x 4), then glyph 11 (third row, third column).
    cell = 48 * 2 + 2
    image, scale = page.locator("#font-gan-grid img").bounding_box(), shown_scale(page, "#font-gan-grid")
    left = image["x"] + (image["width"] - grid.width * scale) / 2
    top = image["y"] + (image["height"] - grid.height * scale) / 2
    for number, note in ((6, "Glyph 6 is the start"), (11, "Glyph 6 morphs into glyph 11")):
        row, column = divmod(number - 1, 4)
        page.mouse.click(left + (2 + (column + 0.5) * cell) * scale, top + (2 + (row + 0.5) * cell) * scale)
        wait_for_text(page, "#font-gan-pick-note", note, timeout=30_000)
    assert (page.input_value("#font-gan-first input"), page.input_value("#font-gan-second input")) == ("6", "11")
    page.click("#font-gan-morph-chosen")
    strip = picture(page, "#font-gan-morph")

    def glyph(sheet, index, columns):
        row, column = divmod(index, columns)
        return np.asarray(sheet.convert("L").crop((2 + column * cell, 2 + row * cell, 2 + column * cell + 96,
                                                   2 + row * cell + 96)), dtype=np.float32)

    steps = (strip.width - 2) // cell
    for number, frame in ((6, 0), (11, steps - 1)):
        difference = np.abs(glyph(strip, frame, steps) - glyph(grid, number - 1, 4)).mean()
        others = min(np.abs(glyph(strip, frame, steps) - glyph(grid, index, 4)).mean()
                     for index in range(16) if index != number - 1)
        assert difference < 2 < others, f"the morph's end {frame} is glyph {number} of the grid"

    page.click("#font-gan-find-nearest")
    pairs = np.asarray(picture(page, "#font-gan-nearest")).astype(np.int16)
    red, blue = pairs[..., 0] - pairs[..., 2], pairs[..., 2] - pairs[..., 0]  # characters red, distances blue
    characters = caption_bitmaps(red > 60)
    assert len(characters) == 16, len(characters)
    assert len({bitmap.tobytes() for bitmap in characters}) >= 8, "real characters, not 16 copies of one empty box"
    rows = np.flatnonzero((blue > 60).any(axis=1))
    first_row = rows[rows < rows[0] + 40]
    height_on_screen = (first_row.max() - first_row.min() + 1) * shown_scale(page, "#font-gan-nearest")
    assert height_on_screen >= 10, f"the distances are {height_on_screen:.1f} pixels tall on screen"


def caption_bitmaps(mask: np.ndarray) -> list[np.ndarray]:
    """The captions in a mask of caption pixels: bands of rows, then runs of columns apart by over 12 pixels."""
    bitmaps = []
    rows = np.flatnonzero(mask.any(axis=1))
    if not len(rows):
        return bitmaps
    bands = np.split(rows, np.flatnonzero(np.diff(rows) > 12) + 1)
    for band in bands:
        strip = mask[band.min(): band.max() + 1]
        columns = np.flatnonzero(strip.any(axis=0))
        for run in np.split(columns, np.flatnonzero(np.diff(columns) > 12) + 1):
            bitmap = strip[:, run.min(): run.max() + 1]
            rows_used = np.flatnonzero(bitmap.any(axis=1))
            bitmaps.append(np.packbits(bitmap[rows_used.min(): rows_used.max() + 1]))
    return bitmaps
