"""Committee reminders at scale: how fast the dispatcher claims due reminder tasks and queues one
message per member, how late reminders leave, and whether two replicas ever send one twice.

    .venv/bin/python -m benchmarks.committees [--database postgresql+asyncpg://postgres@127.0.0.1:5432/wv_bench_committees]

Data: 1,000 factories, 10,000 committees with 10 seats each (100,000 members, each a worker with
a language), one upcoming meeting per committee (10,000 meetings). Two dispatchers ("replicas")
run concurrently on separate engines (separate connection pools), as two processes would.

1. burst: every meeting at the same local time (a country's committees all meeting on the first
   Tuesday at 14:00), so 10,000 reminder tasks fall due in the same second: 100,000 messages.
2. steady: tasks falling due at a fixed rate for 60 s.

In both, the two replicas run the scheduler job every second (as ``JOBS`` does). Lag = when the
message was ready for the delivery loop (written, and due: reminders are written up to
``jobs.REMINDER_LEAD`` ahead) minus when the reminder was due.

The database is recreated on each run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.storage import migrate
from bot.storage.db import create_engine, create_sessionmaker
from services.committees import jobs
from workvoice.context import AppContext
from workvoice.kernel.settings import load_settings

FACTORIES, COMMITTEES, SEATS = 1_000, 10_000, 10


async def _recreate(url: str) -> None:
    import asyncpg

    parsed = make_url(url)
    admin = await asyncpg.connect(
        f"postgresql://{parsed.username}@{parsed.host}:{parsed.port or 5432}/postgres"
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await admin.close()
    await asyncio.to_thread(migrate.upgrade, url)


SEED = [
    """INSERT INTO factories (code, name, country_code, timezone, languages, active, created_at)
       SELECT 'BF-' || i, 'Factory ' || i, 'KH', 'Asia/Phnom_Penh', '["km", "en"]', true, now()
       FROM generate_series(1, :factories) AS i""",
    """INSERT INTO users (telegram_id, locale, consent_at, active, created_at)
       SELECT 1000000000 + i, (ARRAY['km', 'vi', 'en'])[1 + i % 3], now(), true, now()
       FROM generate_series(1, :members) AS i""",
    """INSERT INTO committees (factory_id, kind, name, quorum, reminder_offsets, duration_minutes,
                               location, materialised_until, active, created_at)
       SELECT (SELECT min(id) FROM factories) + i % :factories, 'picc', 'PICC ' || i, 0.5,
              '[4320, 1440, 120]', 120, 'Room 1', now() + interval '365 days', true, now()
       FROM generate_series(1, :committees) AS i""",
    """INSERT INTO committee_members (committee_id, user_id, display_name, side, role, gender,
                                      status, joined_at)
       SELECT c.id, u.id, 'Member', CASE WHEN u.n % 2 = 0 THEN 'worker' ELSE 'management' END,
              'member', CASE WHEN u.n % 3 = 0 THEN 'man' ELSE 'woman' END, 'active', now()
       FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM users) u
       JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM committees) c
         ON c.n = u.n / :seats""",
    """INSERT INTO committee_meetings (committee_id, occurrence, starts_at, location, status,
                                       created_at)
       SELECT id, 'bench', now() + interval '3 days', 'Room 1', 'planned', now()
       FROM committees""",
]


async def seed(url: str) -> None:
    engine = create_engine(url)
    params = dict(
        factories=FACTORIES, members=COMMITTEES * SEATS, committees=COMMITTEES, seats=SEATS
    )
    async with engine.begin() as conn:
        for statement in SEED:
            await conn.execute(text(statement), params)
        await conn.execute(text("ANALYZE"))
    await engine.dispose()


async def add_tasks(url: str, due: list[datetime], tag: str) -> None:
    """One reminder task per meeting, meeting ``i`` due at ``due[i % len(due)]``."""
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                """INSERT INTO committee_tasks (key, kind, meeting_id, due_at, expires_at)
                   SELECT 'bench:' || :tag || ':' || m.id, 'reminder', m.id,
                          (CAST(:due AS timestamptz[]))[1 + (row_number() OVER (ORDER BY m.id) - 1) % :n],
                          m.starts_at
                   FROM committee_meetings m"""
            ),
            {"tag": tag, "due": due, "n": len(due)},
        )
    await engine.dispose()


def _replica(url: str) -> AppContext:
    engine = create_engine(url, pool_size=2)
    return AppContext(settings=load_settings(), engine=engine, sessions=create_sessionmaker(engine))


async def _results(url: str, tag: str) -> dict[str, Any]:
    engine = create_engine(url)
    async with engine.connect() as conn:
        lags = [
            row[0]
            for row in (
                await conn.execute(
                    text(
                        # Ready = written and due (reminders are written up to a minute ahead).
                        """SELECT extract(epoch FROM greatest(o.created_at, o.due_at) - t.due_at)
                           FROM outbox o
                           JOIN committee_tasks t
                             ON t.id = split_part(o.dedupe_key, ':', 2)::bigint
                           WHERE o.dedupe_key LIKE 'cmr:%'
                             AND t.key LIKE 'bench:' || :tag || ':%'"""
                    ),
                    {"tag": tag},
                )
            ).all()
        ]
        per_replica = dict(
            (
                await conn.execute(
                    text(
                        """SELECT claimed_by, count(*) FROM committee_tasks
                           WHERE key LIKE 'bench:' || :tag || ':%' GROUP BY claimed_by"""
                    ),
                    {"tag": tag},
                )
            ).all()
        )
        # Each scenario gives a meeting one reminder task: a member with two messages for one
        # meeting would be a duplicate (the dedupe key alone could not show a double claim).
        duplicates = await conn.scalar(
            text(
                """SELECT count(*) FROM (
                     SELECT user_id, params->>'meeting_id' FROM outbox
                     WHERE kind = 'committees.reminder'
                     GROUP BY user_id, params->>'meeting_id' HAVING count(*) > 1) d"""
            )
        )
        await conn.execute(text("DELETE FROM outbox"))
        await conn.commit()
    await engine.dispose()
    lags.sort()
    return {
        "messages": len(lags),
        "per_replica": per_replica,
        "duplicates": duplicates,
        "lag_p50": statistics.median(lags) if lags else None,
        "lag_p99": lags[int(len(lags) * 0.99) - 1] if lags else None,
        "lag_max": lags[-1] if lags else None,
    }


async def _scheduled_replicas(url: str, end: datetime) -> None:
    """Two replicas running the scheduler job every second, not in step, until ``end``."""
    replicas = [_replica(url), _replica(url)]

    async def loop(ctx: AppContext, name: str, offset: float) -> None:
        await asyncio.sleep(offset)
        while datetime.now(UTC) < end:
            tick = time.perf_counter()
            await jobs.extend_horizons(ctx)
            await jobs.run_due(ctx, worker=name)
            await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - tick)))

    await asyncio.gather(loop(replicas[0], "replica-0", 0.0), loop(replicas[1], "replica-1", 0.5))
    for r in replicas:
        await r.close()


async def burst(url: str) -> dict[str, Any]:
    """Every meeting's reminder due in the same second, 30 s from now, with both replicas running
    the job every second as the scheduler does (so the reminder lead time can do its work)."""
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=30)
    await add_tasks(url, [due], "burst")
    started = time.perf_counter()
    await _scheduled_replicas(url, due + timedelta(seconds=15))
    elapsed = time.perf_counter() - started
    result = await _results(url, "burst")
    result.update(seconds=elapsed)
    return result


async def steady(url: str, *, seconds: int, per_second: int) -> dict[str, Any]:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    count = seconds * per_second
    # Due times spread evenly over the window (the first ``count`` meetings get a task).
    due = [start + timedelta(seconds=i / per_second) for i in range(count)]
    await add_tasks(url, due, "steady")
    engine = create_engine(url)
    async with engine.begin() as conn:  # only ``count`` tasks: the rest would repeat due times
        await conn.execute(
            text(
                """DELETE FROM committee_tasks WHERE key LIKE 'bench:steady:%' AND id NOT IN (
                     SELECT id FROM committee_tasks WHERE key LIKE 'bench:steady:%'
                     ORDER BY id LIMIT :n)"""
            ),
            {"n": count},
        )
    await engine.dispose()
    await _scheduled_replicas(url, start + timedelta(seconds=seconds + 3))
    result = await _results(url, "steady")
    result.update(tasks=count, rate=f"{per_second} reminders/s ({per_second * SEATS} messages/s)")
    return result


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--database", default="postgresql+asyncpg://postgres@127.0.0.1:5432/wv_bench_committees"
    )
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rate", type=int, default=20, help="reminder tasks due per second")
    args = parser.parse_args()
    started = time.perf_counter()
    await _recreate(args.database)
    await seed(args.database)
    print(f"seeded in {time.perf_counter() - started:.1f} s")
    print("burst:", await burst(args.database))
    print("steady:", await steady(args.database, seconds=args.seconds, per_second=args.rate))


if __name__ == "__main__":
    asyncio.run(main())
