"""Telling staff that a case needs them: a handler hears of a new case in her countries, of a case
assigned to her and of a worker's reply on her case; managers of missed deadlines and critical
reports (``services.reports.jobs``).

An alert says only "Case 23 needs you" and links to the console: no category, factory, severity
or word of the report, since a phone's lock screen or a shared mailbox shows it to others. It goes
by Telegram to staff who linked it (the outbox: rate-limited, each row sent once) and by e-mail
when SMTP is configured (``alert_emails``, sent by ``send_alert_emails``).

The case history is the source: ``fan_out_alerts`` reads new ``case_events`` from a cursor it
locks, so replicas take turns, and every alert has a dedupe key, so reading a row twice sends
nothing twice. That also lets it read the last few minutes again: on PostgreSQL a row can commit
after a row with a higher id was already read, and a cursor alone would skip it for good.
Nothing in the verbs that change cases has to remember to alert.
"""

from __future__ import annotations

import asyncio
import logging
import os
import smtplib
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import lazyload

from bot.i18n import gettext as _
from bot.i18n import use_locale
from bot.storage.db import dialect_insert, transaction
from bot.storage.models import Staff, StaffCountry, StaffRole
from bot.storage.reports import AlertCursor, AlertEmail, Case, CaseEvent, ReportNotice
from services import outbox
from services.claims import claim_ids
from services.clock import utcnow
from services.reports.protocol import EventKind
from workvoice.kernel.context import Runtime
from workvoice.kernel.settings import Settings

log = logging.getLogger(__name__)
WORKER = f"{socket.gethostname()}:{os.getpid()}"
CURSOR = "case_alerts"
ALERTING = (EventKind.SUBMITTED, EventKind.ASSIGNED, EventKind.MESSAGE_FROM_REPORTER)
# Rows read again on every run, in case they committed after a newer row was read (see above).
RESCAN = timedelta(minutes=10)
RESCAN_ROWS = 2000
BATCH = 500  # new history rows read per run; the next run takes the rest
ALERT_PRIORITY = 5  # before news and reminders in the outbox
EMAIL_CLAIM_TIMEOUT = timedelta(minutes=5)
EMAIL_MAX_ATTEMPTS = 5
SMTP_TIMEOUT = 30  # seconds
HANDLING_ROLES = (StaffRole.CASE_HANDLER, StaffRole.COUNTRY_MANAGER)


class EmailStatus:
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


def case_link(settings: Settings | None, case_id: int) -> str:
    base = settings.console_url if settings is not None else ""
    return f"{base}/reports/{case_id}"


def alert_text(case_id: int, link: str) -> tuple[str, str]:
    """(subject or first line, body) in the current locale: the number and a link, nothing else."""
    title = _("Case {number} needs you", number=case_id)
    where = _("Open it in the console: {link}", link=link)
    return title, f"{title}.\n\n{where}"


def _usable(staff: Staff) -> bool:
    """Active and signed up (an invitation not yet accepted cannot open the console)."""
    return staff.active and staff.password_hash is not None


async def handlers_of(session: AsyncSession, country_code: str) -> list[Staff]:
    """Case handlers and country managers of a country: who hears of its new cases."""
    rows = await session.scalars(
        select(Staff)
        .where(
            Staff.active.is_(True),
            Staff.password_hash.is_not(None),
            Staff.role.in_(HANDLING_ROLES),
            Staff.id.in_(
                select(StaffCountry.staff_id).where(StaffCountry.country_code == country_code)
            ),
        )
        .order_by(Staff.id)
    )
    return list(rows.all())


