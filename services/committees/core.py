"""Committees, their members, meetings, RSVPs, agenda, minutes, action items and statistics.

``check_*`` validates, ``do_*`` makes one complete change (and appends a ``CommitteeEvent``),
``access_*`` loads or refuses, ``notify_*`` queues messages through the outbox (sent after commit).
Logs carry seat and row ids only, never a name or a Telegram id.
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.i18n.languages import supported
from bot.storage.committees import (
    ActionItem,
    AgendaItem,
    Committee,
    CommitteeEvent,
    CommitteeHoliday,
    CommitteeInvite,
    CommitteeMember,
    CommitteeTask,
    Meeting,
    MeetingResponse,
)
from bot.storage.models import Factory, Staff, User
from services import outbox
from services.clock import utcnow
from services.committees.schedule import (
    LOCAL_FORMAT,
    check_schedule,
    local_key,
    parse_local,
    to_utc,
)
from services.errors import DomainError, NotFound

log = logging.getLogger(__name__)
DEFAULT_OFFSETS = [3 * 24 * 60, 24 * 60, 120]  # minutes before: 3 days, 1 day, 2 hours
QUORUM_CHECK_BEFORE = timedelta(days=1)
INVITE_DAYS = 14
# Action owners hear about an open item at this local hour the day before it is due.
ACTION_REMINDER_HOUR = 9
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: read aloud and typed by hand


class Kind(StrEnum):
    PICC = "picc"
    PC = "pc"
    SAFETY = "safety"
    LKS = "lks"
    OSH = "osh"
    OTHER = "other"


class Side(StrEnum):
    WORKER = "worker"
    MANAGEMENT = "management"


class Role(StrEnum):
    CHAIR = "chair"
    SECRETARY = "secretary"
    MEMBER = "member"


class MemberStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    LEFT = "left"


class MeetingStatus(StrEnum):
    PLANNED = "planned"
    CANCELLED = "cancelled"
    HELD = "held"


class Rsvp(StrEnum):
    YES = "yes"
    NO = "no"
    MAYBE = "maybe"


class UnknownInvite(DomainError):
    code = "unknown_invite"
    message = N_("This invitation code is not valid. Please check it and try again.")
    status = 404


class InviteExpired(DomainError):
    code = "invite_expired"
    message = N_("This invitation has expired. Please ask the committee chair for a new one.")


class AlreadyMember(DomainError):
    code = "already_member"
    message = N_("You are already on this committee, or your request is waiting for approval.")


class MeetingClosed(DomainError):
    code = "meeting_closed"
    message = N_("This meeting was cancelled or has already taken place.")


class NotChair(DomainError):
    code = "not_chair"
    message = N_("Only the committee chair can do this.")
    status = 403


class InvalidInput(DomainError):
    code = "invalid_input"
    message = N_("Some of this is missing or not valid. Please check and try again.")


# --- small helpers -------------------------------------------------------------------------


def zone(committee: Committee) -> ZoneInfo:
    return ZoneInfo(committee.factory.timezone)


def member_locale(member: CommitteeMember, user: User | None, factory: Factory) -> str:
    """The member's language, else the worker's, else the factory's first language, else English."""
    for candidate in (member.language, user.locale if user else None, *(factory.languages or [])):
        code = supported(candidate) if candidate else None
        if code:
            return code
    return "en"


def _event(
    session: AsyncSession, committee_id: int, kind: str, actor: Staff | None, **detail: Any
) -> None:
    session.add(
        CommitteeEvent(
            committee_id=committee_id,
            at=utcnow(),
            actor_staff_id=actor.id if actor else None,
            kind=kind,
            detail=detail,
        )
    )


def _code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


# --- committees and members ----------------------------------------------------------------


async def access_committee(session: AsyncSession, committee_id: int) -> Committee:
    committee = await session.get(Committee, committee_id)
    if committee is None:
        raise NotFound()
    return committee


