"""Per-update plumbing: dedupe, worker text cleaned, metrics, one database transaction, the worker
and their language."""

from __future__ import annotations

import logging
import time
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject, Update
from aiogram.types import User as TgUser
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import updates as raw_updates
from bot.i18n import set_locale, supported
from bot.storage.db import transaction
from bot.storage.models import UpdateStatus
from services.onboarding import get_user
from workvoice.kernel import metrics

log = logging.getLogger(__name__)
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


# Kept in worker text: line breaks and tabs. Dropped: other control characters (C0, DEL, C1) and
# lone surrogates. PostgreSQL refuses NUL in text and JSONB, so a NUL in a survey answer made the
# survey impossible to finish (M7); the rest has no business in a report or an answer either.
# Format characters (zero-width joiners, direction marks) stay: Indic and Arabic text needs them.
_KEEP = {"\n", "\t"}


def clean_text(text: str) -> str:
    if text.isprintable():  # the common case, in C
        return text
    return "".join(ch for ch in text if ch in _KEEP or unicodedata.category(ch) not in ("Cc", "Cs"))


def _clean_message(message: Message) -> Message:
    changes = {
        field: clean_text(value)
        for field in ("text", "caption")
        if isinstance(value := getattr(message, field), str) and clean_text(value) != value
    }
    return message.model_copy(update=changes) if changes else message


def clean_update(update: Update) -> Update:
    """The update with control characters taken out of every text a worker can type."""
    changes: dict[str, Any] = {}
    for field in ("message", "edited_message"):
        message = getattr(update, field)
        if isinstance(message, Message) and (cleaned := _clean_message(message)) is not message:
            changes[field] = cleaned
    query = update.callback_query
    if isinstance(query, CallbackQuery) and query.data and clean_text(query.data) != query.data:
        changes["callback_query"] = query.model_copy(update={"data": clean_text(query.data)})
    return update.model_copy(update=changes) if changes else update


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
                fresh = await raw_updates.store(session, event.update_id, status=UpdateStatus.DONE)
            if not fresh:
                metrics.DUPLICATE_UPDATES.inc()
                log.info("update.duplicate update_id=%s", event.update_id)
                return None
        event = clean_update(event)
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
