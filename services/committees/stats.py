"""Committee health figures for the console: meetings held against planned, attendance, and
women among the worker representatives, for one committee or a whole country at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.committees import CommitteeMember, Meeting, MeetingResponse
from bot.storage.models import Gender
from services.clock import utcnow
from services.committees.members import MeetingStatus, MemberStatus, Side


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
        if gender == Gender.WOMAN:
            stats[cid].worker_women += n
    return stats