async def do_create_committee(
    session: AsyncSession, factory: Factory, *, kind: str, name: str, acting: Staff | None
) -> Committee:
    if kind not in set(Kind) or not name.strip():
        raise InvalidInput()
    committee = Committee(
        factory_id=factory.id,
        kind=kind,
        name=name.strip()[:200],
        quorum=0.5,
        reminder_offsets=list(DEFAULT_OFFSETS),
        duration_minutes=120,
        location="",
        active=True,
        created_at=utcnow(),
    )
    session.add(committee)
    await session.flush()
    await session.refresh(committee, ["factory"])
    _event(session, committee.id, "created", acting, committee_kind=kind)
    return committee


async def do_add_member(
    session: AsyncSession,
    committee: Committee,
    *,
    display_name: str,
    side: str,
    role: str = Role.MEMBER,
    gender: str | None = None,
    language: str | None = None,
    user_id: int | None = None,
    status: str = MemberStatus.ACTIVE,
    acting: Staff | None,
) -> CommitteeMember:
    if side not in set(Side) or role not in set(Role) or not display_name.strip():
        raise InvalidInput()
    member = CommitteeMember(
        committee_id=committee.id,
        user_id=user_id,
        display_name=display_name.strip()[:120],
        side=side,
        role=role,
        gender=gender or None,
        language=supported(language) if language else None,
        status=status,
        joined_at=utcnow(),
    )
    session.add(member)
    await session.flush()
    _event(session, committee.id, "member_added", acting, member_id=member.id, status=status)
    return member


async def members_of(
    session: AsyncSession, committee_id: int, *, statuses: Sequence[str] = (MemberStatus.ACTIVE,)
) -> list[CommitteeMember]:
    return list(
        (
            await session.scalars(
                select(CommitteeMember)
                .where(
                    CommitteeMember.committee_id == committee_id,
                    CommitteeMember.status.in_(list(statuses)),
                )
                .order_by(CommitteeMember.side.desc(), CommitteeMember.id)
            )
        ).all()
    )


async def memberships(session: AsyncSession, user: User) -> list[CommitteeMember]:
    """The worker's active seats (pending requests are not seats yet)."""
    return list(
        (
            await session.scalars(
                select(CommitteeMember)
                .where(
                    CommitteeMember.user_id == user.id,
                    CommitteeMember.status == MemberStatus.ACTIVE,
                )
                .order_by(CommitteeMember.id)
            )
        ).all()
    )


async def access_seat(session: AsyncSession, user: User | None, member_id: int) -> CommitteeMember:
    """The worker's own seat, or NotFound (a stale button of someone else's seat shows nothing)."""
    member = await session.get(CommitteeMember, member_id)
    if user is None or member is None or member.user_id != user.id:
        raise NotFound()
    return member


async def seat_in(session: AsyncSession, user: User | None, committee_id: int) -> CommitteeMember:
    member = (
        await session.scalar(
            select(CommitteeMember).where(
                CommitteeMember.committee_id == committee_id,
                CommitteeMember.user_id == user.id,
                CommitteeMember.status == MemberStatus.ACTIVE,
            )
        )
        if user is not None
        else None
    )
    if member is None:
        raise NotFound()
    return member


async def do_create_invite(
    session: AsyncSession, committee: Committee, *, side: str, acting: Staff | None
) -> CommitteeInvite:
    if side not in set(Side):
        raise InvalidInput()
    invite = CommitteeInvite(
        committee_id=committee.id,
        code=_code(),
        side=side,
        expires_at=utcnow() + timedelta(days=INVITE_DAYS),
        created_at=utcnow(),
    )
    session.add(invite)
    await session.flush()
    _event(session, committee.id, "invite_created", acting, invite_id=invite.id, side=side)
    return invite


