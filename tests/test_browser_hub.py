"""Issue 15 across every tab, in a real browser: numbers typed out of range, and what the top of a tab says.

The tests walk the tabs the hub has (whatever plugins are installed), so a new tab is covered as it comes.
"""

from browser import BROWSER, open_tab
from plugins.cards import repo_id_for
from plugins.registry import get_plugin, plugin_names

pytestmark = BROWSER

NOTE = ".dsl-range-note"

# Every visible number box of the open tab with its bounds: (the box's id in the page, low, high, integer step).
NUMBER_BOXES_JS = """() => {
  document.querySelectorAll('[data-test-box]').forEach((box) => box.removeAttribute('data-test-box'));
  const panel = [...document.querySelectorAll('[role="tabpanel"]')].find((p) => p.offsetParent !== null);
  return [...panel.querySelectorAll('input[type="number"]')]
    .filter((box) => box.offsetParent !== null && !box.disabled && box.min !== '' && box.max !== '')
    .map((box, index) => { box.dataset.testBox = String(index);
      return [index, Number(box.min), Number(box.max), box.getAttribute('aria-label') || '']; });
}"""


def tab_titles(page) -> list[str]:
    return [plugin.title for plugin in map(get_plugin, plugin_names())
            if page.get_by_role("tab", name=plugin.title).count()]


def js(value: float) -> str:
    """A number as the page's script writes it (JavaScript's String(number) for the numbers used here)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def type_number(page, index: int, value: float, key: str) -> tuple[str, str]:
    """Type `value` into box `index` as a person does and leave it with `key`; (what the box shows, its notice)."""
    box = page.locator(f"input[data-test-box='{index}']")
    box.click()
    box.fill(str(value))
    box.press(key)
    page.wait_for_timeout(150)
    block = box.locator("xpath=ancestor::div[contains(concat(' ', normalize-space(@class), ' '), ' block ')][1]")
    note = block.locator(NOTE)
    return box.input_value(), (note.inner_text() if note.count() else "")


def test_numbers_typed_out_of_range_show_the_value_used_and_say_so_in_every_tab(page, hub):
    """Gradio clamped out-of-range slider numbers silently (after Enter the box kept the typed number) and sent a
    gr.Number's out-of-range value on, to be refused: the box now shows the value used, with a notice."""
    page.goto(hub.url)
    checked = []
    for title in tab_titles(page):
        open_tab(page, title)
        for index, low, high, name in page.evaluate(NUMBER_BOXES_JS):
            too_big = high * 10 + 7 if high > 0 else high + 1000
            shown, note = type_number(page, index, too_big, "Enter")
            assert float(shown) == high, f"{title} / {name}: typed {too_big}, the box shows {shown}"
            assert f"{js(too_big)} is outside" in note and f"{js(high)} is used" in note, (title, name, note)
            shown, note = type_number(page, index, low - 3, "Tab")
            assert float(shown) == low, f"{title} / {name}: typed {low - 3}, the box shows {shown}"
            assert f"{js(low - 3)} is outside" in note and f"{js(low)} is used" in note, (title, name, note)
            checked.append(f"{title} / {name}")
    assert len(checked) >= 5, checked

    # The value shown is the value used: 5,000 glyphs asked for, the grid has the 100 the box shows.
    open_tab(page, "Glyph GAN")
    count = page.locator("#font-gan-count input[type='number']")
    count.fill("5000")
    count.press("Tab")
    page.click("#font-gan-generate")
    width = page.wait_for_function("""() => { const image = document.querySelector('#font-gan-grid img');
        return image && image.complete && image.naturalWidth; }""", timeout=60_000).json_value()
    assert width == 10 * (48 * 2 + 2) + 2, "a grid of 10 x 10 glyphs of 48 pixels at scale 2"


def test_every_tab_links_its_model_cards_and_lecture_and_says_calmly_where_its_weights_come_from(page, hub):
    page.goto(hub.url)
    for name in plugin_names():
        plugin = get_plugin(name)
        if not page.get_by_role("tab", name=plugin.title).count():
            continue
        open_tab(page, plugin.title)
        panel = page.locator("[role='tabpanel']:visible").first
        links = panel.locator(".prose.dsl-tab-links a")
        hrefs = {links.nth(index).get_attribute("href") for index in range(links.count())}
        for folder in plugin.weight_folders().values():
            assert f"https://huggingface.co/{repo_id_for(folder)}" in hrefs, (name, hrefs)
        assert "Lecture:" in panel.locator(".prose.dsl-tab-links").inner_text()
        text = panel.inner_text()
        assert "not reachable" not in text
        # The suite's hub reaches no Hub: every tab serves its shipped copy and says so first, the reason after.
        assert "Weights: the copy shipped with the hub, pretrained/" in text, (name, text[:400])
        assert "is used when it can be fetched; at this start" in text, name
