"""Committees and their members: the committee's enums and errors, seats, invitations, joining
and approval, the event and audit trail, and messages to members.

Meetings are in ``meetings``, their reminders in ``planning``, RSVPs, agenda, attendance and
minutes in ``participation``, action items in ``actions`` and the health figures in ``stats``.

``check_*`` validates, ``do_*`` makes one complete change (appends a ``CommitteeEvent`` and, when
a staff member acts, an audit row), ``access_*`` loads or refuses, ``notify_*`` queues messages
through the outbox (sent after commit). Logs carry seat and row ids only, never a name or a
Telegram id.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n.languages import LANGUAGES, supported
from bot.storage.committees import (
    ActionItem,
    AgendaItem,
    Committee,
    CommitteeEvent,
    CommitteeHoliday,
    CommitteeInvite,
    CommitteeMember,
    CommitteeNotice,
    Meeting,
)
from bot.storage.models import Factory, OutboxMessage, Staff, User
from services import audit, outbox
from services.clock import utcnow
from services.committees.errors import AlreadyMember as AlreadyMember
from services.committees.errors import InvalidInput as InvalidInput
from services.committees.errors import InviteExpired as InviteExpired
from services.committees.errors import MeetingClosed as MeetingClosed
from services.committees.errors import NoFactory as NoFactory
from services.committees.errors import NotChair as NotChair
from services.committees.errors import OtherFactory as OtherFactory
from services.committees.errors import UnknownInvite as UnknownInvite
from services.errors import NotFound
from services.scope import Scope

log = logging.getLogger(__name__)
DEFAULT_OFFSETS = [3 * 24 * 60, 24 * 60, 120]  # minutes before: 3 days, 1 day, 2 hours
INVITE_DAYS = 14
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


class ActionStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


def column_limit(column: Any) -> int:
    """The length of a ``String`` column, so a truncation follows the schema it protects."""
    return int(column.type.length)


# What a verb keeps of a typed text: the length of the column it is stored in.
NAME_LIMIT = column_limit(Committee.name)
SEAT_NAME_LIMIT = column_limit(CommitteeMember.display_name)
CODE_LIMIT = column_limit(CommitteeInvite.code)
PLACE_LIMIT = column_limit(Meeting.location)
HOLIDAY_NAME_LIMIT = column_limit(CommitteeHoliday.name)
AGENDA_LIMIT = column_limit(AgendaItem.text)
ACTION_LIMIT = column_limit(ActionItem.text)
FILE_ID_LIMIT = column_limit(Meeting.minutes_document)
FILE_NAME_LIMIT = column_limit(Meeting.minutes_document_name)
DEDUPE_LIMIT = column_limit(OutboxMessage.dedupe_key)
MINUTES_LIMIT = 20_000  # a long meeting's minutes; a Text column, so a rule of ours


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


def add_event(
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


async def audit_change(
    session: AsyncSession,
    committee: Committee,
    what: str,
    *,
    actor: Staff | None,
    ip: str | None = None,
    **detail: Any,
) -> None:
    """The audit row of a staff member's change (``committee.<what>``); members acting in the
    bot leave the committee's own event trail only."""
    if actor is None:
        return
    await audit.record(
        session,
        f"committee.{what}",
        actor=actor,
        object_type="committee",
        object_id=committee.id,
        country_code=committee.factory.country_code,
        ip=ip,
        **detail,
    )


def _code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


# --- committees and members ----------------------------------------------------------------


async def committee_of(session: AsyncSession, committee_id: int) -> Committee:
    """A committee by id, or NotFound: for members, who reach it through their own seat."""
    committee = await session.get(Committee, committee_id)
    if committee is None:
        raise NotFound()
    return committee


async def access_committee(
    session: AsyncSession,
    scope: Scope,
    committee_id: int,
    *,
    actor: Staff | None = None,
    ip: str | None = None,
) -> Committee:
    """A committee in ``scope`` (another country's is NotFound, no hint that it exists); with an
    ``actor``, the look is audited (``committee.view``)."""
    committee = await committee_of(session, committee_id)
    scope.check(committee.factory.country_code)
    await audit_change(session, committee, "view", actor=actor, ip=ip)
    return committee


async def do_create_committee(
    session: AsyncSession,
    factory: Factory,
    *,
    kind: str,
    name: str,
    default_locale: str = "en",
    actor: Staff | None,
    ip: str | None = None,
) -> Committee:
    """A committee named in ``default_locale``; its other languages' names come later
    (``services.committees.names``)."""
    if kind not in set(Kind) or not name.strip() or default_locale not in LANGUAGES:
        raise InvalidInput()
    name = " ".join(name.split())[:NAME_LIMIT]
    committee = Committee(
        factory_id=factory.id,
        kind=kind,
        name=name,
        names={default_locale: name},
        places={},
        default_locale=default_locale,
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
    add_event(session, committee.id, "created", actor, committee_kind=kind)
    await audit_change(session, committee, "create", actor=actor, ip=ip)
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
    actor: Staff | None,
    ip: str | None = None,
) -> CommitteeMember:
    if side not in set(Side) or role not in set(Role) or not display_name.strip():
        raise InvalidInput()
    member = CommitteeMember(
        committee_id=committee.id,
        user_id=user_id,
        display_name=display_name.strip()[:SEAT_NAME_LIMIT],
        side=side,
        role=role,
        gender=gender or None,
        language=supported(language) if language else None,
        status=status,
        joined_at=utcnow(),
    )
    session.add(member)
    await session.flush()
    add_event(session, committee.id, "member_added", actor, member_id=member.id, status=status)
    await audit_change(session, committee, "member_add", actor=actor, ip=ip, member_id=member.id)
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
    session: AsyncSession,
    committee: Committee,
    *,
    side: str,
    actor: Staff | None,
    ip: str | None = None,
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
    add_event(session, committee.id, "invite_created", actor, invite_id=invite.id, side=side)
    await audit_change(session, committee, "invite", actor=actor, ip=ip, invite_id=invite.id)
    return invite


