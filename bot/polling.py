"""Long polling that lets go of an update only once it is handled (issue 18, §1 and §2).

aiogram's own polling tells Telegram an update is done (the next getUpdates' ``offset``) as soon
as it has read it, before its handler ran: an update in flight at a crash, a SIGTERM or a
database outage was lost, and a backlog became thousands of tasks queueing for ten database
connections. Here a batch is confirmed to Telegram only after each of its updates is handled and
marked done in the database. A crash makes Telegram hand the batch over again, and the stored
update ids skip what was done already (``bot.updates``); a database outage keeps the batch and
tries it again. Backpressure comes with it: one batch (Telegram's at most 100) in flight, at most
``concurrency`` handlers at once (what the database pool serves), each chat's updates in order.

Only one process may poll a bot (Telegram answers a second getUpdates with 409 Conflict), so
nothing is claimed: an update's handler records it done in its own transaction, and an update
not recorded done is simply handled when its batch comes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Sequence

from aiogram import Bot
from aiogram.exceptions import TelegramConflictError, TelegramNetworkError, TelegramServerError
from aiogram.types import Update

from bot.runtime import Deferred, UpdateProcessor

log = logging.getLogger(__name__)
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0


def chat_of(update: Update) -> int | None:
    """The chat an update belongs to (its order matters within it), if any."""
    source = update.message or update.callback_query or update.my_chat_member
    if source is None:
        return None
    if update.callback_query is not None:
        message = update.callback_query.message
        return message.chat.id if message is not None else update.callback_query.from_user.id
    chat = getattr(source, "chat", None)
    return chat.id if chat is not None else None


class Poller:
    def __init__(
        self,
        bot: Bot,
        processor: UpdateProcessor,
        *,
        concurrency: int,
        allowed_updates: Sequence[str],
        timeout: int = 25,
    ) -> None:
        self.bot, self.processor = bot, processor
        self.allowed_updates = list(allowed_updates)
        self.timeout = timeout
        self.slots = asyncio.Semaphore(max(1, concurrency))

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; the batch in hand is finished first (SIGTERM)."""
        offset: int | None = None
        backoff = BACKOFF_FIRST
        while not stop.is_set():
            try:
                batch = await self._next(offset, stop)
            except (TelegramNetworkError, TelegramServerError, TelegramConflictError) as exc:
                log.warning("polling.get_updates_failed error=%s", type(exc).__name__)
                await _pause(stop, backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            if not batch:
                continue
            try:
                await self.handle_batch(batch)
            except Exception as exc:  # the database (or Redis) is out: keep the batch
                log.warning(
                    "polling.batch_deferred first_update_id=%s size=%s error=%s",
                    batch[0].update_id,
                    len(batch),
                    type(exc).__name__,
                )
                await _pause(stop, backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            backoff = BACKOFF_FIRST
            offset = batch[-1].update_id + 1  # now Telegram may forget them
        if offset is not None:
            # Confirm the last batch handled, so the next start does not read it again (it
            # would be skipped, but that costs a round of lookups).
            try:
                await self.bot.get_updates(offset=offset, timeout=0, limit=1)
            except Exception as exc:
                log.info("polling.final_confirm_failed error=%s", type(exc).__name__)

    async def _next(self, offset: int | None, stop: asyncio.Event) -> list[Update]:
        request = asyncio.ensure_future(
            self.bot.get_updates(
                offset=offset,
                timeout=self.timeout,
                allowed_updates=self.allowed_updates,
                request_timeout=self.timeout + 10,
            )
        )
        stopping = asyncio.ensure_future(stop.wait())
        done, _pending = await asyncio.wait(
            {request, stopping}, return_when=asyncio.FIRST_COMPLETED
        )
        stopping.cancel()
        if request not in done:
            request.cancel()
            return []
        return list(request.result())

    async def handle_batch(self, batch: Sequence[Update]) -> None:
        """Every update of ``batch`` handled (or found done); raises ``Deferred`` (or the
        outage's own error) when any of them must wait for the database to come back."""
        by_chat: dict[int | None, list[Update]] = defaultdict(list)
        for update in batch:
            by_chat[chat_of(update)].append(update)
        lanes = [self._lane(updates) for chat, updates in by_chat.items() if chat is not None]
        lanes += [self._lane([u]) for u in by_chat.get(None, [])]
        results = await asyncio.gather(*lanes, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _lane(self, updates: list[Update]) -> None:
        """One chat's updates, in order; a deferred one stops the rest of its chat."""
        for update in updates:
            async with self.slots:
                await self.processor.handle(update)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


__all__ = ["Deferred", "Poller", "chat_of"]
