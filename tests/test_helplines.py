"""Helplines as data (review B4): kinds in order, names in the worker's language (never English on
a non-English screen), numbers Telegram can link, edited in the console within a country's scope."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import LRI, PDI, gettext
from bot.i18n.languages import LANGUAGES
from bot.storage import migrate
from bot.storage.db import create_engine, transaction
from bot.storage.models import AuditEvent, Country, Staff
from services import helplines
from services.helplines import HelplineKind, InvalidHelpline
from tests.conftest import Database
from tests.console import ConsoleHarness, tables

NON_ENGLISH = [code for code in LANGUAGES if code != "en"]


@contextlib.asynccontextmanager
async def restored(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[None]:
    """Countries are not emptied between tests: put every country's lines back afterwards."""
    async with sessions() as s:
        before = {c.code: c.helplines for c in (await s.scalars(select(Country))).all()}
    try:
        yield
    finally:
        async with transaction(sessions) as s:
            for code, lines in before.items():
                await s.execute(update(Country).where(Country.code == code).values(helplines=lines))


def form(client: Any, **fields: Any) -> dict[str, Any]:
    return {"csrf_token": client.csrf, **fields}


async def test_seeded_countries_come_emergency_first_in_the_workers_language(db: Database) -> None:
    async with db.sessions() as s:
        for code in ("BD", "KH", "ET", "HT", "ID", "JO", "NI", "VN"):
            lines = await helplines.lines_for(s, code, "bn")
            assert lines, code
            order = [helplines.ORDER[line.kind] for line in lines]
            assert order == sorted(order), code
        bd = await helplines.lines_for(s, "BD", "bn")
    assert [line.phone for line in bd] == ["999", "109", "16357"]
    assert [line.kind for line in bd][:2] == [
        HelplineKind.EMERGENCY,
        HelplineKind.VIOLENCE_AGAINST_WOMEN,
    ]
    # Bangla: the kinds' Bangla names, not the English seed ("National emergency").
    assert bd[0].label == gettext("Emergency", locale="bn") != "Emergency"
    assert "National emergency" not in helplines.danger_text(bd, locale="bn")


async def test_no_english_on_a_non_english_screen(db: Database) -> None:
    async with db.sessions() as s:
        for code in ("BD", "KH", "ID", "VN"):
            english = {line.label for line in await helplines.lines_for(s, code, "en")}
            for locale in NON_ENGLISH:
                for line in await helplines.lines_for(s, code, locale):
                    msgid = helplines.FALLBACK_LABELS[line.kind]
                    assert line.label == gettext(msgid, locale=locale), (code, locale, line)
                    assert line.label not in english | {msgid}, (locale, line)


async def test_stored_names_and_migrant_lines_follow_the_worker(db: Database) -> None:
    async with restored(db.sessions):
        async with transaction(db.sessions) as s:
            jordan = await s.get(Country, "JO")
            assert jordan is not None
            jordan.helplines = [
                *jordan.helplines,
                helplines.Helpline(
                    HelplineKind.MIGRANT, "+962795000000", languages=("bn",), nationality="BD"
                ).dump(),
                helplines.Helpline(
                    HelplineKind.PROGRAMME, "+96265000000", labels={"ar": "خط البرنامج"}
                ).dump(),
            ]
        async with db.sessions() as s:
            bangla = await helplines.lines_for(s, "JO", "bn", migrant_language="bn")
            arabic = await helplines.lines_for(s, "JO", "ar", migrant_language="ar")
            nepali = await helplines.lines_for(s, "JO", "ne", migrant_language="ne")
        assert [line.kind for line in bangla] == [
            HelplineKind.EMERGENCY,
            HelplineKind.PROGRAMME,
            HelplineKind.MIGRANT,
        ]
        assert bangla[-1].label == gettext("Embassy of {country}", locale="bn", country="বাংলাদেশ")
        assert HelplineKind.MIGRANT not in {line.kind for line in arabic + nepali}
        assert arabic[1].label == "خط البرنامج"
        assert nepali[1].label == gettext("Programme helpline", locale="ne")
        text = helplines.danger_text(arabic, locale="ar")
        assert f"{LRI}+96265000000{PDI}" in text and f"{LRI}911{PDI}" in text
        assert text.count(LRI) == text.count(PDI) == 2
        assert helplines.danger_text([], locale="ar") == gettext(helplines.NO_LINES, locale="ar")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_phone_parser_gives_digits_telegram_links_or_refuses(typed: str) -> None:
    with contextlib.suppress(InvalidHelpline):
        phone = helplines.parse_phone(typed)
        digits = phone.removeprefix("+")
        assert digits.isascii() and digits.isdigit() and 3 <= len(digits) <= 15


def test_phone_parser_examples() -> None:
    assert helplines.parse_phone(" +880 1712-345 678 ") == "+8801712345678"
    assert helplines.parse_phone("৯৯৯") == "999"
    for bad in ("", "12", "+0123456789", "call 999", "+12 34", "9" * 16):
        with contextlib.suppress(InvalidHelpline):
            helplines.parse_phone(bad)
            raise AssertionError(bad)


# --- the console ----------------------------------------------------------------------------


