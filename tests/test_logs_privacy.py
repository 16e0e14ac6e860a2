"""DESIGN §4.5, no PII in logs: no Telegram id, name, username, message text, exception message,
SQL parameter, or pseudonym a log reader can join to a report, an answer or a committee action.

The audit (H2, M7) found ``by=u<users.id>`` on receipt-only reports and committee lines, and a
worker's survey draft in a traceback's ``[parameters: ...]``. Here every flow runs at DEBUG on
every logger, with marker texts, names, usernames and distinctive Telegram ids, plus database and
other errors whose messages carry the marker; the process's real handler (``configure_logging``)
and the real formatter applied to everything caplog saw must show none of them.
"""

from __future__ import annotations

import io
import logging
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import select, text

from bot.storage.db import is_postgres, transaction
from bot.storage.models import User
from services.broadcasts import topics
from services.broadcasts.topics import TopicInput
from services.committees import jobs, meetings, members
from services.onboarding import get_user
from services.scope import Scope
from tests import journeys
from tests.factories import make_factory, make_worker
from tests.harness import BotHarness
from tests.surveys_data import make_wave
from tests.telegram_fake import FakeUser
from workvoice.context import AppContext
from workvoice.kernel.logs import RedactFilter, SafeFormatter, configure_logging, describe_exception

MARK = f"LOGMARK{uuid.uuid4().hex[:10]}"
BASE = 8_812_345_600  # distinctive Telegram ids: none of them may appear in a log line
NEWCOMER, SWITCHER, SURVEYED, REPORTER, PHONE = (BASE + n for n in range(1, 6))
CHAIR, SECRETARY, MEMBER, JOINER, READER = (BASE + n for n in range(6, 11))
EVERYONE = [NEWCOMER, SWITCHER, SURVEYED, REPORTER, PHONE, CHAIR, SECRETARY, MEMBER, JOINER, READER]
TZ = "Asia/Phnom_Penh"
START = datetime(2027, 1, 1, 3, 0, tzinfo=UTC)
FIRST = datetime(2027, 1, 5, 7, 0, tzinfo=UTC)  # the first meeting, 14:00 in Phnom Penh


