"""Storage on SQLite and PostgreSQL: migrations both ways, aware datetimes, exactly-once claims."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from bot.storage import migrate
from bot.storage.db import create_engine, create_sessionmaker, transaction
from bot.storage.models import Country, OutboxMessage, OutboxStatus, User
from services import outbox
from tests.conftest import Database


async def test_programme_countries_are_seeded(db: Database) -> None:
    async with db.sessions() as s:
        countries = {c.code: c for c in (await s.scalars(select(Country))).all()}
    assert set(countries) == {"BD", "KH", "ET", "HT", "ID", "JO", "NI", "VN"}
    assert countries["JO"].timezone == "Asia/Amman"
    assert countries["BD"].helplines[0]["phone"] == "999"


async def test_upgrade_downgrade_upgrade(db: Database) -> None:
    """The whole migration chain runs both ways on a scratch database of the same backend."""
    if db.backend == "sqlite":
        url = db.url.replace("test.db", "roundtrip.db")
    else:
        from tests.conftest import _create_pg_database, _drop_pg_database

        name = db.url.rsplit("/", 1)[1] + "_rt"
        url = await _create_pg_database(name)
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        engine = create_engine(url)
        assert await migrate.current_revision(engine) == migrate.head_revision()
        await asyncio.to_thread(migrate.downgrade, url, "base")
        assert await migrate.current_revision(engine) is None
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: c.dialect.get_table_names(c))
        assert set(tables) <= {"alembic_version"}
        await asyncio.to_thread(migrate.upgrade, url)
        assert await migrate.current_revision(engine) == migrate.head_revision()
        await engine.dispose()
    finally:
        if db.backend == "postgres":
            await _drop_pg_database(name)


async def test_datetimes_come_back_aware_utc(db: Database) -> None:
    async with transaction(db.sessions) as s:
        s.add(User(telegram_id=5, created_at=datetime(2026, 1, 1, 12, tzinfo=UTC)))
    async with db.sessions() as s:
        user = await s.scalar(select(User))
        assert user is not None and user.created_at == datetime(2026, 1, 1, 12, tzinfo=UTC)
        assert user.created_at.tzinfo is not None


async def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(Exception, match="naive"):
        async with transaction(db.sessions) as s:
            s.add(User(telegram_id=6, created_at=datetime(2026, 1, 1, 12)))


async def test_outbox_dedupe_key_enqueues_once(db: Database) -> None:
    async with transaction(db.sessions) as s:
        user = User(telegram_id=7)
        s.add(user)
        await s.flush()
        assert await outbox.enqueue(s, "x", user_id=user.id, dedupe_key="k1")
        assert not await outbox.enqueue(s, "x", user_id=user.id, dedupe_key="k1")
    async with db.sessions() as s:
        assert len((await s.scalars(select(OutboxMessage))).all()) == 1


async def test_two_workers_claim_each_message_once(db: Database) -> None:
    """Replicas racing for the same due rows: every row is claimed by exactly one of them."""
    async with transaction(db.sessions) as s:
        user = User(telegram_id=8)
        s.add(user)
        await s.flush()
        for i in range(60):
            await outbox.enqueue(s, "x", user_id=user.id, params={"i": i})
    # Separate engines, as separate processes would have.
    engines = [create_engine(db.url) for _ in range(2)]
    claimed: list[list[int]] = [[], []]

    async def worker(n: int) -> None:
        sessions = create_sessionmaker(engines[n])
        while True:
            async with transaction(sessions) as s:
                rows = await outbox.claim_due(s, worker=f"w{n}", limit=7)
                for row in rows:
                    await outbox.mark(s, row.id, OutboxStatus.SENT)
            if not rows:
                return
            claimed[n].extend(r.id for r in rows)

    await asyncio.gather(worker(0), worker(1))
    for e in engines:
        await e.dispose()
    every = claimed[0] + claimed[1]
    assert len(every) == 60 and len(set(every)) == 60


async def test_expired_claims_are_taken_again(db: Database) -> None:
    async with transaction(db.sessions) as s:
        user = User(telegram_id=9)
        s.add(user)
        await s.flush()
        await outbox.enqueue(s, "x", user_id=user.id)
    async with transaction(db.sessions) as s:
        assert len(await outbox.claim_due(s, worker="dead")) == 1
    async with transaction(db.sessions) as s:
        assert await outbox.claim_due(s, worker="alive") == []
    later = datetime.now(UTC) + outbox.CLAIM_TIMEOUT + timedelta(seconds=1)
    async with transaction(db.sessions) as s:
        again = await outbox.claim_due(s, worker="alive", now=later)
        assert len(again) == 1 and again[0].attempts == 2


async def test_database_is_reachable(db: Database) -> None:
    async with db.engine.connect() as conn:
        assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
