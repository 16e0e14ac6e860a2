"""Workers joining: who they are to the bot, their language, consent and factory.

Logs about a worker use ``pseudonym(user)`` (the internal row id), never the Telegram id or name.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n.languages import supported
from bot.storage.models import User
from services.clock import utcnow


def pseudonym(user: User | None) -> str:
    return f"u{user.id}" if user is not None else "u-"


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


async def do_mark_blocked(session: AsyncSession, user_id: int) -> None:
    """Telegram said the worker blocked the bot: stop queueing messages to them."""
    user = await session.get(User, user_id)
    if user is not None and user.active:
        user.active, user.blocked_at = False, utcnow()
