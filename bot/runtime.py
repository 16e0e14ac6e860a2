"""Running the bot: the Bot object, long polling, and the webhook that stores before it answers."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.types import Update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot import updates as raw_updates
from bot.storage.db import transaction

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/telegram/webhook"
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]


def create_bot(token: str, api_url: str) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url))
    return Bot(
        token=token,
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )


class UpdateProcessor:
    """Handles stored updates: claim once, feed the dispatcher, clear the payload."""

    def __init__(
        self, bot: Bot, dp: Dispatcher, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        self.bot, self.dp, self.sessions = bot, dp, sessions
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, update_id: int) -> None:
        task = asyncio.create_task(self.process(update_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def process(self, update_id: int) -> None:
        async with transaction(self.sessions) as session:
            payload = await raw_updates.claim(session, update_id)
        if payload is None:
            return
        ok = False
        try:
            update = Update.model_validate(payload, context={"bot": self.bot})
            await self.dp.feed_update(self.bot, update, from_store=True)
            ok = True
        except Exception:
            log.exception("webhook.update_failed update_id=%s", update_id)
        finally:
            async with transaction(self.sessions) as session:
                await raw_updates.finish(session, update_id, ok=ok)

    async def recover(self) -> int:
        """Handle what a previous process stored but did not finish."""
        async with transaction(self.sessions) as session:
            pending = await raw_updates.unfinished(session)
        for update_id in pending:
            await self.process(update_id)
        return len(pending)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def webhook_endpoint(
    processor: UpdateProcessor, secret: str
) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint: check the secret in constant time, store, answer 200, then handle."""

    async def telegram_webhook(request: Request) -> Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return JSONResponse({"ok": False, "error": "unauthorized"}, status_code=401)
        try:
            payload: Any = await request.json()
        except ValueError:
            return JSONResponse({"ok": False, "error": "invalid json"}, status_code=400)
        update_id = payload.get("update_id") if isinstance(payload, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return JSONResponse({"ok": False, "error": "no update_id"}, status_code=400)
        async with transaction(processor.sessions) as session:
            fresh = await raw_updates.store(session, update_id, payload)
        if fresh:
            processor.spawn(update_id)
        return JSONResponse({"ok": True})

    return telegram_webhook
