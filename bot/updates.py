"""Raw Telegram updates: the id in the database, the payload never (DESIGN §4.7).

Telegram retries a webhook call that failed and aiogram does not deduplicate, so the primary key
``update_id`` is what makes every update handled once, across replicas and restarts.

The payload (names, Telegram ids, whatever the worker typed, a report narrative among it) would
stay in PostgreSQL's heap and WAL, its archives and base backups, even after it was cleared: an
UPDATE leaves the old row version behind. So only the id, a status and the claim time reach the
database; the payload waits in a ``PayloadStore`` outside it: Redis with a TTL when configured
(shared by replicas, kept in memory only), else this process's memory. What that means for
recovery is spelled out on ``PayloadStore``. With nothing personal left in the rows, the table
needs no ``UNLOGGED``: its WAL records hold ids and times only.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.db import dialect_insert
from bot.storage.models import RawUpdate, UpdateStatus
from services.clock import utcnow
from workvoice.kernel.redis import connect as connect_redis

# A claim not renewed for this long belongs to a process that died: another takes the update up.
# Live processes renew theirs every ``bot.runtime.RENEW_EVERY`` (a slow handler keeps its update).
STALE_CLAIM = timedelta(seconds=45)
RECEIVER_GRACE = timedelta(seconds=15)
# How long a payload may wait for a replica to handle it after a crash. Telegram itself keeps an
# undelivered update for 24 hours; after that nobody expects an answer to it.
PAYLOAD_TTL = timedelta(hours=24)


class PayloadStore(Protocol):
    """Where an update's payload waits between the webhook's 200 and its handling.

    Recovery: with Redis, a replica (or the restarted process) handles what a crashed one stored,
    as long as Redis kept it (``PAYLOAD_TTL``, and Redis here keeps nothing on disk: a Redis
    restart loses what waited). In memory, a crash loses the updates that were received but not
    yet handled (usually none or one: handling starts as the webhook answers); their ids are
    forgotten at the next start so that a retry from Telegram, if it comes, is handled.
    """

    # Seen by every replica: one that lacks a payload may find it put back by the replica that
    # received it. In memory, only the process that received an update ever had it.
    shared: bool

    async def put(self, update_id: int, payload: bytes) -> None: ...

    async def get(self, update_id: int) -> bytes | None: ...

    async def discard(self, update_id: int) -> None: ...

    async def close(self) -> None: ...


class MemoryPayloads:
    """One process alone (SQLite, or a single replica without Redis)."""

    shared = False

    def __init__(self) -> None:
        self._payloads: dict[int, bytes] = {}

    async def put(self, update_id: int, payload: bytes) -> None:
        self._payloads.setdefault(update_id, payload)

    async def get(self, update_id: int) -> bytes | None:
        return self._payloads.get(update_id)

    async def discard(self, update_id: int) -> None:
        self._payloads.pop(update_id, None)

    async def close(self) -> None:
        self._payloads.clear()


class RedisPayloads:
    """Shared by every replica; each payload expires on its own if nobody handles it."""

    shared = True

    def __init__(self, redis: Any, *, prefix: str = "workvoice") -> None:
        self.redis = redis
        self.prefix = f"{prefix}:update:"

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "workvoice") -> RedisPayloads:
        return cls(connect_redis(url), prefix=prefix)

    async def put(self, update_id: int, payload: bytes) -> None:
        # NX: a retry of an update that waits already leaves the first copy alone.
        await self.redis.set(
            f"{self.prefix}{update_id}", payload, nx=True, ex=int(PAYLOAD_TTL.total_seconds())
        )

    async def get(self, update_id: int) -> bytes | None:
        value = await self.redis.get(f"{self.prefix}{update_id}")
        return bytes(value) if value is not None else None

    async def discard(self, update_id: int) -> None:
        await self.redis.delete(f"{self.prefix}{update_id}")

    async def close(self) -> None:
        await self.redis.aclose()


def create_payload_store(redis_url: str | None, *, prefix: str = "workvoice") -> PayloadStore:
    return RedisPayloads.from_url(redis_url, prefix=prefix) if redis_url else MemoryPayloads()


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def decode(payload: bytes) -> dict[str, Any]:
    value = json.loads(payload)
    if not isinstance(value, dict):
        raise ValueError("an update is a JSON object")
    return value


async def store(
    session: AsyncSession, update_id: int, *, status: UpdateStatus = UpdateStatus.PENDING
) -> bool:
    """Insert the update's id unless it was seen before. Returns True when it is new."""
    insert = dialect_insert(session)
    result = await session.execute(
        insert(RawUpdate)
        .values(update_id=update_id, status=status, received_at=utcnow())
        .on_conflict_do_nothing(index_elements=["update_id"])
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def record(session: AsyncSession, update_id: int, status: UpdateStatus) -> None:
    """Long polling: the update's outcome, written in its handler's own transaction (one
    transaction per update; Telegram keeps the update until its batch is confirmed, so nothing
    needs storing before)."""
    insert = dialect_insert(session)
    await session.execute(
        insert(RawUpdate)
        .values(update_id=update_id, status=status, received_at=utcnow())
        .on_conflict_do_update(index_elements=["update_id"], set_={"status": status})
    )


def _claimable(now: datetime) -> Any:
    return or_(
        RawUpdate.status == UpdateStatus.PENDING,
        (RawUpdate.status == UpdateStatus.PROCESSING) & (RawUpdate.claimed_at < now - STALE_CLAIM),
    )


async def waiting(session: AsyncSession, update_id: int) -> bool:
    """Stored and not handled yet (nor being handled by a live replica)."""
    found = await session.scalar(
        select(RawUpdate.update_id).where(RawUpdate.update_id == update_id, _claimable(utcnow()))
    )
    return found is not None


async def not_done(session: AsyncSession, update_ids: list[int]) -> set[int]:
    """Of these, the ones stored and not yet handled (waiting, or being handled)."""
    rows = await session.scalars(
        select(RawUpdate.update_id).where(
            RawUpdate.update_id.in_(update_ids),
            RawUpdate.status.in_((UpdateStatus.PENDING, UpdateStatus.PROCESSING)),
        )
    )
    return set(rows)


async def handled(session: AsyncSession, update_id: int) -> bool:
    status = await session.scalar(select(RawUpdate.status).where(RawUpdate.update_id == update_id))
    return status in (UpdateStatus.DONE, UpdateStatus.FAILED)


async def claim(session: AsyncSession, update_id: int) -> bool:
    """Take a stored update for handling; False if another task or replica has it already."""
    now = utcnow()
    result = await session.execute(
        update(RawUpdate)
        .where(RawUpdate.update_id == update_id, _claimable(now))
        .values(status=UpdateStatus.PROCESSING, claimed_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def renew(session: AsyncSession, update_ids: list[int]) -> None:
    """This process is still handling these: keep their claims fresh."""
    if update_ids:
        await session.execute(
            update(RawUpdate)
            .where(
                RawUpdate.update_id.in_(update_ids),
                RawUpdate.status == UpdateStatus.PROCESSING,
            )
            .values(claimed_at=utcnow())
        )


async def release(session: AsyncSession, update_id: int) -> None:
    """Make a claimed update claimable again: its handling was deferred (an outage)."""
    await session.execute(
        update(RawUpdate)
        .where(RawUpdate.status == UpdateStatus.PROCESSING, RawUpdate.update_id == update_id)
        .values(status=UpdateStatus.PENDING, claimed_at=None)
    )


async def finish(session: AsyncSession, update_id: int, *, ok: bool) -> None:
    # Only the status changes: the row never held more than the id and times.
    await session.execute(
        update(RawUpdate)
        .where(RawUpdate.update_id == update_id)
        .values(status=UpdateStatus.DONE if ok else UpdateStatus.FAILED)
    )


async def forget(
    session: AsyncSession, update_id: int, *, received_before: datetime | None = None
) -> bool:
    """Its payload is gone (crash without Redis, or expired): drop the id so a retry is handled.
    With ``received_before``, only an update received earlier: a younger one may still be in the
    hand of the replica that received it. Returns whether it was dropped."""
    query = delete(RawUpdate).where(RawUpdate.update_id == update_id)
    if received_before is not None:
        query = query.where(RawUpdate.received_at < received_before)
    return bool((await session.execute(query)).rowcount)  # type: ignore[attr-defined]


async def unfinished(session: AsyncSession, *, limit: int = 500) -> list[int]:
    """Updates stored but not handled (the process died in between): taken up at start and
    every few seconds. An update stored in the last ``RECEIVER_GRACE`` is left to the process
    that received it (its task is about to claim it, and without Redis only that process has the
    payload: another would find none and drop the id)."""
    now = utcnow()
    rows = await session.scalars(
        select(RawUpdate.update_id)
        .where(
            _claimable(now),
            (RawUpdate.status != UpdateStatus.PENDING)
            | (RawUpdate.received_at < now - RECEIVER_GRACE),
        )
        .order_by(RawUpdate.update_id)
        .limit(limit)
    )
    return list(rows)


async def purge(session: AsyncSession, *, older_than: datetime) -> int:
    result = await session.execute(
        delete(RawUpdate).where(
            RawUpdate.received_at < older_than,
            RawUpdate.status.in_([UpdateStatus.DONE, UpdateStatus.FAILED]),
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
