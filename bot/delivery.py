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
import re
import socket
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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

from bot.i18n import use_gender, use_locale
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
# Called in the delivery's transaction with messages that reached one final status (sent,
# failed, blocked, dropped), for kinds that keep their own delivery report (broadcasts).
OutcomeHook = Callable[[AsyncSession, Sequence[OutboxMessage], OutboxStatus], Awaitable[None]]
OUTCOME_HOOKS: dict[str, OutcomeHook] = {}
# Called before a batch of one kind is rendered, to load in a few queries what each renderer
# would fetch row by row (the paid lane renders hundreds at once). Returns what it loaded, for
# the caller to hold while it renders: the session's identity map holds objects only weakly.
Preloader = Callable[[AsyncSession, Sequence[OutboxMessage]], Awaitable[Sequence[object]]]
PRELOADERS: dict[str, Preloader] = {}


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


def preloader(kind: OutboxKind) -> Callable[[Preloader], Preloader]:
    def register(fn: Preloader) -> Preloader:
        PRELOADERS[kind] = fn
        return fn

    return register


@dataclass
class Outcome:
    status: OutboxStatus
    error: str | None = None
    retry_at: datetime | None = None  # back in the queue until then
    unpaid: bool = False  # Telegram would not take payment: back to the free lane


@dataclass
class Outgoing:
    """A message rendered and ready to leave."""

    message: OutboxMessage
    chat_id: int
    parts: list[Rendered]


# A Bad Request that says Telegram would not bill a paid broadcast (the Stars ran out, or the bot
# is not allowed paid broadcasts): the message is sent again at the free pace instead.
PAID_REFUSED = re.compile(r"star|balance|paid", re.IGNORECASE)