async def notify_staff(
    session: AsyncSession,
    case_id: int,
    recipients: Sequence[Staff],
    *,
    key: str,
    reason: str,
    email: bool,
) -> int:
    """Queue one alert per recipient and channel; ``key`` names the occasion, so a second call
    for the same case, occasion and person adds nothing. Returns how many were queued."""
    queued = 0
    for staff in recipients:
        if not _usable(staff):
            continue
        dedupe = f"alert:{case_id}:{key}:{staff.id}"
        if staff.telegram_id is not None:
            queued += await outbox.enqueue(
                session,
                ReportNotice.ALERT,
                staff_id=staff.id,
                priority=ALERT_PRIORITY,
                params={"case_id": case_id, "reason": reason},
                dedupe_key=dedupe,
            )
        if email:
            now = utcnow()
            insert = dialect_insert(session)
            result: Any = await session.execute(
                insert(AlertEmail)
                .values(
                    staff_id=staff.id,
                    case_id=case_id,
                    dedupe_key=dedupe,
                    status=EmailStatus.PENDING,
                    due_at=now,
                    attempts=0,
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["dedupe_key"])
            )
            queued += int(result.rowcount or 0)
    return queued


async def _hold_cursor(session: AsyncSession, now: datetime) -> int:
    """Lock the cursor row for this transaction (an UPDATE first: on SQLite it takes the write
    lock at once, on PostgreSQL the row lock) and return its position. Missing (a database made
    without the migration's seed): start from the beginning."""
    held = update(AlertCursor).where(AlertCursor.name == CURSOR).values(updated_at=now)
    result: Any = await session.execute(held)
    if not result.rowcount:
        insert = dialect_insert(session)
        await session.execute(
            insert(AlertCursor)
            .values(name=CURSOR, event_id=0, updated_at=now)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        await session.execute(held)
    return int(
        await session.scalar(select(AlertCursor.event_id).where(AlertCursor.name == CURSOR)) or 0
    )


@dataclass(frozen=True)
class Occasion:
    """One history row that may need someone (the columns ``fan_out_alerts`` reads)."""

    id: int
    case_id: int
    kind: str
    actor_staff_id: int | None
    detail: dict[str, Any]


async def _alert_for(session: AsyncSession, event: Occasion, case: Case, *, email: bool) -> int:
    if event.kind == EventKind.SUBMITTED:
        recipients = await handlers_of(session, case.country_code)
        # Shared with the managers' critical alert: one "needs you" per person for a new case.
        return await notify_staff(
            session, case.id, recipients, key="new", reason="new", email=email
        )
    if event.kind == EventKind.ASSIGNED:
        to = event.detail.get("to_staff")
        if not isinstance(to, int) or to == event.actor_staff_id:
            return 0  # nobody to tell, or she assigned it to herself
        handler = await session.get(Staff, to)
        if handler is None:
            return 0
        return await notify_staff(
            session, case.id, [handler], key=f"assigned:{event.id}", reason="assigned", email=email
        )
    # A worker's reply: her handler, or while nobody is assigned everyone who may take it.
    read = case.handler_read_event_id or 0
    if event.id <= read:
        return 0  # already seen in the console
    assignee = await session.get(Staff, case.assigned_staff_id) if case.assigned_staff_id else None
    recipients = (
        [assignee]
        if assignee is not None and _usable(assignee)
        else await handlers_of(session, case.country_code)
    )
    # One alert until the case is opened again, however many messages she sends meanwhile.
    return await notify_staff(
        session, case.id, recipients, key=f"reply:{read}", reason="reply", email=email
    )


async def fan_out_alerts(ctx: Runtime, *, now: datetime | None = None) -> int:
    """Alert staff about the case history written since the last run; returns alerts queued."""
    now = now or utcnow()
    email = ctx.settings.email_alerts
    columns = select(
        CaseEvent.id, CaseEvent.case_id, CaseEvent.kind, CaseEvent.actor_staff_id, CaseEvent.detail
    )
    async with transaction(ctx.sessions) as session:
        position = await _hold_cursor(session, now)
        # Every new row moves the cursor, also those that alert nobody (notes, transitions).
        fresh = (
            await session.execute(
                columns.where(CaseEvent.id > position).order_by(CaseEvent.id).limit(BATCH)
            )
        ).all()
        again = (
            await session.execute(
                columns.where(
                    CaseEvent.id > position - RESCAN_ROWS,
                    CaseEvent.id <= position,
                    CaseEvent.at >= now - RESCAN,
                    CaseEvent.kind.in_(ALERTING),
                ).order_by(CaseEvent.id)
            )
        ).all()
        queued = 0
        for row in [*again, *fresh]:
            if row.kind not in ALERTING:
                continue
            case = await session.scalar(
                select(Case).where(Case.id == row.case_id).options(lazyload(Case.events))
            )
            if case is not None:
                queued += await _alert_for(session, Occasion(*row), case, email=email)
        if fresh:
            await session.execute(
                update(AlertCursor)
                .where(AlertCursor.name == CURSOR)
                .values(event_id=max(row.id for row in fresh))
            )
    if queued:
        log.info("alerts.queued count=%s", queued)
    return queued


def _smtp_send(settings: Settings, message: EmailMessage) -> None:
    """One message through the configured server (blocking: run in a thread)."""
    assert settings.smtp_host is not None
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.smtp_port == 465:
        smtp = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT, context=context
        )
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT)
    with smtp:
        if settings.smtp_port != 465 and settings.smtp_starttls:
            smtp.starttls(context=context)
        if settings.smtp_user and settings.smtp_password is not None:
            smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
        smtp.send_message(message)


