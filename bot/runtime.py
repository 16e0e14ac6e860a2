"""Running the bot: the Bot object, long polling, and the webhook that stores before it answers."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.types import Update
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot import updates as raw_updates
from bot.storage.db import transaction
from services.clock import utcnow
from workvoice.kernel import metrics
from workvoice.kernel.outage import Outage, is_outage

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


# Webhook mode: how often a process renews its claims and takes up what a dead one left
# (``bot.updates.STALE_CLAIM``): a replica's updates are handled by another within about a minute.
RENEW_EVERY = 10.0
RECOVER_EVERY = 5.0
# Updates received by this process are kept in hand until handled; one another replica finished
# (after an outage here) is forgotten after this long, checked once this many are kept.
KEEP_RECEIVED_FOR = 600.0
KEEP_RECEIVED_MAX = 1_000
RETRY_AFTER_OUTAGE = 5  # seconds, said to Telegram with a 503 while the database or Redis is out
MAX_BODY = 1024 * 1024  # Telegram's updates stay far below 1 MB (L6)


class BodyTooLarge(Exception):
    pass


class Deferred(Outage):
    """An update could not be handled because the database or Redis is out: it stays stored
    (not done) and is handled when they are back."""


class UpdateProcessor:
    """Handles stored updates: claim once, feed the dispatcher, mark done, drop the payload.

    The database holds only ids (``bot.updates``); payloads wait in ``payloads``: Redis when
    ``redis_url`` is given (every replica sees them), else this process's memory.
    """

    def __init__(
        self,
        bot: Bot,
        dp: Dispatcher,
        sessions: async_sessionmaker[AsyncSession],
        *,
        redis_url: str | None = None,
        payloads: raw_updates.PayloadStore | None = None,
    ) -> None:
        self.bot, self.dp, self.sessions = bot, dp, sessions
        self.payloads = payloads or raw_updates.create_payload_store(redis_url)
        self._tasks: set[asyncio.Task[None]] = set()
        self._inflight: set[int] = set()  # claimed by this process, being handled
        # Updates this process received, as validated by the webhook, until handled: no second
        # validation, no Redis round trip for the payload, and no loss if Redis restarts empty
        # (it keeps nothing on disk) while they wait. Another replica handles them from Redis.
        self._received: dict[int, tuple[float, Update, bytes]] = {}

    def spawn(self, update_id: int) -> None:
        task = asyncio.create_task(self.process(update_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def receive(self, update_id: int, body: bytes, update: Update | None = None) -> None:
        """Keep the payload, then the id, before the webhook answers 200; handle it after.
        ``update``: the body as the webhook validated it, kept in hand until handled."""
        # Payload first: an id stored without its payload could not be handled, and a retry of
        # it would be taken for a repeat.
        await self.payloads.put(update_id, body)
        async with transaction(self.sessions) as session:
            fresh = await raw_updates.store(session, update_id)
            waiting = fresh or await raw_updates.waiting(session, update_id)
            repeat = not waiting and await raw_updates.handled(session, update_id)
        if waiting:
            if update is not None:
                self._keep(update_id, update, body)
            # New, or a retry of one nobody handled yet (its payload was lost): claim() makes sure
            # only one task on one replica handles it.
            self.spawn(update_id)
        elif repeat:
            await self.payloads.discard(update_id)  # nobody needs this copy

    async def handle(self, update: Update) -> None:
        """Polling: the update is in hand (Telegram keeps it until its batch is confirmed), so
        nothing is stored before handling: ``UpdateMiddleware`` skips an update already done and
        records it done in the handler's own transaction (one transaction per update; three
        before). Raises ``Deferred`` when the database or Redis is out: nothing was recorded and
        the batch is handled again when they are back."""
        try:
            await self.dp.feed_update(self.bot, update, polled=True)
        except Exception as exc:
            if is_outage(exc):
                raise Deferred from exc
            # The errors router answers and records every other failure; this is a bug in it.
            log.error(
                "polling.update_failed update_id=%s error=%s",
                update.update_id,
                type(exc).__name__,
                exc_info=exc,
            )

    def _keep(self, update_id: int, update: Update, body: bytes) -> None:
        now = time.monotonic()
        if len(self._received) >= KEEP_RECEIVED_MAX:  # another replica finished some of them
            self._received = {
                i: kept for i, kept in self._received.items() if now - kept[0] < KEEP_RECEIVED_FOR
            }
        self._received[update_id] = (now, update, body)

    async def _restore_held(self) -> None:
        """Put back into Redis what this process holds and is not handling (released in an
        outage): if Redis restarted empty meanwhile, another replica can take them up again.
        What another replica handled meanwhile is let go (its copy must not linger in Redis)."""
        held = [i for i in self._received if i not in self._inflight]
        if not held:
            return
        async with transaction(self.sessions) as session:
            waiting = await raw_updates.not_done(session, held)
        for update_id in held:
            kept = self._received.get(update_id)
            if update_id not in waiting or kept is None:
                self._received.pop(update_id, None)
            elif update_id not in self._inflight:
                await self.payloads.put(update_id, kept[2])

    async def _release(self, update_id: int) -> None:
        """Give a claimed update back (to be handled again); if even that fails, the claim
        goes stale and the recovery loop takes it."""
        try:
            async with transaction(self.sessions) as session:
                await raw_updates.release(session, update_id)
        except Exception as exc:
            log.warning(
                "update.release_failed update_id=%s error=%s", update_id, type(exc).__name__
            )

    async def process(self, update_id: int) -> None:
        async with transaction(self.sessions) as session:
            claimed = await raw_updates.claim(session, update_id)
        if not claimed:
            return
        self._inflight.add(update_id)
        try:
            await self._process_claimed(update_id)
        finally:
            self._inflight.discard(update_id)

    async def keep_up(self, stop: asyncio.Event) -> None:
        """Webhook mode, until ``stop``: renew this process's claims (a slow handler keeps its
        update) and take up updates whose claim went stale, a dead replica's, within seconds
        instead of at the next start."""
        loop = asyncio.get_running_loop()
        renewed = loop.time()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=RECOVER_EVERY)
            if stop.is_set():
                break
            try:
                if loop.time() - renewed >= RENEW_EVERY and self._inflight:
                    async with transaction(self.sessions) as session:
                        await raw_updates.renew(session, sorted(self._inflight))
                    renewed = loop.time()
                await self._restore_held()
                taken = await self.recover()
                if taken:
                    log.info("webhook.recovered count=%s", taken)
            except Exception as exc:  # an outage: try again at the next tick
                log.warning("webhook.keep_up_failed error=%s", type(exc).__name__)

    async def _payload(self, update_id: int) -> bytes | None:
        """The stored payload, or None when it cannot be had: Redis is out (released for the
        recovery loop) or the payload is gone (forgotten, so a retry from Telegram is handled)."""
        try:
            body = await self.payloads.get(update_id)
        except Exception as exc:
            if not is_outage(exc):
                raise
            await self._release(update_id)
            log.warning("webhook.update_deferred update_id=%s", update_id)
            return None
        if body is None:
            # With Redis, the replica that received it keeps it in hand for a while and puts it
            # back (Redis restarted empty): it is given back until then, and dropped only after.
            held = utcnow() - timedelta(seconds=KEEP_RECEIVED_FOR) if self.payloads.shared else None
            async with transaction(self.sessions) as session:
                lost = await raw_updates.forget(session, update_id, received_before=held)
                if not lost:
                    await raw_updates.release(session, update_id)
            log.warning(
                "webhook.%s update_id=%s", "update_lost" if lost else "payload_missing", update_id
            )
        return body

    async def _process_claimed(self, update_id: int) -> None:
        kept = self._received.get(update_id)
        body = None if kept is not None else await self._payload(update_id)
        if kept is None and body is None:
            return
        ok = False
        try:
            update = (
                kept[1]
                if kept is not None
                else Update.model_validate(
                    raw_updates.decode(body or b""), context={"bot": self.bot}
                )
            )
            await self.dp.feed_update(self.bot, update, from_store=True)
            ok = True
        except Exception as exc:
            if is_outage(exc):
                # Not finished and the payload kept: the recovery loop handles it when they are
                # back. (Finishing here marked it failed, or discarded the payload when the
                # database was the one out: the update was lost.)
                metrics.DEFERRED_UPDATES.inc()
                await self._release(update_id)
                log.warning("webhook.update_deferred update_id=%s", update_id)
                return
            # Type only: the message of a validation or database error can quote the update.
            log.error(
                "webhook.update_failed update_id=%s error=%s",
                update_id,
                type(exc).__name__,
                exc_info=exc,
            )
        # A handled update is marked done in its own transaction already (UpdateMiddleware), so
        # if this fails the update is not handled twice: it only leaves a payload to expire.
        self._received.pop(update_id, None)
        async with transaction(self.sessions) as session:
            await raw_updates.finish(session, update_id, ok=ok)
        try:
            await self.payloads.discard(update_id)
        except Exception as exc:  # Redis out: the copy expires by itself (PAYLOAD_TTL)
            if not is_outage(exc):
                raise
            log.warning("webhook.payload_kept update_id=%s", update_id)

    async def recover(self) -> int:
        """Handle what a previous process stored but did not finish (see ``PayloadStore``)."""
        async with transaction(self.sessions) as session:
            pending = await raw_updates.unfinished(session)
        for update_id in pending:
            await self.process(update_id)
        return len(pending)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        await self.drain()
        await self.payloads.close()


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The body, or BodyTooLarge as soon as it passes ``limit`` (the rest is never read)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def webhook_endpoint(
    processor: UpdateProcessor, secret: str
) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint: check the secret in constant time, store, answer 200, then handle."""

    async def telegram_webhook(request: Request) -> Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return JSONResponse({"ok": False, "error": "unauthorized"}, status_code=401)
        try:
            body = await read_body(request)
        except BodyTooLarge:
            return JSONResponse({"ok": False, "error": "too large"}, status_code=413)
        try:
            payload: Any = raw_updates.decode(body)
        except (ValueError, RecursionError):  # also bad UTF-8, and "[[[[..." a million deep
            return JSONResponse({"ok": False, "error": "invalid json"}, status_code=400)
        update_id = payload.get("update_id")
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return JSONResponse({"ok": False, "error": "no update_id"}, status_code=400)
        if not 0 <= update_id < 2**63:  # the column is a 64-bit integer: a 500 on every retry
            return JSONResponse({"ok": False, "error": "bad update_id"}, status_code=400)
        try:
            # What Telegram sends always fits its own schema (aiogram follows it, extra fields
            # allowed); what does not is refused now, not stored to fail in a handler later.
            update = Update.model_validate(payload, context={"bot": processor.bot})
        except ValidationError:
            return JSONResponse({"ok": False, "error": "not an update"}, status_code=400)
        try:
            await processor.receive(update_id, body, update)
        except Exception as exc:
            if not is_outage(exc):
                raise
            # Not stored: Telegram must send it again, so it hears an error, not 200 (it retries
            # with backoff for up to a day). Type only: the error may quote the update.
            log.warning("webhook.refused_outage error=%s", type(exc).__name__)
            return JSONResponse(
                {"ok": False, "error": "unavailable"},
                status_code=503,
                headers={"Retry-After": str(RETRY_AFTER_OUTAGE)},
            )
        return JSONResponse({"ok": True})

    return telegram_webhook
