"""Raw Telegram updates: stored before the webhook answers, claimed once, then cleared.

Telegram retries a webhook call that failed and aiogram does not deduplicate, so the primary key
``update_id`` is what makes every update handled once, across replicas and restarts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.db import is_postgres
from bot.storage.models import RawUpdate, UpdateStatus
from services.clock import utcnow

STALE_CLAIM = timedelta(minutes=5)


async def store(
    session: AsyncSession,
    update_id: int,
    payload: dict[str, Any] | None,
    *,
    status: UpdateStatus = UpdateStatus.PENDING,
) -> bool:
    """Insert the update unless its id was seen before. Returns True when it is new."""
    insert = pg_insert if is_postgres(session) else sqlite_insert
    result = await session.execute(
        insert(RawUpdate)
        .values(update_id=update_id, payload=payload, status=status, received_at=utcnow())
        .on_conflict_do_nothing(index_elements=["update_id"])
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def claim(session: AsyncSession, update_id: int) -> dict[str, Any] | None:
    """Take a stored update for handling; None if another task or replica has it already."""
    now = utcnow()
    result = await session.execute(
        update(RawUpdate)
        .where(
            RawUpdate.update_id == update_id,
            or_(
                RawUpdate.status == UpdateStatus.PENDING,
                (RawUpdate.status == UpdateStatus.PROCESSING)
                & (RawUpdate.claimed_at < now - STALE_CLAIM),
            ),
        )
        .values(status=UpdateStatus.PROCESSING, claimed_at=now)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    return await session.scalar(select(RawUpdate.payload).where(RawUpdate.update_id == update_id))


async def finish(session: AsyncSession, update_id: int, *, ok: bool) -> None:
    # The payload holds names and message text: drop it as soon as it has served.
    await session.execute(
        update(RawUpdate)
        .where(RawUpdate.update_id == update_id)
        .values(status=UpdateStatus.DONE if ok else UpdateStatus.FAILED, payload=None)
    )


async def unfinished(session: AsyncSession, *, limit: int = 500) -> list[int]:
    """Updates stored but not handled (the process died in between): handled at start-up."""
    now = utcnow()
    rows = await session.scalars(
        select(RawUpdate.update_id)
        .where(
            or_(
                RawUpdate.status == UpdateStatus.PENDING,
                (RawUpdate.status == UpdateStatus.PROCESSING)
                & (RawUpdate.claimed_at < now - STALE_CLAIM),
            )
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