async def check_join(
    session: AsyncSession, user: User, code: str
) -> tuple[CommitteeInvite, Committee]:
    invite = await session.scalar(
        select(CommitteeInvite).where(CommitteeInvite.code == code.strip().upper()[:16])
    )
    if invite is None:
        raise UnknownInvite()
    if invite.expires_at <= utcnow():
        raise InviteExpired()
    committee = await access_committee(session, invite.committee_id)
    existing = await session.scalar(
        select(CommitteeMember).where(
            CommitteeMember.committee_id == committee.id,
            CommitteeMember.user_id == user.id,
        )
    )
    if existing is not None and existing.status != MemberStatus.LEFT:
        raise AlreadyMember()
    return invite, committee


async def do_request_join(
    session: AsyncSession, user: User, code: str, *, display_name: str
) -> CommitteeMember:
    """A worker asks for a seat with an invite; the chair (or staff) approves it."""
    invite, committee = await check_join(session, user, code)
    if not display_name.strip():
        raise InvalidInput()
    member = await session.scalar(
        select(CommitteeMember).where(
            CommitteeMember.committee_id == committee.id, CommitteeMember.user_id == user.id
        )
    )
    if member is None:
        member = await do_add_member(
            session,
            committee,
            display_name=display_name,
            side=invite.side,
            gender=user.gender,
            user_id=user.id,
            status=MemberStatus.PENDING,
            acting=None,
        )
    else:  # someone who left asks again
        member.status, member.left_at = MemberStatus.PENDING, None
        member.display_name, member.side = display_name.strip()[:120], invite.side
        member.role = Role.MEMBER
    await session.flush()
    _event(session, committee.id, "join_requested", None, member_id=member.id)
    await notify_chairs(session, committee, "committees.join_request", member_id=member.id)
    log.info("committee.join_requested committee=%s member=%s", committee.id, member.id)
    return member


async def check_chair(session: AsyncSession, user: User | None, committee_id: int) -> None:
    seat = await seat_in(session, user, committee_id)
    if seat.role != Role.CHAIR:
        raise NotChair()


async def do_approve_member(
    session: AsyncSession, member: CommitteeMember, *, approve: bool, acting: Staff | None
) -> CommitteeMember:
    """Approve (or refuse) a pending request; repeating it changes nothing."""
    if member.status != MemberStatus.PENDING:
        return member
    member.status = MemberStatus.ACTIVE if approve else MemberStatus.LEFT
    if not approve:
        member.left_at = utcnow()
    _event(
        session,
        member.committee_id,
        "approved" if approve else "refused",
        acting,
        member_id=member.id,
    )
    if member.user_id is not None:
        await outbox.enqueue(
            session,
            "committees.joined",
            user_id=member.user_id,
            params={"member_id": member.id, "approved": approve},
            dedupe_key=f"cmj:{member.id}:{int(utcnow().timestamp())}",
        )
    await session.flush()
    return member


async def do_leave(session: AsyncSession, member: CommitteeMember) -> None:
    if member.status == MemberStatus.LEFT:
        return
    member.status, member.left_at = MemberStatus.LEFT, utcnow()
    _event(session, member.committee_id, "left", None, member_id=member.id)
    await session.flush()


async def do_update_member(
    session: AsyncSession,
    member: CommitteeMember,
    *,
    role: str,
    side: str,
    gender: str | None,
    language: str | None,
    acting: Staff | None,
) -> None:
    if role not in set(Role) or side not in set(Side):
        raise InvalidInput()
    member.role, member.side = role, side
    member.gender = gender or None
    member.language = supported(language) if language else None
    _event(session, member.committee_id, "member_changed", acting, member_id=member.id, role=role)
    await session.flush()


async def notify_chairs(
    session: AsyncSession, committee: Committee, kind: str, **params: Any
) -> int:
    chairs = [m for m in await members_of(session, committee.id) if m.role == Role.CHAIR]
    sent = 0
    for chair in chairs:
        if chair.user_id is None:
            continue
        key = "-".join(f"{k}{v}" for k, v in sorted(params.items()))
        sent += await outbox.enqueue(
            session,
            kind,
            user_id=chair.user_id,
            params={"committee_id": committee.id, **params},
            dedupe_key=f"cmc:{kind}:{chair.id}:{key}"[:128],
            priority=40,
        )
    return sent


