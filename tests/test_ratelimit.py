"""Replicas share one send budget through Redis: one global pace, one per chat, one 429 pause.

Each "replica" is a ``RedisRateLimiter`` with its own Redis client and the same key prefix. Time
is a fake clock that stands still; the recording sleep notes how long each send was held, so
``now + slept`` is the slot a send got. Nothing here sleeps for real.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.ratelimit import RateLimiter, RedisRateLimiter, create_send_limiter

NOW = 1_000.0
PER_SECOND = 50  # a slot every 20 ms


class FakeClock:
    """Sleeps are recorded and yield once; time moves only when the test moves it, or, with
    ``advance``, by each sleep (one replica sending in sequence)."""

    def __init__(self, *, advance: bool = False) -> None:
        self.now = NOW
        self.advance = advance
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        if self.advance:
            self.now += seconds
        await asyncio.sleep(0)  # let the other replica in between, as a real sleep would


MakeLimiter = Callable[..., RedisRateLimiter]


@pytest.fixture
async def replica(redis_url: str, redis_prefix: str) -> AsyncIterator[MakeLimiter]:
    """``replica(clock)`` starts one more limiter on the shared prefix, with its own client."""
    made: list[RedisRateLimiter] = []

    def make(clock: FakeClock, url: str = redis_url, **kw: Any) -> RedisRateLimiter:
        kw.setdefault("per_second", PER_SECOND)
        limiter = RedisRateLimiter.from_url(
            url, prefix=redis_prefix, clock=clock, sleep=clock.sleep, **kw
        )
        made.append(limiter)
        return limiter

    yield make
    cleaner = Redis.from_url(redis_url)
    keys = [key async for key in cleaner.scan_iter(f"{{{redis_prefix}}}*")]
    if keys:
        await cleaner.delete(*keys)
    await cleaner.aclose()
    for limiter in made:
        await limiter.close()


async def test_the_budget_is_shared_only_when_redis_is_configured(
    redis_url: str, redis_prefix: str
) -> None:
    assert isinstance(create_send_limiter(None), RateLimiter)  # SQLite, laptop, demo
    shared = create_send_limiter(redis_url, prefix=redis_prefix)
    assert isinstance(shared, RedisRateLimiter)
    await shared.wait(7)
    try:
        assert await shared.redis.exists(shared.key(), shared.key(7)) == 2
        await shared.redis.delete(shared.key(), shared.key(7))
    finally:
        await shared.close()


def _closed_port() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"  # nothing listens there once the socket is closed


async def test_two_replicas_never_share_a_slot(replica: MakeLimiter) -> None:
    clocks = [FakeClock(), FakeClock()]
    first, second = replica(clocks[0]), replica(clocks[1])

    async def send(limiter: RedisRateLimiter, chats: range) -> None:
        for chat in chats:
            await limiter.wait(chat)

    # 100 sends to 100 different chats, half from each replica, interleaved.
    await asyncio.gather(send(first, range(0, 100, 2)), send(second, range(1, 100, 2)))
    # Time stands still, so each hold is the slot's distance from now. Only the very first send
    # goes at once; every other one is held to a slot of its own, 20 ms after the one before.
    held = sorted(clocks[0].slept + clocks[1].slept)
    assert held == [round(k / PER_SECOND, 6) for k in range(1, 100)]
    assert clocks[0].slept and clocks[1].slept  # both replicas really sent


async def test_one_chat_waits_its_interval_across_replicas(replica: MakeLimiter) -> None:
    clock = FakeClock()
    first, second = replica(clock), replica(clock)
    await first.wait(7)
    await first.wait(8)
    await second.wait(7)
    # Chat 8 goes one 20 ms global step later; chat 7's second message a full second after its first.
    assert clock.slept == [0.02, 1.0]


async def test_a_429_on_one_replica_pauses_the_other(replica: MakeLimiter) -> None:
    clock = FakeClock()
    first, second = replica(clock), replica(clock)
    await first.pause(7)
    await second.wait(42)
    assert clock.slept == [7.0]
    await first.pause(2)  # a shorter pause does not shorten the one in force
    await second.wait(43)
    assert clock.slept == [7.0, 7.02]


async def test_keys_expire_soon_after_they_stop_mattering(
    replica: MakeLimiter, redis_url: str, redis_prefix: str
) -> None:
    clock = FakeClock()
    limiter = replica(clock, key_slack_ms=2_000)
    await limiter.wait(7)
    await limiter.pause(60)
    redis = Redis.from_url(redis_url)
    try:
        ttl_chat = await redis.pttl(limiter.key(7))
        ttl_global = await redis.pttl(limiter.key())
    finally:
        await redis.aclose()
    assert 0 < ttl_chat <= 1_000 + 2_000  # the chat's second, plus the slack
    assert 58_000 < ttl_global <= 60_000 + 2_000  # the pause, plus the slack
    assert limiter.key().startswith(f"{{{redis_prefix}}}:")


async def test_without_redis_a_replica_paces_itself_and_says_so_once(
    replica: MakeLimiter, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(advance=True)
    alone = replica(clock, url=_closed_port(), retry_redis_after=30)
    with caplog.at_level(logging.INFO, logger="bot.ratelimit"):
        await alone.pause(3)
        await alone.wait(5551234)
        await alone.wait(5551234)
        await alone.wait(5551235)
        clock.now += 31
        await alone.wait(5551236)  # asks Redis again, in vain: no second warning
    # Still paced: the 429 pause, then the chat's second; another chat does not queue behind it.
    assert clock.slept == [3.0, 1.0]
    assert [r.getMessage() for r in caplog.records] == [
        "outbox.rate_limit_local reason=redis_unreachable error=ConnectionError"
    ]
    assert "5551234" not in caplog.text  # no chat id in the logs


class Proxy:
    """A TCP relay to Redis that can be cut and restored: Redis going away mid-run, for real."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.links:
            writer.close()
        await self.server.wait_closed()
        self.links.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.links.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def test_a_replica_rejoins_the_shared_budget_when_redis_returns(
    replica: MakeLimiter, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = Proxy("127.0.0.1", 6379)
    await proxy.start()
    clock = FakeClock()
    flaky = replica(clock, url=f"redis://127.0.0.1:{proxy.port}/0", retry_redis_after=30)
    steady = replica(clock)
    with caplog.at_level(logging.INFO, logger="bot.ratelimit"):
        await flaky.wait(1)
        await proxy.cut()
        await flaky.wait(2)  # Redis gone: paced alone, so the other replica's schedule is untouched
        await steady.wait(3)
        await proxy.start()  # the same port again
        clock.now += 10
        await flaky.wait(4)  # within retry_redis_after: still alone, Redis not asked
        await steady.wait(5)
        assert clock.slept == [0.02]  # only chat 3, behind chat 1's slot
        clock.now += 30
        clock.slept.clear()
        await flaky.wait(6)  # asks Redis again and takes the shared slot
        await steady.wait(7)  # ...so the other replica sees it
    await proxy.cut()
    assert clock.slept == [0.02]
    assert [r.getMessage() for r in caplog.records] == [
        "outbox.rate_limit_local reason=redis_unreachable error=ConnectionError",
        "outbox.rate_limit_shared reason=redis_back",
    ]


async def test_one_chat_waiting_its_second_does_not_hold_back_other_replicas(
    replica: MakeLimiter,
) -> None:
    clock = FakeClock()
    a, b = replica(clock), replica(clock)
    await a.wait(7001)
    # A second part to chat 7001 on one replica; a message to another chat on the other.
    await a.wait(7001)
    await b.wait(7002)
    assert clock.slept == [1.0, 0.04]
