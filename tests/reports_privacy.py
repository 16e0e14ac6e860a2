"""Markers and steps shared by the report privacy tests (``test_reports_privacy*.py``): marked
words that must never show up where an attacker looks, and a worker filing a marked report."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import gettext
from tests import journeys
from tests.factories import make_worker
from tests.harness import BotHarness

MARKER = "SECRET-NARRATIVE-MARKER: supervisor Rahim Uddin on line 7 touched me on 2 Dec"
VOICE = b"OggS-VOICE-MARKER"
FOLLOWUP = "REPORTER-FOLLOWUP-MARKER: he did it again today near the cutting table"
HANDLER = "HANDLER-MARKER: which line do you work on?"
SECRET = "server-secret-for-tests"


def t(message: str, **params: object) -> str:
    return gettext(message, locale="en", **params)


async def start_draft(app: BotHarness, telegram_id: int) -> Any:
    """A worker goes as far as the review screen with a marked narrative and voice note."""
    await make_worker(app.sessions, telegram_id)
    worker = app.user(telegram_id)
    await journeys.start_report(worker, MARKER)
    await worker.send_voice(content=VOICE)
    await worker.wait_idle()
    review = await journeys.report_to_review(worker)
    await worker.wait_idle()  # the last update's state is written after its reply
    return worker, review


async def raw_tables(sessions: async_sessionmaker[AsyncSession], *tables: str) -> str:
    async with sessions() as s:
        return repr([(await s.execute(text(f"SELECT * FROM {name}"))).all() for name in tables])


# --- H1: the draft ---------------------------------------------------------------------------


async def file_receipt_only(app: BotHarness, telegram_id: int) -> str:
    worker, _review = await start_draft(app, telegram_id)
    return journeys.receipt_digits(await journeys.send_report(worker))
