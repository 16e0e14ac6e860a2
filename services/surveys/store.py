"""Where survey answers wait before they reach the anonymous tables: never the durable database.

Two things wait here (DESIGN §4.1):

- a worker's **draft** (answers so far, the path for "back", the question being asked), so they
  can pause and resume. It is sealed (PyNaCl SecretBox) under a key derived by HMAC from the secret
  key, the wave and the Telegram id, and filed under another HMAC of the same: someone who reads
  Redis (or a memory dump) alone can neither read a draft nor say whose it is. It expires after a
  sliding TTL (``WORKVOICE_SURVEY_DRAFT_TTL_DAYS``), never later than the wave's end.
- each wave's **pending pool**: finished responses sealed under a per-wave key, with no person
  key at all, waiting for the batch job (``services.surveys.batches``) to write them to the
  anonymous tables in shuffled batches of at least k.

A database's rows are kept as dead tuples, WAL and ``-wal`` files, backups: what is written there
once stays. Redis with a TTL (``WORKVOICE_REDIS_URL``) or this process's memory (the embedded
default) forget. In memory mode a restart loses unfinished drafts (the worker starts the survey
again) and responses still waiting for a batch, and the bot and the scheduler must run in one
process (``workvoice run``) to share the pool.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from nacl.exceptions import CryptoError
from nacl.secret import SecretBox
from nacl.utils import random as random_bytes

from services.clock import utcnow
from workvoice.kernel.redis import connect as connect_redis

Clock = Callable[[], datetime]
DEFAULT_DRAFT_TTL = timedelta(days=3)
# A pool outlives its wave a little, so a scheduler that was down at the close still finds it.
POOL_GRACE = timedelta(days=14)


def _derive(secret_key: str, label: str) -> bytes:
    return hmac.new(secret_key.encode(), label.encode(), hashlib.sha256).digest()


def draft_slot(secret_key: str, wave_id: int, telegram_id: int) -> str:
    """Where a worker's draft is filed: not the Telegram id, and not the participation's key."""
    return _derive(secret_key, f"survey-draft-slot:{wave_id}:{telegram_id}").hex()


def _draft_box(secret_key: str, wave_id: int, telegram_id: int) -> SecretBox:
    return SecretBox(_derive(secret_key, f"survey-draft-key:{wave_id}:{telegram_id}"))


def _pool_box(secret_key: str, wave_id: int) -> SecretBox:
    return SecretBox(_derive(secret_key, f"survey-pool-key:{wave_id}"))


def _seal(box: SecretBox, data: dict[str, Any]) -> bytes:
    return bytes(box.encrypt(json.dumps(data, separators=(",", ":")).encode(), random_bytes(24)))


def _open(box: SecretBox, blob: bytes) -> dict[str, Any] | None:
    try:
        return json.loads(box.decrypt(blob))
    except (CryptoError, ValueError):
        return None  # sealed under another secret key (rotated): as good as gone


def seal_draft(secret_key: str, wave_id: int, telegram_id: int, data: dict[str, Any]) -> bytes:
    return _seal(_draft_box(secret_key, wave_id, telegram_id), data)


def open_draft(
    secret_key: str, wave_id: int, telegram_id: int, blob: bytes
) -> dict[str, Any] | None:
    return _open(_draft_box(secret_key, wave_id, telegram_id), blob)


def seal_response(secret_key: str, wave_id: int, data: dict[str, Any]) -> bytes:
    return _seal(_pool_box(secret_key, wave_id), data)


def open_response(secret_key: str, wave_id: int, blob: bytes) -> dict[str, Any] | None:
    return _open(_pool_box(secret_key, wave_id), blob)


class SurveyStore(Protocol):
    """Ephemeral storage for drafts and pending responses; channel-agnostic (no Telegram here)."""

    draft_ttl: timedelta

    def now(self) -> datetime:
        """ "Now" for expiries: an injectable clock, so TTL tests move time instead of sleeping."""

    async def get_draft(self, wave_id: int, slot: str) -> bytes | None: ...

    async def put_draft(self, wave_id: int, slot: str, blob: bytes, expires_at: datetime) -> None:
        """Store (or replace) a draft until ``expires_at`` (the TTL slides with every answer)."""

    async def drop_draft(self, wave_id: int, slot: str) -> None: ...

    async def drop_wave_drafts(self, wave_id: int) -> int:
        """Forget every unfinished draft of a closed wave; returns how many."""

    async def add_pending(
        self, wave_id: int, response_id: int, blob: bytes, keep_until: datetime
    ) -> None: ...

    async def pending(self, wave_id: int) -> dict[int, bytes]:
        """The wave's finished responses waiting for a batch, by response id."""

    async def pending_count(self, wave_id: int) -> int: ...

    async def remove_pending(self, wave_id: int, response_ids: list[int]) -> None:
        """Idempotent: ids no longer there are ignored."""

    async def close(self) -> None: ...


