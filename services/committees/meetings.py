"""Meetings: the recurring schedule and one-off meetings, cancelling and moving one, factory
holidays, and the queries for the next, upcoming and past meetings.

Same verbs as ``members``: ``check_*`` validates, ``do_*`` changes and appends a
``CommitteeEvent`` (and an audit row when staff act), ``access_*`` loads or refuses; members hear
of changes through the outbox, after commit.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.committees import (
    Committee,
    CommitteeHoliday,
    CommitteeNotice,
    CommitteeTask,
    Meeting,
)
from bot.storage.models import Staff
from services.clock import happens_twice, planned_moment, to_utc, utcnow
from services.committees.members import (
    HOLIDAY_NAME_LIMIT,
    PLACE_LIMIT,
    InvalidInput,
    MeetingClosed,
    MeetingStatus,
    add_event,
    audit_change,
    notify_members,
    zone,
)
from services.committees.names import set_usual_place
from services.committees.planning import HORIZON, do_materialise, do_plan_tasks
from services.committees.schedule import (
    LOCAL_FORMAT,
    check_schedule,
    local_key,
    occurrences,
    parse_local,
)
from services.errors import NotFound

ONE_OFF = "x"  # occurrence keys of one-off meetings: "x:<local start>:<random hex>"


def one_off_key(local: datetime) -> str:
    return f"{ONE_OFF}:{local_key(local)}:{secrets.token_hex(3)}"


def local_start_of(occurrence: str) -> str:
    """The local start ("YYYY-MM-DDTHH:MM") an occurrence key names, scheduled or one-off."""
    if occurrence.startswith(f"{ONE_OFF}:"):
        return occurrence.removeprefix(f"{ONE_OFF}:").rsplit(":", 1)[0]
    return occurrence


# --- schedules and meetings ----------------------------------------------------------------


@dataclass
class ScheduleResult:
    ambiguous: list[str]  # local starts that happen twice; the first one is used
    meetings: int  # meetings materialised now


async def do_set_schedule(
    session: AsyncSession,
    committee: Committee,
    *,
    rule: str,
    local_start: str,
    location: str = "",
    duration_minutes: int = 120,
    offsets: Sequence[int] | None = None,
    quorum: float | None = None,
    actor: Staff | None,
    ip: str | None = None,
    now: datetime | None = None,
) -> ScheduleResult:
    """Set (or replace) the recurring schedule and materialise it.

    Future meetings of the old schedule that the new one also produces stay (with their RSVPs and
    agenda, moved to the new place); the others are cancelled and their members told at once.
    One-off meetings, and meetings staff moved or cancelled, stay as they are.
    """
    now = now or utcnow()
    start = parse_local(local_start)
    tz = zone(committee)
    rule_obj, ambiguous = check_schedule(rule, start, tz)
    if offsets is not None:
        if not offsets or any(not 0 < o <= 60 * 24 * 30 for o in offsets):
            raise InvalidInput()
        committee.reminder_offsets = sorted(set(offsets), reverse=True)
    if quorum is not None:
        if not 0 < quorum <= 1:
            raise InvalidInput()
        committee.quorum = quorum
    committee.rrule = rule.strip().removeprefix("RRULE:")
    committee.local_start = local_key(start)
    set_usual_place(committee, location)
    committee.duration_minutes = max(15, min(duration_minutes, 24 * 60))
    keep = {o.key for o in occurrences(rule_obj, tz, after_utc=now, before_utc=now + HORIZON)}
    scheduled = (
        await session.scalars(
            select(Meeting).where(
                Meeting.committee_id == committee.id,
                Meeting.status == MeetingStatus.PLANNED,
                Meeting.starts_at > now,
                ~Meeting.occurrence.startswith(f"{ONE_OFF}:"),
            )
        )
    ).all()
    for meeting in scheduled:
        if meeting.occurrence in keep:
            meeting.location = committee.location
            await _drop_open_tasks(session, meeting)  # re-planned below with the new offsets
        else:
            await _cancel(session, meeting, actor=actor, reason="unscheduled", now=now)
    committee.materialised_until = None
    add_event(
        session, committee.id, "schedule_set", actor, rrule=committee.rrule, start=local_start
    )
    made = await do_materialise(session, committee, now=now)
    await audit_change(session, committee, "schedule", actor=actor, ip=ip, rrule=committee.rrule)
    return ScheduleResult(ambiguous=ambiguous, meetings=made)


async def do_add_meeting(
    session: AsyncSession,
    committee: Committee,
    *,
    local_start: str,
    location: str = "",
    actor: Staff | None,
    ip: str | None = None,
    now: datetime | None = None,
) -> tuple[Meeting, bool]:
    """A one-off meeting; returns it and whether its local time was ambiguous (first one used)."""
    now = now or utcnow()
    local = parse_local(local_start)
    starts_at, ambiguous = to_utc(local, zone(committee)), happens_twice(local, zone(committee))
    if starts_at <= now:
        raise MeetingClosed()
    meeting = Meeting(
        committee_id=committee.id,
        occurrence=one_off_key(local),
        starts_at=starts_at,
        location=location.strip()[:PLACE_LIMIT] or committee.location,
        status=MeetingStatus.PLANNED,
        created_at=now,
    )
    session.add(meeting)
    await session.flush()
    await session.refresh(meeting, ["committee"])
    add_event(session, committee.id, "meeting_added", actor, meeting_id=meeting.id, at=local_start)
    await do_plan_tasks(session, meeting, now=now)
    await audit_change(session, committee, "meeting_add", actor=actor, ip=ip, meeting_id=meeting.id)
    return meeting, ambiguous


async def access_meeting(session: AsyncSession, committee: Committee, meeting_id: int) -> Meeting:
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None or meeting.committee_id != committee.id:
        raise NotFound()
    return meeting


def check_open(meeting: Meeting, now: datetime | None = None) -> None:
    if meeting.status != MeetingStatus.PLANNED or meeting.starts_at <= (now or utcnow()):
        raise MeetingClosed()


async def _drop_open_tasks(session: AsyncSession, meeting: Meeting) -> None:
    await session.execute(
        delete(CommitteeTask).where(
            CommitteeTask.meeting_id == meeting.id, CommitteeTask.done_at.is_(None)
        )
    )


async def _cancel(
    session: AsyncSession, meeting: Meeting, *, actor: Staff | None, reason: str, now: datetime
) -> None:
    check_open(meeting, now)
    meeting.status = MeetingStatus.CANCELLED
    await _drop_open_tasks(session, meeting)
    add_event(session, meeting.committee_id, reason, actor, meeting_id=meeting.id)
    await notify_members(
        session,
        meeting,
        CommitteeNotice.CHANGED,
        key=f"cmx:{meeting.id}",
        change=MeetingStatus.CANCELLED.value,
        expires_at=meeting.starts_at,
    )
    await session.flush()


async def do_cancel_meeting(
    session: AsyncSession,
    meeting: Meeting,
    *,
    actor: Staff | None,
    ip: str | None = None,
    reason: str = "cancelled",
    now: datetime | None = None,
) -> None:
    await _cancel(session, meeting, actor=actor, reason=reason, now=now or utcnow())
    await audit_change(
        session, meeting.committee, "meeting_cancel", actor=actor, ip=ip, meeting_id=meeting.id
    )


async def do_move_meeting(
    session: AsyncSession,
    meeting: Meeting,
    *,
    local_start: str,
    location: str = "",
    actor: Staff | None,
    ip: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Move one occurrence; members hear at once and get fresh reminders for the new time."""
    now = now or utcnow()
    check_open(meeting, now)
    local = parse_local(local_start)
    tz = zone(meeting.committee)
    starts_at, ambiguous = to_utc(local, tz), happens_twice(local, tz)
    if starts_at <= now:
        raise MeetingClosed()
    old = meeting.starts_at
    meeting.starts_at = starts_at
    if location.strip():
        meeting.location = location.strip()[:PLACE_LIMIT]
    await _drop_open_tasks(session, meeting)
    await session.flush()
    add_event(
        session,
        meeting.committee_id,
        "moved",
        actor,
        meeting_id=meeting.id,
        old=old.isoformat(),
        new=starts_at.isoformat(),
    )
    await do_plan_tasks(session, meeting, now=now)
    await notify_members(
        session,
        meeting,
        CommitteeNotice.CHANGED,
        key=f"cmm:{meeting.id}:{int(starts_at.timestamp())}",
        change="moved",
        expires_at=starts_at,
    )
    await audit_change(
        session, meeting.committee, "meeting_move", actor=actor, ip=ip, meeting_id=meeting.id
    )
    return ambiguous


