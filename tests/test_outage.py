"""Which failures keep an update for later (the database or Redis is out) and which are the
update's own (answered "sorry", never retried: retried, it would fail forever)."""

from __future__ import annotations

import sqlite3

from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.runtime import Deferred, is_outage


def wrapped(error: type[Exception], orig: BaseException) -> Exception:
    return error("SELECT 1", {}, orig)


def test_outages_are_kept_for_later() -> None:
    assert is_outage(wrapped(OperationalError, ConnectionRefusedError("refused")))
    assert is_outage(wrapped(OperationalError, sqlite3.OperationalError("database is locked")))
    assert is_outage(PoolTimeout("QueuePool limit of size 10 overflow 10 reached"))
    assert is_outage(RedisConnectionError("Connection refused"))
    assert is_outage(Deferred())
    # PostgreSQL shutting down, as SQLAlchemy reports it (a plain DBAPIError): the fault test
    # with PostgreSQL stopped under polling answered one worker "sorry" before.
    cannot_connect = type("CannotConnectNowError", (Exception,), {})
    adapted = Exception("the database system is shutting down")
    adapted.__cause__ = cannot_connect()
    assert is_outage(wrapped(DBAPIError, adapted))
    try:
        raise RuntimeError("while saving") from RedisConnectionError("gone")
    except RuntimeError as exc:
        assert is_outage(exc)


def test_the_updates_own_failures_are_not() -> None:
    # SQLite says OperationalError for malformed JSON and bad SQL too: not an outage.
    assert not is_outage(wrapped(OperationalError, sqlite3.OperationalError("malformed JSON")))
    assert not is_outage(wrapped(DataError, ValueError("invalid input syntax for type integer")))
    assert not is_outage(RuntimeError("a bug"))
    assert not is_outage(KeyError("category"))
