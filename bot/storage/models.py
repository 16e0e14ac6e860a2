"""Foundation tables: countries, factories, workers, staff, audit trail, raw updates, outbox."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.storage.db import Base, BigId, JSONType, utcnow


class Country(Base):
    __tablename__ = "countries"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)  # ISO 3166-1 alpha-2
    name: Mapped[str] = mapped_column(String(80))
    timezone: Mapped[str] = mapped_column(String(64))  # default for new factories
    default_locale: Mapped[str] = mapped_column(String(8), default="en")
    # Shown at once when a worker reports danger; read and written through services.helplines:
    # [{"kind": "emergency", "phone": "999", "labels": {"bn": "..."}, "languages": [],
    #   "nationality": null, "verified": false, "label": "<English, for pre-0013 readers>"}, ...]
    helplines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class Factory(Base):
    __tablename__ = "factories"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Short public code used in deep links (t.me/<bot>?start=f_<code>) and on posters.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    country_code: Mapped[str] = mapped_column(ForeignKey("countries.code"), index=True)
    timezone: Mapped[str] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(Integer)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    country: Mapped[Country] = relationship(lazy="joined")


class Gender(StrEnum):
    WOMAN = "woman"
    MAN = "man"
    OTHER = "other"
    UNDISCLOSED = "undisclosed"


class User(Base):
    """A worker (or committee member) as the bot knows them. Deleted whole by ``/delete``."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    locale: Mapped[str | None] = mapped_column(String(8))
    factory_id: Mapped[int | None] = mapped_column(
        ForeignKey("factories.id", ondelete="SET NULL"), index=True
    )
    consent_at: Mapped[datetime | None]
    gender: Mapped[str | None] = mapped_column(String(16))
    age_band: Mapped[str | None] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    blocked_at: Mapped[datetime | None]
    # Set by /stop: no news or survey invitations until the worker turns them back on.
    quiet_since: Mapped[datetime | None]
    # "🔊 Listen": screens that have a recorded clip in her language come as voice messages too.
    listen: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    factory: Mapped[Factory | None] = relationship(lazy="joined")

    @property
    def onboarded(self) -> bool:
        return self.locale is not None and self.consent_at is not None


class StaffRole(StrEnum):
    ADMIN = "admin"
    COUNTRY_MANAGER = "country_manager"
    CASE_HANDLER = "case_handler"
    ANALYST = "analyst"
    ORGANISER = "organiser"
    # Reviews the words of the languages in ``Staff.languages`` and nothing else (any other role
    # may review them too when it has languages).
    TRANSLATOR = "translator"


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str | None] = mapped_column(String(255))  # None until the invite is used
    # The TOTP seed sealed with a key derived from SECRET_KEY (services.accounts.seal_totp): a
    # database reader alone gets no second factor.
    totp_sealed: Mapped[str | None] = mapped_column(String(255))
    totp_confirmed_at: Mapped[datetime | None]
    # The last 30-second TOTP step accepted: a code cannot be used twice.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # Wrong codes since the last right one; past a few, codes wait until totp_locked_until.
    totp_failures: Mapped[int] = mapped_column(Integer, default=0)
    totp_locked_until: Mapped[datetime | None]
    # Every console session carries the version it began with; bumping it (sign-out, password
    # change, deactivation) ends all of them at their next request.
    session_version: Mapped[int] = mapped_column(Integer, default=0)
    locale: Mapped[str] = mapped_column(String(8), default="en")
    # The languages this person reviews translations for (the translator role, which any role
    # may hold beside its own): locale codes, e.g. ["bn"].
    languages: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # IANA zone the console shows times in (Account page); None: the first country's zone.
    timezone: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    invite_token_hash: Mapped[str | None] = mapped_column(String(128))
    invite_expires_at: Mapped[datetime | None]
    # Optional link to the staff member's own Telegram account, for urgent case alerts.
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    # A short-lived code the staff member sends to the bot (/staff CODE) to link that account.
    telegram_link_hash: Mapped[str | None] = mapped_column(String(64))
    telegram_link_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    countries: Mapped[list[StaffCountry]] = relationship(
        lazy="selectin", cascade="all, delete-orphan"
    )

    @property
    def country_codes(self) -> frozenset[str]:
        return frozenset(c.country_code for c in self.countries)


class StaffCountry(Base):
    __tablename__ = "staff_countries"

    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True
    )
    country_code: Mapped[str] = mapped_column(ForeignKey("countries.code"), primary_key=True)


class AuditEvent(Base):
    """Append-only: who did or saw what, when (DESIGN §4.6). Never updated, never deleted by code."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)  # e.g. "case.view", "login.ok"
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    country_code: Mapped[str | None] = mapped_column(String(2), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))


class UpdateStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"


class RawUpdate(Base):
    """Incoming Telegram update ids: stored before answering the webhook, and the dedupe key.

    No payload: names and text never reach the database (``bot.updates``). The row stays only for
    ``raw_update_retention_days`` to recognise Telegram's retries.
    """

    __tablename__ = "raw_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(16), default=UpdateStatus.PENDING)
    claimed_at: Mapped[datetime | None]


class OutboxKind(StrEnum):
    """What an outbox row is; each capability's models declare its kinds as a subclass (values
    "<capability>.<what>"), and the bot registers one renderer per kind (a test checks all)."""


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    BLOCKED = "blocked"
    DROPPED = "dropped"  # expired before it could be useful (e.g. a reminder after the meeting)


class OutboxMessage(Base):
    """A message a service wants delivered: written in the service's transaction, sent after commit.

    This is the one outbound port of DESIGN §10: services never talk to Telegram. The bot's delivery
    loop claims due rows atomically, renders them through the renderer registered for ``kind`` in the
    recipient's language, and marks them sent, so replicas never send one twice.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint("(user_id IS NOT NULL) <> (staff_id IS NOT NULL)", name="one_recipient"),
        Index("ix_outbox_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(48))
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # "never twice": e.g. "broadcast:12:user:34"; unique so a second enqueue is a no-op.
    dedupe_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    priority: Mapped[int] = mapped_column(Integer, default=100)  # lower is sooner
    # Sent with Telegram's paid broadcast (an urgent broadcast), by a delivery lane of its own.
    paid: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TranslationReview(Base):
    """A native speaker's decision on one catalog message in one language (issue 19).

    ``text`` is the translation they approved; when it differs from ``catalog_text`` (the catalog's
    translation at that moment) it is a change, and it overrides the catalog in the bot and the
    console at once (``services.translations``) until ``workvoice i18n pull`` writes it into the
    ``.po`` file. A catalog that later moves away from both is "changed since approval". Keyed by a
    hash of (context, msgid) because a message can be longer than an index allows.
    """

    __tablename__ = "translation_reviews"
    __table_args__ = (UniqueConstraint("locale", "domain", "key", name="uq_translation_reviews"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    locale: Mapped[str] = mapped_column(String(8))
    domain: Mapped[str] = mapped_column(String(48))
    key: Mapped[str] = mapped_column(String(64))
    context: Mapped[str | None] = mapped_column(String(200))
    msgid: Mapped[str] = mapped_column(Text)
    # Lists of strings: one for a plain message, one per plural form for a plural one.
    catalog_text: Mapped[list[str]] = mapped_column(JSONType, default=list)
    text: Mapped[list[str]] = mapped_column(JSONType, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
