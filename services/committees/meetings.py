"""Meetings: schedules and one-off meetings, cancel, move and holidays, RSVPs and the quorum,
agenda items, attendance, minutes, action items, and the committee health figures.

Same verbs as ``core``: ``check_*`` validates, ``do_*`` changes and appends a ``CommitteeEvent``,
``access_*`` loads or refuses; members hear of changes through the outbox, after commit.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.committees import (
    ActionItem,
    AgendaItem,
    Committee,
    CommitteeHoliday,
    CommitteeMember,
    CommitteeNotice,
    CommitteeTask,
    Meeting,
    MeetingResponse,
)
from bot.storage.models import Staff, User
from services import outbox
from services.clock import happens_twice, to_utc, utcnow
from services.committees.core import (
    InvalidInput,
    MeetingClosed,
    MeetingStatus,
    MemberStatus,
    Rsvp,
    Side,
    access_seat,
    add_event,
    members_of,
    notify_members,
    zone,
)
from services.committees.schedule import (
    LOCAL_FORMAT,
    check_schedule,
    local_key,
    occurrences,
    parse_local,
)
from services.errors import NotFound

QUORUM_CHECK_BEFORE = timedelta(days=1)
# Action owners hear about an open item at this local hour the day before it is due.
ACTION_REMINDER_HOUR = 9


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
    acting: Staff | None,
    now: datetime | None = None,
) -> ScheduleResult:
    """Set (or replace) the recurring schedule and materialise it.

    Future meetings of the old schedule that the new one also produces stay (with their RSVPs and
    agenda, moved to the new place); the others are cancelled and their members told at once.
    One-off meetings, and meetings staff moved or cancelled, stay as they are.
    """
    from services.committees.jobs import HORIZON, do_materialise

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
    committee.location = location.strip()[:200]
    committee.duration_minutes = max(15, min(duration_minutes, 24 * 60))
    keep = {o.key for o in occurrences(rule_obj, tz, after_utc=now, before_utc=now + HORIZON)}
    scheduled = (
        await session.scalars(
            select(Meeting).where(
                Meeting.committee_id == committee.id,
                Meeting.status == MeetingStatus.PLANNED,
                Meeting.starts_at > now,
                ~Meeting.occurrence.startswith("x:"),
            )
        )
    ).all()
    for meeting in scheduled:
        if meeting.occurrence in keep:
            meeting.location = committee.location
            await _drop_open_tasks(session, meeting)  # re-planned below with the new offsets
        else:
            await do_cancel_meeting(session, meeting, acting=acting, reason="unscheduled", now=now)
    committee.materialised_until = None
    add_event(
        session, committee.id, "schedule_set", acting, rrule=committee.rrule, start=local_start
    )
    made = await do_materialise(session, committee, now=now)
    return ScheduleResult(ambiguous=ambiguous, meetings=made)


async def do_add_meeting(
    session: AsyncSession,
    committee: Committee,
    *,
    local_start: str,
    location: str = "",
    acting: Staff | None,
    now: datetime | None = None,
) -> tuple[Meeting, bool]:
    """A one-off meeting; returns it and whether its local time was ambiguous (first one used)."""
    from services.committees.jobs import do_plan_tasks

    now = now or utcnow()
    local = parse_local(local_start)
    starts_at, ambiguous = to_utc(local, zone(committee)), happens_twice(local, zone(committee))
    if starts_at <= now:
        raise MeetingClosed()
    meeting = Meeting(
        committee_id=committee.id,
        occurrence=f"x:{local_key(local)}:{secrets.token_hex(3)}",
        starts_at=starts_at,
        location=location.strip()[:200] or committee.location,
        status=MeetingStatus.PLANNED,
        created_at=now,
    )
    session.add(meeting)
    await session.flush()
    await session.refresh(meeting, ["committee"])
    add_event(session, committee.id, "meeting_added", acting, meeting_id=meeting.id, at=local_start)
    await do_plan_tasks(session, meeting, now=now)
    return meeting, ambiguous


async def access_meeting(session: AsyncSession, committee: Committee, meeting_id: int) -> Meeting:
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None or meeting.committee_id != committee.id:
        raise NotFound()
    return meeting


async def _drop_open_tasks(session: AsyncSession, meeting: Meeting) -> None:
    await session.execute(
        delete(CommitteeTask).where(
            CommitteeTask.meeting_id == meeting.id, CommitteeTask.done_at.is_(None)
        )
    )


async def do_cancel_meeting(
    session: AsyncSession,
    meeting: Meeting,
    *,
    acting: Staff | None,
    reason: str = "cancelled",
    now: datetime | None = None,
) -> None:
    now = now or utcnow()
    if meeting.status != MeetingStatus.PLANNED or meeting.starts_at <= now:
        raise MeetingClosed()
    meeting.status = MeetingStatus.CANCELLED
    await _drop_open_tasks(session, meeting)
    add_event(session, meeting.committee_id, reason, acting, meeting_id=meeting.id)
    await notify_members(
        session,
        meeting,
        CommitteeNotice.CHANGED,
        key=f"cmx:{meeting.id}",
        change="cancelled",
        expires_at=meeting.starts_at,
    )
    await session.flush()


async def do_move_meeting(
    session: AsyncSession,
    meeting: Meeting,
    *,
    local_start: str,
    location: str = "",
    acting: Staff | None,
    now: datetime | None = None,
) -> bool:
    """Move one occurrence; members hear at once and get fresh reminders for the new time."""
    from services.committees.jobs import do_plan_tasks

    now = now or utcnow()
    if meeting.status != MeetingStatus.PLANNED or meeting.starts_at <= now:
        raise MeetingClosed()
    local = parse_local(local_start)
    tz = zone(meeting.committee)
    starts_at, ambiguous = to_utc(local, tz), happens_twice(local, tz)
    if starts_at <= now:
        raise MeetingClosed()
    old = meeting.starts_at
    meeting.starts_at = starts_at
    if location.strip():
        meeting.location = location.strip()[:200]
    await _drop_open_tasks(session, meeting)
    await session.flush()
    add_event(
        session,
        meeting.committee_id,
        "moved",
        acting,
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
    return ambiguous


async def do_mark_holiday(
    session: AsyncSession,
    committee: Committee,
    *,
    day: str,
    name: str = "",
    acting: Staff | None,
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
            CommitteeHoliday(factory_id=factory_id, day=local_day.isoformat(), name=name[:120])
        )
    tz = zone(committee)
    start = datetime.combine(local_day, time(0), tz).astimezone(UTC)
    end = datetime.combine(local_day + timedelta(days=1), time(0), tz).astimezone(UTC)
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
        await do_cancel_meeting(session, meeting, acting=acting, reason="holiday", now=now)
    add_event(session, committee.id, "holiday", acting, day=local_day.isoformat())
    await session.flush()
    return len(planned)


async def holidays_of(session: AsyncSession, factory_id: int) -> set[str]:
    return set(
        (
            await session.scalars(
                select(CommitteeHoliday.day).where(CommitteeHoliday.factory_id == factory_id)
            )
        ).all()
    )


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


def check_open(meeting: Meeting, now: datetime | None = None) -> None:
    if meeting.status != MeetingStatus.PLANNED or meeting.starts_at <= (now or utcnow()):
        raise MeetingClosed()


async def do_rsvp(
    session: AsyncSession, meeting: Meeting, member: CommitteeMember, answer: str
) -> MeetingResponse:
    check_open(meeting)
    if member.committee_id != meeting.committee_id or answer not in set(Rsvp):
        raise NotFound()
    response = await session.scalar(
        select(MeetingResponse).where(
            MeetingResponse.meeting_id == meeting.id, MeetingResponse.member_id == member.id
        )
    )
    if response is None:
        response = MeetingResponse(meeting_id=meeting.id, member_id=member.id)
        session.add(response)
    response.rsvp, response.at = answer, utcnow()
    await session.flush()
    return response


async def rsvp_counts(session: AsyncSession, meeting_id: int) -> dict[tuple[str, str], int]:
    """(side, answer) → count, over active members."""
    rows = await session.execute(
        select(CommitteeMember.side, MeetingResponse.rsvp, func.count())
        .join(MeetingResponse, MeetingResponse.member_id == CommitteeMember.id)
        .where(
            MeetingResponse.meeting_id == meeting_id,
            CommitteeMember.status == MemberStatus.ACTIVE,
        )
        .group_by(CommitteeMember.side, MeetingResponse.rsvp)
    )
    return {(side, rsvp): n for side, rsvp, n in rows.all() if rsvp}


@dataclass
class Quorum:
    confirmed: dict[str, int]
    needed: dict[str, int]

    @property
    def met(self) -> bool:
        return all(self.confirmed.get(s, 0) >= n for s, n in self.needed.items())


async def check_quorum(session: AsyncSession, meeting: Meeting) -> Quorum:
    """Each side needs ``quorum`` of its active members to have said yes."""
    sizes = dict(
        (
            await session.execute(
                select(CommitteeMember.side, func.count())
                .where(
                    CommitteeMember.committee_id == meeting.committee_id,
                    CommitteeMember.status == MemberStatus.ACTIVE,
                )
                .group_by(CommitteeMember.side)
            )
        ).all()
    )
    counts = await rsvp_counts(session, meeting.id)
    ratio = meeting.committee.quorum
    needed = {side.value: math.ceil(sizes.get(side, 0) * ratio) for side in Side}
    confirmed = {side.value: counts.get((side, Rsvp.YES), 0) for side in Side}
    return Quorum(confirmed, needed)


async def do_add_agenda_item(
    session: AsyncSession, meeting: Meeting, member: CommitteeMember, text: str
) -> AgendaItem:
    check_open(meeting)
    if member.committee_id != meeting.committee_id:
        raise NotFound()
    if not text.strip():
        raise InvalidInput()
    item = AgendaItem(
        meeting_id=meeting.id, member_id=member.id, text=text.strip()[:500], created_at=utcnow()
    )
    session.add(item)
    await session.flush()
    return item


async def agenda_of(session: AsyncSession, meeting_id: int) -> list[AgendaItem]:
    return list(
        (
            await session.scalars(
                select(AgendaItem)
                .where(AgendaItem.meeting_id == meeting_id)
                .order_by(AgendaItem.id)
            )
        ).all()
    )


async def attendance_of(
    session: AsyncSession, meeting_ids: Sequence[int]
) -> dict[int, tuple[int, int]]:
    """Meeting id → (attended, recorded) for meetings whose attendance was recorded."""
    if not meeting_ids:
        return {}
    found: dict[int, tuple[int, int]] = {}
    for meeting_id, attended, n in (
        await session.execute(
            select(MeetingResponse.meeting_id, MeetingResponse.attended, func.count())
            .where(
                MeetingResponse.meeting_id.in_(list(meeting_ids)),
                MeetingResponse.attended.is_not(None),
            )
            .group_by(MeetingResponse.meeting_id, MeetingResponse.attended)
        )
    ).all():
        came, recorded = found.get(meeting_id, (0, 0))
        found[meeting_id] = (came + (n if attended else 0), recorded + n)
    return found


# --- after the meeting: attendance, minutes, action items ----------------------------------


async def do_record_attendance(
    session: AsyncSession, meeting: Meeting, present: set[int], *, acting: Staff | None
) -> None:
    if meeting.status == MeetingStatus.CANCELLED:
        raise MeetingClosed()
    for member in await members_of(session, meeting.committee_id):
        response = await session.scalar(
            select(MeetingResponse).where(
                MeetingResponse.meeting_id == meeting.id, MeetingResponse.member_id == member.id
            )
        )
        if response is None:
            response = MeetingResponse(meeting_id=meeting.id, member_id=member.id, at=utcnow())
            session.add(response)
        response.attended = member.id in present
    meeting.status = MeetingStatus.HELD
    add_event(session, meeting.committee_id, "attendance", acting, meeting_id=meeting.id)
    await session.flush()


async def do_post_minutes(
    session: AsyncSession,
    meeting: Meeting,
    text: str,
    *,
    document: tuple[str, str] | None = None,
    acting: Staff | None,
) -> None:
    """Minutes as text, or as a file (Telegram file id and name) with an optional note."""
    if meeting.status == MeetingStatus.CANCELLED or meeting.starts_at > utcnow():
        raise MeetingClosed()
    if not text.strip() and document is None:
        raise InvalidInput()
    meeting.minutes, meeting.minutes_at = text.strip()[:20_000] or None, utcnow()
    if document is not None:
        meeting.minutes_document = document[0][:255]
        meeting.minutes_document_name = document[1][:200]
    meeting.status = MeetingStatus.HELD
    add_event(session, meeting.committee_id, "minutes", acting, meeting_id=meeting.id)
    await notify_members(session, meeting, CommitteeNotice.MINUTES, key=f"cmn:{meeting.id}")
    await session.flush()


async def do_add_action(
    session: AsyncSession,
    committee: Committee,
    *,
    text: str,
    owner_member_id: int,
    due_on: str,
    meeting_id: int | None = None,
    acting: Staff | None,
    now: datetime | None = None,
) -> ActionItem:
    now = now or utcnow()
    owner = await session.get(CommitteeMember, owner_member_id)
    if owner is None or owner.committee_id != committee.id or not text.strip():
        raise InvalidInput()
    try:
        due = date.fromisoformat(due_on.strip())
    except ValueError:
        raise InvalidInput() from None
    action = ActionItem(
        committee_id=committee.id,
        meeting_id=meeting_id,
        owner_member_id=owner.id,
        text=text.strip()[:500],
        due_on=due.isoformat(),
        status="open",
        created_at=now,
    )
    session.add(action)
    await session.flush()
    add_event(session, committee.id, "action_added", acting, action_id=action.id)
    if owner.user_id is not None:
        await outbox.enqueue(
            session,
            CommitteeNotice.ACTION,
            user_id=owner.user_id,
            params={"action_id": action.id, "new": True},
            dedupe_key=f"cma:{action.id}:new",
        )
    remind_local = datetime.combine(due - timedelta(days=1), time(ACTION_REMINDER_HOUR))
    remind_at = remind_local.replace(tzinfo=zone(committee)).astimezone(UTC)
    if remind_at > now:
        session.add(
            CommitteeTask(
                key=f"a:{action.id}:due", kind="action", action_id=action.id, due_at=remind_at
            )
        )
    await session.flush()
    return action


async def do_complete_action(
    session: AsyncSession, action: ActionItem, *, acting: Staff | None = None
) -> None:
    if action.status == "done":
        return
    action.status, action.done_at = "done", utcnow()
    add_event(session, action.committee_id, "action_done", acting, action_id=action.id)
    await session.flush()


async def access_own_action(session: AsyncSession, user: User | None, action_id: int) -> ActionItem:
    action = await session.get(ActionItem, action_id)
    if action is None or action.owner_member_id is None:
        raise NotFound()
    await access_seat(session, user, action.owner_member_id)
    return action


async def open_actions(session: AsyncSession, committee_id: int) -> list[ActionItem]:
    return list(
        (
            await session.scalars(
                select(ActionItem)
                .where(ActionItem.committee_id == committee_id, ActionItem.status == "open")
                .order_by(ActionItem.due_on, ActionItem.id)
            )
        ).all()
    )


# --- statistics ------------------------------------------------------------------------------


@dataclass
class Stats:
    planned: int = 0  # meetings that should have happened by now (not cancelled)
    held: int = 0
    expected: int = 0  # seats × held meetings with attendance recorded
    attended: int = 0
    worker_reps: int = 0
    worker_women: int = 0

    @property
    def attendance(self) -> float | None:
        return self.attended / self.expected if self.expected else None

    @property
    def women_share(self) -> float | None:
        return self.worker_women / self.worker_reps if self.worker_reps else None

    def add(self, other: Stats) -> None:
        for name in ("planned", "held", "expected", "attended", "worker_reps", "worker_women"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


async def committee_stats(
    session: AsyncSession, committee_ids: Sequence[int], *, now: datetime | None = None
) -> dict[int, Stats]:
    """Meetings held vs planned, attendance and women among worker reps, for many committees in
    a few grouped queries (the console lists a whole country)."""
    now = now or utcnow()
    stats = {cid: Stats() for cid in committee_ids}
    if not committee_ids:
        return stats
    ids = list(committee_ids)
    for cid, status, n in (
        await session.execute(
            select(Meeting.committee_id, Meeting.status, func.count())
            .where(
                Meeting.committee_id.in_(ids),
                Meeting.starts_at <= now,
                Meeting.status != MeetingStatus.CANCELLED,
            )
            .group_by(Meeting.committee_id, Meeting.status)
        )
    ).all():
        stats[cid].planned += n
        if status == MeetingStatus.HELD:
            stats[cid].held += n
    for cid, attended, n in (
        await session.execute(
            select(Meeting.committee_id, MeetingResponse.attended, func.count())
            .join(MeetingResponse, MeetingResponse.meeting_id == Meeting.id)
            .where(Meeting.committee_id.in_(ids), MeetingResponse.attended.is_not(None))
            .group_by(Meeting.committee_id, MeetingResponse.attended)
        )
    ).all():
        stats[cid].expected += n
        if attended:
            stats[cid].attended += n
    for cid, gender, n in (
        await session.execute(
            select(CommitteeMember.committee_id, CommitteeMember.gender, func.count())
            .where(
                CommitteeMember.committee_id.in_(ids),
                CommitteeMember.status == MemberStatus.ACTIVE,
                CommitteeMember.side == Side.WORKER,
            )
            .group_by(CommitteeMember.committee_id, CommitteeMember.gender)
        )
    ).all():
        stats[cid].worker_reps += n
        if gender == "woman":
            stats[cid].worker_women += n
    return stats


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
