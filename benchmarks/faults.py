"""The reliability figures of issue 18, measured on the real process (``workvoice run``) against
the in-process fake Bot API: a backlog handled after downtime, memory, and recovery after kill -9.

    .venv/bin/python -m benchmarks.faults backlog [--updates 20000] [--workers 5000] [--database URL]
    .venv/bin/python -m benchmarks.faults recovery [--mode polling|webhook] [--database URL]

``backlog``: the updates wait at Telegram before the bot starts (as after an outage); reports the
time until every one is answered, answers per worker (each exactly once), "sorry" replies and the
process's peak RSS (VmHWM). With one update per worker it is also the memory after that many
people wrote. ``recovery``: traffic flows, the process is killed (SIGKILL) and started again;
reports the seconds from the restart command until it serves and until the first new answer.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

from tests.faults import ThrowawayRedis
from tests.test_faults import SECRET, BotProcess, Front, Traffic, base_env
from workvoice.demo.simulator.server import FakeTelegram


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def backlog(updates: int, workers: int, database: str | None) -> None:
    telegram = FakeTelegram()
    await telegram.start()
    workdir = Path(tempfile.mkdtemp(prefix="wv-bench-"))
    bot = BotProcess(base_env(telegram, workdir, database), workdir, "backlog")
    traffic = Traffic(telegram, 5_000_000)
    traffic.ids = list(range(5_000_000, 5_000_000 + workers))
    traffic.sent = dict.fromkeys(traffic.ids, 0)
    for n in range(updates):  # queued at Telegram while the bot was down
        worker = traffic.ids[n % workers]
        telegram.push_update(telegram.make_message_update(worker, "/start"))
        traffic.sent[worker] += 1
    started = time.monotonic()
    await bot.start()
    assert bot.process is not None
    deadline = time.monotonic() + 3600
    while any(n < traffic.sent[w] for w, n in traffic.answers().items()):
        assert time.monotonic() < deadline, "not drained within an hour"
        await asyncio.sleep(0.5)
    elapsed = time.monotonic() - started
    await asyncio.sleep(2)
    rss = peak_rss_mb(bot.process.pid)
    answers = traffic.answers()
    print(
        f"backlog updates={updates} workers={workers} database={'PostgreSQL' if database else 'SQLite'}"
        f" drained_in={elapsed:.1f}s rate={updates / elapsed:.0f}/s"
        f" answered_once={sum(answers[w] == traffic.sent[w] for w in traffic.ids)}/{workers}"
        f" duplicates={traffic.duplicates()} sorry={traffic.sorry()} peak_rss={rss:.0f}MB"
    )
    await bot.terminate()
    await telegram.stop()


async def recovery(mode: str, database: str | None, rounds: int) -> None:
    telegram = FakeTelegram()
    await telegram.start()
    workdir = Path(tempfile.mkdtemp(prefix="wv-bench-"))
    env = base_env(telegram, workdir, database)
    redis = None
    if mode == "webhook":
        redis = ThrowawayRedis(workdir)
        redis.start()
        env.update(
            WORKVOICE_REDIS_URL=redis.url,
            WORKVOICE_WEBHOOK_URL="https://bot.example.org/telegram/webhook",
            WORKVOICE_WEBHOOK_SECRET=SECRET,
        )
    bot = BotProcess(env, workdir, mode)
    front = Front(telegram, [bot]) if mode == "webhook" else None
    traffic = Traffic(telegram, 6_000_000)
    await bot.start()
    for _ in range(rounds):
        burst = asyncio.create_task(traffic.send(20, spread=20.0))
        await asyncio.sleep(random.uniform(3, 6))
        before = sum(traffic.answers().values())
        bot.kill()
        assert bot.process is not None
        await bot.process.wait()
        restarted = time.monotonic()
        serving = await bot.start()
        while sum(traffic.answers().values()) <= before:
            await asyncio.sleep(0.02)
        answering = time.monotonic() - restarted
        await burst
        if front is not None:
            await front.drain()
        await traffic.all_answered()
        print(
            f"recovery mode={mode} database={'PostgreSQL' if database else 'SQLite'}"
            f" serving_after={serving:.1f}s first_answer_after={answering:.1f}s"
            f" lost=0 duplicates_so_far={traffic.duplicates()} sorry={traffic.sorry()}"
        )
    await bot.terminate()
    if front is not None:
        await front.close()
    if redis is not None:
        redis.kill()
    await telegram.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["backlog", "recovery"])
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=5_000)
    parser.add_argument("--mode", choices=["polling", "webhook"], default="polling")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", default=None, help="default: SQLite in a temporary folder")
    args = parser.parse_args()
    if args.scenario == "backlog":
        asyncio.run(backlog(args.updates, args.workers, args.database))
    else:
        asyncio.run(recovery(args.mode, args.database, args.rounds))


if __name__ == "__main__":
    main()
