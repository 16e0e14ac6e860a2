"""Scheduled work for cases: deadlines and escalation, critical alerts, reporter check-ins,
retention. Each due ``CaseTask`` is claimed once (``services.claims``), so replicas never repeat it."""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.db import is_postgres, transaction
from bot.storage.models import Staff, StaffCountry, StaffRole
from bot.storage.reports import Case, CaseTask, ClosedCaseCount, ReportNotice
from services.claims import claim_ids, due_task
from services.clock import utcnow
from services.reports import alerts, conversation, submission
from services.reports.cases import notify_reporter, record_event
from services.reports.crypto import keyring
from services.reports.protocol import (
    CHECKIN_PREFIX,
    CRITICAL_ALERT_REASON,
    Actor,
    EventKind,
    State,
    TaskKind,
)
from workvoice.kernel.context import Runtime

log = logging.getLogger(__name__)
CLAIM_TIMEOUT = timedelta(minutes=5)
WORKER = f"{socket.gethostname()}:{os.getpid()}"
OPEN_BEFORE: dict[str, set[State]] = {
    TaskKind.ACK_DEADLINE: {State.NEW},
    TaskKind.TRIAGE_DEADLINE: {State.NEW, State.ACKNOWLEDGED},
    TaskKind.FOLLOWUP_DEADLINE: {State.NEW, State.ACKNOWLEDGED, State.TRIAGED},
}
PURGE_BATCH = 500  # closed cases deleted per run; the next run takes the rest


async def managers_of(session: AsyncSession, country_code: str) -> list[Staff]:
    """Country managers of the case's country, then admins: who hears about escalations."""
    rows = await session.scalars(
        select(Staff).where(
            Staff.active.is_(True),
            or_(
                Staff.role == StaffRole.ADMIN,
                and_(
                    Staff.role == StaffRole.COUNTRY_MANAGER,
                    Staff.id.in_(
                        select(StaffCountry.staff_id).where(
                            StaffCountry.country_code == country_code
                        )
                    ),
                ),
            ),
        )
    )
    return list(rows.all())


async def handle_task(
    session: AsyncSession, task: CaseTask, now: datetime, *, email: bool = False
) -> str:
    """``email``: managers are also told by e-mail (SMTP is configured)."""
    case = await session.get(Case, task.case_id)
    if case is None:
        return "gone"
    if task.kind == TaskKind.CRITICAL_ALERT:
        record_event(case, EventKind.ESCALATED, who=Actor.SYSTEM, reason=CRITICAL_ALERT_REASON)
        managers = await managers_of(session, case.country_code)
        # The same occasion as the handlers' "new case" alert: a manager hears of it once.
        await alerts.notify_staff(
            session, case.id, managers, key="new", reason=CRITICAL_ALERT_REASON, email=email
        )
        return "alerted"
    if task.kind in OPEN_BEFORE:
        if case.state not in OPEN_BEFORE[task.kind] or case.pending_close:
            return "met"
        # Nothing is stored as "overdue": the queue reads it from the current deadline, so it
        # ends the moment the case moves on (review M1).
        record_event(case, EventKind.ESCALATED, who=Actor.SYSTEM, reason=task.kind)
        managers = await managers_of(session, case.country_code)
        await alerts.notify_staff(
            session, case.id, managers, key=task.kind, reason=task.kind, email=email
        )
        return "escalated"
    if task.kind.startswith(CHECKIN_PREFIX):
        if case.state != State.CLOSED:
            return "reopened"
        await notify_reporter(
            session, case, ReportNotice.CHECKIN, kind=task.kind.removeprefix(CHECKIN_PREFIX)
        )
        return "asked"
    log.warning("case_task.unknown kind=%s", task.kind)
    return "unknown"


async def run_case_tasks(ctx: Runtime, *, now: datetime | None = None, limit: int = 100) -> int:
    """Claim and handle every due case task; returns how many were handled."""
    now = now or utcnow()
    due = due_task(CaseTask, now, claim_timeout=CLAIM_TIMEOUT)
    handled = 0
    while True:
        async with transaction(ctx.sessions) as session:
            ids = await claim_ids(
                session,
                CaseTask,
                due,
                order_by=(CaseTask.due_at, CaseTask.id),
                limit=limit,
                values={"claimed_at": now, "claimed_by": WORKER},
            )
        if not ids:
            return handled
        for task_id in ids:
            async with transaction(ctx.sessions) as session:
                task = await session.get(CaseTask, task_id)
                if task is None or task.done_at is not None:
                    continue
                task.result = await handle_task(session, task, now, email=ctx.settings.email_alerts)
                task.done_at = now
                handled += 1


async def purge_closed_cases(ctx: Runtime, *, now: datetime | None = None) -> int:
    """Delete cases closed longer ago than the retention period, keeping only counts."""
    now = now or utcnow()
    cutoff = now - timedelta(days=ctx.settings.case_retention_days)
    async with transaction(ctx.sessions) as session:
        old = list(
            (
                await session.scalars(
                    select(Case)
                    .where(Case.state == State.CLOSED, Case.closed_at < cutoff)
                    .limit(PURGE_BATCH)
                    .with_for_update(skip_locked=True)
                    if is_postgres(session)
                    else select(Case)
                    .where(Case.state == State.CLOSED, Case.closed_at < cutoff)
                    .limit(PURGE_BATCH)
                )
            ).all()
        )
        for case in old:
            key = dict(
                country_code=case.country_code,
                month=case.submitted_at.strftime("%Y-%m"),
                category=case.category,
                severity=case.severity,
                outcome=case.outcome or "",
            )
            counter = await session.get(ClosedCaseCount, tuple(key.values()))
            if counter is None:
                session.add(ClosedCaseCount(**key, count=1))
            else:
                counter.count += 1
            await session.flush()
        if old:
            await session.execute(delete(Case).where(Case.id.in_([c.id for c in old])))
    if old:
        log.info("cases.purged count=%s", len(old))
    return len(old)


async def attach_reporter_messages(ctx: Runtime) -> None:
    """File waiting reporter messages with their cases, where this process holds the private key
    (the console; in ``workvoice run`` the same process). A bot-only host skips it."""
    keys = keyring(ctx.settings)
    if not keys.can_open:
        return
    async with transaction(ctx.sessions) as session:
        attached = await conversation.attach_reporter_messages(session, keys)
    if attached:
        log.info("reports.reporter_messages_attached count=%s", attached)


async def purge_draft_files(ctx: Runtime) -> None:
    """Sealed files of report drafts that were never sent: gone once the draft itself expired."""
    older = utcnow() - timedelta(minutes=ctx.settings.draft_ttl_minutes)
    async with transaction(ctx.sessions) as session:
        await submission.purge_draft_files(session, older_than=older)
