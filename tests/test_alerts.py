"""Alerts to staff (issue 17): a handler hears of a new case in her countries, of a case assigned
to her and of a worker's reply on her case; managers of missed deadlines. By Telegram (the outbox)
for staff who linked it and by e-mail through SMTP (a local aiosmtpd server here). Every alert is
"Case 23 needs you" and a link: nothing of the case."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import time_machine
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from bot.storage.db import create_engine, create_sessionmaker, transaction
from bot.storage.models import OutboxMessage, Staff
from bot.storage.reports import AlertCursor, AlertEmail, CaseEvent
from services.reports.alerts import fan_out_alerts, send_alert_emails
from services.reports.cases import access_case, do_assign
from services.reports.conversation import do_reporter_message
from services.reports.crypto import keyring
from services.reports.jobs import run_case_tasks
from services.reports.protocol import Category, Harm
from services.reports.queue import do_mark_read
from tests.conftest import Database
from tests.console import TEST_SECRET, ConsoleHarness
from tests.factories import make_case
from workvoice.context import AppContext
from workvoice.kernel.settings import load_settings

NARRATIVE = "The supervisor locked the exit on line 7."


@dataclass
class Inbox:
    """What the local SMTP server received: (envelope recipients, parsed message)."""

    received: list[tuple[list[str], Message]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def context(db: Database, tmp_path: Path, **settings: Any) -> AppContext:
    return AppContext(
        settings=load_settings(
            data_dir=tmp_path,
            secret_key=TEST_SECRET,
            public_url="https://console.example.org",
            **settings,
        ),
        engine=db.engine,
        sessions=db.sessions,
    )


def with_smtp(db: Database, tmp_path: Path, port: int) -> AppContext:
    return context(
        db,
        tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_from="alerts@workvoice.example.org",
        smtp_starttls=False,
    )


async def telegram_alerts(db: Database) -> list[tuple[int | None, dict[str, Any]]]:
    async with db.sessions() as s:
        rows = await s.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == "reports.alert")
            .order_by(OutboxMessage.id)
        )
        return [(m.staff_id, m.params) for m in rows]


async def test_a_new_case_alerts_its_countrys_handlers_once_across_replicas(
    console: ConsoleHarness, db: Database, tmp_path: Path
) -> None:
    handler = await console.staff("case_handler", ["BD"])
    manager = await console.staff("country_manager", ["BD"])
    elsewhere = await console.staff("case_handler", ["KH"])
    unlinked = await console.staff("case_handler", ["BD"])
    async with transaction(db.sessions) as s:
        for n, who in enumerate((handler, manager, elsewhere)):
            await s.execute(update(Staff).where(Staff.id == who.id).values(telegram_id=5100 + n))
    ctx = context(db, tmp_path)
    case = await make_case(db.sessions, ctx.settings, telegram_id=71, narrative=NARRATIVE)

    # Two replicas at once, each with its own connections: one alert per person in all.
    engines = [create_engine(db.url) for _ in range(2)]
    replicas = [
        AppContext(settings=ctx.settings, engine=e, sessions=create_sessionmaker(e))
        for e in engines
    ]
    await asyncio.gather(*(fan_out_alerts(r) for r in replicas))
    await fan_out_alerts(ctx)
    for engine in engines:
        await engine.dispose()
    alerts = await telegram_alerts(db)
    assert sorted(staff for staff, _ in alerts) == sorted([handler.id, manager.id])
    assert all(params == {"case_id": case.id, "reason": "new"} for _, params in alerts)
    assert unlinked.id not in [staff for staff, _ in alerts]  # no Telegram, no SMTP: nothing

    # The manager's critical alert for a critical case is the same occasion: one alert, not two.
    critical = await make_case(
        db.sessions, ctx.settings, telegram_id=72, category=Category.SAFETY, harm=Harm.FIRE_RISK
    )
    await fan_out_alerts(ctx)
    await run_case_tasks(ctx)
    about_critical = [s for s, p in await telegram_alerts(db) if p["case_id"] == critical.id]
    assert sorted(about_critical) == sorted([handler.id, manager.id])


async def test_assignment_and_replies_alert_the_handler(
    console: ConsoleHarness, db: Database, tmp_path: Path
) -> None:
    ctx = context(db, tmp_path)
    keys = keyring(ctx.settings)
    handler = await console.staff("case_handler", ["BD"])
    manager = await console.staff("country_manager", ["BD"])
    async with transaction(db.sessions) as s:
        await s.execute(update(Staff).where(Staff.id == handler.id).values(telegram_id=5201))
    case = await make_case(db.sessions, ctx.settings, telegram_id=73)
    await fan_out_alerts(ctx)
    before = len(await telegram_alerts(db))

    async with transaction(db.sessions) as s:
        me = await s.get(Staff, manager.id)
        assert me is not None
        loaded = await access_case(s, me, case.id, audit_view=False)
        await do_assign(s, loaded, await s.get(Staff, handler.id), actor=me)
    await fan_out_alerts(ctx)
    alerts = (await telegram_alerts(db))[before:]
    assert alerts == [(handler.id, {"case_id": case.id, "reason": "assigned"})]

    # Two replies before she opens the case: one alert; another after she read it: one more.
    async with transaction(db.sessions) as s:
        loaded = await access_case(s, handler, case.id, audit_view=False)
        await do_reporter_message(s, loaded, "Night shift.", keys=keys)
    await fan_out_alerts(ctx)
    async with transaction(db.sessions) as s:
        loaded = await access_case(s, handler, case.id, audit_view=False)
        await do_reporter_message(s, loaded, "Line 7.", keys=keys)
    await fan_out_alerts(ctx)
    replies = [a for a in await telegram_alerts(db) if a[1]["reason"] == "reply"]
    assert replies == [(handler.id, {"case_id": case.id, "reason": "reply"})]
    async with transaction(db.sessions) as s:
        me = await s.get(Staff, handler.id)
        assert me is not None
        await do_mark_read(s, await access_case(s, me, case.id, audit_view=False), me)
    await fan_out_alerts(ctx)  # reading it again alerts nobody about the old replies
    assert len([a for a in await telegram_alerts(db) if a[1]["reason"] == "reply"]) == 1
    async with transaction(db.sessions) as s:
        loaded = await access_case(s, handler, case.id, audit_view=False)
        await do_reporter_message(s, loaded, "Thank you.", keys=keys)
    await fan_out_alerts(ctx)
    assert len([a for a in await telegram_alerts(db) if a[1]["reason"] == "reply"]) == 2
    # The manager, who assigned it, hears nothing of the replies to the handler's case.
    assert all(staff == handler.id for staff, p in await telegram_alerts(db) if p["case_id"])


async def test_a_row_committed_after_a_newer_one_was_read_still_alerts(
    console: ConsoleHarness, db: Database, tmp_path: Path
) -> None:
    """On PostgreSQL a transaction can commit a lower id after the cursor passed it."""
    ctx = context(db, tmp_path)
    handler = await console.staff("case_handler", ["BD"])
    async with transaction(db.sessions) as s:
        await s.execute(update(Staff).where(Staff.id == handler.id).values(telegram_id=5301))
    case = await make_case(db.sessions, ctx.settings, telegram_id=74)
    async with transaction(db.sessions) as s:
        newest = await s.scalar(select(CaseEvent.id).order_by(CaseEvent.id.desc()).limit(1))
        s.add(AlertCursor(name="case_alerts", event_id=newest, updated_at=datetime.now(UTC)))
    await fan_out_alerts(ctx)
    assert [s for s, p in await telegram_alerts(db) if p["case_id"] == case.id] == [handler.id]


async def test_email_alerts_name_the_case_number_and_a_link_only(
    console: ConsoleHarness, db: Database, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    ctx = with_smtp(db, tmp_path, port)
    await console.staff("case_handler", ["BD"], email="rahima@example.org")
    await console.staff("country_manager", ["BD"], email="karim@example.org")
    arabic = await console.staff("case_handler", ["BD"], email="lina@example.org")
    async with transaction(db.sessions) as s:
        await s.execute(update(Staff).where(Staff.id == arabic.id).values(locale="ar"))
    case = await make_case(
        db.sessions, ctx.settings, telegram_id=75, narrative=NARRATIVE, harm=Harm.VERBAL_ABUSE
    )
    await fan_out_alerts(ctx)
    assert await send_alert_emails(ctx) == 3
    assert await send_alert_emails(ctx) == 0  # each e-mail once
    by_address = {to[0]: message for to, message in inbox.received}
    assert sorted(by_address) == ["karim@example.org", "lina@example.org", "rahima@example.org"]
    message = by_address["rahima@example.org"]
    assert message["Subject"] == f"Case {case.id} needs you"
    assert message["To"] == "rahima@example.org"
    assert message["From"] == "alerts@workvoice.example.org"
    body = message.get_payload(decode=True).decode()
    assert f"https://console.example.org/reports/{case.id}" in body
    arabic_subject = str(by_address["lina@example.org"]["Subject"])
    assert "Case" not in arabic_subject
    for _to, sent in inbox.received:
        text = sent.as_string() + (sent.get_payload(decode=True) or b"").decode()
        for secret in ("line 7", "locked", "harassment", "verbal", "BD-C1", "Factory", "high"):
            assert secret.lower() not in text.lower(), secret

    # Missed deadlines reach the country's managers by e-mail too, not its handlers.
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=49)):
        await run_case_tasks(ctx)
        await send_alert_emails(ctx)
    escalations = [to[0] for to, _m in inbox.received[3:]]
    assert escalations == ["karim@example.org"]


async def test_a_refusing_server_is_tried_again_later(
    console: ConsoleHarness, db: Database, tmp_path: Path
) -> None:
    ctx = with_smtp(db, tmp_path, _free_port())  # nobody listens there
    await console.staff("case_handler", ["BD"])
    await make_case(db.sessions, ctx.settings, telegram_id=76)
    await fan_out_alerts(ctx)
    assert await send_alert_emails(ctx) == 0
    async with db.sessions() as s:
        row = await s.scalar(select(AlertEmail))
        assert row is not None and row.status == "pending" and row.attempts == 1
        assert row.claimed_at is None and row.due_at > datetime.now(UTC)
        assert row.error == "ConnectionRefusedError"
