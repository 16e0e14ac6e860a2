"""Outbound delivery across replicas, end to end: outbox → render → Telegram, as a ratio to
Telegram's limits (issue 18).

    .venv/bin/python -m benchmarks.outbound free [--replicas 2] [--messages 750]
    .venv/bin/python -m benchmarks.outbound paid [--replicas 2] [--messages 20000] [--rate 800]
    [--database postgresql+asyncpg://postgres@127.0.0.1:5432/wv_bench_outbound]
    [--redis redis://127.0.0.1:6379/0]

One broadcast to ``--messages`` workers is fanned out into the outbox of a fresh PostgreSQL
database; ``--replicas`` processes then each run the product's delivery loop (``free``: the
``Deliverer`` at the default 25/s; ``paid``: an urgent broadcast through the ``PaidDeliverer``
at ``--rate``), sharing the send budget through Redis, against one fake Bot API in this process
that notes when each message arrived. Reported: the combined rate from the first message to the
last, as a ratio to Telegram's 30/s (free) or 1,000/s (paid), the most messages in any one-second
window (what Telegram counts), messages per replica, and duplicates (any chat that got two).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

from sqlalchemy import func, select, text

from benchmarks.committees import _recreate
from benchmarks.rate_limit import _most_in_one_second
from bot.storage.db import create_engine, create_sessionmaker, transaction
from bot.storage.models import OutboxMessage, OutboxStatus, Staff, StaffRole
from services.broadcasts import messages
from services.broadcasts.topics import TopicInput, do_create_topic
from services.scope import Scope
from workvoice.demo.simulator.server import FakeTelegram

FIRST_ID = 3_000_000_000
TELEGRAM = {"free": 30.0, "paid": 1000.0}


class TimedTelegram(FakeTelegram):
    """Notes when each message arrived and whether it was paid."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, int, bool]] = []

    async def _m_sendmessage(self, p: dict[str, Any]) -> Any:
        result = await super()._m_sendmessage(p)
        paid = str(p.get("allow_paid_broadcast")).lower() == "true"
        self.arrivals.append((time.monotonic(), int(p["chat_id"]), paid))
        return result


async def _seed(url: str, count: int, *, urgent: bool) -> None:
    await _recreate(url)
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    async with transaction(sessions) as session:
        topic = await do_create_topic(
            session,
            TopicInput("news", "BD", "en", {"en": "News"}),
            scope=Scope.everywhere(),
            actor=None,
        )
        for sql in (
            """INSERT INTO factories (code, name, country_code, timezone, languages, active,
               created_at) VALUES ('BB-1', 'Factory', 'BD', 'Asia/Dhaka', '["en"]', true, now())""",
            """INSERT INTO users (telegram_id, locale, consent_at, factory_id, active, created_at)
               SELECT CAST(:first AS BIGINT) + i, 'en', now(), (SELECT min(id) FROM factories), true, now()
               FROM generate_series(1, :count) AS i""",
            """INSERT INTO broadcast_subscriptions (user_id, topic_id, created_at)
               SELECT id, :topic, now() FROM users""",
        ):
            await session.execute(text(sql), {"first": FIRST_ID, "count": count, "topic": topic.id})
        manager = Staff(email="m@example.org", name="M", role=StaffRole.COUNTRY_MANAGER)
        session.add(manager)
        await session.flush()
        broadcast = await messages.do_create(
            session,
            messages.BroadcastInput(
                topic_id=topic.id,
                title="Bench",
                countries=["BD"],
                texts={"en": "The east stairs are closed today."},
                default_locale="en",
            ),
            scope=Scope.everywhere(),
            actor=None,
        )
        await messages.do_schedule(
            session,
            broadcast,
            scope=Scope.everywhere(),
            actor=manager,
            urgent=urgent,
            paid_broadcasts=urgent,
        )
    await messages.fan_out_due(sessions, worker="bench", at_night=True, paid=urgent)
    await engine.dispose()


async def _replica(url: str, api: str, redis: str, prefix: str, paid: bool, rate: float) -> int:
    import bot.flows.broadcasts  # registers the broadcast renderer
    from bot.delivery import Deliverer
    from bot.paid_delivery import PaidDeliverer
    from bot.ratelimit import RedisRateLimiter
    from bot.runtime import create_bot

    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    bot = create_bot("123456:TEST-token", api)
    limiter = RedisRateLimiter.from_url(redis, prefix=prefix, paid_per_second=rate)
    lane = (
        PaidDeliverer(bot, sessions, limiter=limiter)
        if paid
        else Deliverer(bot, sessions, limiter=limiter, only_free=True)
    )
    handled = 0
    while True:
        done = await lane.run_once()
        handled += done
        if done:
            continue
        async with sessions() as session:
            waiting = await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == OutboxStatus.PENDING)
            )
        if not waiting:
            break
        await asyncio.sleep(0.2)
    await limiter.close()
    await bot.session.close()
    await engine.dispose()
    return handled


def _run_replica(*args: Any) -> int:
    profile = os.environ.get("BENCH_PROFILE")  # a path: where to write a replica's cProfile
    if not profile:
        return asyncio.run(_replica(*args))
    import cProfile

    with cProfile.Profile() as prof:
        handled = asyncio.run(_replica(*args))
    prof.dump_stats(f"{profile}.{os.getpid()}")
    return handled


async def run(args: argparse.Namespace) -> None:
    paid = args.lane == "paid"
    await _seed(args.database, args.messages, urgent=paid)
    telegram = TimedTelegram()
    for n in range(1, args.messages + 1):
        telegram.user(FIRST_ID + n)
    await telegram.start()
    prefix = f"bench-outbound-{uuid.uuid4().hex[:8]}"
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(args.replicas, mp_context=get_context("spawn")) as pool:
        jobs = [
            loop.run_in_executor(
                pool,
                _run_replica,
                args.database,
                telegram.base_url,
                args.redis,
                prefix,
                paid,
                args.rate,
            )
            for _ in range(args.replicas)
        ]
        handled = await asyncio.gather(*jobs)
    await telegram.stop()
    times = sorted(at for at, _chat, _paid in telegram.arrivals)
    chats = Counter(chat for _at, chat, _paid in telegram.arrivals)
    span = times[-1] - times[0]
    rate = (len(times) - 1) / span if span else 0.0
    print(
        f"outbound lane={args.lane} replicas={args.replicas} messages={args.messages}"
        f" delivered={len(times)} paid={sum(p for _a, _c, p in telegram.arrivals)}"
        f" duplicates={sum(n - 1 for n in chats.values() if n > 1)}"
        f" missing={args.messages - len(chats)}"
        f" rate={rate:.2f}/s ratio_to_telegram={rate / TELEGRAM[args.lane]:.3f}"
        f" most_in_1s={_most_in_one_second(times)} per_replica={handled}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("lane", choices=["free", "paid"])
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--messages", type=int, default=0)
    parser.add_argument("--rate", type=float, default=800.0)
    parser.add_argument(
        "--database", default="postgresql+asyncpg://postgres@127.0.0.1:5432/wv_bench_outbound"
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    args.messages = args.messages or (750 if args.lane == "free" else 20_000)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