async def test_manager_adds_names_and_removes_a_line_audited(console: ConsoleHarness) -> None:
    async with restored(console.sessions):
        manager = await console.staff("country_manager", ["BD"])
        client = console.client_for(manager)
        page = await client.get("/helplines")
        assert [row[0] for row in tables(page.text, "")[0][1:]] == ["Bangladesh"]
        page = await client.get("/helplines/BD")
        assert page.status_code == 200 and "16357" in page.text and "to be verified" in page.text
        version = _version(page.text)
        forged = await client.post(
            "/helplines/BD", data={"version": version, "kind": "emergency", "phone": "112"}
        )
        assert forged.status_code == 403  # no CSRF token: nothing saved
        r = await client.post(
            "/helplines/BD",
            data=form(
                client,
                version=version,
                kind="union_or_ngo",
                phone="+880 9612 345678",
                **{"name:bn": "শ্রমিক হটলাইন"},
                verified="on",
            ),
        )
        assert r.status_code == 303, r.text
        assert r.headers["location"] == "/helplines/BD"
        assert 'class="flash ok" role="status">Saved.' in (await client.get("/helplines/BD")).text
        async with console.sessions() as s:
            bn = await helplines.lines_for(s, "BD", "bn")
            km = await helplines.lines_for(s, "BD", "km")
            events = (await s.scalars(select(AuditEvent.action))).all()
        assert ("শ্রমিক হটলাইন", "+8809612345678") in {(line.label, line.phone) for line in bn}
        assert gettext("Workers' hotline", locale="km") in {line.label for line in km}
        assert "helpline.save" in events
        page = await client.get("/helplines/BD")
        r = await client.post(
            "/helplines/BD/0/remove", data=form(client, version=_version(page.text))
        )
        assert r.status_code == 303
        assert "The line is removed" in (await client.get("/helplines/BD")).text
        async with console.sessions() as s:
            assert "999" not in {line.phone for line in await helplines.lines_for(s, "BD", "en")}
        stale = await client.post("/helplines/BD/0/remove", data=form(client, version=version))
        assert stale.status_code == 409  # a page older than the last change


async def test_a_manager_of_bangladesh_cannot_see_or_edit_jordan(console: ConsoleHarness) -> None:
    manager = await console.staff("country_manager", ["BD"])
    client = console.client_for(manager)
    assert (await client.get("/helplines/JO")).status_code == 404
    assert (await client.get("/helplines/BDX")).status_code == 404
    assert (await client.get("/helplines/bd")).status_code == 200
    r = await client.post(
        "/helplines/JO", data=form(client, version="x", kind="emergency", phone="112")
    )
    assert r.status_code == 404
    assert (await client.post("/helplines/JO/0/remove", data=form(client))).status_code == 404
    handler = await console.staff("case_handler", ["JO"])
    assert (await console.client_for(handler).get("/helplines/JO")).status_code == 403
    async with console.sessions() as s:
        jordan = await s.get(Country, "JO")
        assert jordan is not None and [line["phone"] for line in jordan.helplines] == ["911"]
    admin = await console.staff("admin")
    assert (await console.client_for(admin).get("/helplines/JO")).status_code == 200


async def test_a_wrong_number_re_renders_the_form_translated(console: ConsoleHarness) -> None:
    async with restored(console.sessions):
        manager = await console.staff("country_manager", ["JO"])
        async with console.sessions() as s:
            row = await s.get(Staff, manager.id)
            assert row is not None
            row.locale = "ar"
            await s.commit()
        client = console.client_for(manager)
        page = await client.get("/helplines/JO")
        r = await client.post(
            "/helplines/JO",
            data=form(
                client,
                version=_version(page.text),
                kind="migrant",
                phone="call the embassy",
                nationality="np",
                languages="ne",
                **{"name:ne": "नेपाली दूतावास"},
            ),
        )
        assert r.status_code == 400
        reason = gettext(
            "the number must be digits, in international form such as +8809612345678, "
            "or a short code such as 999",
            locale="ar",
        )
        assert not reason.startswith("the number")  # in Arabic, not the English msgid
        assert reason in r.text.replace("&#43;", "+")
        assert (
            gettext("The helpline cannot be saved: {reason}", locale="ar", reason="")[:8] in r.text
        )
        assert "call the embassy" in r.text and "नेपाली दूतावास" in r.text  # kept as typed
        async with console.sessions() as s:
            await s.execute(update(Country).where(Country.code == "JO").values(helplines=[]))
            await s.commit()
        empty = await client.get("/helplines/JO")
        assert empty.status_code == 200


def _version(html: str) -> str:
    marker = 'name="version" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


async def test_migration_converts_edited_rows_and_goes_back(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'helplines.db'}"
    await asyncio.to_thread(migrate.upgrade, url, "0012_report_sealing")
    engine = create_engine(url)
    edited = [{"label": "Police", "phone": "100"}, {"label": "Women's line", "phone": "+1555"}]
    async with engine.begin() as conn:  # a country staff changed by hand keeps its numbers
        await conn.execute(update(Country).where(Country.code == "KH").values(helplines=edited))
    await asyncio.to_thread(migrate.upgrade, url)
    async with engine.connect() as conn:
        rows = dict((await conn.execute(select(Country.code, Country.helplines))).all())
    assert [(line["kind"], line["phone"]) for line in rows["KH"]] == [
        ("police", "100"),
        ("emergency", "+1555"),
    ]
    assert rows["KH"][1]["labels"] == {"en": "Women's line"}
    assert [line["phone"] for line in rows["BD"]] == ["999", "109", "16357"]
    assert not any(line["verified"] for lines in rows.values() for line in lines)
    await asyncio.to_thread(migrate.downgrade, url, "0012_report_sealing")
    async with engine.connect() as conn:
        rows = dict((await conn.execute(select(Country.code, Country.helplines))).all())
    await engine.dispose()
    assert rows["KH"] == edited
    assert rows["BD"][0] == {"label": "National emergency", "phone": "999"}
