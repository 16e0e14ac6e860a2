"""The delivery's side of broadcasts: what each worker gets when their message is sent (or why
nothing goes), loading that for a batch at once, and counting outcomes on the broadcast so its
report outlives the outbox's short retention. The delivery loop calls these through the
broadcast renderer and hooks (``bot.flows.broadcasts``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.broadcasts import Broadcast, BroadcastSubscription, BroadcastTopic
from bot.storage.models import OutboxStatus, User
from services.broadcasts.messages import BroadcastStatus


@dataclass
class Delivery:
    topic: BroadcastTopic
    text: str


async def message_for(session: AsyncSession, broadcast_id: int, user: User) -> Delivery | None:
    """What this worker should see now, or None when it should not go: the broadcast was
    cancelled, the worker opted out or said /stop, or there is no version in their language."""
    broadcast = await session.get(Broadcast, broadcast_id)
    if broadcast is None or broadcast.status == BroadcastStatus.CANCELLED:
        return None
    if user.quiet_since is not None or not user.active:
        return None
    if await session.get(BroadcastSubscription, (user.id, broadcast.topic_id)) is None:
        return None
    text = broadcast.texts.get(user.locale or "")
    if text is None and broadcast.fallback:
        text = broadcast.texts.get(broadcast.default_locale)
    topic = await session.get(BroadcastTopic, broadcast.topic_id)
    if text is None or topic is None:
        return None
    return Delivery(topic, text)


async def preload_deliveries(session: AsyncSession, pairs: Sequence[tuple[int, int]]) -> list[Any]:
    """Load the broadcasts, topics and subscriptions of (broadcast, user) pairs in a few queries,
    so ``message_for`` finds them in the session instead of asking row by row. Returns them: the
    caller holds them while it renders (the identity map does not)."""
    broadcast_ids = sorted({b for b, _u in pairs})
    user_ids = sorted({u for _b, u in pairs})
    loaded: list[Any] = list(
        (await session.scalars(select(Broadcast).where(Broadcast.id.in_(broadcast_ids)))).all()
    )
    topic_ids = sorted({b.topic_id for b in loaded})
    loaded += (
        await session.scalars(select(BroadcastTopic).where(BroadcastTopic.id.in_(topic_ids)))
    ).all()
    for start in range(0, len(user_ids), 1000):
        loaded += (
            await session.scalars(
                select(BroadcastSubscription).where(
                    BroadcastSubscription.topic_id.in_(topic_ids),
                    BroadcastSubscription.user_id.in_(user_ids[start : start + 1000]),
                )
            )
        ).all()
    return loaded


_COUNTERS = {
    OutboxStatus.SENT: Broadcast.sent_count,
    OutboxStatus.FAILED: Broadcast.failed_count,
    OutboxStatus.BLOCKED: Broadcast.blocked_count,
    OutboxStatus.DROPPED: Broadcast.skipped_count,
}


async def record_outcome(
    session: AsyncSession, broadcast_id: int, status: OutboxStatus, count: int = 1
) -> None:
    """Count deliveries' final outcome on their broadcast (retries are not outcomes)."""
    column = _COUNTERS.get(OutboxStatus(status))
    if column is None:
        return
    await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast_id)
        .values({column.key: column + count})
        .execution_options(synchronize_session=False)
    )