def build_email(settings: Settings, staff: Staff, case_id: int) -> EmailMessage:
    """The e-mail in the staff member's language: the number and a link, nothing of the case."""
    with use_locale(staff.locale):
        subject, body = alert_text(case_id, case_link(settings, case_id))
    message = EmailMessage()
    message["From"] = settings.smtp_from or ""
    message["To"] = staff.email
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=(settings.smtp_from or "@workvoice").split("@")[-1])
    message.set_content(body)
    return message


async def send_alert_emails(ctx: Runtime, *, now: datetime | None = None, limit: int = 50) -> int:
    """Claim due e-mail alerts (each by one replica), send them after the claim committed, and
    record each outcome; a server that refuses for now is tried again later. Returns how many
    were sent. Sent and failed rows go after ``outbox_retention_days``, as outbox rows do."""
    settings = ctx.settings
    now = now or utcnow()
    if not settings.email_alerts:
        return 0
    due = and_(
        AlertEmail.status == EmailStatus.PENDING,
        AlertEmail.due_at <= now,
        or_(AlertEmail.claimed_at.is_(None), AlertEmail.claimed_at < now - EMAIL_CLAIM_TIMEOUT),
    )
    async with transaction(ctx.sessions) as session:
        ids = await claim_ids(
            session,
            AlertEmail,
            due,
            order_by=(AlertEmail.due_at, AlertEmail.id),
            limit=limit,
            values={
                "claimed_at": now,
                "claimed_by": WORKER,
                "attempts": AlertEmail.attempts + 1,
            },
        )
        older = now - timedelta(days=settings.outbox_retention_days)
        await session.execute(
            delete(AlertEmail).where(
                AlertEmail.status != EmailStatus.PENDING, AlertEmail.created_at < older
            )
        )
    sent = 0
    for email_id in ids:
        async with transaction(ctx.sessions) as session:
            row = await session.get(AlertEmail, email_id)
            staff = await session.get(Staff, row.staff_id) if row is not None else None
            if row is None:
                continue
            if staff is None or not _usable(staff):
                row.status, row.error = EmailStatus.FAILED, "no_recipient"
                continue
            message = build_email(settings, staff, row.case_id)
            try:
                await asyncio.to_thread(_smtp_send, settings, message)
            except (OSError, smtplib.SMTPException) as exc:
                # The class only: a server's reply may quote the address.
                log.warning("alerts.email_failed id=%s error=%s", row.id, type(exc).__name__)
                row.error = type(exc).__name__[:120]
                if row.attempts >= EMAIL_MAX_ATTEMPTS:
                    row.status = EmailStatus.FAILED
                else:
                    row.claimed_at, row.claimed_by = None, None
                    row.due_at = now + timedelta(minutes=2**row.attempts)
                continue
            row.status, row.sent_at, row.error = EmailStatus.SENT, utcnow(), None
            sent += 1
    if sent:
        log.info("alerts.emails_sent count=%s", sent)
    return sent
