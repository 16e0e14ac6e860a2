"""Shared fixtures: databases (SQLite always, PostgreSQL when reachable), Redis, the fake Telegram
Bot API and the real bot running against it.

Each test process creates its own PostgreSQL database and Redis key prefix, so parallel runs
(pytest-xdist, or two checkouts on one machine) never see each other's rows.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.storage import import_all_models, migrate
from bot.storage.db import Base, create_engine, create_sessionmaker

PG_ADMIN_URL = os.environ.get(
    "WORKVOICE_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("WORKVOICE_TEST_REDIS", "redis://127.0.0.1:6379/0")
# Each test process makes its own database next to the admin one, on the same server.
PG = make_url(PG_ADMIN_URL)
PG_ADMIN_DSN = PG.set(drivername="postgresql").render_as_string(hide_password=False)
KEEP_TABLES = {"countries", "alembic_version"}
RUN_ID = uuid.uuid4().hex[:10]

# How fast inputs are generated is not what these tests check, and on a busy two-CPU machine the
# first examples of a strategy can take longer than Hypothesis's patience (a flaky failure).
hypothesis_settings.register_profile("workvoice", suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("workvoice")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


PG_UP = _reachable(PG.host or "127.0.0.1", PG.port or 5432)
REDIS = make_url(REDIS_URL)
REDIS_UP = _reachable(REDIS.host or "127.0.0.1", REDIS.port or 6379)
BACKENDS = ["sqlite", "postgres"]


class Database:
    def __init__(self, backend: str, url: str, engine: AsyncEngine) -> None:
        self.backend, self.url, self.engine = backend, url, engine
        self.sessions = create_sessionmaker(engine)

    async def clean(self) -> None:
        """Empty every table but the seeded countries, children first."""
        async with self.engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                if table.name not in KEEP_TABLES:
                    await conn.execute(table.delete())


async def _create_pg_database(name: str) -> str:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return PG.set(database=name).render_as_string(hide_password=False)


async def _drop_pg_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def tmp_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("workvoice")


@pytest.fixture(scope="session")
async def databases(tmp_data: Path) -> AsyncIterator[dict[str, Database]]:
    """One migrated database per backend for the whole test process (migrations run for real)."""
    import_all_models()
    made: dict[str, Database] = {}
    pg_name = f"wv_test_{RUN_ID}_{os.getpid()}"

    async def get(backend: str) -> Database:
        if backend not in made:
            if backend == "sqlite":
                url = f"sqlite+aiosqlite:///{tmp_data / 'test.db'}"
            else:
                url = await _create_pg_database(pg_name)
            await asyncio.to_thread(migrate.upgrade, url)
            made[backend] = Database(backend, url, create_engine(url))
        return made[backend]

    holder: dict[str, Any] = {"get": get}
    yield holder  # type: ignore[misc]
    for db in made.values():
        await db.engine.dispose()
    if "postgres" in made:
        await _drop_pg_database(pg_name)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres" and not PG_UP:
        pytest.skip(f"PostgreSQL not reachable at {PG.host}:{PG.port} (start it to run these)")
    return str(request.param)


@pytest.fixture
async def db(databases: dict[str, Any], backend: str) -> AsyncIterator[Database]:
    database: Database = await databases["get"](backend)
    await database.clean()
    yield database
    await database.clean()


@pytest.fixture
def sessions(db: Database) -> async_sessionmaker[AsyncSession]:
    return db.sessions


@pytest.fixture
async def session(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessions() as s:
        yield s
        await s.rollback()


@pytest.fixture
def redis_url() -> str:
    if not REDIS_UP:
        pytest.skip(f"Redis not reachable at {REDIS.host}:{REDIS.port} (start it to run these)")
    return REDIS_URL


@pytest.fixture
def redis_prefix() -> str:
    return f"wvtest:{RUN_ID}:{uuid.uuid4().hex[:8]}"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_env_leak(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests never read the developer's .env or WORKVOICE_* variables by accident."""
    for key in list(os.environ):
        if key.startswith("WORKVOICE_") and not key.startswith("WORKVOICE_TEST_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(Path(__file__).resolve().parent)
    yield


@pytest.fixture(autouse=True)
def _fresh_preview_memory() -> None:
    """Audience previews remember staff ids per process (M5); ids start again in each test."""
    from services.previews import PREVIEWS

    PREVIEWS.forget()


async def sql_count(sessions: async_sessionmaker[AsyncSession], query: str, **params: Any) -> int:
    async with sessions() as s:
        return int((await s.execute(text(query), params)).scalar_one())


@pytest.fixture
async def app(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Any]:
    """The real bot against the fake Telegram API, on this test's database."""
    from tests.harness import running_bot

    async with running_bot(sessions) as harness:
        yield harness


@pytest.fixture
async def console(db: Database, tmp_path: Path) -> AsyncIterator[Any]:
    """The console app on this test's database; ``console.client_for(staff)`` is signed in."""
    from tests.console import ConsoleHarness, make_context

    harness = ConsoleHarness(make_context(db.sessions, db.engine, tmp_path))
    yield harness
    await harness.close()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[Any]:
    """A Redis server of this test's own (``tests.faults.ThrowawayRedis``), to hang or kill."""
    from tests.faults import ThrowawayRedis

    server = ThrowawayRedis(tmp_path)
    server.start()
    yield server
    server.kill()
