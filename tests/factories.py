"""Test data made through the real services, so tests start from states the product can reach."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage.db import transaction
from bot.storage.models import Factory, User
from services.factories import FactoryInput, do_add_factory, get_factory_by_code
from services.onboarding import do_register


async def make_factory(
    sessions: async_sessionmaker[AsyncSession],
    code: str = "DK-01",
    *,
    country: str = "BD",
    name: str | None = None,
    timezone: str | None = None,
) -> Factory:
    async with transaction(sessions) as session:
        existing = await get_factory_by_code(session, code)
        if existing is not None:
            return existing
        return await do_add_factory(
            session,
            FactoryInput(
                code=code, name=name or f"Factory {code}", country=country, timezone=timezone
            ),
        )


async def make_worker(
    sessions: async_sessionmaker[AsyncSession],
    telegram_id: int,
    *,
    locale: str = "en",
    factory_code: str | None = "DK-01",
    country: str = "BD",
    gender: str | None = None,
    age_band: str | None = None,
) -> User:
    """A worker who has finished onboarding: language chosen, consent given, factory attached."""
    factory = await make_factory(sessions, factory_code, country=country) if factory_code else None
    async with transaction(sessions) as session:
        user = await do_register(session, telegram_id, locale=locale)
        user.locale = locale
        user.consent_at = datetime.now(UTC)
        user.factory_id = factory.id if factory else None
        user.gender, user.age_band = gender, age_band
        await session.flush()
        return user
