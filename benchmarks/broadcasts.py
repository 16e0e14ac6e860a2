"""Organiser broadcasts at scale: the audience preview, the fan-out into the outbox, and cancelling.

    .venv/bin/python -m benchmarks.broadcasts [--database URL] [--followers 1000000]

(default database: postgresql+asyncpg://postgres@127.0.0.1:5432/wv_bench_broadcasts)

Data: 500 factories in Bangladesh, ``--followers`` workers (bn / en / hi) all following one topic
and half of them a second topic. The message has Bangla and English versions and no fallback, so
Hindi speakers are counted as unreached and not queued.

1. preview: ``preview_audience`` (the console's audience table) for the big topic.
2. fan-out, one replica: one broadcast to the big topic; rows queued per second, duplicates.
3. fan-out, two replicas: two broadcasts at once (one per topic), each claimed by one replica.
4. cancel: withdrawing every undelivered message of the first broadcast.

The database is recreated on each run.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from sqlalchemy import text

from benchmarks.committees import _recreate
from bot.storage.broadcasts import Broadcast
from bot.storage.db import create_engine, create_sessionmaker, transaction
from services.broadcasts import messages
from services.broadcasts.messages import BroadcastInput
from services.broadcasts.topics import TopicInput, do_create_topic
from services.scope import Scope

FACTORIES = 500

SEED = [
    """INSERT INTO factories (code, name, country_code, timezone, languages, active, created_at)
       SELECT 'BB-' || i, 'Factory ' || i, 'BD', 'Asia/Dhaka', '["bn", "en"]', true, now()
       FROM generate_series(1, :factories) AS i""",
    """INSERT INTO users (telegram_id, locale, consent_at, factory_id, active, created_at)
       SELECT 2000000000 + i, (ARRAY['bn', 'bn', 'bn', 'en', 'hi'])[1 + i % 5], now(),
              (SELECT min(id) FROM factories) + i % :factories, true, now()
       FROM generate_series(1, :followers) AS i""",
    """INSERT INTO broadcast_subscriptions (user_id, topic_id, created_at)
       SELECT id, :big, now() FROM users""",
    """INSERT INTO broadcast_subscriptions (user_id, topic_id, created_at)
       SELECT id, :half, now() FROM users WHERE id % 2 = 0""",
]


def _input(topic_id: int, title: str) -> BroadcastInput:
    return BroadcastInput(
        topic_id=topic_id,
        title=title,
        countries=["BD"],
        texts={"bn": "শুক্রবার গেটে সভা।", "en": "Meeting on Friday at the gate."},
        default_locale="en",
    )


async def _topics(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    async with transaction(sessions) as session:
        ids = [
            (
                await do_create_topic(
                    session,
                    TopicInput(key, "BD", "en", {"en": key}),
                    scope=Scope.everywhere(),
                    actor=None,
                )
            ).id
            for key in ("big-topic", "half-topic")
        ]
    await engine.dispose()
    return ids[0], ids[1]


async def _seed(url: str, followers: int, big: int, half: int) -> None:
    engine = create_engine(url)
    params = dict(factories=FACTORIES, followers=followers, big=big, half=half)
    async with engine.begin() as conn:
        for statement in SEED:
            await conn.execute(text(statement), params)
        await conn.execute(text("ANALYZE"))
    await engine.dispose()


async def _schedule(url: str, topic_id: int, title: str) -> int:
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    async with transaction(sessions) as session:
        b = await messages.do_create(
            session, _input(topic_id, title), scope=Scope.everywhere(), actor=None
        )
        await messages.do_schedule(session, b, scope=Scope.everywhere(), actor=None)
        broadcast_id = b.id
    await engine.dispose()
    return broadcast_id


async def _replica(url: str, name: str) -> tuple[str, list[int], float]:
    engine = create_engine(url, pool_size=2)
    started = time.perf_counter()
    done = await messages.fan_out_due(create_sessionmaker(engine), worker=name)
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return name, done, elapsed


async def _queued(url: str, broadcast_id: int) -> tuple[int, int]:
    engine = create_engine(url)
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    """SELECT count(*), count(DISTINCT user_id) FROM outbox
                       WHERE dedupe_key LIKE 'broadcast:' || :id || ':user:%'"""
                ),
                {"id": str(broadcast_id)},
            )
        ).one()
    await engine.dispose()
    return int(row[0]), int(row[1])


async def run(url: str, followers: int) -> dict[str, Any]:
    await _recreate(url)
    big, half = await _topics(url)
    started = time.perf_counter()
    await _seed(url, followers, big, half)
    out: dict[str, Any] = {"seed_s": round(time.perf_counter() - started, 1)}

    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    timings = []
    for _ in range(5):
        async with sessions() as session:
            started = time.perf_counter()
            preview = await messages.preview_audience(session, _input(big, "preview"), k=5)
            timings.append(time.perf_counter() - started)
    out["preview_ms_median"] = round(sorted(timings)[2] * 1000)
    out["preview"] = (preview.opted_in, preview.reached, preview.unreached)

    first = await _schedule(url, big, "one replica")
    _name, _done, elapsed = await _replica(url, "replica-a")
    rows, people = await _queued(url, first)
    out["one_replica"] = {
        "queued": rows,
        "distinct_workers": people,
        "seconds": round(elapsed, 1),
        "rows_per_s": round(rows / elapsed),
    }

    second = await _schedule(url, big, "two replicas: big")
    third = await _schedule(url, half, "two replicas: half")
    started = time.perf_counter()
    results = await asyncio.gather(_replica(url, "replica-a"), _replica(url, "replica-b"))
    elapsed = time.perf_counter() - started
    totals = [await _queued(url, b) for b in (second, third)]
    out["two_replicas"] = {
        "claimed": {name: done for name, done, _ in results},
        "queued": [t[0] for t in totals],
        "duplicates": sum(t[0] - t[1] for t in totals),
        "seconds": round(elapsed, 1),
        "rows_per_s": round(sum(t[0] for t in totals) / elapsed),
    }

    async with transaction(sessions) as session:
        broadcast = await session.get(Broadcast, first)
        assert broadcast is not None
        started = time.perf_counter()
        withdrawn = await messages.do_cancel(session, broadcast, actor=None)
    out["cancel"] = {"withdrawn": withdrawn, "seconds": round(time.perf_counter() - started, 1)}
    await engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database", default="postgresql+asyncpg://postgres@127.0.0.1:5432/wv_bench_broadcasts"
    )
    parser.add_argument("--followers", type=int, default=1_000_000)
    args = parser.parse_args()
    for key, value in asyncio.run(run(args.database, args.followers)).items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
