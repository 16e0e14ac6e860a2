"""Engine, sessions and the declarative base shared by every model module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, TypeDecorator, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names so Alembic can alter tables on SQLite (batch mode) and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL (Telegram ids pass 2**31), INTEGER on SQLite so it stays the rowid alias.
BigId = BigInteger().with_variant(Integer(), "sqlite")
JSONType = (
    JSON().with_variant(postgresql.JSONB(), "postgresql").with_variant(sqlite.JSON(), "sqlite")
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on both databases (SQLite drops tzinfo)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
    }


def utcnow() -> datetime:
    return datetime.now(UTC)


# The -wal file is truncated back to this size after a checkpoint instead of keeping its peak
# size (and the old page images in it) for ever.
SQLITE_JOURNAL_SIZE_LIMIT = 4 * 1024 * 1024


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    # SQL parameters are worker text and ids: never in a log line or an exception's message
    # (an error's str() would otherwise end with "[parameters: ...]", DESIGN §4.5).
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_async_engine(url, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # WAL lets the console read while the bot writes; foreign keys are off by default.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # Deleted rows are overwritten with zeros, not left in free pages for a database
            # reader (DESIGN §4 threat model). Old page versions in the -wal file go when it is
            # checkpointed and truncated; PostgreSQL has no such switch (see the README).
            cur.execute("PRAGMA secure_delete=ON")
            cur.execute(f"PRAGMA journal_size_limit={SQLITE_JOURNAL_SIZE_LIMIT}")
            cur.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    return create_async_engine(url, **kwargs)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit when the block ends, roll back if it raises.

    Services only flush; the edges (bot middleware, console request, scheduler job) own this.
    """
    async with sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


def is_postgres(session_or_engine: AsyncSession | AsyncEngine) -> bool:
    bind = (
        session_or_engine.get_bind()
        if isinstance(session_or_engine, AsyncSession)
        else session_or_engine
    )
    return bind.dialect.name == "postgresql"


def dialect_insert(session: AsyncSession) -> Any:
    """The dialect's INSERT, which has ``on_conflict_do_nothing`` (both dialects spell it alike)."""
    return postgresql.insert if is_postgres(session) else sqlite.insert
