"""Taking part in a meeting: RSVPs and the quorum before it, agenda items members add, then the
attendance staff record and the minutes the secretary posts after it.

The batch queries (``rsvp_counts_of``, ``agendas_of``, ``attendance_of``) serve a page of many
meetings in one statement each, so the console's committee page does not grow with the calendar.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.committees import (
    AgendaItem,
    CommitteeMember,
    CommitteeNotice,
    Meeting,
    MeetingResponse,
)
from bot.storage.models import Staff
from services.clock import utcnow
from services.committees.meetings import check_open
from services.committees.members import (
    AGENDA_LIMIT,
    FILE_ID_LIMIT,
    FILE_NAME_LIMIT,
    MINUTES_LIMIT,
    InvalidInput,
    MeetingClosed,
    MeetingStatus,
    MemberStatus,
    Rsvp,
    Side,
    add_event,
    audit_change,
    members_of,
    notify_members,
)
from services.errors import NotFound

# --- before the meeting: RSVPs, quorum, agenda -------------------------------------------------


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


async def rsvp_of(session: AsyncSession, meeting_id: int, member_id: int) -> str | None:
    """The member's answer to a meeting, if any: the reminder marks it."""
    return await session.scalar(
        select(MeetingResponse.rsvp).where(
            MeetingResponse.meeting_id == meeting_id, MeetingResponse.member_id == member_id
        )
    )


RsvpCounts = dict[tuple[str, str], int]  # (side, answer) → count


async def rsvp_counts_of(
    session: AsyncSession, meeting_ids: Sequence[int]
) -> dict[int, RsvpCounts]:
    """Meeting id → (side, answer) → count over active members, for many meetings at once."""
    found: dict[int, RsvpCounts] = {meeting_id: {} for meeting_id in meeting_ids}
    if not meeting_ids:
        return found
    rows = await session.execute(
        select(MeetingResponse.meeting_id, CommitteeMember.side, MeetingResponse.rsvp, func.count())
        .join(MeetingResponse, MeetingResponse.member_id == CommitteeMember.id)
        .where(
            MeetingResponse.meeting_id.in_(list(meeting_ids)),
            CommitteeMember.status == MemberStatus.ACTIVE,
        )
        .group_by(MeetingResponse.meeting_id, CommitteeMember.side, MeetingResponse.rsvp)
    )
    for meeting_id, side, rsvp, n in rows.all():
        if rsvp:
            found[meeting_id][(side, rsvp)] = n
    return found


async def rsvp_counts(session: AsyncSession, meeting_id: int) -> RsvpCounts:
    """(side, answer) → count, over active members."""
    return (await rsvp_counts_of(session, [meeting_id]))[meeting_id]


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
        meeting_id=meeting.id,
        member_id=member.id,
        text=text.strip()[:AGENDA_LIMIT],
        created_at=utcnow(),
    )
    session.add(item)
    await session.flush()
    return item


async def agendas_of(
    session: AsyncSession, meeting_ids: Sequence[int]
) -> dict[int, list[AgendaItem]]:
    """Meeting id → its agenda items in the order they were added, for many meetings at once."""
    found: dict[int, list[AgendaItem]] = {meeting_id: [] for meeting_id in meeting_ids}
    if not meeting_ids:
        return found
    for item in (
        await session.scalars(
            select(AgendaItem)
            .where(AgendaItem.meeting_id.in_(list(meeting_ids)))
            .order_by(AgendaItem.id)
        )
    ).all():
        found[item.meeting_id].append(item)
    return found


async def agenda_of(session: AsyncSession, meeting_id: int) -> list[AgendaItem]:
    return (await agendas_of(session, [meeting_id]))[meeting_id]


# --- after the meeting: attendance and minutes -------------------------------------------------


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


async def do_record_attendance(
    session: AsyncSession,
    meeting: Meeting,
    present: set[int],
    *,
    actor: Staff | None,
    ip: str | None = None,
) -> None:
    """Who came, for every active member (two queries however large the committee)."""
    if meeting.status == MeetingStatus.CANCELLED:
        raise MeetingClosed()
    responses = {
        response.member_id: response
        for response in (
            await session.scalars(
                select(MeetingResponse).where(MeetingResponse.meeting_id == meeting.id)
            )
        ).all()
    }
    for member in await members_of(session, meeting.committee_id):
        response = responses.get(member.id)
        if response is None:
            response = MeetingResponse(meeting_id=meeting.id, member_id=member.id, at=utcnow())
            session.add(response)
        response.attended = member.id in present
    meeting.status = MeetingStatus.HELD
    add_event(session, meeting.committee_id, "attendance", actor, meeting_id=meeting.id)
    await audit_change(
        session, meeting.committee, "attendance", actor=actor, ip=ip, meeting_id=meeting.id
    )
    await session.flush()


async def do_post_minutes(
    session: AsyncSession,
    meeting: Meeting,
    text: str,
    *,
    document: tuple[str, str] | None = None,
    actor: Staff | None,
    ip: str | None = None,
) -> None:
    """Minutes as text, or as a file (Telegram file id and name) with an optional note."""
    if meeting.status == MeetingStatus.CANCELLED or meeting.starts_at > utcnow():
        raise MeetingClosed()
    if not text.strip() and document is None:
        raise InvalidInput()
    meeting.minutes, meeting.minutes_at = text.strip()[:MINUTES_LIMIT] or None, utcnow()
    if document is not None:
        meeting.minutes_document = document[0][:FILE_ID_LIMIT]
        meeting.minutes_document_name = document[1][:FILE_NAME_LIMIT]
    meeting.status = MeetingStatus.HELD
    add_event(session, meeting.committee_id, "minutes", actor, meeting_id=meeting.id)
    await notify_members(session, meeting, CommitteeNotice.MINUTES, key=f"cmn:{meeting.id}")
    await audit_change(
        session, meeting.committee, "minutes", actor=actor, ip=ip, meeting_id=meeting.id
    )
    await session.flush()
