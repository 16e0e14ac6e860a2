"""Surveys, their frozen versions, waves, and answers that carry no person (DESIGN §4.1).

``SurveyAnswer`` and ``SurveyResponse`` rows hold the wave, the answer, the factory and the coarse
demographics a worker chose to give (generalised when they would make a response unique), no
date finer than the wave, under random ids (a sequence would line them up with the order people
finished). They are written only by the batch job, k or more responses at a time in shuffled
order, never in the transaction that marks someone's participation. Who took part is kept apart in
``SurveyParticipation``, keyed by an HMAC of the worker's Telegram id, with no link to what they
answered; answers so far never reach this database (``services.surveys.store``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.db import Base, BigId, JSONType, utcnow
from bot.storage.models import OutboxKind


class SurveyNotice(OutboxKind):
    """Messages the surveys capability sends: invitations, reminders, closing the loop."""

    INVITE = "surveys.invite"
    REMINDER = "surveys.reminder"
    LOOP = "surveys.loop"


class Survey(Base):
    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))  # the title in the source language, for lists
    # None: a shared template every country may see and run; else the country that owns it.
    country_code: Mapped[str | None] = mapped_column(ForeignKey("countries.code"), index=True)
    created_by_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SurveyVersion(Base):
    """One version of a survey's definition; published versions never change again."""

    __tablename__ = "survey_versions"
    __table_args__ = (UniqueConstraint("survey_id", "number", name="uq_survey_versions_number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType)
    published_at: Mapped[datetime | None]
    published_by_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SurveyWave(Base):
    """A published version run for an audience between two moments, optionally repeating."""

    __tablename__ = "survey_waves"
    __table_args__ = (Index("ix_survey_waves_due", "status", "starts_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("survey_versions.id"))
    name: Mapped[str] = mapped_column(String(120))
    # The audience: empty lists mean "any". Countries are always given (staff scope).
    countries: Mapped[list[str]] = mapped_column(JSONType, default=list)
    factory_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)
    languages: Mapped[list[str]] = mapped_column(JSONType, default=list)
    genders: Mapped[list[str]] = mapped_column(JSONType, default=list)
    age_bands: Mapped[list[str]] = mapped_column(JSONType, default=list)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    repeat: Mapped[str] = mapped_column(String(16), default="none")
    invite_hour: Mapped[int] = mapped_column(Integer, default=12)  # local time at the factory
    reminder_after_hours: Mapped[int] = mapped_column(Integer, default=72)  # 0: no reminder
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    invited_count: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    previous_wave_id: Mapped[int | None] = mapped_column(
        ForeignKey("survey_waves.id", ondelete="SET NULL")
    )
    # Batches (services.surveys.batches): when results last changed (claimed by one replica, at
    # most daily), when the close's remainder was settled, and how many late answers were dropped
    # because fewer than k were left after a batch had been published.
    batched_at: Mapped[datetime | None]
    settled_at: Mapped[datetime | None]
    late_dropped: Mapped[int] = mapped_column(Integer, default=0)
    # Closing the loop: "what we learned / what changes", per language, sent once.
    loop_message: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    loop_sent_at: Mapped[datetime | None]
    created_by_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SurveyParticipation(Base):
    """Has this person started or finished wave W? Keyed by an HMAC, never by a user or chat id.

    Written twice at most (started, finished) and never with answers: the answers so far wait in
    the ephemeral survey store, sealed, and a finished response in the wave's pending pool.
    """

    __tablename__ = "survey_participations"
    __table_args__ = (UniqueConstraint("wave_id", "person_key", name="uq_survey_participation"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("survey_waves.id", ondelete="CASCADE"))
    person_key: Mapped[str] = mapped_column(String(64))
    started_on: Mapped[date] = mapped_column(Date)
    completed_on: Mapped[date | None] = mapped_column(Date)


class SurveyInvitation(Base):
    """Wave W invited worker U: so a worker who joins its audience after it opened (links her
    factory later) is invited too, once, and nobody twice. It says nothing about answering, and
    only what the wave's audience already says: she was in it."""

    __tablename__ = "survey_invitations"

    wave_id: Mapped[int] = mapped_column(
        ForeignKey("survey_waves.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class SurveyResponse(Base):
    """One finished response: who answered in group terms only (for response rates and bases)."""

    __tablename__ = "survey_responses"
    __table_args__ = (Index("ix_survey_responses_wave", "wave_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    wave_id: Mapped[int] = mapped_column(ForeignKey("survey_waves.id", ondelete="CASCADE"))
    factory_id: Mapped[int | None] = mapped_column(ForeignKey("factories.id", ondelete="SET NULL"))
    country_code: Mapped[str | None] = mapped_column(String(2))
    language: Mapped[str | None] = mapped_column(String(8))  # None: not given, or generalised
    gender: Mapped[str | None] = mapped_column(String(16))
    age_band: Mapped[str | None] = mapped_column(String(16))


class SurveyAnswer(Base):
    """One answer to one question: a chosen value, a number or a short text. No person."""

    __tablename__ = "survey_answers"
    __table_args__ = (Index("ix_survey_answers_wave_question", "wave_id", "question_key", "value"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    wave_id: Mapped[int] = mapped_column(ForeignKey("survey_waves.id", ondelete="CASCADE"))
    question_key: Mapped[str] = mapped_column(String(32))
    value: Mapped[str | None] = mapped_column(String(32))  # option key, "1".."5", "yes"/"no"
    number: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str | None] = mapped_column(String(1000))
    factory_id: Mapped[int | None] = mapped_column(ForeignKey("factories.id", ondelete="SET NULL"))
    country_code: Mapped[str | None] = mapped_column(String(2))
    language: Mapped[str | None] = mapped_column(String(8))
    gender: Mapped[str | None] = mapped_column(String(16))
    age_band: Mapped[str | None] = mapped_column(String(16))