class Deliverer:
    """The free lane: one message at a time at the shared ~30/s (``bot.ratelimit``). With paid
    broadcasts on, ``only_free`` leaves urgent broadcasts to ``bot.paid_delivery``."""

    def __init__(
        self,
        bot: Bot,
        sessions: async_sessionmaker[AsyncSession],
        *,
        limiter: SendLimiter | None = None,
        batch: int = 50,
        settings: Settings | None = None,
        only_free: bool = False,
    ) -> None:
        self.bot = bot
        self.sessions = sessions
        self.settings = settings
        self.limiter: SendLimiter = limiter or RateLimiter()
        self.batch = batch
        self.lane: bool | None = False if only_free else None  # claim_due's ``paid``
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.wakeup = asyncio.Event()
        self.renewed_at = 0.0  # monotonic time the batch's claims were last taken or renewed

    async def run_once(self) -> int:
        """Deliver what is due now; returns how many rows were handled."""
        claimed = await self._claim()
        if not claimed:
            return 0
        waiting = list(claimed)
        keeper = asyncio.create_task(self._keep_claims(waiting))
        try:
            while waiting:
                await self._deliver(waiting[0])
                waiting.pop(0)
        finally:
            await stop_task(keeper)
        return len(claimed)

    async def _claim(self) -> list[int]:
        async with transaction(self.sessions) as session:
            claimed = await outbox.claim_due(
                session, worker=self.worker, limit=self.batch, paid=self.lane
            )
        self.renewed_at = time.monotonic()
        return [m.id for m in claimed]

    async def _keep_claims(self, waiting: list[int]) -> None:
        """Renew the claims of the batch not yet sent until it is done: a batch can sit behind a
        long retry_after, and a claim left to go stale is taken over by another replica."""
        every = outbox.RENEW_CLAIMS_EVERY.total_seconds()
        while True:
            await asyncio.sleep(every)
            try:
                async with transaction(self.sessions) as session:
                    await outbox.renew_claims(session, list(waiting), worker=self.worker)
                self.renewed_at = time.monotonic()
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
            ready = await self._prepare(session, message)
            if isinstance(ready, Outgoing):

                async def still_mine() -> bool:
                    return await outbox.may_send(session, message_id, worker=self.worker)

                outcome = await self._transmit(ready, still_mine, paid=False)
            else:
                outcome = ready
            if outcome is None:  # its claim went stale while it waited: not ours to send now
                log.info("outbox.claim_lost id=%s", message.id)
                return
            await record(session, [(message, outcome)])

    async def _prepare(self, session: AsyncSession, message: OutboxMessage) -> Outgoing | Outcome:
        """The message rendered in its reader's language, or why it does not go."""
        if message.expires_at is not None and message.expires_at <= utcnow():
            return Outcome(OutboxStatus.DROPPED, "expired")
        user = await session.get(User, message.user_id) if message.user_id else None
        staff = await session.get(Staff, message.staff_id) if message.staff_id else None
        chat_id = user.telegram_id if user else (staff.telegram_id if staff else None)
        if chat_id is None or (user is not None and not user.active):
            return Outcome(OutboxStatus.DROPPED, "no_recipient")
        render = RENDERERS.get(message.kind)
        if render is None:
            log.error("outbox.no_renderer kind=%s id=%s", message.kind, message.id)
            return Outcome(OutboxStatus.FAILED, "no_renderer")
        locale = (user.locale if user else staff.locale if staff else None) or "en"
        with use_locale(locale) as code, use_gender(user.gender if user else None):
            rendered = await render(
                RenderContext(session, message, user, staff, code, self.settings)
            )
        if rendered is None:
            return Outcome(OutboxStatus.DROPPED, "renderer_dropped")
        return Outgoing(message, chat_id, rendered if isinstance(rendered, list) else [rendered])

    async def _transmit(
        self, out: Outgoing, still_mine: Callable[[], Awaitable[bool]], *, paid: bool
    ) -> Outcome | None:
        """Send every part; None when the claim went stale before a part could go."""
        chat_id, message = out.chat_id, out.message
        try:
            for part in out.parts:
                await self.limiter.wait(chat_id, paid=paid)  # minutes, after a long retry_after
                if not await still_mine():
                    return None  # taken over by another replica, or about to be
                # None leaves the field out of the request: a free message says nothing of it.
                pay = True if paid else None
                if part.document is not None:
                    await self.bot.send_document(
                        chat_id,
                        part.document,
                        caption=part.text,
                        reply_markup=part.reply_markup,
                        allow_paid_broadcast=pay,
                    )
                else:
                    await self.bot.send_message(
                        chat_id, part.text, reply_markup=part.reply_markup, allow_paid_broadcast=pay
                    )
        except TelegramRetryAfter as exc:
            await self.limiter.pause(exc.retry_after)
            return Outcome(
                OutboxStatus.PENDING, "retry_after", utcnow() + timedelta(seconds=exc.retry_after)
            )
        except TelegramForbiddenError:
            return Outcome(OutboxStatus.BLOCKED, "blocked")
        except TelegramBadRequest as exc:
            if paid and PAID_REFUSED.search(exc.message):
                return Outcome(OutboxStatus.PENDING, "paid_refused", utcnow(), unpaid=True)
            log.warning(
                "outbox.bad_request kind=%s id=%s error=%s",
                message.kind,
                message.id,
                exc.message[:80],
            )
            return Outcome(OutboxStatus.FAILED, exc.message[:120])
        except TelegramNetworkError:
            if message.attempts >= outbox.MAX_ATTEMPTS:
                return Outcome(OutboxStatus.FAILED, "network")
            backoff = timedelta(seconds=min(300, 5 * 2**message.attempts))
            return Outcome(OutboxStatus.PENDING, "network", utcnow() + backoff)
        return Outcome(OutboxStatus.SENT)


async def record(session: AsyncSession, outcomes: Sequence[tuple[OutboxMessage, Outcome]]) -> None:
    """Write delivery outcomes: final ones grouped into one statement per status and error (the
    paid lane writes hundreds at once), retries one by one; then the kinds' outcome hooks."""
    final: dict[tuple[OutboxStatus, str | None], list[OutboxMessage]] = defaultdict(list)
    for message, outcome in outcomes:
        if outcome.retry_at is not None:
            await outbox.mark(
                session,
                message.id,
                outcome.status,
                error=outcome.error,
                retry_at=outcome.retry_at,
                paid=False if outcome.unpaid else None,
            )
            metrics.OUTBOX.labels(message.kind, "retry").inc()
            continue
        if outcome.status == OutboxStatus.BLOCKED and message.user_id is not None:
            await do_mark_blocked(session, message.user_id)
        final[(outcome.status, outcome.error)].append(message)
    for (status, error), done in final.items():
        await outbox.mark_many(session, [m.id for m in done], status, error=error)
        for kind, of_kind in by_kind(done).items():
            hook = OUTCOME_HOOKS.get(kind)
            if hook is not None:
                await hook(session, of_kind, status)
            metrics.OUTBOX.labels(kind, status).inc(len(of_kind))


def by_kind(messages: Sequence[OutboxMessage]) -> dict[str, list[OutboxMessage]]:
    kinds: dict[str, list[OutboxMessage]] = defaultdict(list)
    for message in messages:
        kinds[message.kind].append(message)
    return kinds


async def stop_task(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
