"""Recorded audio clips: a key bot screen or a survey question or answer, read aloud in one language.

A clip is what a worker who does not read hears instead of (beside) the text. Each ``target`` has at
most one clip per language; replacing one deletes the old row. The bytes are OGG/Opus (what Telegram
plays as a voice message) and small (60 seconds at most, about 200 KB), so they live in the
database beside everything else and go with its backups. ``token`` is the only handle the console
gives out (random, never a sequence): a clip's URL cannot be guessed from another's.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.db import Base, BigId, utcnow


class AudioClip(Base):
    __tablename__ = "audio_clips"
    __table_args__ = (UniqueConstraint("target", "locale", name="uq_audio_clips_target_locale"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    # "screen:menu", or for a survey "survey:<survey key>:<question key>[:<option key>]": keys
    # are stable across the survey's versions, so a clip outlives a published change of wording.
    target: Mapped[str] = mapped_column(String(120), index=True)
    survey_key: Mapped[str | None] = mapped_column(String(32), index=True)
    locale: Mapped[str] = mapped_column(String(8))
    content: Mapped[bytes] = mapped_column(LargeBinary)  # OGG/Opus, mono
    duration_ms: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    # Telegram's id of the file once sent: later sends name it instead of uploading it again.
    telegram_file_id: Mapped[str | None] = mapped_column(String(255))
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    uploaded_by_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL")
    )
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
