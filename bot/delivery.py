"""Delivering the outbox: claim due messages, render each in its reader's language, send, record.

Flows register a renderer per message kind with ``@renderer(Kind.MEMBER)`` (an ``OutboxKind`` enum;
a test checks every kind has one). A renderer turns the stored params into text and buttons at send
time. The delivery loop sets ``use_locale`` to the recipient's saved language around the call; a
renderer whose message carries its own ``locale`` param (committee notices, queued in the language
the member chose for that committee) sets ``use_locale`` again from it.
Sending keeps under Telegram's limits (about 30 messages a second per bot, one a second per chat)
and honours 429 ``retry_after`` by pausing the whole loop, as Telegram asks; with Redis the budget
and the pause are shared by every replica (``bot.ratelimit``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
)
from aiogram.types import InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import use_locale
from bot.ratelimit import RateLimiter, SendLimiter
from bot.storage.db import transaction
from bot.storage.models import OutboxKind, OutboxMessage, OutboxStatus, Staff, User
from services import outbox
from services.clock import utcnow
from services.onboarding import do_mark_blocked
from workvoice.kernel import metrics
from workvoice.kernel.outage import is_outage
from workvoice.kernel.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Rendered:
    text: str
    reply_markup: InlineKeyboardMarkup | None = None
    # A Telegram file id to send as a document, with ``text`` as its caption (up to 1024).
    document: str | None = None


@dataclass
class RenderContext:
    session: AsyncSession
    message: OutboxMessage
    user: User | None
    staff: Staff | None
    locale: str
    # For renderers that must recompute a keyed value (a survey participation HMAC).
    settings: Settings | None = None

    @property
    def params(self) -> dict[str, Any]:
        return self.message.params


Renderer = Callable[[RenderContext], Awaitable[Rendered | list[Rendered] | None]]
RENDERERS: dict[str, Renderer] = {}
# Called in the delivery's transaction with a message's final status (sent, failed, blocked,
# dropped), for kinds that keep their own delivery report (broadcasts).
OutcomeHook = Callable[[AsyncSession, OutboxMessage, OutboxStatus], Awaitable[None]]
OUTCOME_HOOKS: dict[str, OutcomeHook] = {}


def renderer(kind: OutboxKind) -> Callable[[Renderer], Renderer]:
    """Register how messages of ``kind`` look; returning None drops the message (no longer useful)."""

    def register(fn: Renderer) -> Renderer:
        if kind in RENDERERS and RENDERERS[kind] is not fn:
            raise ValueError(f"two renderers for {kind!r}")
        RENDERERS[kind] = fn
        return fn

    return register


def on_outcome(kind: OutboxKind) -> Callable[[OutcomeHook], OutcomeHook]:
    def register(fn: OutcomeHook) -> OutcomeHook:
        OUTCOME_HOOKS[kind] = fn
        return fn

    return register


class Deliverer:
    def __init__(
        self,
        bot: Bot,
        sessions: async_sessionmaker[AsyncSession],
        *,
        limiter: SendLimiter | None = None,
        batch: int = 50,
        settings: Settings | None = None,
    ) -> None:
        self.bot = bot
        self.sessions = sessions
        self.settings = settings
        self.limiter: SendLimiter = limiter or RateLimiter()
        self.batch = batch
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.wakeup = asyncio.Event()

    async def run_once(self) -> int:
        """Deliver what is due now; returns how many rows were handled."""
        async with transaction(self.sessions) as session:
            claimed = [
                m.id for m in await outbox.claim_due(session, worker=self.worker, limit=self.batch)
            ]
        if not claimed:
            return 0
        waiting = list(claimed)
        keeper = asyncio.create_task(self._keep_claims(waiting))
        try:
            while waiting:
                await self._deliver(waiting[0])
                waiting.pop(0)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
        return len(claimed)

    async def _keep_claims(self, waiting: list[int]) -> None:
        """Renew the claims of the batch not yet sent until it is done: a batch can sit behind a
        long retry_after, and a claim left to go stale is taken over by another replica."""
        every = outbox.RENEW_CLAIMS_EVERY.total_seconds()
        while True:
            await asyncio.sleep(every)
            try:
                async with transaction(self.sessions) as session:
                    await outbox.renew_claims(session, list(waiting), worker=self.worker)
            except Exception as exc:  # an outage: the send-time check still guards each message
                log.warning("outbox.renew_failed error=%s", type(exc).__name__)

    async def run_forever(self, *, idle: float = 1.0) -> None:
        while True:
            try:
                handled = await self.run_once()
            except Exception as exc:
                if is_outage(exc):  # one line a second while it lasts, not a traceback each
                    log.warning("outbox.outage error=%s", type(exc).__name__)
                else:
                    log.exception("outbox.loop_error")
                handled = 0
            if handled < self.batch:
                self.wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), timeout=idle)

    async def _deliver(self, message_id: int) -> None:
        async with transaction(self.sessions) as session:
            message = await session.get(OutboxMessage, message_id)
            if message is None:
                return
            result = await self._send(session, message)
            if result is None:  # its claim went stale while it waited: not ours to send now
                log.info("outbox.claim_lost id=%s", message.id)
                return
            outcome, error, retry_at = result
            await outbox.mark(session, message.id, outcome, error=error, retry_at=retry_at)
            hook = OUTCOME_HOOKS.get(message.kind)
            if hook is not None and retry_at is None:
                await hook(session, message, outcome)
            metrics.OUTBOX.labels(message.kind, "retry" if retry_at else outcome).inc()

    async def _send(
        self, session: AsyncSession, message: OutboxMessage
    ) -> tuple[OutboxStatus, str | None, Any] | None:
        if message.expires_at is not None and message.expires_at <= utcnow():
            return OutboxStatus.DROPPED, "expired", None
        user = await session.get(User, message.user_id) if message.user_id else None
        staff = await session.get(Staff, message.staff_id) if message.staff_id else None
        chat_id = user.telegram_id if user else (staff.telegram_id if staff else None)
        if chat_id is None or (user is not None and not user.active):
            return OutboxStatus.DROPPED, "no_recipient", None
        render = RENDERERS.get(message.kind)
        if render is None:
            log.error("outbox.no_renderer kind=%s id=%s", message.kind, message.id)
            return OutboxStatus.FAILED, "no_renderer", None
        locale = (user.locale if user else staff.locale if staff else None) or "en"
        with use_locale(locale) as code:
            rendered = await render(
                RenderContext(session, message, user, staff, code, self.settings)
            )
        if rendered is None:
            return OutboxStatus.DROPPED, "renderer_dropped", None
        parts = rendered if isinstance(rendered, list) else [rendered]
        try:
            for part in parts:
                await self.limiter.wait(chat_id)  # may be minutes, after a long retry_after
                if not await outbox.may_send(session, message.id, worker=self.worker):
                    return None  # taken over by another replica, or about to be
                if part.document is not None:
                    await self.bot.send_document(
                        chat_id, part.document, caption=part.text, reply_markup=part.reply_markup
                    )
                else:
                    await self.bot.send_message(chat_id, part.text, reply_markup=part.reply_markup)
        except TelegramRetryAfter as exc:
            await self.limiter.pause(exc.retry_after)
            return (
                OutboxStatus.PENDING,
                "retry_after",
                utcnow() + timedelta(seconds=exc.retry_after),
            )
        except TelegramForbiddenError:
            if user is not None:
                await do_mark_blocked(session, user.id)
            return OutboxStatus.BLOCKED, "blocked", None
        except TelegramBadRequest as exc:
            log.warning(
                "outbox.bad_request kind=%s id=%s error=%s",
                message.kind,
                message.id,
                exc.message[:80],
            )
            return OutboxStatus.FAILED, exc.message[:120], None
        except TelegramNetworkError:
            if message.attempts >= outbox.MAX_ATTEMPTS:
                return OutboxStatus.FAILED, "network", None
            backoff = timedelta(seconds=min(300, 5 * 2**message.attempts))
            return OutboxStatus.PENDING, "network", utcnow() + backoff
        return OutboxStatus.SENT, None, None
