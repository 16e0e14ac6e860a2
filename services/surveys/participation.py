"""Who took part in a wave, without saying who: the person key (an HMAC of the Telegram id) and
the participation row it finds. Answering a wave and closing its loop both use them."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.db import dialect_insert
from bot.storage.surveys import SurveyParticipation, SurveyWave
from services.clock import utcnow


def person_key(secret_key: str, telegram_id: int) -> str:
    """Who took part, without saying who: an HMAC no copy of the database alone can reverse."""
    return hmac.new(
        secret_key.encode(), f"survey-participation:{telegram_id}".encode(), hashlib.sha256
    ).hexdigest()


def today() -> date:
    return utcnow().date()


async def participation_of(
    session: AsyncSession, wave: SurveyWave, key: str, *, create: bool
) -> SurveyParticipation | None:
    """The participation of person ``key`` in ``wave``; with ``create``, started today if new."""
    mine = select(SurveyParticipation).where(
        SurveyParticipation.wave_id == wave.id, SurveyParticipation.person_key == key
    )
    found = await session.scalar(mine)
    if found is not None or not create:
        return found
    # Two taps can start the same wave at once (the first reply goes out before its transaction
    # commits): the second insert waits for the first and then does nothing, instead of failing.
    await session.execute(
        dialect_insert(session)(SurveyParticipation)
        .values(wave_id=wave.id, person_key=key, started_on=today())
        .on_conflict_do_nothing(index_elements=["wave_id", "person_key"])
    )
    return await session.scalar(mine)
