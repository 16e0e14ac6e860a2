"""The committee scheduler: the database is the source of truth, the job only claims rows.

``extend_horizons`` keeps each committee planned (``planning.do_materialise``: meeting rows for the
next ``HORIZON`` and their due ``CommitteeTask`` rows) as time moves on. ``run_due``
claims due tasks atomically (``services.claims``: FOR UPDATE SKIP LOCKED on PostgreSQL), queues
the messages and marks the tasks done in the same transaction, so two replicas never handle one
task twice, and outbox dedupe keys make even a re-run after a crash harmless. A task whose
meeting has begun is dropped, not sent late; the outbox rows expire at the meeting start too.
"""

from __future__ import annotations

import logging
import os
import socket
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.committees import (
    ActionItem,
    Committee,
    CommitteeMember,
    CommitteeNotice,
    CommitteeTask,
    Meeting,
)
from bot.storage.db import transaction
from bot.storage.models import User
from services import outbox
from services.claims import claim_ids, due_task
from services.clock import utcnow
from services.committees.members import (
    ActionStatus,
    MeetingStatus,
    MemberStatus,
    Side,
    member_locale,
    notify_chairs,
)
from services.committees.participation import check_quorum
from services.committees.planning import HORIZON, TaskKind, do_materialise
from workvoice.kernel.context import Runtime

log = logging.getLogger(__name__)
# Extend a committee's meetings once less than this is left of its horizon.
REFILL_BEFORE = timedelta(days=59)
CLAIM_TIMEOUT = timedelta(minutes=5)
# Reminders are queued this long before they are due (the outbox holds them until then), so when
# every committee of a country meets at 14:00 the messages are ready at the minute, not seconds
# after it. Quorum checks and action reminders still run at their moment.
REMINDER_LEAD = timedelta(minutes=1)
WORKER = f"{socket.gethostname()}:{os.getpid()}"


async def extend_horizons(ctx: Runtime, *, now: datetime | None = None, limit: int = 50) -> int:
    """Materialise committees whose horizon runs short; each is claimed by one replica."""
    now = now or utcnow()
    due = and_(
        Committee.active.is_(True),
        Committee.rrule.is_not(None),
        or_(
            Committee.materialised_until.is_(None),
            Committee.materialised_until < now + REFILL_BEFORE,
        ),
    )
    total = 0
    async with transaction(ctx.sessions) as session:
        # The claim itself moves the horizon, so a second replica no longer sees these as due;
        # on PostgreSQL the row locks hold until this transaction commits the new meetings.
        ids = await claim_ids(
            session,
            Committee,
            due,
            order_by=(Committee.id,),
            limit=limit,
            values={"materialised_until": now + HORIZON},
        )
        for committee_id in ids:
            committee = await session.get(Committee, committee_id, populate_existing=True)
            if committee is not None:
                total += await do_materialise(session, committee, now=now)
    return total


async def _send_reminders(
    session: AsyncSession, tasks: list[CommitteeTask], now: datetime
) -> dict[int, str]:
    """Reminders for a batch of tasks: three queries and a few INSERTs, however many members."""
    meeting_ids = {t.meeting_id for t in tasks if t.meeting_id is not None}
    meetings = {
        m.id: m
        for m in (await session.scalars(select(Meeting).where(Meeting.id.in_(meeting_ids)))).all()
    }
    seats: dict[int, list[tuple[CommitteeMember, User]]] = defaultdict(list)
    for member, user in (
        await session.execute(
            select(CommitteeMember, User)
            .join(User, User.id == CommitteeMember.user_id)
            .where(
                CommitteeMember.committee_id.in_({m.committee_id for m in meetings.values()}),
                CommitteeMember.status == MemberStatus.ACTIVE,
                User.active.is_(True),
            )
        )
    ).all():
        seats[member.committee_id].append((member, user))
    # After downtime several reminders of one meeting can be due at once (3 days and 1 day
    # before): members get only the latest, not a pile of them.
    latest = dict(
        (
            await session.execute(
                select(CommitteeTask.meeting_id, func.max(CommitteeTask.due_at))
                .where(
                    CommitteeTask.meeting_id.in_(meeting_ids),
                    CommitteeTask.kind == TaskKind.REMINDER,
                    CommitteeTask.due_at <= now + REMINDER_LEAD,
                )
                .group_by(CommitteeTask.meeting_id)
            )
        ).all()
    )
    results: dict[int, str] = {}
    rows: list[dict[str, Any]] = []
    for task in tasks:
        meeting = meetings.get(task.meeting_id or 0)
        if meeting is None or meeting.status != MeetingStatus.PLANNED:
            results[task.id] = "cancelled"
            continue
        if task.due_at < latest.get(meeting.id, task.due_at):
            results[task.id] = "superseded"
            continue
        if meeting.starts_at <= now:
            results[task.id] = "expired"
            continue
        factory = meeting.committee.factory
        rows.extend(
            dict(
                kind=CommitteeNotice.REMINDER,
                user_id=user.id,
                params={
                    "meeting_id": meeting.id,
                    "member_id": member.id,
                    "locale": member_locale(member, user, factory),
                },
                dedupe_key=f"cmr:{task.id}:{member.id}",
                expires_at=meeting.starts_at,  # dropped by the delivery loop once it began
                priority=50,
                due_at=max(task.due_at, now),
            )
            for member, user in seats[meeting.committee_id]
        )
        results[task.id] = "sent"
    await outbox.enqueue_many(session, rows)
    return results