@pytest.fixture
def log_output(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """The process's logging set-up at DEBUG, then every logger turned to DEBUG on top of it."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved = {
        name: logger.level
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    root.addHandler(caplog.handler)
    caplog.handler.setLevel(logging.DEBUG)
    for name in saved:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield stream
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


def person(app: BotHarness, telegram_id: int, locale: str = "en") -> FakeUser:
    """A fake worker whose first name, last name and username carry the marker."""
    user = app.user(telegram_id, language_code=locale, first_name=f"Rahima{MARK}")
    plain = user._from
    user._from = lambda: {  # type: ignore[method-assign]
        **plain(),
        "last_name": f"Begum{MARK}",
        "username": f"rahima_{MARK}",
    }
    return user


async def onboarding_and_language(app: BotHarness) -> None:
    await make_factory(app.sessions, "LG-01")
    worker = person(app, NEWCOMER)
    await worker.send("/start")
    await worker.wait_reply(contains="Choose your language")
    await worker.tap("English")
    await worker.wait_reply()
    await worker.tap("✅ I agree")
    await worker.wait_idle()
    await worker.send(f"{MARK}-9")  # a wrong factory code, typed
    await worker.wait_reply(contains="No factory has the code")
    await worker.send("lg-01")
    await worker.wait_idle()
    await worker.tap("Woman")
    await worker.wait_idle()
    await worker.tap("Prefer not to say")
    await worker.wait_reply(contains="You are all set")
    await worker.send(f"hello {MARK}")  # free text nobody asked for
    await worker.wait_idle()

    await make_worker(app.sessions, SWITCHER, factory_code="LG-01")
    switcher = person(app, SWITCHER)
    await switcher.send("/language")
    await switcher.wait_reply()
    await switcher.tap("বাংলা")
    await switcher.wait_idle()


async def survey(app: BotHarness) -> None:
    await make_worker(app.sessions, SURVEYED, gender="woman")
    await make_wave(app.sessions)
    worker = person(app, SURVEYED)
    await journeys.open_first_survey(worker)
    await worker.tap("No")
    await worker.wait_reply(contains="What makes you feel unsafe?")
    await worker.tap("People")
    await worker.wait_idle()
    await worker.tap("Done ➡️")
    await worker.wait_reply(contains="Which shift?")
    await worker.tap("Night")
    await worker.wait_reply(contains="Hours last week?")
    await worker.send(f"{MARK} hours")  # not a number: asked again
    await worker.wait_reply()
    await worker.send("60")
    await worker.wait_reply(contains="Anything else?")
    await worker.send(f"{MARK} no water")
    await worker.wait_reply(contains="Thank you!")


async def report_and_follow_up(app: BotHarness) -> None:
    await make_worker(app.sessions, REPORTER)
    worker = person(app, REPORTER)
    await journeys.start_report(worker, f"{MARK} the night supervisor touched me in store room 3")
    await journeys.report_to_review(worker)
    receipt = journeys.receipt_digits(await journeys.send_report(worker))

    await make_worker(app.sessions, PHONE)
    phone = person(app, PHONE)
    await phone.send("/follow")
    await phone.wait_reply()
    await phone.send(f"1234 5678 {MARK}")
    await phone.wait_reply()
    await phone.send(receipt)
    await phone.wait_reply()
    await phone.tap("✍️ Write to the case handler")
    await phone.wait_reply()
    await phone.send(f"{MARK} line 4, night shift")
    await phone.wait_reply(contains="Your message was sent to the case handler.")


async def committee(app: BotHarness) -> None:
    ctx = AppContext(settings=app.settings, engine=None, sessions=app.sessions)  # type: ignore[arg-type]
    with time_machine.travel(START, tick=False):
        factory = await make_factory(app.sessions, "KH-LG", country="KH", timezone=TZ)
        for telegram_id in (CHAIR, SECRETARY, MEMBER, BASE + 90):
            await make_worker(app.sessions, telegram_id, factory_code=None)
        await make_worker(app.sessions, JOINER, factory_code="KH-LG", gender="woman")
        async with transaction(app.sessions) as session:
            picc = await members.do_create_committee(
                session, factory, kind="picc", name="PICC Log", actor=None
            )
            seats = [
                (CHAIR, "management", "chair", "man"),
                (SECRETARY, "worker", "secretary", "woman"),
                (MEMBER, "worker", "member", "woman"),
                (BASE + 90, "management", "member", "man"),
            ]
            for telegram_id, side, role, gender in seats:
                user = await get_user(session, telegram_id)
                await members.do_add_member(
                    session,
                    picc,
                    display_name=f"Seat {role} {MARK}",
                    side=side,
                    role=role,
                    gender=gender,
                    user_id=user.id if user else None,
                    actor=None,
                )
            await meetings.do_set_schedule(
                session,
                picc,
                rule="FREQ=MONTHLY;BYDAY=1TU",
                local_start="2027-01-05T14:00",
                location="Meeting room 2",
                actor=None,
                now=START,
            )
            invite = await members.do_create_invite(session, picc, side="worker", actor=None)
            code = invite.code
    chair, secretary, member = person(app, CHAIR), person(app, SECRETARY), person(app, MEMBER)

    joiner = person(app, JOINER)
    await joiner.send(f"/start c_{code}")
    await joiner.wait_reply(contains="PICC Log")
    await joiner.send(f"Sokha {MARK}")
    await joiner.wait_reply()
    await joiner.wait_idle()
    await app.deliver()
    await chair.tap("✅ Approve", message=chair.messages[-1])
    await chair.wait_idle()
    await app.deliver()

    due = FIRST - timedelta(days=3)
    with time_machine.travel(due, tick=False):
        await jobs.run_committees(ctx, now=due)
        await app.deliver()
    await member.tap("✅ I will come")
    await member.wait_button("✅ I will come ✓")  # the reminder marks the answer
    await member.tap("📝 Add to the agenda")
    await member.wait_reply()
    await member.send(f"{MARK} drinking water on floor 3")
    await member.wait_reply(contains="Added to the agenda")

    with time_machine.travel(FIRST + timedelta(hours=4), tick=True):
        await secretary.send("/committee")
        await secretary.wait_reply()
        await secretary.tap("📄 Write minutes")
        await secretary.wait_reply()
        await secretary.send(f"{MARK} water filter agreed")
        await secretary.wait_reply(contains="The minutes were sent to all members")
        await secretary.wait_idle()
        await app.deliver()


async def news_and_stop(app: BotHarness) -> None:
    async with transaction(app.sessions) as session:
        await topics.do_create_topic(
            session,
            TopicInput("union-log", "BD", "en", {"en": "Union news"}),
            scope=Scope.everywhere(),
            actor=None,
        )
    await make_worker(app.sessions, READER)
    reader = person(app, READER)
    await reader.send("/news")
    await reader.wait_reply()
    await reader.tap("➕ Union news")
    await reader.wait_idle()
    await reader.tap("✅ Union news")
    await reader.wait_idle()
    await reader.send("/stop")
    await reader.wait_reply()
    await reader.wait_idle()
    await reader.tap("Turn them back on")
    await reader.wait_idle()


async def forced_errors(app: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database error whose message and parameters carry the marker, and a plain one."""
    reader = app.user(READER)

    async def database_error(session: Any, *args: Any, **kwargs: Any) -> Any:
        if is_postgres(session):  # "invalid input syntax for type integer: "<marker>""
            await session.execute(text("SELECT CAST(:v AS INTEGER)"), {"v": f"{MARK} draft"})
        else:  # SQLite's message is generic, the parameter is the marker
            await session.execute(text("SELECT json(:v)"), {"v": f"{{{MARK} draft"})
        raise AssertionError("the statement above fails")

    async def plain_error(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"could not save {MARK} for user {READER}")

    for failing in (database_error, plain_error):
        with monkeypatch.context() as patch:
            patch.setattr(topics, "topics_for", failing)
            await reader.send("/news")
            await reader.wait_reply(contains="something went wrong")
            await reader.wait_idle()


async def test_every_flow_at_debug_logs_no_marker_id_name_or_pseudonym(
    app: BotHarness,
    log_output: io.StringIO,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await onboarding_and_language(app)
    await survey(app)
    await report_and_follow_up(app)
    await committee(app)
    await news_and_stop(app)
    await forced_errors(app, monkeypatch)
    async with app.sessions() as s:
        row_ids = list(await s.scalars(select(User.id)))
    worker = app.user(NEWCOMER)
    await worker.send("/delete")
    await worker.wait_reply()
    await worker.tap("🗑 Yes, delete my data")
    await worker.wait_reply(contains="Your data has been deleted")
    await worker.wait_idle()

    formatter, redact = SafeFormatter(), RedactFilter()
    seen = "\n".join(formatter.format(r) for r in caplog.records if redact.filter(r))
    for output in (log_output.getvalue(), seen):
        leaks = [MARK, "Rahima", "rahima_", *map(str, EVERYONE)]
        found = [leak for leak in leaks if leak in output]
        assert not found, f"{found} in the log:\n" + "\n".join(
            line for line in output.splitlines() if any(leak in line for leak in found)
        )
        pseudonyms = [f"u{row}" for row in row_ids if re.search(rf"\bu{row}\b", output)]
        assert not pseudonyms, pseudonyms
        # The scenario really ran and was logged, errors and tracebacks included.
        for expected in ("report.submitted", "committee.minutes_posted", "update.failed"):
            assert expected in output, expected
        assert "RuntimeError (message not logged)" in output
        assert "Traceback (most recent call last)" in output
        assert "sqlalchemy.engine" in output  # statements at DEBUG, without parameters


# --- the formatter alone, for every library's logger ---------------------------------------


def _raise_chained() -> None:
    try:
        raise ValueError(f"{MARK} inner")
    except ValueError as inner:
        raise RuntimeError(f"{MARK} outer") from inner


@pytest.mark.parametrize(
    "logger_name",
    ["uvicorn.error", "aiogram.event", "apscheduler.executors.default", "bot.runtime", "other"],
)
def test_m7_tracebacks_keep_types_and_frames_never_messages(logger_name: str) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        configure_logging("DEBUG", stream=stream)
        logger = logging.getLogger(logger_name)
        logger.setLevel(logging.DEBUG)
        try:
            _raise_chained()
        except RuntimeError as exc:
            # aiogram's own line: "Cause exception ... %s: %s" with the exception as an argument
            logger.exception("Cause exception while process update id=%d\n%s: %s", 1, "E", exc)
            logger.error(exc)
            logger.warning("failed: %(e)s", {"e": exc})
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    output = stream.getvalue()
    assert MARK not in output
    assert "ValueError (message not logged)" in output
    assert "RuntimeError (message not logged)" in output
    assert "direct cause" in output and "_raise_chained" in output


async def test_m7_database_errors_carry_no_parameters(db: Any) -> None:
    """hide_parameters: an error's own text no longer ends with the worker's draft."""
    from sqlalchemy.exc import DBAPIError, StatementError

    value = f"{{{MARK}"
    async with db.sessions() as s:
        with pytest.raises((DBAPIError, StatementError)) as caught:
            if db.backend == "postgres":
                await s.execute(text("SELECT CAST(:v AS JSONB)"), {"v": value})
            else:
                await s.execute(text("SELECT json(:v)"), {"v": value})
    assert "[parameters:" not in str(caught.value)
    assert MARK not in describe_exception(caught.value)
