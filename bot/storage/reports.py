"""Grievance cases. Narratives, messages and evidence are stored only as sealed-box ciphertext;
the receipt only as an HMAC lookup key and an argon2 hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.storage.db import Base, BigId, JSONType, utcnow
from bot.storage.models import OutboxKind


class ReportNotice(OutboxKind):
    """Messages the reports capability sends (to the reporter, or alerts to staff)."""

    UPDATE = "reports.update"
    MESSAGE = "reports.message"
    CHECKIN = "reports.checkin"
    ALERT = "reports.alert"


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_queue", "state", "severity", "ack_due_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    country_code: Mapped[str] = mapped_column(ForeignKey("countries.code"), index=True)
    factory_id: Mapped[int | None] = mapped_column(
        ForeignKey("factories.id", ondelete="SET NULL"), index=True
    )
    category: Mapped[str] = mapped_column(String(32))
    harm: Mapped[str | None] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="new")
    outcome: Mapped[str | None] = mapped_column(String(20))
    danger: Mapped[bool] = mapped_column(Boolean, default=False)
    affects_others: Mapped[bool | None] = mapped_column(Boolean)
    consent_to_share: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_to_name: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str] = mapped_column(String(8))  # the reporter's language, a tag for staff
    # Only when the worker chose follow-up in this chat; /delete sets it to NULL.
    reporter_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    receipt_lookup: Mapped[str] = mapped_column(String(64), unique=True)
    receipt_hash: Mapped[str] = mapped_column(String(255))
    narrative: Mapped[bytes | None] = mapped_column(LargeBinary)  # sealed box
    key_id: Mapped[str] = mapped_column(String(16))
    submission_token: Mapped[str] = mapped_column(
        String(64), unique=True
    )  # makes submit idempotent
    assigned_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL")
    )
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    ack_due_at: Mapped[datetime]
    triage_due_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    triaged_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # No stored "overdue" flag: a flag set by a job and never cleared drifted (review M1). Whether a
    # case is late is read from its current deadline (services.reports.queue.next_deadline).
    # Four eyes: a proposed closing waits here for a second staff member.
    pending_close: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    reopened_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="SET NULL")
    )
    # What the worker sees instead of the sequential id (which would reveal report volume).
    reference: Mapped[str] = mapped_column(String(12), unique=True, index=True)
    # The public half of the reporter's key (derived from the receipt with this salt): handler
    # messages for the reporter are sealed to it. NULL on cases made before it existed.
    reporter_salt: Mapped[bytes | None] = mapped_column(LargeBinary)
    reporter_public_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    # A keyed hash of the receipt's last 4 digits, asked before an "in this chat" case opens (B3).
    reporter_pin: Mapped[str | None] = mapped_column(String(64))
    # The newest history row its handler has seen: the assignee opening the case (anyone who may
    # handle it while nobody is assigned) moves it on. Worker messages after it are "unread".
    handler_read_event_id: Mapped[int | None] = mapped_column(BigInteger)

    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case",
        order_by="CaseEvent.id",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


class CaseEvent(Base):
    """Append-only history: every transition, note, message, assignment, referral and escalation."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    actor: Mapped[str] = mapped_column(String(16))  # staff / reporter / system
    kind: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)  # sealed box: notes and messages

    case: Mapped[Case] = relationship(back_populates="events")


class CaseEvidence(Base):
    __tablename__ = "case_evidence"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # voice / photo / document
    mime_type: Mapped[str] = mapped_column(String(80))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)  # sealed box
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReporterMessage(Base):
    """A reporter's message waiting for the console to attach it to its case.

    The bot cannot tell which case it belongs to: both the case reference and the text are sealed
    to the report public key, so nothing here links a chat, a receipt and a case.
    """

    __tablename__ = "reporter_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_ref: Mapped[bytes] = mapped_column(LargeBinary)  # sealed box: {"case": id}
    body: Mapped[bytes] = mapped_column(LargeBinary)  # sealed box: the text, or the file
    key_id: Mapped[str] = mapped_column(String(16))
    # A voice note, photo or PDF (B5): what kind, for the console to file it as evidence.
    kind: Mapped[str | None] = mapped_column(String(16))
    mime_type: Mapped[str | None] = mapped_column(String(80))
    size: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DraftFile(Base):
    """Evidence of a report still being written, sealed as it arrives; moved to the case on send,
    deleted on cancel or when the draft expires."""

    __tablename__ = "report_draft_files"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    draft: Mapped[str] = mapped_column(String(32), index=True)  # random, kept only in the draft
    kind: Mapped[str] = mapped_column(String(16))
    mime_type: Mapped[str] = mapped_column(String(80))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)  # sealed box
    key_id: Mapped[str] = mapped_column(String(16))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseTask(Base):
    """Due work for a case (deadline checks, escalations, reporter check-ins), claimed once."""

    __tablename__ = "case_tasks"
    __table_args__ = (
        UniqueConstraint("case_id", "kind", name="uq_case_tasks_case_kind"),
        Index("ix_case_tasks_due", "done_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    due_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    done_at: Mapped[datetime | None]
    result: Mapped[str | None] = mapped_column(String(24))


class ReceiptAttempt(Base):
    """Receipt guesses per chat (keyed by an HMAC, not the chat id) in a rolling window."""

    __tablename__ = "receipt_attempts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime]
    failures: Mapped[int] = mapped_column(Integer, default=0)


class ClosedCaseCount(Base):
    """What stays of purged cases: counts only (retention, DESIGN §4.7)."""

    __tablename__ = "closed_case_counts"

    country_code: Mapped[str] = mapped_column(String(2), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM of submission
    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    severity: Mapped[str] = mapped_column(String(16), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(20), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class SavedFilter(Base):
    """A triage queue filter a staff member named and kept (its query string, nothing else)."""

    __tablename__ = "saved_queue_filters"
    __table_args__ = (UniqueConstraint("staff_id", "name", name="uq_saved_queue_filters_name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    query: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertCursor(Base):
    """How far the alerts job has read the case history (``case_events.id``); one row per reader,
    locked while it fans out, so replicas take turns and never read the same rows at once."""

    __tablename__ = "alert_cursors"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertEmail(Base):
    """An e-mail alert to a staff member: "Case 23 needs you" and a link, nothing of the case.

    Claimed like the outbox (one replica sends each), ``dedupe_key`` makes a second enqueue a no-op.
    """

    __tablename__ = "alert_emails"
    __table_args__ = (Index("ix_alert_emails_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(BigInteger)  # no key: a purged case may still be named
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
