"""Test data made through the real services, so tests start from states the product can reach."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage.db import transaction
from bot.storage.models import Factory, User
from services.factories import FactoryInput, do_add_factory, get_factory_by_code
from services.onboarding import do_register, get_user


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


async def make_case(
    sessions: async_sessionmaker[AsyncSession],
    settings: Any,
    *,
    telegram_id: int = 8001,
    country: str = "BD",
    narrative: str = "They shout at us every day.",
    **intake: Any,
) -> Any:
    """A submitted report, through the real service (keys from ``settings``, as the console has)."""
    import secrets

    from services.reports.crypto import keyring
    from services.reports.protocol import Category, Harm
    from services.reports.submission import Intake, do_submit_report

    factory = await make_factory(sessions, f"{country}-C1", country=country)
    worker = await make_worker(sessions, telegram_id, factory_code=factory.code, country=country)
    values: dict[str, Any] = dict(
        category=Category.HARASSMENT,
        harm=Harm.VERBAL_ABUSE,
        narrative=narrative,
        danger=False,
        affects_others=None,
        follow_up_in_chat=True,
        consent_to_share=False,
        consent_to_name=False,
        language="bn",
        submission_token=secrets.token_hex(12),
    )
    values.update(intake)
    async with transaction(sessions) as session:
        case, _ = await do_submit_report(
            session,
            Intake(**values),
            keys=keyring(settings),
            secret_key=settings.effective_secret_key,
            reporter_user_id=worker.id,
            factory=factory,
            country_code=country,
        )
        return case


async def make_committee(
    sessions: async_sessionmaker[AsyncSession],
    factory: Factory,
    telegram_ids: list[int],
    *,
    location: str,
    now: datetime,
) -> Any:
    """A Participation Committee of these workers (already registered), meeting monthly on the
    first Tuesday at 14:00 from 5 January 2027 at ``location``."""
    from services.committees import meetings, members

    async with transaction(sessions) as session:
        committee = await members.do_create_committee(
            session, factory, kind="pc", name="Participation Committee", actor=None
        )
        for telegram_id in telegram_ids:
            user = await get_user(session, telegram_id)
            assert user is not None
            await members.do_add_member(
                session,
                committee,
                display_name=f"Member {telegram_id}",
                side="worker",
                user_id=user.id,
                actor=None,
            )
        await meetings.do_set_schedule(
            session,
            committee,
            rule="FREQ=MONTHLY;BYDAY=1TU",
            local_start="2027-01-05T14:00",
            location=location,
            actor=None,
            now=now,
        )
        return committee
