"""Organiser broadcasts (DESIGN §8): topics workers opt into, and messages sent to a topic.

A subscription links a worker to a topic they chose (a union's news, safety tips); deleting the
worker deletes it. A broadcast keeps one text per language and counts its own deliveries, so the
report survives the outbox's short retention.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.db import Base, BigId, JSONType, utcnow
from bot.storage.models import OutboxKind


class BroadcastNotice(OutboxKind):
    """Messages the broadcasts capability sends: one per subscriber and broadcast."""

    MESSAGE = "broadcasts.message"


class BroadcastTopic(Base):
    __tablename__ = "broadcast_topics"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Short public key for deep links on posters (t.me/<bot>?start=t_<key>).
    key: Mapped[str] = mapped_column(String(32), unique=True)
    # None: offered in every country (administrators only); else the country whose workers see it.
    country_code: Mapped[str | None] = mapped_column(ForeignKey("countries.code"), index=True)
    # {"en": "Union news", "bn": "..."}: the name workers see in their language.
    names: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    default_locale: Mapped[str] = mapped_column(String(8), default="en")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BroadcastSubscription(Base):
    __tablename__ = "broadcast_subscriptions"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("broadcast_topics.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Broadcast(Base):
    """One message to a topic's subscribers, narrowed by country, factory and language."""

    __tablename__ = "broadcasts"
    __table_args__ = (Index("ix_broadcasts_due", "status", "send_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("broadcast_topics.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(120))  # for the console's lists only
    countries: Mapped[list[str]] = mapped_column(JSONType, default=list)
    factory_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)
    languages: Mapped[list[str]] = mapped_column(JSONType, default=list)  # empty: any
    # {"bn": "...", "ar": "..."}: each recipient gets their language's version.
    texts: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    default_locale: Mapped[str] = mapped_column(String(8), default="en")
    # Send the default language's text to people whose language has no version.
    fallback: Mapped[bool] = mapped_column(Boolean, default=False)
    # Sent at once, day or night, through Telegram's paid broadcasts when they are switched on.
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    status: Mapped[str] = mapped_column(String(16), default="draft")
    send_at: Mapped[datetime | None]
    # Fan-out progress: recipients are queued in user-id order; a crashed replica's successor
    # resumes after the last id queued, and outbox dedupe keys make a repeat a no-op.
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    queued_count: Mapped[int] = mapped_column(Integer, default=0)
    sent_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    blocked_count: Mapped[int] = mapped_column(Integer, default=0)
    # Dropped at send time: the worker stopped the topic or said /stop, or it was cancelled.
    skipped_count: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None]
    queued_at: Mapped[datetime | None]  # every recipient is in the outbox
    cancelled_at: Mapped[datetime | None]
    created_by_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
