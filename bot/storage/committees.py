"""Bipartite committees: members, meetings (materialised from a schedule), RSVPs and attendance,
due reminders, agenda items, minutes and action items, holidays and the committee's history.

Members point at ``users`` with ``ondelete="CASCADE"``: ``/delete`` removes the seat and the name
on it. Things the committee keeps (agenda items, action items) point at the seat with SET NULL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.storage.db import Base, BigId, JSONType, utcnow
from bot.storage.models import Factory, OutboxKind


class CommitteeNotice(OutboxKind):
    """Messages the committees capability sends to members and chairs."""

    REMINDER = "committees.reminder"
    CHANGED = "committees.changed"
    MINUTES = "committees.minutes"
    QUORUM = "committees.quorum"
    JOIN_REQUEST = "committees.join_request"
    JOINED = "committees.joined"
    ACTION = "committees.action"


class Committee(Base):
    __tablename__ = "committees"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    factory_id: Mapped[int] = mapped_column(
        ForeignKey("factories.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # picc / pc / safety / lks / osh / other
    # The name and usual place in ``default_locale``; ``names`` and ``places`` hold them in
    # workers' languages ({"bn": "...", "my": "..."}), read through services.committees.names.
    name: Mapped[str] = mapped_column(String(200))
    names: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    places: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    default_locale: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    # Share of each side that must confirm one day before; the chair is warned below it.
    quorum: Mapped[float] = mapped_column(Float, default=0.5)
    # Minutes before a meeting at which members are reminded (default 3 days, 1 day, 2 hours).
    reminder_offsets: Mapped[list[int]] = mapped_column(JSONType, default=list)
    # The recurring schedule: an RFC 5545 RRULE in the factory's wall-clock time, from a local
    # first start ("2026-01-06T14:00"); None for committees that only hold one-off meetings.
    rrule: Mapped[str | None] = mapped_column(String(400))
    local_start: Mapped[str | None] = mapped_column(String(16))
    duration_minutes: Mapped[int] = mapped_column(Integer, default=120)
    location: Mapped[str] = mapped_column(String(200), default="")
    # Meetings exist as rows up to here; the scheduler job extends it (a rolling horizon).
    materialised_until: Mapped[datetime | None] = mapped_column(index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    factory: Mapped[Factory] = relationship(lazy="joined")


class CommitteeMember(Base):
    """A seat. ``user_id`` is None for a member added by staff who does not use the bot."""

    __tablename__ = "committee_members"
    __table_args__ = (
        UniqueConstraint("committee_id", "user_id", name="uq_committee_members_user"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    committee_id: Mapped[int] = mapped_column(
        ForeignKey("committees.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    display_name: Mapped[str] = mapped_column(String(120))
    side: Mapped[str] = mapped_column(String(16))  # worker / management
    role: Mapped[str] = mapped_column(String(16), default="member")  # chair / secretary / member
    gender: Mapped[str | None] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="active")  # pending / active / left
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)
    left_at: Mapped[datetime | None]


class CommitteeInvite(Base):
    __tablename__ = "committee_invites"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    committee_id: Mapped[int] = mapped_column(
        ForeignKey("committees.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(16), unique=True)
    side: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CommitteeHoliday(Base):
    """A day the factory is closed: scheduled meetings falling on it are skipped."""

    __tablename__ = "committee_holidays"
    __table_args__ = (UniqueConstraint("factory_id", "day", name="uq_committee_holidays_day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    factory_id: Mapped[int] = mapped_column(ForeignKey("factories.id", ondelete="CASCADE"))
    day: Mapped[str] = mapped_column(String(10))  # local date, YYYY-MM-DD
    name: Mapped[str] = mapped_column(String(120), default="")


class Meeting(Base):
    """One occurrence. ``occurrence`` is the schedule's local start it came from, so re-running
    the materialiser never makes it twice, and a moved or cancelled one stays moved or cancelled."""

    __tablename__ = "committee_meetings"
    __table_args__ = (
        UniqueConstraint("committee_id", "occurrence", name="uq_committee_meetings_occurrence"),
        Index("ix_committee_meetings_starts", "committee_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    committee_id: Mapped[int] = mapped_column(ForeignKey("committees.id", ondelete="CASCADE"))
    occurrence: Mapped[str] = mapped_column(
        String(40)
    )  # "x:<local start>:<6 hex>" for one-off meetings
    starts_at: Mapped[datetime]
    location: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="planned")  # planned/cancelled/held
    minutes: Mapped[str | None] = mapped_column(Text)
    # Minutes sent as a file: Telegram's file id (the file stays with Telegram) and its name.
    minutes_document: Mapped[str | None] = mapped_column(String(255))
    minutes_document_name: Mapped[str | None] = mapped_column(String(200))
    minutes_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    committee: Mapped[Committee] = relationship(lazy="joined")


class MeetingResponse(Base):
    """A member's RSVP and, after the meeting, whether they attended."""

    __tablename__ = "committee_responses"
    __table_args__ = (UniqueConstraint("meeting_id", "member_id", name="uq_committee_responses"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("committee_meetings.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(
        ForeignKey("committee_members.id", ondelete="CASCADE"), index=True
    )
    rsvp: Mapped[str | None] = mapped_column(String(8))  # yes / no / maybe
    attended: Mapped[bool | None] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class CommitteeTask(Base):
    """Due work, claimed once: member reminders, the quorum check, action-item reminders.

    ``key`` makes materialising idempotent ("m:12:r:1440", "m:12:quorum", "a:7:due").
    """

    __tablename__ = "committee_tasks"
    __table_args__ = (Index("ix_committee_tasks_due", "done_at", "due_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(48), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # reminder / quorum / action
    meeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("committee_meetings.id", ondelete="CASCADE"), index=True
    )
    action_id: Mapped[int | None] = mapped_column(
        ForeignKey("committee_actions.id", ondelete="CASCADE"), index=True
    )
    due_at: Mapped[datetime]
    # Past this the task is useless (the meeting began): dropped, never sent late.
    expires_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    done_at: Mapped[datetime | None]
    result: Mapped[str | None] = mapped_column(String(16))


class AgendaItem(Base):
    __tablename__ = "committee_agenda_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("committee_meetings.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("committee_members.id", ondelete="SET NULL")
    )
    text: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ActionItem(Base):
    __tablename__ = "committee_actions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    committee_id: Mapped[int] = mapped_column(
        ForeignKey("committees.id", ondelete="CASCADE"), index=True
    )
    meeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("committee_meetings.id", ondelete="SET NULL")
    )
    owner_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("committee_members.id", ondelete="SET NULL"), index=True
    )
    text: Mapped[str] = mapped_column(String(500))
    due_on: Mapped[str] = mapped_column(String(10))  # local date, YYYY-MM-DD
    status: Mapped[str] = mapped_column(String(8), default="open")  # open / done
    done_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CommitteeEvent(Base):
    """Append-only history of the committee (schedule set, member approved, meeting moved ...).

    Names no one: a member appears by seat id, staff by staff id.
    """

    __tablename__ = "committee_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    committee_id: Mapped[int] = mapped_column(
        ForeignKey("committees.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