@dataclass
class MemorySurveyStore:
    """In this process only (the embedded default). ``clock`` is injectable for TTL tests."""

    draft_ttl: timedelta = DEFAULT_DRAFT_TTL
    clock: Clock = utcnow
    _drafts: dict[tuple[int, str], tuple[bytes, datetime]] = field(default_factory=dict)
    _pools: dict[int, dict[int, bytes]] = field(default_factory=dict)

    def now(self) -> datetime:
        return self.clock()

    async def get_draft(self, wave_id: int, slot: str) -> bytes | None:
        found = self._drafts.get((wave_id, slot))
        if found is None:
            return None
        if found[1] <= self.clock():
            del self._drafts[(wave_id, slot)]
            return None
        return found[0]

    async def put_draft(self, wave_id: int, slot: str, blob: bytes, expires_at: datetime) -> None:
        self._drafts[(wave_id, slot)] = (blob, expires_at)

    async def drop_draft(self, wave_id: int, slot: str) -> None:
        self._drafts.pop((wave_id, slot), None)

    async def drop_wave_drafts(self, wave_id: int) -> int:
        keys = [key for key in self._drafts if key[0] == wave_id]
        for key in keys:
            del self._drafts[key]
        return len(keys)

    async def add_pending(
        self, wave_id: int, response_id: int, blob: bytes, keep_until: datetime
    ) -> None:
        self._pools.setdefault(wave_id, {})[response_id] = blob

    async def pending(self, wave_id: int) -> dict[int, bytes]:
        return dict(self._pools.get(wave_id, {}))

    async def pending_count(self, wave_id: int) -> int:
        return len(self._pools.get(wave_id, {}))

    async def remove_pending(self, wave_id: int, response_ids: list[int]) -> None:
        pool = self._pools.get(wave_id, {})
        for response_id in response_ids:
            pool.pop(response_id, None)

    async def close(self) -> None:
        return None


class RedisSurveyStore:
    """Shared by every replica. Redis expires drafts itself; the expiry is also kept beside the
    sealed draft and checked against ``clock``, so tests move time instead of sleeping."""

    def __init__(
        self,
        redis: Any,
        *,
        prefix: str = "workvoice",
        draft_ttl: timedelta = DEFAULT_DRAFT_TTL,
        clock: Clock = utcnow,
    ) -> None:
        self.redis, self.prefix, self.draft_ttl, self.clock = redis, prefix, draft_ttl, clock

    def now(self) -> datetime:
        return self.clock()

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisSurveyStore:
        return cls(connect_redis(url), **kwargs)

    def _draft_key(self, wave_id: int, slot: str) -> str:
        return f"{self.prefix}:survey:{wave_id}:draft:{slot}"

    def _pool_key(self, wave_id: int) -> str:
        return f"{self.prefix}:survey:{wave_id}:pool"

    async def get_draft(self, wave_id: int, slot: str) -> bytes | None:
        raw = await self.redis.get(self._draft_key(wave_id, slot))
        if raw is None:
            return None
        expires_ms, blob = int.from_bytes(raw[:8], "big"), raw[8:]
        if expires_ms <= int(self.clock().timestamp() * 1000):
            await self.redis.delete(self._draft_key(wave_id, slot))
            return None
        return bytes(blob)

    async def put_draft(self, wave_id: int, slot: str, blob: bytes, expires_at: datetime) -> None:
        expires_ms = int(expires_at.timestamp() * 1000)
        # Redis forgets it on its own clock too (at least a second from now, as SET requires).
        ttl_ms = max(1000, expires_ms - int(self.clock().timestamp() * 1000))
        await self.redis.set(
            self._draft_key(wave_id, slot), expires_ms.to_bytes(8, "big") + blob, px=ttl_ms
        )

    async def drop_draft(self, wave_id: int, slot: str) -> None:
        await self.redis.delete(self._draft_key(wave_id, slot))

    async def drop_wave_drafts(self, wave_id: int) -> int:
        dropped = 0
        async for key in self.redis.scan_iter(match=self._draft_key(wave_id, "*"), count=500):
            dropped += int(await self.redis.delete(key))
        return dropped

    async def add_pending(
        self, wave_id: int, response_id: int, blob: bytes, keep_until: datetime
    ) -> None:
        key = self._pool_key(wave_id)
        seconds = max(60, int((keep_until + POOL_GRACE - self.clock()).total_seconds()))
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, str(response_id), blob)
            pipe.expire(key, seconds)
            await pipe.execute()

    async def pending(self, wave_id: int) -> dict[int, bytes]:
        found = await self.redis.hgetall(self._pool_key(wave_id))
        return {int(k): bytes(v) for k, v in found.items()}

    async def pending_count(self, wave_id: int) -> int:
        return int(await self.redis.hlen(self._pool_key(wave_id)))

    async def remove_pending(self, wave_id: int, response_ids: list[int]) -> None:
        if response_ids:
            await self.redis.hdel(self._pool_key(wave_id), *[str(i) for i in response_ids])

    async def close(self) -> None:
        await self.redis.aclose()


def create_survey_store(
    redis_url: str | None, *, draft_ttl_days: int = 3, prefix: str = "workvoice"
) -> SurveyStore:
    """Redis when configured (shared by replicas, survives a restart), else this process's memory."""
    ttl = timedelta(days=draft_ttl_days)
    if not redis_url:
        return MemorySurveyStore(draft_ttl=ttl)
    return RedisSurveyStore.from_url(redis_url, prefix=prefix, draft_ttl=ttl)
