"""The outbound port: services enqueue messages here; the bot's delivery loop sends them.

Rows are written in the caller's transaction, so a message leaves only if the change that caused it
committed. ``claim_due`` hands each row to exactly one replica: ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, a conditional ``UPDATE ... WHERE status = 'pending' AND claimed_at IS NULL`` on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.db import dialect_insert
from bot.storage.models import OutboxMessage, OutboxStatus
from services.claims import claim_ids
from services.clock import utcnow

# A claim older than this is presumed abandoned by a crashed replica and may be taken again. A
# live replica renews its claims every RENEW_CLAIMS_EVERY, also while it waits out a long
# retry_after (Telegram has asked for 130 s), and sends a message only while its claim is younger
# than SEND_WITHIN, so a message another replica may take over is never also sent by the first.
CLAIM_TIMEOUT = timedelta(minutes=2)
RENEW_CLAIMS_EVERY = timedelta(seconds=20)
SEND_WITHIN = timedelta(minutes=1)
MAX_ATTEMPTS = 5


async def enqueue(
    session: AsyncSession,
    kind: str,
    *,
    user_id: int | None = None,
    staff_id: int | None = None,
    params: dict[str, Any] | None = None,
    due_at: datetime | None = None,
    expires_at: datetime | None = None,
    dedupe_key: str | None = None,
    priority: int = 100,
) -> bool:
    """Queue one message. With ``dedupe_key``, a second enqueue of the same key does nothing.

    Returns whether a row was added.
    """
    if (user_id is None) == (staff_id is None):
        raise ValueError("exactly one of user_id or staff_id")
    values = dict(
        kind=kind,
        user_id=user_id,
        staff_id=staff_id,
        params=params or {},
        due_at=due_at or utcnow(),
        expires_at=expires_at,
        dedupe_key=dedupe_key,
        priority=priority,
        status=OutboxStatus.PENDING,
        attempts=0,
        created_at=utcnow(),
    )
    insert = dialect_insert(session)
    stmt = insert(OutboxMessage).values(**values)
    if dedupe_key is not None:
        stmt = stmt.on_conflict_do_nothing(index_elements=["dedupe_key"])
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def enqueue_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """Queue many messages at once (a wave's invitations, a meeting's reminders): each row takes
    ``enqueue``'s keywords (``kind`` and ``user_id`` required). Repeated dedupe keys are skipped,
    as by ``enqueue``. Returns how many rows were added.

    One cached statement that SQLAlchemy batches into multi-row INSERTs: one statement per
    message capped the committee dispatcher at about 1,300 messages a second.
    """
    if not rows:
        return 0
    now = utcnow()
    defaults: dict[str, Any] = dict(
        staff_id=None,
        params={},
        due_at=now,
        expires_at=None,
        dedupe_key=None,
        priority=100,
        paid=False,
    )
    full = [
        {**defaults, **row, "status": OutboxStatus.PENDING, "attempts": 0, "created_at": now}
        for row in rows
    ]
    insert = dialect_insert(session)
    stmt = (
        insert(OutboxMessage)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboxMessage.id)
    )
    return len((await session.execute(stmt, full)).all())


async def claim_due(
    session: AsyncSession,
    *,
    worker: str,
    limit: int = 50,
    now: datetime | None = None,
    paid: bool | None = None,
) -> Sequence[OutboxMessage]:
    """Claim up to ``limit`` due rows for this worker; the caller commits, then delivers them.

    ``paid``: only rows of that delivery lane (paid broadcasts have their own); None: any row, as
    when paid broadcasts are off and one lane sends everything at the free pace."""
    now = now or utcnow()
    due = and_(
        OutboxMessage.status == OutboxStatus.PENDING,
        OutboxMessage.due_at <= now,
        or_(OutboxMessage.claimed_at.is_(None), OutboxMessage.claimed_at < now - CLAIM_TIMEOUT),
    )
    if paid is not None:
        due = and_(due, OutboxMessage.paid.is_(paid))
    order = (OutboxMessage.priority, OutboxMessage.due_at, OutboxMessage.id)
    ids = await claim_ids(
        session,
        OutboxMessage,
        due,
        order_by=order,
        limit=limit,
        values={"claimed_at": now, "claimed_by": worker, "attempts": OutboxMessage.attempts + 1},
    )
    if not ids:
        return []
    return (
        await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .order_by(*order)
            .execution_options(populate_existing=True)
        )
    ).all()


async def renew_claims(session: AsyncSession, ids: Sequence[int], *, worker: str) -> int:
    """Keep ``worker``'s claims on ``ids`` alive (those it still holds); returns how many."""
    if not ids:
        return 0
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(ids),
            OutboxMessage.claimed_by == worker,
            OutboxMessage.status == OutboxStatus.PENDING,
        )
        .values(claimed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def may_send(session: AsyncSession, message_id: int, *, worker: str) -> bool:
    """Whether ``worker`` still holds a fresh claim on the message, checked right before each
    send. A read, so it takes no lock: the claim was renewed less than ``SEND_WITHIN`` ago and
    nobody may take it over before ``CLAIM_TIMEOUT``, which leaves the send a minute."""
    holder = (
        await session.execute(
            select(OutboxMessage.claimed_by, OutboxMessage.claimed_at, OutboxMessage.status).where(
                OutboxMessage.id == message_id
            )
        )
    ).first()
    if holder is None or holder.claimed_by != worker or holder.status != OutboxStatus.PENDING:
        return False
    claimed_at = holder.claimed_at
    if claimed_at is not None and claimed_at.tzinfo is None:  # SQLite keeps naive UTC
        claimed_at = claimed_at.replace(tzinfo=UTC)
    return claimed_at is not None and utcnow() - claimed_at < SEND_WITHIN


async def mark(
    session: AsyncSession,
    message_id: int,
    status: OutboxStatus,
    *,
    error: str | None = None,
    retry_at: datetime | None = None,
    paid: bool | None = None,
) -> None:
    """Record the outcome of one delivery; ``retry_at`` puts it back in the queue for later
    (``paid=False``: in the free lane, when Telegram refused to take payment for it)."""
    values: dict[str, Any] = {"error": error}
    if paid is not None:
        values["paid"] = paid
    if retry_at is not None:
        values.update(
            status=OutboxStatus.PENDING, due_at=retry_at, claimed_at=None, claimed_by=None
        )
    else:
        values.update(status=status, sent_at=utcnow() if status == OutboxStatus.SENT else None)
    await session.execute(
        update(OutboxMessage).where(OutboxMessage.id == message_id).values(**values)
    )


async def mark_many(
    session: AsyncSession, ids: Sequence[int], status: OutboxStatus, *, error: str | None = None
) -> None:
    """Record one final outcome of many deliveries in one statement."""
    values: dict[str, Any] = {
        "status": status,
        "error": error,
        "sent_at": utcnow() if status == OutboxStatus.SENT else None,
    }
    for start in range(0, len(ids), 1000):  # SQLite's and asyncpg's limits on bound values
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids[start : start + 1000]))
            .values(**values)
            .execution_options(synchronize_session=False)
        )


async def stop_paying(session: AsyncSession) -> int:
    """Move every waiting paid message to the free lane (Telegram refused a paid broadcast: the
    bot's Stars ran out, or it is not allowed them). A claimed row is left to its sender, which
    meets the same refusal and moves it back itself: taking it here could send it twice."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.paid.is_(True),
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.claimed_at.is_(None),
        )
        .values(paid=False)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def purge_handled(session: AsyncSession, *, older_than: datetime) -> int:
    """Delete rows that were sent, dropped, blocked or failed before ``older_than``."""
    result = await session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.status != OutboxStatus.PENDING, OutboxMessage.created_at < older_than
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
