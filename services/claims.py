"""Claiming due rows exactly once across replicas: the one pattern behind every scheduled job.

PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED``, then mark the rows; a second replica skips them.
SQLite (one writer at a time): a conditional ``UPDATE ... WHERE <still due>`` per row, so whichever
transaction updates first wins. Either way the caller commits, then does the work.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.db import is_postgres


def due_task(model: Any, now: datetime, *, claim_timeout: timedelta) -> ColumnElement[bool]:
    """A task row (``due_at``, ``done_at``, ``claimed_at``) that is due and not held by a live
    claim: a claim older than ``claim_timeout`` is presumed lost with a crashed replica."""
    return and_(
        model.done_at.is_(None),
        model.due_at <= now,
        or_(model.claimed_at.is_(None), model.claimed_at < now - claim_timeout),
    )


async def claim_ids(
    session: AsyncSession,
    model: Any,
    due: ColumnElement[bool],
    *,
    order_by: Sequence[Any],
    limit: int,
    values: dict[str, Any],
) -> list[int]:
    """Mark up to ``limit`` rows matching ``due`` with ``values`` and return their ids."""
    if is_postgres(session):
        ids = list(
            (
                await session.scalars(
                    select(model.id)
                    .where(due)
                    .order_by(*order_by)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
        )
        if ids:
            await session.execute(
                update(model)
                .where(model.id.in_(ids))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        return ids
    won = []
    for row_id in (
        await session.scalars(select(model.id).where(due).order_by(*order_by).limit(limit))
    ).all():
        result = await session.execute(
            update(model)
            .where(model.id == row_id, due)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            won.append(row_id)
    return won