async def open_invites(
    session: AsyncSession, committee_id: int, *, now: datetime | None = None
) -> list[CommitteeInvite]:
    """Invitations that still work, newest first."""
    return list(
        (
            await session.scalars(
                select(CommitteeInvite)
                .where(
                    CommitteeInvite.committee_id == committee_id,
                    CommitteeInvite.expires_at > (now or utcnow()),
                )
                .order_by(CommitteeInvite.id.desc())
            )
        ).all()
    )


async def access_member(
    session: AsyncSession, committee: Committee, member_id: int
) -> CommitteeMember:
    """A seat of ``committee`` (already checked for scope), or NotFound."""
    member = await session.get(CommitteeMember, member_id)
    if member is None or member.committee_id != committee.id:
        raise NotFound()
    return member


async def check_join(
    session: AsyncSession, user: User, code: str
) -> tuple[CommitteeInvite, Committee]:
    invite = await session.scalar(
        select(CommitteeInvite).where(CommitteeInvite.code == code.strip().upper()[:CODE_LIMIT])
    )
    if user.factory_id is None:
        raise NoFactory()  # the flow offers to link it (link_factory_markup)
    if invite is None:
        raise UnknownInvite()
    if invite.expires_at <= utcnow():
        raise InviteExpired()
    committee = await committee_of(session, invite.committee_id)
    if committee.factory_id != user.factory_id:
        raise OtherFactory()  # a committee speaks for the workers of its own factory (B16)
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
            actor=None,
        )
    else:  # someone who left asks again
        member.status, member.left_at = MemberStatus.PENDING, None
        member.display_name, member.side = display_name.strip()[:SEAT_NAME_LIMIT], invite.side
        member.role = Role.MEMBER
    await session.flush()
    add_event(session, committee.id, "join_requested", None, member_id=member.id)
    await notify_chairs(session, committee, CommitteeNotice.JOIN_REQUEST, member_id=member.id)
    log.info("committee.join_requested committee=%s", committee.id)  # the seat names a person
    return member


async def check_chair(session: AsyncSession, user: User | None, committee_id: int) -> None:
    seat = await seat_in(session, user, committee_id)
    if seat.role != Role.CHAIR:
        raise NotChair()


async def do_approve_member(
    session: AsyncSession,
    member: CommitteeMember,
    *,
    approve: bool,
    actor: Staff | None,
    ip: str | None = None,
) -> CommitteeMember:
    """Approve (or refuse) a pending request; repeating it changes nothing."""
    committee = await committee_of(session, member.committee_id)
    what = "member_approve" if approve else "member_refuse"
    await audit_change(session, committee, what, actor=actor, ip=ip, member_id=member.id)
    if member.status != MemberStatus.PENDING:
        return member
    member.status = MemberStatus.ACTIVE if approve else MemberStatus.LEFT
    if not approve:
        member.left_at = utcnow()
    add_event(
        session,
        member.committee_id,
        "approved" if approve else "refused",
        actor,
        member_id=member.id,
    )
    if member.user_id is not None:
        await outbox.enqueue(
            session,
            CommitteeNotice.JOINED,
            user_id=member.user_id,
            params={"member_id": member.id, "approved": approve},
            dedupe_key=f"cmj:{member.id}:{int(utcnow().timestamp())}",
        )
    await session.flush()
    return member


async def do_leave(
    session: AsyncSession,
    member: CommitteeMember,
    *,
    actor: Staff | None = None,
    ip: str | None = None,
) -> None:
    """The member leaves (in the bot), or staff remove the seat (``actor``); repeating is harmless."""
    committee = await committee_of(session, member.committee_id)
    await audit_change(session, committee, "member_remove", actor=actor, ip=ip, member_id=member.id)
    if member.status == MemberStatus.LEFT:
        return
    member.status, member.left_at = MemberStatus.LEFT, utcnow()
    add_event(session, member.committee_id, "left", None, member_id=member.id)
    await session.flush()


async def do_update_member(
    session: AsyncSession,
    member: CommitteeMember,
    *,
    role: str,
    side: str,
    gender: str | None,
    language: str | None,
    actor: Staff | None,
    ip: str | None = None,
) -> None:
    if role not in set(Role) or side not in set(Side):
        raise InvalidInput()
    member.role, member.side = role, side
    member.gender = gender or None
    member.language = supported(language) if language else None
    add_event(session, member.committee_id, "member_changed", actor, member_id=member.id, role=role)
    committee = await committee_of(session, member.committee_id)
    await audit_change(session, committee, "member_update", actor=actor, ip=ip, member_id=member.id)
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
            dedupe_key=f"cmc:{kind}:{chair.id}:{key}"[:DEDUPE_LIMIT],
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
            dedupe_key=f"{key}:{member.id}"[:DEDUPE_LIMIT],
            expires_at=expires_at,
            priority=50,
        )
    return sent
