"""Per-update plumbing: dedupe, worker text cleaned, metrics, one database transaction, the worker
and their language."""

from __future__ import annotations

import logging
import time
import unicodedata
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import GetFile, GetMe, TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import CallbackQuery, Message, TelegramObject, Update
from aiogram.types import User as TgUser
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import updates as raw_updates
from bot.i18n import gettext, set_gender, set_locale, supported
from bot.storage.db import transaction
from bot.storage.models import UpdateStatus
from services.onboarding import get_user
from workvoice.kernel import metrics
from workvoice.kernel.outage import is_outage

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


# The transaction of the update being handled in this task, for ``CommitBeforeReply``.
_UPDATE_SESSION: ContextVar[AsyncSession | None] = ContextVar("update_session", default=None)
# Calls that show the worker nothing: no reason to commit before them.
_READS = (GetMe, GetFile)


class CommitBeforeReply(BaseRequestMiddleware):
    """Request middleware on the Bot's session: before the bot shows the worker anything while an
    update is handled, what the update changed so far is committed. A reply can then never promise
    what is not stored (an answer counted, a language saved), and the rest of the update (message
    ids, the next step) is committed at its end as before."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        session = _UPDATE_SESSION.get()
        if (
            session is not None
            and session.in_transaction()
            # Inside a savepoint the step is not finished: committing would end it half-way.
            and not session.in_nested_transaction()
            and not isinstance(method, _READS)
        ):
            await session.commit()
        return await make_request(bot, method)


def install_commit_before_reply(bot: Bot) -> None:
    if not any(isinstance(m, CommitBeforeReply) for m in bot.session.middleware):
        bot.session.middleware(CommitBeforeReply())


class UpdateMiddleware(BaseMiddleware):
    """Outer middleware on ``dp.update``: one update, one transaction, handled once."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, default_locale: str) -> None:
        self.sessions = sessions
        self.default_locale = default_locale

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        kind = event.event_type
        polled = bool(data.get("polled"))
        if not data.get("from_store") and not polled:
            # Polling: remember the id before handling, so a repeat (or a second replica) skips it.
            async with transaction(self.sessions) as session:
                fresh = await raw_updates.store(session, event.update_id, status=UpdateStatus.DONE)
            if not fresh:
                metrics.DUPLICATE_UPDATES.inc()
                log.info("update.duplicate update_id=%s", event.update_id)
                return None
        event = clean_update(event)
        if await self._outside_private_chats(event, data):
            return None
        started = time.perf_counter()
        try:
            async with self.sessions() as session:
                if polled and await raw_updates.handled(session, event.update_id):
                    metrics.DUPLICATE_UPDATES.inc()  # a batch read again after a crash
                    return None
                data["session"] = session
                await self._load_user(session, data)
                token = _UPDATE_SESSION.set(session)
                try:
                    result = await handler(event, data)
                    # Done in the same commit as what the handler wrote: a crash (or an outage)
                    # after it cannot make the update run a second time.
                    if data.get("from_store"):
                        await raw_updates.finish(session, event.update_id, ok=True)
                    elif polled:
                        await raw_updates.record(session, event.update_id, UpdateStatus.DONE)
                    await session.commit()
                except BaseException:
                    await session.rollback()
                    raise
                finally:
                    _UPDATE_SESSION.reset(token)
        except Exception as exc:
            metrics.UPDATE_ERRORS.labels(kind).inc()
            if polled and not is_outage(exc):
                await self._record_failed(event.update_id)
            raise
        finally:
            metrics.UPDATES.labels(kind).inc()
            metrics.UPDATE_LATENCY.observe(time.perf_counter() - started)
        return result

    async def _record_failed(self, update_id: int) -> None:
        """A polled update whose handler failed (the errors router answers it): recorded, so a
        batch read again after a crash does not run it a second time."""
        try:
            async with transaction(self.sessions) as session:
                await raw_updates.record(session, update_id, UpdateStatus.FAILED)
        except Exception as exc:
            log.warning("update.record_failed update_id=%s error=%s", update_id, type(exc).__name__)

    async def _outside_private_chats(self, event: Update, data: dict[str, Any]) -> bool:
        """A group, a channel, or another bot: the bot talks with one person at a time, in a
        private chat, and stores nobody it meets elsewhere (DESIGN §9). Added to a group (or
        spoken to in one), it says once where to find it and leaves; that is the last it hears."""
        tg_user: TgUser | None = data.get("event_from_user")
        member = event.my_chat_member
        message = event.message or (
            event.callback_query.message if event.callback_query is not None else None
        )
        chat = member.chat if member is not None else message.chat if message else None
        private = chat is None or chat.type == "private"
        if private and not (tg_user is not None and tg_user.is_bot):
            return False
        if chat is None or private:
            return True  # another bot in a private chat: nothing to say
        if member is not None and member.new_chat_member.status in ("left", "kicked"):
            return True  # removed: nothing to say, nowhere to say it
        bot: Bot = data["bot"]
        locale = set_locale(
            supported(tg_user.language_code if tg_user else None) or self.default_locale
        )
        try:
            if event.callback_query is not None:
                await event.callback_query.answer()
            await bot.send_message(
                chat.id,
                gettext(
                    "I only talk with people one by one, in a private chat, so that what you "
                    "tell me stays private. Tap my name, then Start, to talk with me.",
                    locale=locale,
                ),
            )
        except Exception as exc:  # a channel, no right to write: leaving is what matters
            log.info("group.notice_failed error=%s", type(exc).__name__)
        try:
            await bot.leave_chat(chat.id)
        except Exception as exc:
            log.info("group.leave_failed error=%s", type(exc).__name__)
        log.info("group.left chat_type=%s", chat.type)
        return True

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
        set_gender(user.gender if user is not None else None)  # her own words where it matters
