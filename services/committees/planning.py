"""Planning a committee's calendar: the schedule turned into meeting rows for the next ``HORIZON``
(skipping the factory's holidays), and each meeting into due ``CommitteeTask`` rows (one per
reminder offset, one quorum check). The job in ``jobs`` runs what falls due; the verbs in
``meetings`` and ``actions`` plan through here when staff change a meeting.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.committees import Committee, CommitteeHoliday, CommitteeTask, Meeting
from bot.storage.db import dialect_insert
from services.clock import utcnow
from services.committees.members import MeetingStatus, zone
from services.committees.schedule import check_rrule, occurrences, parse_local

HORIZON = timedelta(days=60)
# Chairs hear this long before a meeting when too few members have confirmed it.
QUORUM_CHECK_BEFORE = timedelta(days=1)
# Action owners hear about an open item at this local hour the day before it is due.
ACTION_REMINDER_HOUR = 9


class TaskKind(StrEnum):
    REMINDER = "reminder"
    QUORUM = "quorum"
    ACTION = "action"


async def holidays_of(session: AsyncSession, factory_id: int) -> set[str]:
    return set(
        (
            await session.scalars(
                select(CommitteeHoliday.day).where(CommitteeHoliday.factory_id == factory_id)
            )
        ).all()
    )


async def do_plan_tasks(session: AsyncSession, meeting: Meeting, *, now: datetime) -> int:
    """Due rows for one meeting: a reminder per offset and the quorum check (only future ones).

    The keys carry the start time, so a moved meeting gets fresh reminders for its new time.
    """
    stamp = int(meeting.starts_at.timestamp())
    rows = []
    for offset in meeting.committee.reminder_offsets or []:
        due = meeting.starts_at - timedelta(minutes=int(offset))
        if due > now:
            rows.append((TaskKind.REMINDER, f"m:{meeting.id}:{stamp}:r{offset}", due))
    quorum_at = meeting.starts_at - QUORUM_CHECK_BEFORE
    if quorum_at > now:
        rows.append((TaskKind.QUORUM, f"m:{meeting.id}:{stamp}:q", quorum_at))
    if not rows:
        return 0
    stmt = (
        dialect_insert(session)(CommitteeTask)
        .values(
            [
                dict(
                    key=key,
                    kind=kind,
                    meeting_id=meeting.id,
                    due_at=due,
                    expires_at=meeting.starts_at,
                )
                for kind, key, due in rows
            ]
        )
        .on_conflict_do_nothing(index_elements=["key"])
    )
    await session.execute(stmt)
    return len(rows)


async def do_materialise(
    session: AsyncSession, committee: Committee, *, now: datetime | None = None
) -> int:
    """Meeting rows (and their tasks) from the schedule for [now, now + HORIZON).

    Idempotent: an occurrence that already has a row (even a moved or cancelled one) is left as
    it is, so running it again, or on two replicas, changes nothing."""
    now = now or utcnow()
    until = now + HORIZON
    if not committee.rrule or not committee.local_start or not committee.active:
        committee.materialised_until = until
        return 0
    tz = zone(committee)
    rule = check_rrule(committee.rrule, parse_local(committee.local_start))
    holidays = await holidays_of(session, committee.factory_id)
    found = [
        occ
        for occ in occurrences(rule, tz, after_utc=now, before_utc=until)
        if occ.starts_at.astimezone(tz).date().isoformat() not in holidays
    ]
    committee.materialised_until = until
    if not found:
        await session.flush()
        return 0
    await session.execute(
        dialect_insert(session)(Meeting)
        .values(
            [
                dict(
                    committee_id=committee.id,
                    occurrence=occ.key,
                    starts_at=occ.starts_at,
                    location=committee.location,
                    status=MeetingStatus.PLANNED,
                    created_at=now,
                )
                for occ in found
            ]
        )
        .on_conflict_do_nothing(index_elements=["committee_id", "occurrence"])
    )
    meetings = (
        await session.scalars(
            select(Meeting).where(
                Meeting.committee_id == committee.id,
                Meeting.occurrence.in_([occ.key for occ in found]),
                Meeting.status == MeetingStatus.PLANNED,
            )
        )
    ).all()
    for meeting in meetings:
        await do_plan_tasks(session, meeting, now=now)
    await session.flush()
    return len(meetings)
