"""Per-update plumbing: dedupe, metrics, one database transaction, the worker and their language."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update
from aiogram.types import User as TgUser
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import updates as raw_updates
from bot.i18n import set_locale, supported
from bot.storage.db import transaction
from bot.storage.models import UpdateStatus
from services.onboarding import get_user
from workvoice import metrics

log = logging.getLogger(__name__)
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class UpdateMiddleware(BaseMiddleware):
    """Outer middleware on ``dp.update``: one update, one transaction, handled once."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, default_locale: str) -> None:
        self.sessions = sessions
        self.default_locale = default_locale

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        kind = event.event_type
        if not data.get("from_store"):
            # Polling: remember the id before handling, so a repeat (or a second replica) skips it.
            async with transaction(self.sessions) as session:
                fresh = await raw_updates.store(
                    session, event.update_id, None, status=UpdateStatus.DONE
                )
            if not fresh:
                metrics.DUPLICATE_UPDATES.inc()
                log.info("update.duplicate update_id=%s", event.update_id)
                return None
        started = time.perf_counter()
        try:
            async with self.sessions() as session:
                data["session"] = session
                await self._load_user(session, data)
                try:
                    result = await handler(event, data)
                    await session.commit()
                except BaseException:
                    await session.rollback()
                    raise
        except Exception:
            metrics.UPDATE_ERRORS.labels(kind).inc()
            raise
        finally:
            metrics.UPDATES.labels(kind).inc()
            metrics.UPDATE_LATENCY.observe(time.perf_counter() - started)
        return result

    async def _load_user(self, session: AsyncSession, data: dict[str, Any]) -> None:
        tg_user: TgUser | None = data.get("event_from_user")
        user = (
            await get_user(session, tg_user.id)
            if tg_user is not None and not tg_user.is_bot
            else None
        )
        data["user"] = user
        locale = (
            (user.locale if user is not None else None)
            or supported(tg_user.language_code if tg_user else None)
            or self.default_locale
        )
        data["locale"] = set_locale(locale)