async def do_mark_holiday(
    session: AsyncSession,
    committee: Committee,
    *,
    day: str,
    name: str = "",
    actor: Staff | None,
    ip: str | None = None,
    now: datetime | None = None,
) -> int:
    """Mark a factory holiday; planned meetings on that local day are cancelled (members told).
    Returns how many were cancelled. Future materialising skips the day too."""
    now = now or utcnow()
    try:
        local_day = date.fromisoformat(day.strip())
    except ValueError:
        raise InvalidInput() from None
    factory_id = committee.factory_id
    exists = await session.scalar(
        select(CommitteeHoliday).where(
            CommitteeHoliday.factory_id == factory_id, CommitteeHoliday.day == local_day.isoformat()
        )
    )
    if exists is None:
        session.add(
            CommitteeHoliday(
                factory_id=factory_id, day=local_day.isoformat(), name=name[:HOLIDAY_NAME_LIMIT]
            )
        )
    tz = zone(committee)
    start = planned_moment(datetime.combine(local_day, time(0)), tz)
    end = planned_moment(datetime.combine(local_day + timedelta(days=1), time(0)), tz)
    planned = (
        await session.scalars(
            select(Meeting)
            .join(Committee, Committee.id == Meeting.committee_id)
            .where(
                Committee.factory_id == factory_id,
                Meeting.status == MeetingStatus.PLANNED,
                Meeting.starts_at >= max(start, now),
                Meeting.starts_at < end,
            )
        )
    ).all()
    for meeting in planned:
        await _cancel(session, meeting, actor=actor, reason="holiday", now=now)
    add_event(session, committee.id, "holiday", actor, day=local_day.isoformat())
    await audit_change(session, committee, "holiday", actor=actor, ip=ip, day=local_day.isoformat())
    await session.flush()
    return len(planned)


