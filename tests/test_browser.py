"""The console in a real browser (Debian's chromium driven by Playwright), with screenshots.

Screenshots go to build/screenshots/ for a reviewer to look at (fonts for every script included).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
import uvicorn

from bot.storage.models import Staff
from tests.console import PASSWORD, ConsoleHarness
from tests.factories import make_factory

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[1] / "build" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="Debian's chromium is not installed (scripts/test installs it as root)",
)


@pytest.fixture
async def live(console: ConsoleHarness) -> AsyncIterator[str]:
    config = uvicorn.Config(console.app, host="127.0.0.1", port=0, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture
async def page() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 860})
        # The console's Content-Security-Policy must not block anything a page needs.
        blocked: list[str] = []
        page.on(
            "console",
            lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
        )
        yield page
        await browser.close()
        assert blocked == []


async def test_manager_enrols_totp_signs_in_and_adds_a_factory_with_qr(
    console: ConsoleHarness, live: str, page: Any, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("one database is enough for the browser")
    manager = await console.staff("case_handler", ["BD"], email="handler@example.org")
    await page.goto(f"{live}/login")
    await page.screenshot(path=str(SHOTS / "login.png"))
    await page.fill("#email", manager.email)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{live}/login/totp")
    secret = (await page.inner_text("code.secret")).strip()
    assert await page.locator("figure.qr svg").count() == 1
    await page.screenshot(path=str(SHOTS / "totp-enrolment.png"))
    await page.fill("#code", pyotp.TOTP(secret).now())
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{live}/")
    assert "handler@example.org" in await page.inner_text("header")
    await page.screenshot(path=str(SHOTS / "home.png"))

    # A case handler sees factories but cannot add them; a manager can.
    manager2 = await console.staff("country_manager", ["BD"], email="manager@example.org")
    await page.context.clear_cookies()
    await page.goto(f"{live}/login")
    await page.fill("#email", manager2.email)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{live}/login/totp")  # managers read cases: a second factor too
    secret = (await page.inner_text("code.secret")).strip()
    await page.fill("#code", pyotp.TOTP(secret).now())
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{live}/")
    await page.click("text=Factories")
    await page.click("text=Add a factory")
    await page.fill("#code", "DK-77")
    await page.fill("#name", "ঢাকা নিটওয়্যার লিমিটেড")
    await page.select_option("#country", "BD")
    await page.check("input[name=languages][value=bn]")
    await page.click("main button[type=submit]")
    await page.wait_for_selector("#deep-link")
    assert (await page.inner_text("#deep-link")).endswith("start=f_DK-77")
    assert await page.locator("figure.qr svg").count() == 1
    await page.screenshot(path=str(SHOTS / "factory.png"), full_page=True)
    await page.click("text=Printable poster")
    await page.wait_for_selector(".poster")
    assert "আপনার কণ্ঠ, নিরাপদ ও বেনামি" in await page.inner_text(".poster [lang=bn]")
    await page.screenshot(path=str(SHOTS / "poster.png"), full_page=True)


async def test_main_pages_render(
    console: ConsoleHarness, live: str, page: Any, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("one database is enough for the browser")
    admin = await console.staff("admin", email="admin@example.org")
    await make_factory(console.sessions, "IR-5", country="JO", name="مصنع إربد")
    client = console.client_for(admin)
    cookie = client.cookies.get("wv_session")
    await page.context.add_cookies([{"name": "wv_session", "value": cookie, "url": live}])
    for path, name in (
        ("/factories", "factories"),
        ("/staff", "staff"),
        ("/audit", "audit"),
        ("/translations", "translations"),
    ):
        response = await page.goto(f"{live}{path}")
        assert response.status == 200, path
        await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    # The same console in Arabic, right to left.
    async with console.sessions() as s:
        row = await s.get(Staff, admin.id)
        assert row is not None
        row.locale = "ar"
        await s.commit()
    await page.goto(f"{live}/factories")
    assert await page.get_attribute("html", "dir") == "rtl"
    assert "المصانع" in await page.inner_text("main")
    # Nothing pushes a right-to-left page wider than the window.
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await page.screenshot(path=str(SHOTS / "factories-ar.png"), full_page=True)


async def test_broadcast_pages_render_in_both_directions(
    console: ConsoleHarness, live: str, page: Any, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("one database is enough for the browser")
    from bot.storage.db import transaction
    from bot.storage.models import OutboxStatus
    from services.broadcasts import deliveries, messages
    from services.scope import Scope
    from tests.test_console_broadcasts import make_draft, make_topic, subscribers

    await make_factory(console.sessions, "DK-01", name="Dhaka Knit")
    topic = await make_topic(console)
    await subscribers(console, topic.id, ["bn"] * 6 + ["en"] * 5 + ["ar"] * 2, first_id=7300)
    draft = await make_draft(
        console,
        topic,
        texts={
            "en": "Meeting on Friday at the gate.\n<b>Bring</b> your card.",
            "ar": "اجتماع يوم الجمعة عند البوابة.",
        },
    )
    sent = await make_draft(console, topic, title="Safety walk")
    async with transaction(console.sessions) as s:
        row = await s.get(messages.Broadcast, sent.id)
        assert row is not None
        await messages.do_schedule(s, row, scope=Scope.everywhere(), actor=None)
    await messages.fan_out_due(console.sessions, worker="browser")
    async with transaction(console.sessions) as s:
        for outcome in [OutboxStatus.SENT] * 6 + [OutboxStatus.BLOCKED]:
            await deliveries.record_outcome(s, sent.id, outcome)
    organiser = await console.staff("organiser", ["BD"], email="organiser@example.org")
    console.ctx.bot_username = "workvoice_bot"
    client = console.client_for(organiser)
    cookie = client.cookies.get("wv_session")
    await page.context.add_cookies([{"name": "wv_session", "value": cookie, "url": live}])
    for locale in ("en", "ar"):
        async with console.sessions() as s:
            staff = await s.get(Staff, organiser.id)
            assert staff is not None
            staff.locale = locale
            await s.commit()
        for path, name in (
            ("/broadcasts", "broadcasts"),
            ("/broadcasts/new", "broadcast-form"),
            (f"/broadcasts/{draft.id}", "broadcast-draft"),
            (f"/broadcasts/{sent.id}", "broadcast-sent"),
            ("/broadcasts/topics", "topics"),
            (f"/broadcasts/topics/{topic.id}/poster", "topic-poster"),
        ):
            response = await page.goto(f"{live}{path}")
            assert response.status == 200, path
            wide = "document.documentElement.scrollWidth > window.innerWidth"
            assert not await page.evaluate(wide), (locale, path)
            await page.screenshot(path=str(SHOTS / f"{name}-{locale}.png"), full_page=True)
    # In the Arabic console, each version keeps its own direction; typed markup stays text.
    await page.goto(f"{live}/broadcasts/{draft.id}")
    assert "الرسائل الجماعية" in await page.inner_text("nav")
    assert await page.get_attribute(".message-text[lang=ar]", "dir") == "rtl"
    assert await page.get_attribute(".message-text[lang=en]", "dir") == "ltr"
    assert "<b>Bring</b>" in await page.inner_text(".message-text[lang=en]")
