"""The paid lane: urgent broadcasts sent with Telegram's paid broadcasts, up to ~1,000 a second.

Telegram lets a bot that pays 0.1 Star a message (``allow_paid_broadcast``) send far past the free
30 a second. At that pace a message cannot hold one of the pool's few database connections while
it is on the wire, as the free lane's does: here a batch is rendered in one transaction, sent by
many tasks at once with no connection held, and the outcomes are written together a few times a
second. Claims are renewed until each outcome is written, and a part is sent only while the
batch's claim is fresh, so another replica never takes over a message this one may still send.

A message sent just before the process died, whose outcome was not yet written, is sent again by
the replica that takes the claim over: as in the free lane, but for up to ``IN_FLIGHT`` messages
and a quarter of a second of outcomes rather than one. When Telegram refuses payment (the Stars
ran out) the message goes back to the free lane at once, with every urgent message still waiting:
urgent news that arrives slowly beats news that does not arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiogram import Bot
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery import PRELOADERS, Deliverer, Outcome, Outgoing, by_kind, record, stop_task
from bot.ratelimit import SendLimiter
from bot.storage.db import transaction
from bot.storage.models import OutboxMessage, Staff, User
from services import outbox
from workvoice.kernel.settings import Settings

log = logging.getLogger(__name__)

IN_FLIGHT = 100  # sends at once: Telegram's round trip (~0.1 s) × 1,000 a second
FLUSH_EVERY = 0.25  # seconds between writes of the outcomes
# How long the last write of a batch's outcomes is retried through an outage before the batch
# is left to the claim's expiry (the messages are sent; only their outcomes wait).
FINAL_WRITE_FOR = 60.0


class PaidDeliverer(Deliverer):
    def __init__(
        self,
        bot: Bot,
        sessions: async_sessionmaker[AsyncSession],
        *,
        limiter: SendLimiter | None = None,
        batch: int = 500,
        settings: Settings | None = None,
    ) -> None:
        super().__init__(bot, sessions, limiter=limiter, batch=batch, settings=settings)
        self.lane = True
        # What a batch's renderers read, held while it renders: the session's identity map keeps
        # objects only while someone refers to them.
        self._loaded: list[object] = []

    async def run_once(self) -> int:
        claimed = await self._claim()
        if not claimed:
            return 0
        # Ids whose outcome is not yet written: their claims are renewed until it is.
        unwritten = list(claimed)
        keeper = asyncio.create_task(self._keep_claims(unwritten))
        outcomes: list[tuple[OutboxMessage, Outcome]] = []
        try:
            ready: list[Outgoing] = []
            async with transaction(self.sessions) as session:
                for message in await self._load(session, claimed):
                    prepared = await self._prepare(session, message)
                    if isinstance(prepared, Outgoing):
                        ready.append(prepared)
                    else:
                        outcomes.append((message, prepared))
            all_sent = asyncio.Event()
            writer = asyncio.create_task(self._keep_writing(outcomes, unwritten, all_sent))
            try:
                await self._send_all(ready, outcomes, unwritten)
            finally:
                # The writer is let finish, never cancelled: cut between its commit and its
                # bookkeeping, it would write the same outcomes (and broadcast counts) again.
                all_sent.set()
                await writer
        finally:
            self._loaded = []
            await stop_task(keeper)
        return len(claimed)

    async def _load(self, session: AsyncSession, ids: list[int]) -> list[OutboxMessage]:
        """The claimed rows, with their recipients and whatever their renderers read loaded in a
        few queries: row by row, rendering took most of the lane's time."""
        query = select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
        rows = list(await session.scalars(query))
        users = sorted({m.user_id for m in rows if m.user_id is not None})
        staff = sorted({m.staff_id for m in rows if m.staff_id is not None})
        self._loaded = []
        if users:
            self._loaded += (await session.scalars(select(User).where(User.id.in_(users)))).all()
        if staff:
            self._loaded += (await session.scalars(select(Staff).where(Staff.id.in_(staff)))).all()
        for kind, of_kind in by_kind(rows).items():
            preload = PRELOADERS.get(kind)
            if preload is not None:
                self._loaded += await preload(session, of_kind)
        return rows

    async def _send_all(
        self,
        ready: list[Outgoing],
        outcomes: list[tuple[OutboxMessage, Outcome]],
        unwritten: list[int],
    ) -> None:
        slots = asyncio.Semaphore(IN_FLIGHT)

        async def fresh() -> bool:
            # The batch's claims were taken or renewed by this process that recently: no other
            # replica may take them over before CLAIM_TIMEOUT (outbox.may_send, without a read).
            return time.monotonic() - self.renewed_at < outbox.SEND_WITHIN.total_seconds()

        async def send(out: Outgoing) -> None:
            async with slots:
                outcome = await self._transmit(out, fresh, paid=True)
            if outcome is None:  # the claim went stale: the replica that takes it over sends it
                log.info("outbox.claim_lost id=%s", out.message.id)
                unwritten.remove(out.message.id)
            else:
                outcomes.append((out.message, outcome))

        await asyncio.gather(*(send(out) for out in ready))

    async def _keep_writing(
        self,
        outcomes: list[tuple[OutboxMessage, Outcome]],
        unwritten: list[int],
        all_sent: asyncio.Event,
    ) -> None:
        """Write the outcomes every FLUSH_EVERY while the batch is sent, then what is left,
        retried through an outage for up to FINAL_WRITE_FOR."""
        while not all_sent.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_sent.wait(), timeout=FLUSH_EVERY)
            try:
                await self._write(outcomes, unwritten)
            except Exception as exc:  # an outage: kept, and written by the next round
                log.warning("outbox.paid_write_failed error=%s", type(exc).__name__)
        until = time.monotonic() + FINAL_WRITE_FOR
        while outcomes:
            try:
                await self._write(outcomes, unwritten)
            except Exception:
                if time.monotonic() > until:
                    raise
                await asyncio.sleep(1.0)

    async def _write(
        self, outcomes: list[tuple[OutboxMessage, Outcome]], unwritten: list[int]
    ) -> None:
        """Write the outcomes gathered so far in one transaction; kept for the next round if it
        fails."""
        taken = outcomes[:]
        if not taken:
            return
        async with transaction(self.sessions) as session:
            await record(session, taken)
            refused = sum(outcome.unpaid for _message, outcome in taken)
            if refused:
                moved = await outbox.stop_paying(session)
                log.warning("outbox.paid_refused moved_to_free_lane=%s", moved + refused)
        del outcomes[: len(taken)]
        for message, _outcome in taken:
            unwritten.remove(message.id)
