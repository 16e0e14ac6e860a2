"""The console's shared shell: sign-in required, session expiry, CSRF, error pages, RTL layout."""

from __future__ import annotations

import time

import pytest
from fastapi import APIRouter

from admin.app import create_console
from admin.web import navigation
from bot.i18n import gettext
from tests.console import ConsoleHarness
from workvoice.capabilities import NAV, NavEntry


async def test_pages_require_sign_in(console: ConsoleHarness) -> None:
    r = await console.anonymous().get("/?tab=1")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2F%3Ftab%3D1"


async def test_signed_in_staff_sees_the_home_page(console: ConsoleHarness) -> None:
    staff = await console.staff("country_manager", ["KH"])
    r = await console.client_for(staff).get("/")
    assert r.status_code == 200 and staff.email in r.text
    assert 'dir="ltr"' in r.text and "Noto Sans" not in r.text  # fonts are in the stylesheet
    css = await console.anonymous().get("/static/console.css")
    assert "Noto Sans Khmer" in css.text and "Noto Sans Myanmar" in css.text


async def test_idle_session_expires(console: ConsoleHarness) -> None:
    staff = await console.staff("analyst", ["KH"])
    old = int(time.time()) - 3600
    r = await console.client_for(staff, seen=old).get("/")
    assert r.status_code == 303 and "expired=1" in r.headers["location"]


async def test_second_factor_is_owed_by_case_handlers(console: ConsoleHarness) -> None:
    staff = await console.staff("case_handler", ["KH"])
    r = await console.client_for(staff, mfa=False).get("/")
    assert r.status_code == 303 and r.headers["location"] == "/login/totp"


async def test_unknown_page_is_a_friendly_404(console: ConsoleHarness) -> None:
    staff = await console.staff("analyst", ["KH"])
    r = await console.client_for(staff).get("/no/such/page")
    assert r.status_code == 404 and "does not exist" in r.text and "Traceback" not in r.text


async def test_arabic_console_reads_right_to_left(console: ConsoleHarness) -> None:
    staff = await console.staff(
        "analyst",
        ["JO"],
    )
    async with console.sessions() as s:
        from bot.storage.models import Staff

        row = await s.get(Staff, staff.id)
        assert row is not None
        row.locale = "ar"
        await s.commit()
    r = await console.client_for(staff).get("/")
    assert 'lang="ar" dir="rtl"' in r.text
    # The Arabic console catalog is used: the analyst's landing page and the header.
    assert gettext("Latest survey waves", locale="ar") in r.text and "تسجيل الخروج" in r.text
    assert gettext("Latest survey waves", locale="ar") != "Latest survey waves"


async def test_staff_choose_the_console_language(console: ConsoleHarness) -> None:
    from tests.console import csrf_of

    staff = await console.staff("analyst", ["JO"])
    client = console.client_for(staff)
    page = await client.get("/account")
    assert (
        'value="ar"' in page.text and 'value="bn"' in page.text and 'value="ur"' not in page.text
    )  # only complete catalogs
    await client.post("/account/language", data={"locale": "ar", "csrf_token": csrf_of(page.text)})
    assert 'dir="rtl"' in (await client.get("/factories")).text


async def test_each_console_app_builds_its_own_templates_and_navigation(
    console: ConsoleHarness,
) -> None:
    """No template environment or navigation at import: each app makes its own when created."""
    other = create_console(console.ctx)
    assert other.state.templates is not console.app.state.templates
    assert [link.path for link in other.state.nav] == [entry.path for entry in NAV]
    staff = await console.staff("organiser", ["KH"])
    r = await console.client_for(staff).get("/")
    nav = r.text.split('<nav aria-label="Main">', 1)[1].split("</nav>", 1)[0]
    assert 'href="/broadcasts"' in nav and 'href="/reports"' not in nav


def test_a_navigation_entry_must_lead_to_a_page_that_declares_its_roles() -> None:
    router = APIRouter()

    @router.get("/open")
    async def open_page() -> None:
        return None

    with pytest.raises(LookupError):
        navigation(router.routes, [NavEntry("/open", "Open")])
