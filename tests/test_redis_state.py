"""With Redis configured, a conversation survives a restart (and moves between replicas)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dispatcher import create_fsm_storage
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
