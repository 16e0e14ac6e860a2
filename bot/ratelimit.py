"""Pacing outgoing messages under Telegram's limits, in one process or shared by replicas.

Telegram allows a bot about 30 messages a second and one a second per chat, and answers 429 with
``retry_after`` when it is pushed harder. Paid broadcasts (``allow_paid_broadcast``, 0.1 Star a
message) may go up to 1,000 a second: they draw on a budget of their own, so an urgent message
to thousands neither waits behind nor slows the free 30/s; the per-chat second is the same for
both. ``RateLimiter`` keeps one process under that budget;
``RedisRateLimiter`` keeps all replicas together under it, since each replica pacing itself at
25/s makes two replicas send 50/s. Both reserve a slot on a virtual schedule first and then
sleep until it, so callers waiting at the same time never share a slot.

No aiogram here: the benchmark and tests import this without the bot.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from workvoice.kernel.redis import connect as connect_redis

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class SendLimiter(Protocol):
    async def wait(self, chat_id: int, *, paid: bool = False) -> None:
        """Return when a message to ``chat_id`` may be sent (``paid``: from the paid budget)."""

    async def pause(self, seconds: float) -> None:
        """Hold every chat for ``seconds`` (Telegram's 429 ``retry_after``)."""

    async def close(self) -> None:
        """Release connections, at shutdown."""


# Telegram's paid ceiling is 1,000 a second. Under it by a fifth, as 25 is under the free 30: sends
# leave a little late when the CPU is busy and bunch up (at 900/s, four replicas on two cores put
# 1,051 in one second; BENCHMARKS.md).
PAID_PER_SECOND = 800.0


def create_send_limiter(
    redis_url: str | None,
    *,
    prefix: str = "workvoice:rate",
    paid_per_second: float = PAID_PER_SECOND,
) -> SendLimiter:
    """In process alone; shared by every replica when Redis is configured."""
    if not redis_url:
        return RateLimiter(paid_per_second=paid_per_second)
    return RedisRateLimiter.from_url(redis_url, prefix=prefix, paid_per_second=paid_per_second)


@dataclass
class RateLimiter:
    """Global messages-per-second and one-message-per-second-per-chat pacing, in this process."""

    per_second: float = 25.0  # under Telegram's ~30/s, leaving room for replies to live updates
    per_chat_interval: float = 1.0
    clock: Clock = time.monotonic
    sleep: Sleep = asyncio.sleep
    paid_per_second: float = PAID_PER_SECOND
    _next_global: float = 0.0
    _next_paid: float = 0.0
    _next_chat: dict[int, float] = field(default_factory=dict)

    async def wait(self, chat_id: int, *, paid: bool = False) -> None:
        now = self.clock()
        at = self.reserve(chat_id, now, paid=paid)
        if at > now:
            await self.sleep(at - now)

    def reserve(self, chat_id: int, now: float, *, paid: bool = False) -> float:
        """Take the next free slot for ``chat_id`` before sleeping, so concurrent callers differ."""
        # The global slot is booked apart from the chat's wait: a second part to one chat waiting
        # out its second must not hold back messages to everyone else.
        if paid:
            slot = max(now, self._next_paid)
            self._next_paid = slot + 1.0 / self.paid_per_second
        else:
            slot = max(now, self._next_global)
            self._next_global = slot + 1.0 / self.per_second
        at = max(slot, self._next_chat.get(chat_id, 0.0))
        self._next_chat[chat_id] = at + self.per_chat_interval
        if len(self._next_chat) > 10_000:  # forget chats whose pause has passed
            self._next_chat = {c: t for c, t in self._next_chat.items() if t > now}
        return at

    async def pause(self, seconds: float) -> None:
        # Both budgets: Telegram says how long to wait, not which of our budgets it counted.
        until = self.clock() + seconds
        self._next_global = max(self._next_global, until)
        self._next_paid = max(self._next_paid, until)

    async def close(self) -> None:
        pass  # nothing held


# One slot on the shared schedule, taken atomically. Times are whole microseconds since the epoch
# (a Lua number is a double: exact to 2^53 µs, about the year 2255; Redis turns a returned number
# into an integer, which would cut fractional seconds).
# KEYS[1]: the next free global slot; KEYS[2], when given: the next free slot of one chat.
# ARGV: earliest allowed time, now, global step, chat step (µs), extra key lifetime (ms).
# Returns the reserved time. ``pause`` calls it with no chat, earliest = now + retry_after and a
# global step of 0, which only moves the global schedule forward.
RESERVE_LUA = """
local earliest = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local slack_ms = tonumber(ARGV[5])
local slot = math.max(earliest, tonumber(redis.call('GET', KEYS[1]) or 0))
local at = slot
if #KEYS > 1 then
  -- A chat's own wait does not move the shared schedule: other chats keep their pace.
  at = math.max(at, tonumber(redis.call('GET', KEYS[2]) or 0))
end
local function store(key, value)
  -- Expire a little after the value is in the past: by then it no longer holds anyone back.
  local ttl = math.ceil((value - now) / 1000) + slack_ms
  redis.call('SET', key, string.format('%d', value), 'PX', string.format('%d', ttl))
end
store(KEYS[1], slot + tonumber(ARGV[3]))
if #KEYS > 1 and tonumber(ARGV[4]) > 0 then
  store(KEYS[2], at + tonumber(ARGV[4]))
end
return at
"""


class RedisRateLimiter:
    """The same pacing as ``RateLimiter``, with the schedule kept in Redis for every replica.

    ``clock`` must be shared by the replicas, hence wall time (``time.time``), not monotonic.
    When Redis does not answer, this replica paces itself in process (logged once per outage) and
    asks Redis again every ``retry_redis_after`` seconds: sending on alone beats stopping.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "workvoice:rate",
        per_second: float = 25.0,
        per_chat_interval: float = 1.0,
        paid_per_second: float = PAID_PER_SECOND,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
        retry_redis_after: float = 30.0,
        key_slack_ms: int = 2_000,
    ) -> None:
        self.redis = redis
        # The braces keep every key in one Redis Cluster slot, as one script's keys must be.
        self.prefix = f"{{{prefix}}}"
        # Steps rounded up to the microsecond, so the shared rate never exceeds the one set.
        self.global_step_us = math.ceil(1_000_000 / per_second)
        self.paid_step_us = math.ceil(1_000_000 / paid_per_second)
        self.chat_step_us = math.ceil(per_chat_interval * 1_000_000)
        self.clock = clock
        self.sleep = sleep
        self.retry_redis_after = retry_redis_after
        self.key_slack_ms = key_slack_ms
        self.local = RateLimiter(
            per_second, per_chat_interval, clock=clock, sleep=sleep, paid_per_second=paid_per_second
        )
        self._redis_down_until: float | None = None
        self._script = redis.register_script(RESERVE_LUA)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisRateLimiter:
        # Short timeouts and a single immediate retry (a pooled connection that went stale when
        # Redis restarted): the defaults would hold the send loop for seconds before falling back.
        return cls(connect_redis(url, timeout=1.0, connect_timeout=1.0), **kwargs)

    def key(self, chat_id: int | None = None) -> str:
        return f"{self.prefix}:global" if chat_id is None else f"{self.prefix}:chat:{chat_id}"

    def paid_key(self) -> str:
        return f"{self.prefix}:paid"

    async def wait(self, chat_id: int, *, paid: bool = False) -> None:
        now = self.clock()
        budget, step = (
            (self.paid_key(), self.paid_step_us) if paid else (self.key(), self.global_step_us)
        )
        delay = await self._shared([budget, self.key(chat_id)], now, now, step, self.chat_step_us)
        if delay is None:
            delay = self.local.reserve(chat_id, now, paid=paid) - now
        if delay > 0:
            await self.sleep(delay)

    async def pause(self, seconds: float) -> None:
        # Also held here, so a fall-back right after a 429 still honours it.
        await self.local.pause(seconds)
        now = self.clock()
        for budget in (self.key(), self.paid_key()):
            await self._shared([budget], now + seconds, now, 0, 0)

    async def close(self) -> None:
        await self.redis.aclose()

    async def _shared(
        self, keys: list[str], earliest: float, now: float, global_step: int, chat_step: int
    ) -> float | None:
        """Seconds from ``now`` to the reserved slot; None while Redis is unreachable."""
        if self._redis_down_until is not None and now < self._redis_down_until:
            return None
        now_us = _us(now)
        try:
            at_us = await self._script(
                keys=keys, args=[_us(earliest), now_us, global_step, chat_step, self.key_slack_ms]
            )
        except (RedisError, OSError) as exc:
            if self._redis_down_until is None:
                # Only the kind of error: its text could carry more than the log should keep.
                log.warning(
                    "outbox.rate_limit_local reason=redis_unreachable error=%s",
                    type(exc).__name__,
                )
            self._redis_down_until = now + self.retry_redis_after
            return None
        if self._redis_down_until is not None:
            self._redis_down_until = None
            log.info("outbox.rate_limit_shared reason=redis_back")
        return (int(at_us) - now_us) / 1_000_000


def _us(seconds: float) -> int:
    return round(seconds * 1_000_000)
