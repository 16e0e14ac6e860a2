"""Storage on SQLite and PostgreSQL: migrations both ways, aware datetimes, exactly-once claims."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

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


def _insert(conn: sqlite3.Connection, table: str, **values: object) -> int:
    """A row with the given values and a placeholder for every other required column."""
    for _cid, name, kind, notnull, default, pk in conn.execute(f"PRAGMA table_info({table})"):
        if notnull and not pk and default is None and name not in values:
            kind = kind.upper()
            values[name] = (
                0
                if "INT" in kind or "BOOL" in kind
                else "2026-01-01 00:00:00"
                if "DATE" in kind or "TIME" in kind
                else "{}"
                if "JSON" in kind
                else "x"
            )
    conn.execute(
        f"INSERT INTO {table} ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
        list(values.values()),
    )
    return int(conn.execute("SELECT last_insert_rowid()").fetchone()[0])


def test_sqlite_table_copies_keep_the_rows_that_reference_them(tmp_path: Path) -> None:
    """SQLite alters a table by copying it and dropping the old one; with foreign keys on, that
    drop would delete every row that references it (staff countries, a wave's participations and
    answers). Upgrading a database with data in it loses nothing."""
    path = tmp_path / "upgrade.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}", "0008_broadcasts")
    with sqlite3.connect(path) as conn:
        staff = _insert(conn, "staff", email="a@example.org", role="admin")
        _insert(conn, "staff_countries", staff_id=staff, country_code="BD")
        survey = _insert(conn, "surveys", key="pulse")
        version = _insert(conn, "survey_versions", survey_id=survey)
        wave = _insert(
            conn, "survey_waves", survey_id=survey, version_id=version, created_by_staff_id=staff
        )
        _insert(conn, "survey_participations", wave_id=wave, person_key="p")
        _insert(conn, "survey_responses", id=7, wave_id=wave, language="bn")
        _insert(conn, "survey_answers", id=8, wave_id=wave, question_key="q", language="bn")
    migrate.upgrade(f"sqlite+aiosqlite:///{path}", "head")
    with sqlite3.connect(path) as conn:
        counts = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in (
                "staff_countries",
                "survey_waves",
                "survey_participations",
                "survey_responses",
                "survey_answers",
            )
        }
        creator = conn.execute("SELECT created_by_staff_id FROM survey_waves").fetchone()[0]
    assert counts == dict.fromkeys(counts, 1)
    assert creator == staff