async def _handle_quorum(session: AsyncSession, task: CommitteeTask, now: datetime) -> str:
    meeting = await session.get(Meeting, task.meeting_id) if task.meeting_id else None
    if meeting is None or meeting.status != MeetingStatus.PLANNED or meeting.starts_at <= now:
        return "cancelled"
    quorum = await check_quorum(session, meeting)
    if quorum.met:
        return "met"
    chairs = await notify_chairs(
        session,
        meeting.committee,
        CommitteeNotice.QUORUM,
        meeting_id=meeting.id,
        workers=quorum.confirmed[Side.WORKER],
        workers_needed=quorum.needed[Side.WORKER],
        managers=quorum.confirmed[Side.MANAGEMENT],
        managers_needed=quorum.needed[Side.MANAGEMENT],
    )
    log.info("committee.quorum_low meeting=%s chairs=%s", meeting.id, chairs)
    return "warned"


async def _handle_action(session: AsyncSession, task: CommitteeTask) -> str:
    action = await session.get(ActionItem, task.action_id) if task.action_id else None
    if action is None or action.status != ActionStatus.OPEN or action.owner_member_id is None:
        return "closed"
    owner = await session.get(CommitteeMember, action.owner_member_id)
    if owner is None or owner.user_id is None or owner.status != MemberStatus.ACTIVE:
        return "no_owner"
    await outbox.enqueue(
        session,
        CommitteeNotice.ACTION,
        user_id=owner.user_id,
        params={"action_id": action.id, "new": False},
        dedupe_key=f"cma:{action.id}:{task.id}",
    )
    return "sent"


async def handle_task(session: AsyncSession, task: CommitteeTask, now: datetime) -> str:
    if task.expires_at is not None and task.expires_at <= now:
        return "expired"  # the meeting has begun: a late reminder helps no one
    if task.kind == TaskKind.REMINDER:
        return (await _send_reminders(session, [task], now))[task.id]
    if task.kind == TaskKind.QUORUM:
        return await _handle_quorum(session, task, now)
    if task.kind == TaskKind.ACTION:
        return await _handle_action(session, task)
    log.warning("committee_task.unknown kind=%s", task.kind)
    return "unknown"


async def run_due(
    ctx: Runtime, *, now: datetime | None = None, limit: int = 200, worker: str = WORKER
) -> int:
    """Claim due tasks in batches and handle each batch in the claiming transaction."""
    now = now or utcnow()
    due = and_(
        due_task(CommitteeTask, now + REMINDER_LEAD, claim_timeout=CLAIM_TIMEOUT),
        or_(CommitteeTask.kind == TaskKind.REMINDER, CommitteeTask.due_at <= now),
    )
    handled = 0
    while True:
        async with transaction(ctx.sessions) as session:
            ids = await claim_ids(
                session,
                CommitteeTask,
                due,
                order_by=(CommitteeTask.due_at, CommitteeTask.id),
                limit=limit,
                values={"claimed_at": now, "claimed_by": worker},
            )
            if not ids:
                return handled
            tasks = (
                await session.scalars(
                    select(CommitteeTask)
                    .where(CommitteeTask.id.in_(ids))
                    .order_by(CommitteeTask.due_at, CommitteeTask.id)
                    .execution_options(populate_existing=True)
                )
            ).all()
            live = [t for t in tasks if t.expires_at is None or t.expires_at > now]
            reminders = await _send_reminders(
                session, [t for t in live if t.kind == TaskKind.REMINDER], now
            )
            for task in tasks:
                task.result = reminders.get(task.id) or await handle_task(session, task, now)
                task.done_at = now
                handled += 1


async def run_committees(ctx: Runtime, *, now: datetime | None = None) -> int:
    """The scheduler job: keep the horizon filled, then send what is due."""
    now = now or utcnow()
    await extend_horizons(ctx, now=now)
    return await run_due(ctx, now=now)