# --- queries ---------------------------------------------------------------------------------


async def next_meeting(
    session: AsyncSession, committee_id: int, *, now: datetime | None = None
) -> Meeting | None:
    return await session.scalar(
        select(Meeting)
        .where(
            Meeting.committee_id == committee_id,
            Meeting.status == MeetingStatus.PLANNED,
            Meeting.starts_at > (now or utcnow()),
        )
        .order_by(Meeting.starts_at)
        .limit(1)
    )


async def upcoming(
    session: AsyncSession, committee_id: int, *, now: datetime | None = None, limit: int = 12
) -> list[Meeting]:
    return list(
        (
            await session.scalars(
                select(Meeting)
                .where(Meeting.committee_id == committee_id, Meeting.starts_at > (now or utcnow()))
                .order_by(Meeting.starts_at)
                .limit(limit)
            )
        ).all()
    )


async def past(
    session: AsyncSession, committee_id: int, *, now: datetime | None = None, limit: int = 12
) -> list[Meeting]:
    return list(
        (
            await session.scalars(
                select(Meeting)
                .where(
                    and_(
                        Meeting.committee_id == committee_id, Meeting.starts_at <= (now or utcnow())
                    )
                )
                .order_by(Meeting.starts_at.desc())
                .limit(limit)
            )
        ).all()
    )


def local_text(moment: datetime, committee: Committee) -> str:
    """The factory's wall-clock time for staff forms (``YYYY-MM-DDTHH:MM``)."""
    return moment.astimezone(zone(committee)).strftime(LOCAL_FORMAT)
