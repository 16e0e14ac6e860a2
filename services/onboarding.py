"""Workers joining: who they are to the bot, their language, consent, factory and demographics.

Log lines never name a worker: no Telegram id, name, text, row id or pseudonym (DESIGN §4.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.i18n.languages import LANGUAGES, supported
from bot.storage.models import Factory, Gender, OutboxMessage, User
from services.clock import utcnow
from services.errors import DomainError
from services.factories import get_factory_by_code


class AgeBand(StrEnum):
    UNDER_18 = "under18"
    FROM_18 = "18-24"
    FROM_25 = "25-34"
    FROM_35 = "35-44"
    FROM_45 = "45plus"
    UNDISCLOSED = "undisclosed"


class UnknownFactory(DomainError):
    code = "unknown_factory"
    message = N_("No factory has the code {code}. Please check the poster and try again.")


class NotOffered(DomainError):
    """A demographic answer that none of the offered buttons carries (stale or forged data)."""

    code = "not_offered"
    message = N_("This button is no longer active.")


class UnknownLanguage(DomainError):
    code = "unknown_language"
    message = N_("This language is not available.")


async def get_user(session: AsyncSession, telegram_id: int) -> User | None:
    return await session.scalar(select(User).where(User.telegram_id == telegram_id))


async def do_register(
    session: AsyncSession, telegram_id: int, *, locale: str | None = None
) -> User:
    """The worker's row, created on first contact with nothing but the id needed to answer."""
    user = await get_user(session, telegram_id)
    if user is None:
        user = User(
            telegram_id=telegram_id,
            locale=supported(locale) if locale else None,
            active=True,
            created_at=utcnow(),
        )
        session.add(user)
        await session.flush()
    elif not user.active:
        user.active, user.blocked_at = True, None  # they wrote again, so they unblocked the bot
    return user


async def do_choose_language(session: AsyncSession, user: User, code: str) -> User:
    if code not in LANGUAGES:
        raise UnknownLanguage()
    user.locale = code
    await session.flush()
    return user


async def do_consent(session: AsyncSession, user: User) -> User:
    if user.consent_at is None:
        user.consent_at = utcnow()
        await session.flush()
    return user


async def do_attach_factory(session: AsyncSession, user: User, code: str) -> Factory:
    """Attach the worker to the factory whose poster code they typed or scanned."""
    factory = await get_factory_by_code(session, code)
    if factory is None or not factory.active:
        raise UnknownFactory(code=code.strip()[:32] or "?")
    user.factory_id = factory.id
    await session.flush()
    return factory


async def do_set_demographics(
    session: AsyncSession, user: User, *, gender: str | None = None, age_band: str | None = None
) -> User:
    """Coarse demographics for survey breakdowns, only what the worker chose to give.

    Refuses (``NotOffered``) a value no button offers, and then changes nothing."""
    if gender is not None and gender not in set(Gender):
        raise NotOffered()
    if age_band is not None and age_band not in set(AgeBand):
        raise NotOffered()
    if gender is not None:
        user.gender = Gender(gender).value
    if age_band is not None:
        user.age_band = AgeBand(age_band).value
    await session.flush()
    return user


def wants_optional_messages(user: User) -> bool:
    """News and survey invitations go only to active workers who did not say /stop."""
    return user.active and user.quiet_since is None and user.consent_at is not None


Q = TypeVar("Q", bound=Select)


def optional_audience(
    query: Q,
    *,
    countries: Sequence[str],
    factory_ids: Sequence[int] = (),
    languages: Sequence[str] = (),
) -> Q:
    """``query`` (over ``User``) narrowed to the workers ``wants_optional_messages`` lets news and
    invitations reach, at active factories of ``countries``, optionally some factories and
    languages (empty: any)."""
    query = query.join(Factory, Factory.id == User.factory_id).where(
        User.active.is_(True),
        User.consent_at.is_not(None),
        User.quiet_since.is_(None),
        Factory.active.is_(True),
        Factory.country_code.in_(countries),
    )
    if factory_ids:
        query = query.where(Factory.id.in_(factory_ids))
    if languages:
        query = query.where(User.locale.in_(languages))
    return query


async def do_stop_optional_messages(session: AsyncSession, user: User) -> None:
    if user.quiet_since is None:
        user.quiet_since = utcnow()
        await session.flush()


async def do_resume_optional_messages(session: AsyncSession, user: User) -> None:
    user.quiet_since = None
    await session.flush()


async def do_set_listen(session: AsyncSession, user: User, listen: bool) -> None:
    """ "🔊 Listen" on or off: screens with a recorded clip come as voice messages too (the choice
    goes with the profile on ``/delete``)."""
    user.listen = listen
    await session.flush()


async def do_delete_user(session: AsyncSession, user: User) -> None:
    """``/delete``: remove the profile and everything queued for the worker.

    Anonymous survey answers hold no link to the person and stay; records that only point at the
    user (report chat links, committee seats) are unlinked by their foreign keys.
    """
    await session.execute(delete(OutboxMessage).where(OutboxMessage.user_id == user.id))
    await session.delete(user)
    await session.flush()


async def do_mark_blocked(session: AsyncSession, user_id: int) -> None:
    """Telegram said the worker blocked the bot: stop queueing messages to them."""
    user = await session.get(User, user_id)
    if user is not None and user.active:
        user.active, user.blocked_at = False, utcnow()
