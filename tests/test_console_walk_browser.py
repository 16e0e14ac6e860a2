"""Every console page of every role, in a real browser (Debian's chromium), on a phone and a laptop,
left to right and right to left (review M10, m17).

For each of the five roles the walk signs in, follows the navigation and the links on the pages it
reaches (same site, GET only, no sign-out or downloads) and fails on any page that

- scrolls sideways (``scrollWidth > innerWidth``) at 390×844 or 1366×768, in English or Arabic,
  naming the page and the element that sticks out the furthest;
- has a serious or critical axe-core violation, or one the review named (m17);
- does not answer 200.

With ``WORKVOICE_TEST_SCREENSHOTS=1`` it also saves each role's main page at both widths in English,
Arabic and Bangla to docs/screenshots/console/ for review (see README, "Screenshots").
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from bot.storage.models import Staff
from tests.browser import serving
from tests.console import ConsoleHarness
from tests.factories import make_case
from tests.test_browser import ARGS, CHROMIUM

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"
)


@pytest.fixture
async def live(console: ConsoleHarness) -> AsyncIterator[str]:
    async with serving(console.app) as url:
        yield url


ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "docs" / "screenshots" / "console"
VIEWPORTS = {"phone": (390, 844), "laptop": (1366, 768)}
LOCALES = ("en", "ar")
MAX_PAGES = 60  # per role; enough for every kind of page with two examples each
PER_PATTERN = 2  # /reports/7 and /reports/8 are the same page: two of each is plenty
SKIP = re.compile(
    r"/logout|/api/|/evidence/|export|download|\.(csv|xlsx|json|yaml|pdf|png|svg)(\?|$)"
)
# Rules the review found (m17) fail whatever axe calls their impact.
NAMED_RULES = {"empty-table-header", "page-has-heading-one", "color-contrast"}
LONG_WORD = ("Overtimeunpaidsincemarch" * 13)[:300]  # one 300-letter word, as workers do type

# The element sticking out furthest past the window's edge (the inline end in either direction),
# not counting what is inside a box that scrolls or clips on its own.
WIDEST = """() => {
  const doc = document.documentElement, w = window.innerWidth;
  if (doc.scrollWidth <= w) return null;
  const rtl = getComputedStyle(doc).direction === 'rtl';
  const clipped = (el) => {  // positioned boxes escape a scroller that is not their container
    if (['absolute', 'fixed'].includes(getComputedStyle(el).position)) return false;
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== 'visible') return true;
    }
    return false;
  };
  let worst = null, most = 0.5;
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (!r.width && !r.height) continue;
    const over = rtl ? -r.left : r.right - w;
    if (over >= most && !clipped(el)) { worst = el; most = over; }
  }
  if (!worst) {  // text (a long word) spilling out of its box: the innermost box it spills from
    for (const el of document.body.querySelectorAll('*')) {
      if (el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0 && !clipped(el) &&
          getComputedStyle(el).overflowX === 'visible') { worst = el; }
    }
    most = doc.scrollWidth - w;
  }
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.classList.length ? '.' + Array.from(el.classList).join('.') : '');
  let path = '';
  for (let el = worst; el && el !== document.body; el = el.parentElement) {
    path = name(el) + (path ? ' > ' + path : '');
  }
  return {scrollWidth: doc.scrollWidth, width: w, over: Math.round(most), element: path,
          text: worst ? worst.textContent.trim().slice(0, 60) : ''};
}"""


@dataclass
class Walk:
    base: str
    pages: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def pattern(path: str) -> str:
    return re.sub(r"\d+", "N", path)


def same_site(base: str, href: str) -> str | None:
    parts = urlsplit(href)
    if f"{parts.scheme}://{parts.netloc}" != base or SKIP.search(href):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def seed(console: ConsoleHarness) -> list[int]:
    """The demo programme (factories, staff of every role, cases, a survey with a closed wave and
    results, a committee with meetings, topics and broadcasts) and cases in more languages, one of
    them a single 300-letter word; returns the ids of the cases holding that word."""
    from workvoice.demo.seed import seed_demo

    console.ctx.bot_username = "workvoice_bot"
    await seed_demo(console.ctx)
    settings = console.ctx.settings
    long_word_cases = []
    for n, (country, language, text) in enumerate(
        [
            ("JO", "ar", "المشرف يصرخ علينا كل يوم ويأخذ جوازات السفر. " + LONG_WORD),
            ("BD", "bn", "রাতের শিফটে ওভারটাইমের টাকা দেয় না। " + LONG_WORD),
            ("KH", "km", LONG_WORD),
            ("HT", "ht", "Sipèvizè a pa peye nou lè siplemantè yo depi twa mwa."),
        ]
    ):
        case = await make_case(
            console.sessions,
            settings,
            telegram_id=8_100_001 + n,
            country=country,
            narrative=text,
            language=language,
        )
        if LONG_WORD in text:
            long_word_cases.append(case.id)
    return long_word_cases


async def staff_of(console: ConsoleHarness, role: str) -> Staff:
    async with console.sessions() as s:
        staff = await s.scalar(select(Staff).where(Staff.email == f"{ROLE_EMAIL[role]}"))
        assert staff is not None
        return staff


ROLE_EMAIL = {
    "admin": "admin@demo.workvoice.org",
    "country_manager": "manager@demo.workvoice.org",
    "case_handler": "handler@demo.workvoice.org",
    "analyst": "analyst@demo.workvoice.org",
    "organiser": "organiser@demo.workvoice.org",
    "translator": "translator@demo.workvoice.org",
}


async def set_locale(console: ConsoleHarness, staff: Staff, locale: str) -> None:
    async with console.sessions() as s:
        row = await s.get(Staff, staff.id)
        assert row is not None
        row.locale = locale
        await s.commit()


async def check(page: Any, walk: Walk, path: str, label: str) -> None:
    """The page as it is now, at both widths: no sideways scrolling, no serious axe finding."""
    from axe_playwright_python.async_playwright import Axe

    for name, (width, height) in VIEWPORTS.items():
        await page.set_viewport_size({"width": width, "height": height})
        wide = await page.evaluate(WIDEST)
        if wide is not None:
            walk.problems.append(
                f"{path} [{label}, {name} {width}px] scrolls sideways to {wide['scrollWidth']}px:"
                f" {wide['element']} sticks out {wide['over']}px ({wide['text']!r})"
            )
        if name == "phone":  # axe once per page and language; its rules hardly depend on width
            results = await Axe().run(page)
            for v in results.response["violations"]:
                if v["impact"] in ("serious", "critical") or v["id"] in NAMED_RULES:
                    targets = ", ".join(str(n["target"]) for n in v["nodes"][:3])
                    walk.problems.append(
                        f"{path} [{label}] axe {v['impact']} {v['id']}: {v['help']} at {targets}"
                    )


async def crawl(page: Any, walk: Walk) -> None:
    """Breadth first from the landing page: every page reachable by links, a few of each kind."""
    queue, seen, kinds = deque(["/"]), {"/"}, {}
    while queue and len(walk.pages) < MAX_PAGES:
        path = queue.popleft()
        kind = pattern(path)
        if kinds.get(kind, 0) >= PER_PATTERN:
            continue
        response = await page.goto(walk.base + path)
        if response is None or response.status != 200:
            status = response.status if response else "no answer"
            walk.problems.append(f"{path} answers {status}")
            continue
        if not (response.headers.get("content-type") or "").startswith("text/html"):
            continue
        kinds[kind] = kinds.get(kind, 0) + 1
        walk.pages.append(path)
        hrefs = await page.eval_on_selector_all(
            "a[href]:not([download])", "links => links.map((a) => a.href)"
        )
        for href in hrefs:
            target = same_site(walk.base, href.split("#")[0])
            if target and target not in seen:
                seen.add(target)
                queue.append(target)


ROLES = list(ROLE_EMAIL)


@pytest.mark.parametrize("role", ROLES)
async def test_every_page_fits_a_phone_and_passes_axe(
    console: ConsoleHarness, live: str, role: str, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("one database is enough for the browser")
    from playwright.async_api import async_playwright

    long_word_cases = await seed(console)
    staff = await staff_of(console, role)
    cookie = console.client_for(staff).cookies.get("wv_session")
    walk = Walk(live)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = await browser.new_context(viewport={"width": 390, "height": 844})
        await context.add_cookies([{"name": "wv_session", "value": cookie, "url": live}])
        page = await context.new_page()
        await set_locale(console, staff, "en")
        await crawl(page, walk)
        if any(re.match(r"^/reports/\d+$", p) for p in walk.pages):
            # The crawl sees two cases; the ones whose text is one long word must be among them.
            walk.pages += [f"/reports/{n}" for n in long_word_cases]
        for locale in LOCALES:
            await set_locale(console, staff, locale)
            for path in walk.pages:
                response = await page.goto(live + path)
                assert response is not None and response.status == 200, path
                assert await page.get_attribute("html", "lang") == locale, path
                await check(page, walk, path, locale)
        if os.environ.get("WORKVOICE_TEST_SCREENSHOTS") == "1":
            await screenshots(console, page, staff, role, walk)
        await browser.close()
    # The walk must have reached the pages of the role's job, or it proves little.
    assert len(walk.pages) >= MIN_PAGES[role], walk.pages
    assert walk.problems == [], "\n".join(walk.problems)


MIN_PAGES = {
    "admin": 15,
    "country_manager": 15,
    "case_handler": 4,
    "analyst": 4,
    "organiser": 4,
    "translator": 4,
}


def main_page(role: str, pages: list[str]) -> str:
    """The page each role mostly works on."""
    wanted = {
        "admin": r"^/staff$",
        "country_manager": r"^/reports$",
        "case_handler": r"^/reports/\d+$",
        "analyst": r"^/surveys/waves/\d+/results$",
        "organiser": r"^/broadcasts/\d+$",
        "translator": r"^/translations/bn/core$",
    }[role]
    return next((p for p in pages if re.match(wanted, p)), "/")


async def screenshots(
    console: ConsoleHarness, page: Any, staff: Staff, role: str, walk: Walk
) -> None:
    """The landing page and the main page of the role, as a reviewer would look at them: the
    window only (not the full page), so the files stay small."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    slug = role.replace("_", "-")
    targets = {"home": "/", "main": main_page(role, walk.pages)}
    for locale in ("en", "ar", "bn"):
        await set_locale(console, staff, locale)
        for what, path in targets.items():
            if what == "main" and path == "/":
                continue
            await page.goto(walk.base + path)
            for name, (width, height) in VIEWPORTS.items():
                await page.set_viewport_size({"width": width, "height": height})
                await page.screenshot(path=str(SCREENSHOTS / f"{slug}-{what}-{name}-{locale}.png"))


async def test_sign_in_pages_fit_a_phone_and_pass_axe(
    console: ConsoleHarness, live: str, backend: str
) -> None:
    """The pages before a session (no navigation leads to them once signed in)."""
    if backend != "sqlite":
        pytest.skip("one database is enough for the browser")
    from playwright.async_api import async_playwright

    from tests.console import PASSWORD

    staff = await console.staff("case_handler", ["BD"])
    walk = Walk(live)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = await browser.new_page(viewport={"width": 390, "height": 844})
        for path in ("/login", "/login?next=%2Freports&expired=1"):
            await page.goto(live + path)
            await check(page, walk, path, "en")
        await page.fill("#email", staff.email)
        await page.fill("#password", PASSWORD)
        await page.click("main button[type=submit]")
        await page.wait_for_url(f"{live}/login/totp")  # enrolment: a QR code and a long key
        await check(page, walk, "/login/totp", "en")
        await browser.close()
    assert walk.problems == [], "\n".join(walk.problems)
