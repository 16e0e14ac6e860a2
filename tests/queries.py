"""Counting SQL statements, so an N+1 pattern on a hot path fails a test (Zulip's
``assert_database_query_count``): wrap the action and assert the count stays the same as the data
grows.

    with count_queries(sessions) as counted:
        await client.get("/reports")
    assert counted.selects <= 6
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker


@dataclass
class Counted:
    statements: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.statements)

    @property
    def selects(self) -> int:
        return sum(1 for s in self.statements if s.lstrip().upper().startswith(("SELECT", "WITH")))

    def __str__(self) -> str:  # shown when an assertion fails: which statements ran
        return "\n".join(f"{n + 1:3}. {s[:160]}" for n, s in enumerate(self.statements))


def _engine_of(bind: async_sessionmaker[AsyncSession] | AsyncEngine) -> AsyncEngine:
    if isinstance(bind, AsyncEngine):
        return bind
    engine = bind.kw.get("bind")
    assert isinstance(engine, AsyncEngine), "a sessionmaker bound to an engine"
    return engine


@contextmanager
def count_queries(bind: async_sessionmaker[AsyncSession] | AsyncEngine) -> Iterator[Counted]:
    """Every statement run on ``bind``'s engine inside the block (savepoints and PRAGMAs aside)."""
    counted = Counted()
    sync_engine = _engine_of(bind).sync_engine

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        head = statement.lstrip().upper()
        if head.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO", "PRAGMA")):
            return
        counted.statements.append(" ".join(statement.split()))

    event.listen(sync_engine, "before_cursor_execute", before)
    try:
        yield counted
    finally:
        event.remove(sync_engine, "before_cursor_execute", before)
