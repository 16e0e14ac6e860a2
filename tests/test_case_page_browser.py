# ruff: noqa: F811
"""The case page in chromium (review M4, M6, m3): a 300-character unbroken word never makes the
page scroll sideways at 1366 or 390 px, the photo shows, the voice note is served as sound, and a
refused message leaves the address at the case so a reload never sends it again."""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.storage.db import transaction
from bot.storage.reports import CaseEvidence
from services.reports.cases import access_case, do_add_note
from services.reports.conversation import do_message_reporter, do_reporter_message
from services.reports.crypto import keyring
from tests.console import ConsoleHarness
from tests.factories import make_case

# The browser suite's fixtures, shared by import (their names are the tests' parameters).
from tests.test_browser import SHOTS, live, page, pytestmark  # noqa: F401

WORD = "ক" * 150 + "x" * 150  # 300 characters, no place to break


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


async def _sign_in(console: ConsoleHarness, page: Any, live: str, staff: Any) -> None:
    cookie = console.client_for(staff).cookies.get("wv_session")
    await page.context.add_cookies([{"name": "wv_session", "value": cookie, "url": live}])


async def _overflow(page: Any) -> int:
    return int(
        await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    )


async def test_long_words_wrap_evidence_shows_and_a_refused_form_is_not_sent_again(
    console: ConsoleHarness, live: str, page: Any, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("one database is enough for the browser")
    made = await make_case(
        console.sessions, console.ctx.settings, narrative=f"It started here: {WORD} and went on."
    )
    handler = await console.staff("case_handler", ["BD"], name="Karim " + "K" * 100)
    keys = keyring(console.ctx.settings)
    async with transaction(console.sessions) as s:
        case = await access_case(s, handler, made.id, audit_view=False)
        await do_message_reporter(
            s,
            case,
            f"Which line? {WORD}",
            actor=handler,
            keys=keys,
            secret_key=console.ctx.settings.effective_secret_key,
        )
        await do_reporter_message(s, case, f"Line 7 {WORD}", keys=keys)
        await do_add_note(s, case, f"Note {WORD}", actor=handler, keys=keys)
        for kind, mime, content in (
            ("photo", "image/png", _png()),
            ("voice", "audio/ogg", b"OggS\x00\x02" + bytes(500)),
        ):
            s.add(
                CaseEvidence(
                    case_id=case.id,
                    kind=kind,
                    mime_type=mime,
                    size=len(content),
                    content=keys.seal(content),
                    added_at=datetime.now(UTC),
                )
            )
    await _sign_in(console, page, live, handler)
    url = f"{live}/reports/{made.id}"
    for width, height in ((1366, 768), (390, 844)):
        await page.set_viewport_size({"width": width, "height": height})
        await page.goto(url)
        assert WORD in await page.inner_text(".narrative")
        assert await _overflow(page) <= 0, f"the case page scrolls sideways at {width} px"
        await page.screenshot(path=str(SHOTS / f"case-page-{width}.png"), full_page=True)

    # The photo is drawn from its decrypted bytes; the voice note is served as sound.
    await page.wait_for_function("document.querySelector('img.evidence-photo').complete")
    assert await page.evaluate("document.querySelector('img.evidence-photo').naturalWidth") == 2
    src = await page.get_attribute("audio", "src")
    kind = await page.evaluate(f"fetch('{src}').then(r => r.headers.get('content-type'))")
    assert kind == "audio/ogg"

    # A message of spaces passes the browser's check and is refused by the server, next to its
    # form; the address is the case's again, and a reload only reads the case.
    await page.fill("#message", "   ")
    await page.click("#conversation button[type=submit]")
    await page.wait_for_selector("#message-error")
    assert page.url == url
    methods: list[str] = []
    page.on("request", lambda r: methods.append(r.method) if r.url == url else None)
    await page.reload()
    assert methods == ["GET"]
