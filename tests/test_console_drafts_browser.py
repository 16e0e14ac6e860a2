"""Typed text survives the end of a session (review M17), in a real browser (Debian's chromium).

A case handler writes a long message on a case page; meanwhile the session ends (idle time-out, or
signed out in another tab). Pressing Send leads to the sign-in page, not an error; after signing in
again (password and second factor) they are back on the case page, never a 405, with their text
filled in and a notice saying so. Once sent, the draft is gone; signing out drops any draft kept in
the browser, so the next person at a shared computer does not get it.
"""

from __future__ import annotations

import json
import time
from base64 import b64decode, b64encode
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import itsdangerous
import pyotp
import pytest

from bot.storage.db import transaction
from bot.storage.models import Staff
from services.accounts import seal_totp
from services.clock import utcnow
from tests.browser import serving
from tests.console import PASSWORD, TEST_SECRET, ConsoleHarness
from tests.factories import make_case
from tests.test_browser import ARGS, CHROMIUM

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"
)


@pytest.fixture
async def live(console: ConsoleHarness) -> AsyncIterator[str]:
    async with serving(console.app) as url:
        yield url


NOTE = (
    "I spoke with the line supervisor and the compliance officer on Tuesday. They agreed to pay "
    "the missing overtime for March and April with the next wage, and to post the new rota at "
    "the gate. Please tell us if this does not happen by the 15th. " * 4
).strip()
DRAFT_KEYS = "() => Object.keys(sessionStorage).filter((k) => k.startsWith('wv-draft:'))"


class Handler:
    """A case handler with a second factor, and a case in their country that they can write in."""

    def __init__(self, console: ConsoleHarness, staff: Staff, secret: str, case_id: int) -> None:
        self.console, self.staff, self.secret, self.case_id = console, staff, secret, case_id

    async def code(self) -> str:
        """The current code. Each code is accepted once; signing in again within the same 30
        seconds is what this test does, not what it is about, so the used step is forgotten."""
        async with transaction(self.console.sessions) as s:
            row = await s.get(Staff, self.staff.id)
            assert row is not None
            row.totp_last_step = None
        return pyotp.TOTP(self.secret).now()


@pytest.fixture
async def handler(console: ConsoleHarness, backend: str) -> AsyncIterator[Handler]:
    if backend != "sqlite":
        pytest.skip("one database is enough for the browser")
    case = await make_case(console.sessions, console.ctx.settings, language="bn")
    staff = await console.staff("case_handler", ["BD"], email="rahima@example.org")
    secret = pyotp.random_base32()
    async with transaction(console.sessions) as s:
        row = await s.get(Staff, staff.id)
        assert row is not None
        row.totp_sealed = seal_totp(console.ctx.settings.effective_secret_key, secret)
        row.totp_confirmed_at = utcnow()
    yield Handler(console, staff, secret, case.id)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        await browser.close()


async def sign_in(page: Any, handler: Handler) -> None:
    """Through the sign-in form and the second factor, wherever the sign-in page was opened."""
    await page.fill("#email", handler.staff.email)
    await page.fill("#password", PASSWORD)
    await page.click("main button[type=submit]")
    await page.wait_for_url("**/login/totp")
    await page.fill("#code", await handler.code())
    await page.click("main button[type=submit]")
    await page.wait_for_load_state()


async def idle_out(page: Any, live: str) -> None:
    """The session cookie as it is after an hour without a click (the server ends it)."""
    cookie = next(c for c in await page.context.cookies() if c["name"] == "wv_session")
    signer = itsdangerous.TimestampSigner(TEST_SECRET)
    data = json.loads(b64decode(signer.unsign(cookie["value"])))
    data["seen"] = data["since"] = int(time.time()) - 3600
    value = signer.sign(b64encode(json.dumps(data).encode())).decode()
    await page.context.add_cookies([{"name": "wv_session", "value": value, "url": live}])


async def open_case(page: Any, live: str, handler: Handler) -> None:
    await page.goto(f"{live}/login?next=/reports/{handler.case_id}")
    await sign_in(page, handler)
    assert page.url == f"{live}/reports/{handler.case_id}"


async def send_after_session_ended(page: Any, live: str, handler: Handler) -> None:
    """Type the message, press Send with no session any more: the sign-in page, then the case."""
    await page.fill("#message", NOTE)
    await page.click("form[action$='/message'] button[type=submit]")
    await page.wait_for_url("**/login?**")
    assert "expired=1" in page.url
    assert await page.locator("#password").count() == 1
    assert await page.evaluate(DRAFT_KEYS) == [f"wv-draft:/reports/{handler.case_id}/message"]
    responses: list[int] = []
    page.on("response", lambda r: responses.append(r.status))
    await sign_in(page, handler)
    assert page.url == f"{live}/reports/{handler.case_id}", page.url
    assert 405 not in responses and await page.locator("#message").count() == 1


async def restored(page: Any) -> bool:
    value = await page.input_value("#message")
    notice = page.locator("p.flash[role=status]", has_text="What you typed before signing in")
    return value == NOTE and await notice.count() == 1


async def test_idle_session_keeps_the_message_through_sign_in(
    console: ConsoleHarness, live: str, handler: Handler, browser: Any
) -> None:
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    await open_case(page, live, handler)
    await idle_out(page, live)
    await send_after_session_ended(page, live, handler)
    assert await restored(page), "the typed message is filled in again, with a notice"
    assert await page.evaluate(
        "document.querySelector('#message').classList.contains('draft-restored')"
    )

    # Sent for real this time: a confirmation, the message in the history, no draft left behind.
    await page.click("form[action$='/message'] button[type=submit]")
    await page.wait_for_url(f"{live}/reports/{handler.case_id}")
    assert await page.evaluate(DRAFT_KEYS) == []
    assert await page.input_value("#message") == ""
    assert NOTE[:60] in await page.inner_text("main")
    await page.reload()
    assert await page.input_value("#message") == ""


async def test_signed_out_in_another_tab_keeps_the_message(
    console: ConsoleHarness, live: str, handler: Handler, browser: Any
) -> None:
    context = await browser.new_context(viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    await open_case(page, live, handler)
    other = await context.new_page()  # same browser, same cookie; its own sessionStorage
    await other.goto(f"{live}/reports")
    await other.click("header form[data-logout] button")
    await other.wait_for_url("**/login**")
    await send_after_session_ended(page, live, handler)
    assert await restored(page)


async def test_sign_out_drops_a_draft_not_yet_filled_in(
    console: ConsoleHarness, live: str, handler: Handler, browser: Any
) -> None:
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    await open_case(page, live, handler)
    await idle_out(page, live)
    await page.fill("#message", NOTE)
    await page.click("form[action$='/message'] button[type=submit]")
    await page.wait_for_url("**/login?**")
    # Signed in from a fresh sign-in page, to the start page: the draft waits for its page.
    await page.goto(f"{live}/login")
    await sign_in(page, handler)
    assert page.url == f"{live}/"
    assert await page.evaluate(DRAFT_KEYS) == [f"wv-draft:/reports/{handler.case_id}/message"]
    await page.click("header form[data-logout] button")
    await page.wait_for_url("**/login**")
    assert await page.evaluate(DRAFT_KEYS) == []
    # The next person to sign in at this computer finds an empty form.
    await page.goto(f"{live}/login?next=/reports/{handler.case_id}")
    await sign_in(page, handler)
    assert page.url == f"{live}/reports/{handler.case_id}"
    assert await page.input_value("#message") == ""
