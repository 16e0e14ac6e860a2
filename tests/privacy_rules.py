"""What the privacy-rule tests (``test_privacy_rules*.py``) share: the marked story and name,
the fixtures that pin them to SQLite and to daytime, and the journeys they replay."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import inspect, select, text

from bot.i18n import gettext
from bot.storage.reports import Case
from tests import journeys
from tests.console import ConsoleHarness, make_context
from tests.harness import BotHarness

RUN = uuid.uuid4().hex[:10]
STORY = f"STORY-{RUN} the supervisor on line 7 touched me"
FIRST_NAME = f"Ayesha{RUN}"


def t(message: str, **params: object) -> str:
    return gettext(message, locale="en", **params)


@pytest.fixture
def backend() -> str:
    """The rules hold on either database; SQLite keeps these fast."""
    return "sqlite"


@pytest.fixture(autouse=True)
def _daytime() -> Iterator[None]:
    """13:00 in Dhaka: survey invitations go out at once (they wait for the day)."""
    now = datetime.now(UTC)
    with time_machine.travel(now.replace(hour=7, minute=0) + timedelta(days=1), tick=True):
        yield


def console_of(app: BotHarness) -> ConsoleHarness:
    """The console on the bot's database, with the same secret and report keys."""
    console = ConsoleHarness(make_context(app.sessions, None, app.settings.data_dir))
    console.ctx.settings = app.settings
    return console


async def start_report(app: BotHarness, telegram_id: int, story: str = STORY) -> Any:
    worker = app.user(telegram_id, first_name=FIRST_NAME)
    await journeys.start_report(worker, story)
    return worker


async def file_report(
    app: BotHarness, telegram_id: int, *, follow: str = journeys.RECEIPT_ONLY
) -> str:
    """A whole report, sent; returns the receipt's digits."""
    worker = await start_report(app, telegram_id)
    await journeys.report_to_review(worker, follow=follow)
    return journeys.receipt_digits(await journeys.send_report(worker), check=False)


async def follow_with_receipt(
    app: BotHarness, telegram_id: int, receipt: str, write: str | None = None
) -> Any:
    worker = app.user(telegram_id, first_name=FIRST_NAME)
    return await journeys.follow_up(worker, receipt, write=write)


async def the_case(app: BotHarness) -> Case:
    async with app.sessions() as s:
        case = await s.scalar(select(Case).order_by(Case.id.desc()))
    assert case is not None
    return case


def conversation_state(app: BotHarness) -> str:
    """Everything aiogram's conversation storage holds, as text (the harness uses memory; with
    Redis it is the same data under ``workvoice:<chat>:<user>``)."""
    storage: Any = app.dp.fsm.storage
    records = getattr(storage, "storage", {})
    return repr(
        {str(key): (getattr(r, "state", None), getattr(r, "data", r)) for key, r in records.items()}
    )


def conversation_data(app: BotHarness) -> list[dict[str, Any]]:
    storage: Any = app.dp.fsm.storage
    return [
        dict(getattr(record, "data", {}) or {})
        for record in getattr(storage, "storage", {}).values()
    ]


async def all_rows(app: BotHarness) -> str:
    """Every row of every table, as text: what a database reader sees without touching files."""
    out = []
    async with app.sessions() as s:
        conn = await s.connection()
        tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        for table in tables:
            rows = (await s.execute(text(f'SELECT * FROM "{table}"'))).all()
            out.append(f"{table}: {[tuple(r) for r in rows]!r}")
    return "\n".join(out)


async def answer_survey(app: BotHarness, telegram_id: int, free_text: str) -> None:
    worker = app.user(telegram_id, first_name=FIRST_NAME)
    await journeys.answer_survey(worker, "Rules pulse", free_text)


SURVEY = journeys.two_question_survey("rules", "Rules pulse")
