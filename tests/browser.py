"""Driving the hub's page as a person does: Debian's Chromium through Playwright, real mouse moves and clicks.

The browser itself is the fixture `page` in conftest.py: one Chromium per tests/test_browser*.py module (the
conftest says why not one per session), shared by that module's tests, each of which starts with page.goto.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1300, "height": 1100}

# Every browser test module starts with `pytestmark = BROWSER`.
BROWSER = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make test installs it)"),
]


def open_tab(page, title: str) -> None:
    page.get_by_role("tab", name=title).first.click()
    page.wait_for_timeout(300)


def draw(page, canvas_selector: str, strokes: list[list[tuple[float, float]]]) -> None:
    """Draw polylines given in fractions of the canvas with real mouse moves.

    Two moves per segment are enough: the brush joins pointer events with straight lines, so more moves draw
    the same strokes and only cost seconds on a busy machine."""
    box = page.locator(canvas_selector).first.bounding_box()
    for stroke in strokes:
        points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point, steps=2)
        page.mouse.up()
