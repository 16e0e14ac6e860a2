"""B1: every QR code the console shows or prints scans, at the size it is shown.

Each QR element is photographed as chromium renders it (the poster in print media too) and read
back with zxing-cpp; the decoded text must be the link or otpauth URI it stands for. A QR code
that the page crops or squeezes (an SVG without a viewBox under CSS that sets its width) decodes
to nothing, and this test fails.
"""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from bot.storage.db import transaction
from services import accounts
from services.broadcasts import topics
from services.broadcasts.topics import TopicInput
from services.scope import Scope
from tests import test_browser
from tests.console import PASSWORD, ConsoleHarness
from tests.factories import make_factory
from tests.test_browser import SHOTS

# The live server and chromium page fixtures of the browser tests, shared by name.
live, page = test_browser.live, test_browser.page
pytestmark = test_browser.pytestmark

zxingcpp = pytest.importorskip("zxingcpp")
Image = pytest.importorskip("PIL.Image")


async def decoded(locator: Any, name: str) -> list[str]:
    """The texts zxing-cpp reads from a screenshot of ``locator`` as the page draws it."""
    await locator.scroll_into_view_if_needed()
    png = await locator.screenshot(path=str(SHOTS / f"qr-{name}.png"))
    image = Image.open(io.BytesIO(png)).convert("L")
    return [found.text for found in zxingcpp.read_barcodes(image)]


async def shown_size(locator: Any) -> tuple[float, float]:
    box = await locator.bounding_box()
    assert box is not None
    return box["width"], box["height"]


async def test_every_qr_code_scans_as_shown_and_printed(
    console: ConsoleHarness, live: str, page: Any, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("one database is enough for the browser")
    console.ctx.bot_username = "workvoice_bot"
    factory = await make_factory(console.sessions, "DK-77", name="Dhaka Knit")
    async with transaction(console.sessions) as s:
        topic = await topics.do_create_topic(
            s,
            TopicInput("union-news", "BD", "en", {"en": "Union news", "bn": "ইউনিয়নের খবর"}),
            scope=Scope.everywhere(),
            actor=None,
        )
    manager = await console.staff("country_manager", ["BD"], email="manager@example.org")

    # The enrolment QR code: the authenticator app must read the account's otpauth URI.
    await page.goto(f"{live}/login")
    await page.fill("#email", manager.email)
    await page.fill("#password", PASSWORD)
    await page.click("main button[type=submit]")
    await page.wait_for_url(f"{live}/login/totp")
    secret = (await page.inner_text("code.secret")).strip()
    qr = page.locator("figure.qr svg")
    found = await decoded(qr, "totp")
    assert len(found) == 1, found
    uri = urlsplit(found[0])
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert parse_qs(uri.query)["secret"] == [secret] and "manager%40example.org" in uri.path
    await page.fill("#code", pyotp.TOTP(secret).now())
    await page.click("main button[type=submit]")
    await page.wait_for_url(f"{live}/")

    link = "https://t.me/workvoice_bot?start=f_DK-77"
    # The factory page, on a laptop and on a phone.
    for width, height in ((1366, 768), (390, 844)):
        await page.set_viewport_size({"width": width, "height": height})
        await page.goto(f"{live}/factories/{factory.id}")
        qr = page.locator("figure.qr svg")
        assert await decoded(qr, f"factory-{width}") == [link]
        w, h = await shown_size(qr)
        assert w >= 150 and abs(w - h) < 1  # square, and big enough for a phone camera
    await page.set_viewport_size({"width": 1280, "height": 860})

    # The factory poster, on screen and as printed (A4).
    await page.goto(f"{live}/factories/{factory.id}/poster")
    qr = page.locator(".poster figure.qr svg")
    assert await decoded(qr, "factory-poster") == [link]
    await page.emulate_media(media="print")
    assert await decoded(qr, "factory-poster-print") == [link]
    w, _ = await shown_size(qr)
    assert w >= 250  # a poster's code is read from a step away
    await page.emulate_media(media="screen")

    # A broadcast topic's poster, on screen and printed.
    topic_link = "https://t.me/workvoice_bot?start=t_union-news"
    await page.goto(f"{live}/broadcasts/topics/{topic.id}/poster")
    qr = page.locator(".poster figure.qr svg")
    assert await decoded(qr, "topic-poster") == [topic_link]
    await page.emulate_media(media="print")
    assert await decoded(qr, "topic-poster-print") == [topic_link]
    await page.emulate_media(media="screen")


async def test_qr_svgs_scale_instead_of_cropping(console: ConsoleHarness) -> None:
    """The SVG itself carries a viewBox and no fixed size, so CSS can size it (fast check)."""
    from admin.factories import qr_svg

    svg = qr_svg("https://t.me/workvoice_bot?start=f_DK-77")
    assert "viewBox=" in svg and " width=" not in svg.split(">")[0]
    manager = await console.staff("case_handler", ["BD"])
    async with transaction(console.sessions) as s:
        staff = await s.get(type(manager), manager.id)
        assert staff is not None
        totp = accounts.totp_qr_svg(staff, "k" * 32)
    assert "viewBox=" in totp and " width=" not in totp.split(">")[0]
