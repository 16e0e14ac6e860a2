"""DESIGN §4 threat model, the database reader on SQLite: a deleted row is gone from the files.

SQLite leaves a deleted row's bytes in the freed page until it is reused, and the -wal file keeps
page images until a checkpoint; every connection now sets ``secure_delete`` (freed content is
zeroed) and a ``journal_size_limit`` (the -wal file shrinks back after a checkpoint).
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from sqlalchemy import text

from bot.storage.db import SQLITE_JOURNAL_SIZE_LIMIT, create_engine


def _holding(base: Path, needle: bytes) -> list[str]:
    paths = [base, Path(f"{base}-wal"), Path(f"{base}-journal")]
    return [str(p) for p in paths if p.exists() and needle in p.read_bytes()]


async def _write_then_delete(url: str, marker: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE drafts (id INTEGER PRIMARY KEY, body TEXT)"))
        await conn.execute(text("INSERT INTO drafts (body) VALUES ('keep me')"))
        await conn.execute(text("INSERT INTO drafts (body) VALUES (:b)"), {"b": marker})
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM drafts WHERE body = :b"), {"b": marker})
    async with engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA secure_delete"))).scalar_one() == 1
        limit = (await conn.execute(text("PRAGMA journal_size_limit"))).scalar_one()
        assert limit == SQLITE_JOURNAL_SIZE_LIMIT
        await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    await engine.dispose()


async def test_a_deleted_row_leaves_no_bytes_in_the_sqlite_files(tmp_path: Path) -> None:
    marker = f"DRAFT-{uuid.uuid4().hex}"
    path = tmp_path / "wv.db"
    await _write_then_delete(f"sqlite+aiosqlite:///{path}", marker)
    assert _holding(path, b"keep me"), "the scan reads the files"
    assert _holding(path, marker.encode()) == []


def test_without_secure_delete_the_same_row_stays_readable(tmp_path: Path) -> None:
    """The attack the pragma stops, on a connection without it (SQLite's default)."""
    marker = f"DRAFT-{uuid.uuid4().hex}"
    path = tmp_path / "plain.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA secure_delete=OFF")
    conn.execute("CREATE TABLE drafts (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO drafts (body) VALUES ('keep me')")
    conn.execute("INSERT INTO drafts (body) VALUES (?)", (marker,))
    conn.commit()
    conn.execute("DELETE FROM drafts WHERE body = ?", (marker,))
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    assert _holding(path, marker.encode())
