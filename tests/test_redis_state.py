"""With Redis configured, a conversation survives a restart (and moves between replicas)."""

from __future__ import annotations

import asyncio

from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.redis import RedisEventIsolation
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dispatcher import ChatLocks, create_fsm_storage, create_isolation
from bot.storage.models import User
from tests.factories import make_factory
from tests.harness import running_bot


async def test_onboarding_resumes_after_a_restart(
    sessions: async_sessionmaker[AsyncSession], redis_url: str, redis_prefix: str
) -> None:
    await make_factory(sessions, "DK-01")
    async with running_bot(
        sessions, storage=create_fsm_storage(redis_url, prefix=redis_prefix)
    ) as app:
        worker = app.user(3001, language_code="en")
        await worker.send("/start")
        await worker.wait_reply()
        await worker.tap("English")
        await worker.wait_reply()
        await worker.tap("✅ I agree")
        asked = await worker.wait_reply()
        assert "Which factory" in asked.plain_text()
        await worker.wait_idle()
    # A new process (or another replica): the memory is gone, Redis still knows the step.
    async with running_bot(
        sessions, storage=create_fsm_storage(redis_url, prefix=redis_prefix)
    ) as app:
        worker = app.user(3001, language_code="en")
        await worker.send("DK-01")
        linked = await worker.wait_reply()
        assert linked.plain_text() == "You are now linked to Factory DK-01."
        await worker.wait_idle()
    async with sessions() as s:
        user = await s.scalar(select(User).where(User.telegram_id == 3001))
        assert user is not None and user.factory_id is not None
    storage = create_fsm_storage(redis_url, prefix=redis_prefix)
    redis = storage.redis  # type: ignore[attr-defined]
    keys = [key async for key in redis.scan_iter(f"{redis_prefix}:*")]
    assert keys  # the state really lived in Redis under this run's prefix
    await redis.delete(*keys)
    await storage.close()


async def test_with_redis_one_update_at_a_time_per_chat_holds_across_replicas(
    redis_url: str, redis_prefix: str
) -> None:
    """Two replicas share Redis: the per-chat lock is a Redis lock, so a chat's second update
    waits on another replica too; without Redis it is the process's own lock."""

    assert isinstance(create_isolation(create_fsm_storage(None)), ChatLocks)
    one = create_fsm_storage(redis_url, prefix=redis_prefix)
    other = create_fsm_storage(redis_url, prefix=redis_prefix)
    first, second = create_isolation(one), create_isolation(other)
    assert isinstance(first, RedisEventIsolation)
    key = StorageKey(bot_id=1, chat_id=42, user_id=42)
    order: list[str] = []

    async def hold() -> None:
        async with first.lock(key):
            order.append("first in")
            await asyncio.sleep(0.3)
            order.append("first out")

    async def wait() -> None:
        await asyncio.sleep(0.05)
        async with second.lock(key):
            order.append("second in")

    await asyncio.gather(hold(), wait())
    assert order == ["first in", "first out", "second in"]
    await one.close()
    await other.close()


async def test_without_redis_a_chat_waits_for_its_own_updates_only_and_no_lock_is_kept() -> None:
    locks = ChatLocks()
    one, other = (
        StorageKey(bot_id=1, chat_id=1, user_id=1),
        StorageKey(bot_id=1, chat_id=2, user_id=2),
    )
    order: list[str] = []

    async def handle(key: StorageKey, name: str, pause: float) -> None:
        async with locks.lock(key):
            order.append(f"{name} in")
            await asyncio.sleep(pause)
            order.append(f"{name} out")

    await asyncio.gather(handle(one, "a1", 0.2), handle(one, "a2", 0), handle(other, "b", 0.05))
    # b (another chat) did not wait for a1; a2 (the same chat) did.
    assert order.index("b out") < order.index("a1 out") < order.index("a2 in")
    assert locks.chats == 0  # nothing kept per worker once her updates are handled
