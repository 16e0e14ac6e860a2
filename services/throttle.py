"""Counting attempts against sign-in endpoints (DESIGN §4.8): per client address, per (account,
address) pair, and for the whole service.

Counters are fixed windows that expire on their own. With ``WORKVOICE_REDIS_URL`` every replica
shares them in Redis; otherwise they live in this process (one console, or tests). Keys never hold
an e-mail address in clear (callers pass a hash).
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from workvoice.kernel.redis import connect as connect_redis

log = logging.getLogger(__name__)


class Throttle(Protocol):
    async def hit(self, key: str, ttl: float) -> int:
        """Count one event under ``key``; the count in the window that began with the first."""

    async def count(self, key: str) -> int:
        """The current count (0 once the window expired)."""

    async def remaining(self, key: str) -> float:
        """Seconds until ``key`` expires (0 when it does not exist)."""

    async def hold(self, key: str, ttl: float) -> None:
        """Set ``key`` (a pause) for ``ttl`` seconds, replacing any earlier one."""

    async def clear(self, key: str) -> None: ...


class MemoryThrottle:
    """In-process counters. Wall-clock time (not monotonic) so tests can travel in time."""

    MAX_KEYS = 50_000  # a flood of addresses cannot grow memory without bound

    def __init__(self) -> None:
        self._data: dict[str, tuple[int, float]] = {}

    def _live(self, key: str) -> tuple[int, float] | None:
        found = self._data.get(key)
        if found is not None and found[1] <= time.time():
            del self._data[key]
            return None
        return found

    def _make_room(self) -> None:
        if len(self._data) < self.MAX_KEYS:
            return
        now = time.time()
        for key in [k for k, (_, until) in self._data.items() if until <= now]:
            del self._data[key]
        if len(self._data) >= self.MAX_KEYS:  # still full: forget the oldest half
            for key in list(self._data)[: self.MAX_KEYS // 2]:
                del self._data[key]

    async def hit(self, key: str, ttl: float) -> int:
        found = self._live(key)
        if found is None:
            self._make_room()
            found = (0, time.time() + ttl)
        count = found[0] + 1
        self._data[key] = (count, found[1])
        return count

    async def count(self, key: str) -> int:
        found = self._live(key)
        return found[0] if found else 0

    async def remaining(self, key: str) -> float:
        found = self._live(key)
        return max(0.0, found[1] - time.time()) if found else 0.0

    async def hold(self, key: str, ttl: float) -> None:
        self._make_room()
        self._data[key] = (1, time.time() + ttl)

    async def clear(self, key: str) -> None:
        self._data.pop(key, None)


_HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""


class RedisThrottle:
    """Shared by every replica. If Redis fails, counting fails open (logged): sign-in keeps
    working, still bounded by each process's argon2 pool."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis, self._prefix = redis, prefix
        self._hit = redis.register_script(_HIT)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "workvoice:throttle") -> RedisThrottle:
        return cls(connect_redis(url), prefix)

    def _key(self, key: str) -> str:
        return f"{self._prefix}:{key}"

    async def hit(self, key: str, ttl: float) -> int:
        try:
            return int(await self._hit(keys=[self._key(key)], args=[max(1, int(ttl * 1000))]))
        except RedisError:
            log.warning("throttle.redis_unavailable")
            return 0

    async def count(self, key: str) -> int:
        try:
            value = await self._redis.get(self._key(key))
        except RedisError:
            log.warning("throttle.redis_unavailable")
            return 0
        return int(value or 0)

    async def remaining(self, key: str) -> float:
        try:
            ms = await self._redis.pttl(self._key(key))
        except RedisError:
            log.warning("throttle.redis_unavailable")
            return 0.0
        return max(0.0, ms / 1000)

    async def hold(self, key: str, ttl: float) -> None:
        try:
            await self._redis.set(self._key(key), 1, px=max(1, int(ttl * 1000)))
        except RedisError:
            log.warning("throttle.redis_unavailable")

    async def clear(self, key: str) -> None:
        try:
            await self._redis.delete(self._key(key))
        except RedisError:
            log.warning("throttle.redis_unavailable")

    async def close(self) -> None:
        await self._redis.aclose()


def create_throttle(redis_url: str | None, *, prefix: str = "workvoice:throttle") -> Throttle:
    if not redis_url:
        return MemoryThrottle()
    return RedisThrottle.from_url(redis_url, prefix=prefix)