async def notify_members(
    session: AsyncSession,
    meeting: Meeting,
    kind: str,
    *,
    key: str,
    expires_at: datetime | None = None,
    **params: Any,
) -> int:
    """One message per active member with a Telegram account, each rendered in their language."""
    factory = meeting.committee.factory
    sent = 0
    rows = await session.execute(
        select(CommitteeMember, User)
        .join(User, User.id == CommitteeMember.user_id)
        .where(
            CommitteeMember.committee_id == meeting.committee_id,
            CommitteeMember.status == MemberStatus.ACTIVE,
            User.active.is_(True),
        )
    )
    for member, user in rows.all():
        sent += await outbox.enqueue(
            session,
            kind,
            user_id=user.id,
            params={
                "meeting_id": meeting.id,
                "member_id": member.id,
                "locale": member_locale(member, user, factory),
                **params,
            },
            dedupe_key=f"{key}:{member.id}"[:128],
            expires_at=expires_at,
            priority=50,
        )
    return sent


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
    """Set (or replace) the recurring schedule. Future planned meetings that the new schedule no
    longer produces are removed; moved or cancelled ones stay as the staff left them."""
    from services.committees.jobs import do_materialise

    now = now or utcnow()
    start = parse_local(local_start)
    rrule_obj, ambiguous = check_schedule(rule, start, zone(committee))
    del rrule_obj
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
    # Unsent future meetings of the old schedule go; the horizon is rebuilt from now.
    await session.execute(
        delete(Meeting).where(
            Meeting.committee_id == committee.id,
            Meeting.status == MeetingStatus.PLANNED,
            Meeting.starts_at > now,
            ~Meeting.occurrence.startswith("x:"),
            ~Meeting.occurrence.startswith("m:"),
        )
    )
    committee.materialised_until = None
    _event(session, committee.id, "schedule_set", acting, rrule=committee.rrule, start=local_start)
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
    starts_at, ambiguous = to_utc(local, zone(committee))
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
    _event(session, committee.id, "meeting_added", acting, meeting_id=meeting.id, at=local_start)
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
    _event(session, meeting.committee_id, reason, acting, meeting_id=meeting.id)
    await notify_members(
        session,
        meeting,
        "committees.changed",
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
    starts_at, ambiguous = to_utc(parse_local(local_start), zone(meeting.committee))
    if starts_at <= now:
        raise MeetingClosed()
    old = meeting.starts_at
    meeting.starts_at = starts_at
    if location.strip():
        meeting.location = location.strip()[:200]
    await _drop_open_tasks(session, meeting)
    await session.flush()
    _event(
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
        "committees.changed",
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
    _event(session, committee.id, "holiday", acting, day=local_day.isoformat())
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
    _event(session, meeting.committee_id, "attendance", acting, meeting_id=meeting.id)
    await session.flush()


async def do_post_minutes(
    session: AsyncSession, meeting: Meeting, text: str, *, acting: Staff | None
) -> None:
    if meeting.status == MeetingStatus.CANCELLED or meeting.starts_at > utcnow():
        raise MeetingClosed()
    if not text.strip():
        raise InvalidInput()
    meeting.minutes, meeting.minutes_at = text.strip()[:20_000], utcnow()
    meeting.status = MeetingStatus.HELD
    _event(session, meeting.committee_id, "minutes", acting, meeting_id=meeting.id)
    await notify_members(session, meeting, "committees.minutes", key=f"cmn:{meeting.id}")
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
    _event(session, committee.id, "action_added", acting, action_id=action.id)
    if owner.user_id is not None:
        await outbox.enqueue(
            session,
            "committees.action",
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
    _event(session, action.committee_id, "action_done", acting, action_id=action.id)
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
