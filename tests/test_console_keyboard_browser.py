"""The console with the keyboard only, in a real browser (Debian's chromium), review m17: the skip
link takes focus to the page's content, and the focus ring can be seen (3:1 against what is
around it, WCAG 2.2 "focus appearance" / 1.4.11)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import serving
from tests.console import ConsoleHarness
from tests.factories import make_factory
from tests.test_browser import ARGS, CHROMIUM

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"
)


@pytest.fixture
async def live(console: ConsoleHarness) -> AsyncIterator[str]:
    async with serving(console.app) as url:
        yield url


# The focused element's ring colour and width, and the colour behind it (the first ancestor
# with a background), as a person sees the ring against it.
RING = """() => {
  const el = document.activeElement, style = getComputedStyle(el);
  let bg = 'rgb(255, 255, 255)';
  for (let p = el.parentElement; p; p = p.parentElement) {
    const c = getComputedStyle(p).backgroundColor;
    if (c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') { bg = c; break; }
  }
  return {tag: el.tagName, style: style.outlineStyle, width: parseFloat(style.outlineWidth),
          color: style.outlineColor, behind: bg};
}"""


def luminance(css: str) -> float:
    r, g, b = (int(x) / 255 for x in re.findall(r"\d+", css)[:3])

    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@pytest.fixture
async def page(console: ConsoleHarness, live: str, backend: str) -> AsyncIterator[Any]:
    if backend != "sqlite":
        pytest.skip("one database is enough for the browser")
    from playwright.async_api import async_playwright

    await make_factory(console.sessions, "DK-01", name="Dhaka Knit")
    manager = await console.staff("country_manager", ["BD"])
    cookie = console.client_for(manager).cookies.get("wv_session")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = await browser.new_context(viewport={"width": 390, "height": 844})
        await context.add_cookies([{"name": "wv_session", "value": cookie, "url": live}])
        yield await context.new_page()
        await browser.close()


@pytest.mark.parametrize("path", ["/factories", "/login"])
async def test_skip_link_moves_focus_to_the_content(page: Any, live: str, path: str) -> None:
    await page.goto(live + path)
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.className") == "skip"
    box = await page.locator("a.skip").bounding_box()
    assert box is not None and box["width"] > 20, "the skip link shows when it has focus"
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "main"
    # The next Tab goes on from the content, past the header's links.
    await page.keyboard.press("Tab")
    assert await page.evaluate("!!document.activeElement.closest('main')")


async def test_focus_ring_is_visible_on_white_and_on_buttons(page: Any, live: str) -> None:
    await page.goto(f"{live}/factories")
    seen = 0
    for _ in range(40):  # every control along the way: links, buttons, fields
        await page.keyboard.press("Tab")
        ring = await page.evaluate(RING)
        if ring["tag"] in ("BODY", "MAIN"):
            continue
        assert ring["style"] != "none" and ring["width"] >= 2, ring
        assert contrast(ring["color"], ring["behind"]) >= 3, ring
        seen += 1
    assert seen >= 10
