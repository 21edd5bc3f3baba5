"""The README's pictures: one screenshot of each tab of the hub, taken in Chromium as a visitor sees it.

    make screenshots          # or: .venv/bin/python tests/screenshots.py [--tabs font-gan,font-style] [--output DIR]

Starts the hub as the test suite does (offline, on the shipped weights), opens every tab it has, does what a
visitor does first there (draws a digit, generates glyphs, composes; a tab without an entry in FIRST_STEPS is
shown as it opens) and saves the tab as docs/screenshots/<plugin>.png. The pictures are in the README's
"What you can do"; run this again after a tab changes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from PIL import Image

from browser import CHROMIUM, CHROMIUM_FLAGS, VIEWPORT, draw, open_tab
from conftest import REPO_ROOT, HubServer, clean_env

SEVEN = [[(0.3, 0.2), (0.7, 0.2), (0.45, 0.85)]]
THREE = [[(0.32, 0.22), (0.5, 0.15), (0.66, 0.24), (0.62, 0.4), (0.48, 0.48), (0.64, 0.56), (0.68, 0.72),
          (0.52, 0.85), (0.32, 0.8)]]


def draw_and_wait(page, prefix: str, strokes) -> None:
    page.wait_for_selector(f"#{prefix}-sketchpad button[aria-label='Brush'].highlight")
    draw(page, f"#{prefix}-sketchpad canvas", strokes)
    page.wait_for_selector(f"#{prefix}-prediction [data-testid='label-output-value']", timeout=120_000)


def glyphs(page) -> None:
    page.locator("#font-gan-examples").get_by_text("36 glyphs, seed 0").click()
    page.wait_for_selector("#font-gan-grid img", timeout=120_000)
    page.click("#font-gan-find-nearest")
    page.click("#font-gan-morph-chosen")
    page.wait_for_selector("#font-gan-nearest img", timeout=180_000)
    page.wait_for_selector("#font-gan-morph img", timeout=120_000)


def font_style(page) -> None:
    page.locator("#font-style-character textarea, #font-style-character input").first.press("Enter")
    page.wait_for_selector("#font-style-renders img", timeout=120_000)
    page.wait_for_selector("#font-style-sketchpad button[aria-label='Brush'].highlight")
    draw(page, "#font-style-sketchpad canvas", [[(0.2, 0.3), (0.8, 0.3)], [(0.5, 0.15), (0.5, 0.85)],
                                                [(0.5, 0.5), (0.2, 0.8)], [(0.5, 0.5), (0.8, 0.8)]])
    page.click("#font-style-classify-drawing")
    page.wait_for_selector("#font-style-prediction [data-testid='label-output-value']", timeout=120_000)


def compose(button: str, done: str):
    def first_step(page) -> None:
        page.click(button)
        page.wait_for_selector(done, timeout=300_000)
    return first_step


# What a visitor does first in each tab, by plugin name.
FIRST_STEPS = {
    "mnist-cnn": lambda page: draw_and_wait(page, "mnist", SEVEN),
    "mnist-mlp": lambda page: draw_and_wait(page, "mnist-mlp", THREE),
    "font-gan": glyphs,
    "font-style": font_style,
    "lstm-composer": compose("#composer-compose", "#composer-piano-roll img"),
    "abc-composer": compose("#abc-compose", "#abc-roll img"),
    "melody-vae": compose("#melody-vae-interpolate", "#melody-vae-map img"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "docs" / "screenshots")
    parser.add_argument("--tabs", help="only these plugins' tabs, comma-separated (default: every tab)")
    args = parser.parse_args(argv)
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    from plugins.registry import get_plugin, plugin_names

    args.output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as home:
        server = HubServer(REPO_ROOT / "spaces" / "hub" / "app.py", clean_env(HF_HOME=home),
                           Path(home) / "hub.log", timeout=300)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
                page = browser.new_page(viewport=VIEWPORT)
                for name in args.tabs.split(",") if args.tabs else plugin_names():
                    title = get_plugin(name).title
                    page.goto(server.url)
                    page.wait_for_selector("button[role='tab']", timeout=120_000)
                    if not page.get_by_role("tab", name=title).count():
                        continue
                    open_tab(page, title)
                    try:
                        FIRST_STEPS.get(name, lambda page: None)(page)
                    except PlaywrightTimeout as error:
                        print(f"{name}: the first step did not finish ({error.message.splitlines()[0]}); "
                              "the tab is shown as it was", file=sys.stderr)
                    page.wait_for_timeout(1500)  # pictures fade in
                    path = args.output / f"{name}.png"
                    page.locator("[role='tabpanel']:visible").first.screenshot(path=str(path))
                    # 256 colours: a screenshot of a page is flat colours and text, and the README stays light.
                    Image.open(path).convert("RGB").quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)
                    print(f"{path.relative_to(REPO_ROOT)} ({path.stat().st_size // 1024} KB)")
                browser.close()
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
