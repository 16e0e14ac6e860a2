"""Query counts on the surveys' hot path: opening 📋 Surveys in the bot runs the same number of
statements whether 2 or 20 waves are open (review §4.5 #12: no query per wave)."""

from __future__ import annotations

import copy

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage.db import transaction
from bot.storage.models import User
from services.surveys import answering
from tests.factories import make_worker
from tests.queries import count_queries
from tests.surveys_data import SAMPLE, make_wave

SECRET = "test-secret"


async def _open_waves(sessions: async_sessionmaker[AsyncSession], n: int, first: int) -> None:
    """``n`` open waves, in the worker's country and in another, each of its own survey."""
    for i in range(first, first + n):
        definition = copy.deepcopy(SAMPLE)
        definition["key"] = f"sample-{i}"
        await make_wave(sessions, countries=("BD",) if i % 2 else ("KH",), definition=definition)


async def _statements_opening_surveys(
    sessions: async_sessionmaker[AsyncSession], telegram_id: int
) -> tuple[int, int]:
    """(statements, waves offered) when the worker opens Surveys."""
    async with transaction(sessions) as session:
        user = await session.scalar(select(User).where(User.telegram_id == telegram_id))
        assert user is not None
        with count_queries(sessions) as counted:
            found = await answering.open_waves_for(session, user, secret_key=SECRET)
        return counted.total, len(found)


async def test_opening_surveys_runs_the_same_statements_for_2_or_20_open_waves(sessions) -> None:  # type: ignore[no-untyped-def]
    await make_worker(sessions, 7001)
    await make_worker(sessions, 7002, factory_code="PP-1", country="KH")
    await _open_waves(sessions, 2, 0)
    few, offered = await _statements_opening_surveys(sessions, 7001)
    assert offered == 1  # the BD wave; the KH one is for another country
    await _open_waves(sessions, 18, 2)
    many, offered = await _statements_opening_surveys(sessions, 7001)
    assert offered == 10
    assert many == few, f"{few} statements for 2 open waves, {many} for 20"
    assert many <= 5
