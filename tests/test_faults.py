"""The bot broken on purpose, as a separate process (issue 18): killed with SIGKILL or stopped
with SIGTERM mid-traffic, in polling mode and in webhook mode with two replicas behind a retrying
front; PostgreSQL stopped and hung under it. Reduced sizes here; the figures are in
BENCHMARKS.md (``benchmarks/faults.py`` runs the same scenarios at full size).

What must hold whatever happens: every message a worker sent is answered (none lost), none is
answered "sorry", and an update is handled twice only if the process died between sending its
answer and recording it as done (at most the updates in flight at that moment).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PG_UP, _create_pg_database, _drop_pg_database
from tests.faults import ThrowawayPostgres, ThrowawayRedis, free_port
from tests.telegram_fake import FakeTelegram
from workvoice.app import POLLING_CONCURRENCY

SORRY = "Sorry, something went wrong"
SECRET = "fault-test-webhook-secret"
WORKERS = 24
MESSAGES = 6  # per worker and phase
IN_FLIGHT = POLLING_CONCURRENCY  # the most updates one process may have between reply and done


class BotProcess:
    """``workvoice run`` as production starts it, on its own port, logging to a file."""

    def __init__(self, env: dict[str, str], workdir: Path, name: str) -> None:
        self.port = free_port()
        self.env = {**env, "WORKVOICE_CONSOLE_PORT": str(self.port)}
        self.workdir, self.name = workdir, name
        self.process: asyncio.subprocess.Process | None = None
        self.logs: list[Path] = []

    async def start(self) -> float:
        """Start and wait until it serves; returns how long that took (seconds)."""
        started = time.monotonic()
        log = self.workdir / f"{self.name}-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "workvoice.cli",
                "run",
                env=self.env,
                cwd=self.workdir,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        async with httpx.AsyncClient() as client:
            while True:
                assert self.process.returncode is None, log.read_text()[-3000:]
                with contextlib.suppress(httpx.HTTPError):
                    health = await client.get(f"http://127.0.0.1:{self.port}/healthz")
                    if health.status_code == 200:
                        return time.monotonic() - started
                assert time.monotonic() - started < 120, "the bot did not start"
                await asyncio.sleep(0.1)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()

    async def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), timeout=60)

    async def close(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    def log_text(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in self.logs)


def base_env(telegram: FakeTelegram, workdir: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKVOICE_")}
    env.update(
        WORKVOICE_BOT_TOKEN=telegram.token,
        WORKVOICE_TELEGRAM_API_URL=telegram.base_url,
        WORKVOICE_DATA_DIR=str(workdir),
        WORKVOICE_SECRET_KEY="fault-tests-secret-key-0123456789abcdef",
    )
    if database_url:
        env["WORKVOICE_DATABASE_URL"] = database_url
    return env


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str | None]:
    if request.param == "sqlite":
        yield None  # the data directory's SQLite file
        return
    if not PG_UP:
        pytest.skip("PostgreSQL not reachable")
    name = f"wv_faults_{os.getpid()}_{random.randrange(10**9)}"
    yield await _create_pg_database(name)
    await _drop_pg_database(name)


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram()
    await fake.start()
    yield fake
    await fake.stop()


class Traffic:
    """Workers who are not registered yet, each sending /start now and then: every /start is
    answered with one message (the language picker), so answers can be counted per worker."""

    def __init__(self, telegram: FakeTelegram, first_id: int) -> None:
        self.telegram = telegram
        self.ids = list(range(first_id, first_id + WORKERS))
        self.sent = dict.fromkeys(self.ids, 0)

    async def send(self, messages: int = MESSAGES, *, spread: float = 3.0) -> None:
        async def one(worker: int) -> None:
            phone = self.telegram.user(worker)
            for _ in range(messages):
                await asyncio.sleep(random.uniform(0, 2 * spread / messages))
                await phone.send("/start")
                self.sent[worker] += 1

        await asyncio.gather(*(one(worker) for worker in self.ids))

    def answers(self) -> dict[int, int]:
        # One pass over what was sent (a phone's ``messages`` scans it all, per phone).
        counts = Counter(m.chat_id for m in self.telegram.sent)
        return {worker: counts[worker] for worker in self.ids}

    async def all_answered(self) -> None:
        deadline = time.monotonic() + 120
        while lost := {w: self.sent[w] - n for w, n in self.answers().items() if n < self.sent[w]}:
            assert time.monotonic() < deadline, f"unanswered: {lost}"
            await asyncio.sleep(0.2)
        await asyncio.sleep(1)  # a late duplicate would arrive now

    def duplicates(self) -> int:
        return sum(n - self.sent[w] for w, n in self.answers().items())

    def sorry(self) -> int:
        ids = set(self.ids)
        return sum(SORRY in m.plain_text() for m in self.telegram.sent if m.chat_id in ids)


def no_private_data_in(log: str, traffic: Traffic) -> None:
    assert "Traceback" not in log, log[log.index("Traceback") :][:3000]
    for worker in traffic.ids[:3]:
        assert f"={worker}" not in log and f" {worker} " not in log


async def test_polling_loses_nothing_to_sigkill_or_sigterm(
    telegram: FakeTelegram, database_url: str | None, tmp_path: Path
) -> None:
    bot = BotProcess(base_env(telegram, tmp_path, database_url), tmp_path, "polling")
    traffic = Traffic(telegram, 81000)
    try:
        await bot.start()
        # SIGKILL in the middle of a burst, then a restart straight away.
        burst = asyncio.create_task(traffic.send())
        await asyncio.sleep(random.uniform(0.8, 2.0))
        bot.kill()
        await bot.process.wait()  # type: ignore[union-attr]
        await bot.start()
        await burst
        await traffic.all_answered()
        assert 0 <= traffic.duplicates() <= IN_FLIGHT, traffic.answers()
        after_kill = traffic.duplicates()
        # SIGTERM in the middle of another: the batch in hand is finished, nothing twice.
        burst = asyncio.create_task(traffic.send())
        await asyncio.sleep(random.uniform(0.8, 2.0))
        assert await bot.terminate() == 0
        await bot.start()
        await burst
        await traffic.all_answered()
        assert traffic.duplicates() == after_kill, traffic.answers()
        assert traffic.sorry() == 0
    finally:
        await bot.close()
    no_private_data_in(bot.log_text(), traffic)


class Front:
    """Telegram and a load balancer in front of the replicas: each update is POSTed to one
    replica, and to the next (again and again) until one answers 2xx."""

    def __init__(self, telegram: FakeTelegram, replicas: list[BotProcess]) -> None:
        self.replicas, self.turn = replicas, 0
        self.tasks: list[asyncio.Task[Any]] = []
        self.client = httpx.AsyncClient(timeout=10)
        self.refused = 0
        telegram.push_update = self.push  # type: ignore[method-assign]
        self._ids = telegram._update_ids

    def push(self, update: dict[str, Any]) -> int:
        update.setdefault("update_id", next(self._ids))
        self.tasks.append(asyncio.get_running_loop().create_task(self._deliver(update)))
        return int(update["update_id"])

    async def _deliver(self, update: dict[str, Any]) -> None:
        while True:
            replica = self.replicas[self.turn % len(self.replicas)]
            self.turn += 1
            try:
                answer = await self.client.post(
                    f"http://127.0.0.1:{replica.port}/telegram/webhook",
                    json=update,
                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                )
                if answer.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            self.refused += 1
            await asyncio.sleep(0.2)

    async def drain(self) -> None:
        await asyncio.wait_for(asyncio.gather(*self.tasks), timeout=120)

    async def close(self) -> None:
        await self.client.aclose()


@dataclass
class WebhookPair:
    url: str
    env: dict[str, str]
    replicas: list[BotProcess]
    front: Front


@contextlib.asynccontextmanager
async def webhook_pair(
    telegram: FakeTelegram, tmp_path: Path, redis: ThrowawayRedis
) -> AsyncIterator[WebhookPair]:
    """Two replicas in webhook mode, started, on a PostgreSQL database of their own and a
    throwaway Redis, behind a retrying front; all of it gone afterwards."""
    if not PG_UP:
        pytest.skip("PostgreSQL not reachable")
    name = f"wv_faults_{os.getpid()}_{random.randrange(10**9)}"
    url = await _create_pg_database(name)
    env = base_env(telegram, tmp_path, url)
    env.update(
        WORKVOICE_REDIS_URL=redis.url,
        WORKVOICE_WEBHOOK_URL="https://bot.example.org/telegram/webhook",
        WORKVOICE_WEBHOOK_SECRET=SECRET,
    )
    replicas = [BotProcess(env, tmp_path, "a"), BotProcess(env, tmp_path, "b")]
    front = Front(telegram, replicas)
    try:
        for replica in replicas:
            await replica.start()  # the first one migrates the database
        yield WebhookPair(url, env, replicas, front)
    finally:
        for replica in replicas:
            await replica.close()
        await front.close()
        await _drop_pg_database(name)


async def test_webhook_two_replicas_lose_nothing_when_one_is_killed(
    telegram: FakeTelegram, tmp_path: Path, redis_server: ThrowawayRedis
) -> None:
    async with webhook_pair(telegram, tmp_path, redis_server) as pair:
        replicas, front = pair.replicas, pair.front
        traffic = Traffic(telegram, 82000)
        burst = asyncio.create_task(traffic.send())
        await asyncio.sleep(random.uniform(0.8, 2.0))
        replicas[0].kill()  # its stored updates are taken up by b within seconds
        await replicas[0].process.wait()  # type: ignore[union-attr]
        await burst
        await front.drain()
        await traffic.all_answered()
        await replicas[0].start()
        await traffic.send(2)
        await front.drain()
        await traffic.all_answered()
        assert 0 <= traffic.duplicates() <= IN_FLIGHT
        assert traffic.sorry() == 0
        assert await replicas[1].terminate() == 0
    for replica in replicas:
        no_private_data_in(replica.log_text(), traffic)


async def test_webhook_loses_nothing_to_sigterm_or_to_redis_restarting_empty(
    telegram: FakeTelegram, tmp_path: Path, redis_server: ThrowawayRedis
) -> None:
    """SIGTERM: the updates in hand are finished, none twice. Redis killed and started again
    empty (it keeps nothing on disk) mid-traffic: the webhook answers 503 while it is down, and
    what the replicas had received and not yet handled they still have in hand."""
    async with webhook_pair(telegram, tmp_path, redis_server) as pair:
        replicas, front = pair.replicas, pair.front
        traffic = Traffic(telegram, 84000)
        burst = asyncio.create_task(traffic.send())
        await asyncio.sleep(random.uniform(0.8, 2.0))
        assert await replicas[0].terminate() == 0
        await replicas[0].start()
        await burst
        await front.drain()
        await traffic.all_answered()
        assert traffic.duplicates() == 0, traffic.answers()
        assert traffic.sorry() == 0

        burst = asyncio.create_task(traffic.send())
        await asyncio.sleep(random.uniform(0.8, 2.0))
        redis_server.kill()
        await asyncio.sleep(2)
        redis_server.start()
        await burst
        await front.drain()
        await traffic.all_answered()
        assert front.refused > 0  # it was down: Telegram heard 503 and sent again
        # Only updates answered in the instant their "done" could not be recorded come twice.
        assert traffic.duplicates() <= 2 * IN_FLIGHT, traffic.answers()
        assert traffic.sorry() == 0
    for replica in replicas:
        no_private_data_in(replica.log_text(), traffic)


async def test_every_receipt_shown_is_a_committed_case_when_a_replica_is_killed(
    telegram: FakeTelegram, tmp_path: Path, redis_server: ThrowawayRedis
) -> None:
    """Workers tap "Send report" together and the replica handling some of them is killed: each
    gets her case once (no duplicate, none lost) and every receipt number shown opens a case that
    is in the database (the receipt is shown only after the commit)."""
    from sqlalchemy import func, select

    from bot.storage.db import create_engine, create_sessionmaker
    from bot.storage.reports import Case
    from services.reports.receipts import lookup_key
    from tests import journeys
    from tests.factories import make_factory, make_worker

    async with webhook_pair(telegram, tmp_path, redis_server) as pair:
        replicas, front = pair.replicas, pair.front
        engine = create_engine(pair.url)
        sessions = create_sessionmaker(engine)
        ids = range(85000, 85010)
        await make_factory(sessions, "DK-01")
        for telegram_id in ids:
            await make_worker(sessions, telegram_id, locale="en")
        workers = [telegram.user(telegram_id) for telegram_id in ids]

        async def to_review(worker: Any) -> None:
            await journeys.start_report(worker, "The supervisor shouts at us every night.")
            await journeys.report_to_review(worker)

        await asyncio.gather(*(to_review(worker) for worker in workers))
        await asyncio.gather(*(worker.tap(journeys.t("✅ Send report")) for worker in workers))
        await asyncio.sleep(random.uniform(0.0, 0.4))
        replicas[0].kill()
        await replicas[0].process.wait()  # type: ignore[union-attr]
        await front.drain()

        def outcome(worker: Any) -> list[str]:
            shown = []
            for message in worker.messages:
                text = message.plain_text()
                if "Your receipt number" in text:
                    shown.append(journeys.receipt_digits(message))
                elif "This report was already sent." in text:
                    shown.append("already sent")
            return shown

        # The killed replica's updates are taken up by the other within about a minute.
        deadline = time.monotonic() + 100
        while not all(outcome(worker) for worker in workers) and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        await asyncio.sleep(1)
        async with sessions() as session:
            # Every tap made its case, once: none lost, none twice.
            assert await session.scalar(select(func.count()).select_from(Case)) == len(ids)
            for worker in workers:
                receipts = [r for r in outcome(worker) if r != "already sent"]
                assert len(receipts) <= 1, outcome(worker)
                for receipt in receipts:
                    key = lookup_key(pair.env["WORKVOICE_SECRET_KEY"], receipt)
                    case = await session.scalar(select(Case).where(Case.receipt_lookup == key))
                    assert case is not None, "a receipt was shown for a case that is not stored"
        # A case committed in the instant before the kill, whose receipt message had not left:
        # its update is handled again and says "already sent" (the number is never stored, so it
        # cannot be shown again). At most the updates in flight; here, usually none.
        without = [w for w in workers if not [r for r in outcome(w) if r != "already sent"]]
        assert len(without) <= IN_FLIGHT, [outcome(w) for w in workers]
        assert all(SORRY not in m.plain_text() for w in workers for m in w.messages)
        await engine.dispose()


@pytest.mark.parametrize("fault", ["stopped", "hung"])
async def test_polling_keeps_every_message_while_postgres_is_stopped_or_hung(
    telegram: FakeTelegram, tmp_path: Path, fault: str
) -> None:
    postgres = ThrowawayPostgres()
    postgres.start()
    bot = BotProcess(base_env(telegram, tmp_path, postgres.url), tmp_path, "polling")
    traffic = Traffic(telegram, 83000)
    try:
        await bot.start()
        burst = asyncio.create_task(traffic.send(spread=4.0))
        await asyncio.sleep(1.0)
        if fault == "stopped":
            await asyncio.to_thread(postgres.stop)
            await asyncio.sleep(4)
            await asyncio.to_thread(postgres.start)
        else:
            postgres.hang()
            await asyncio.sleep(4)
            postgres.resume()
        await burst
        await traffic.all_answered()
        # Only an update answered just before the database went, whose "done" could not be
        # written, is answered again (at least once, never lost): at most those in flight.
        assert traffic.duplicates() <= IN_FLIGHT, traffic.answers()
        assert traffic.sorry() == 0
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{bot.port}/healthz")).status_code == 200
    finally:
        await bot.close()
        postgres.destroy()
    assert "Traceback" not in bot.log_text()
