"""What counts as an outage of the database or Redis: a failure of the service itself (down,
hung, restarting, pool exhausted), not of the work that met it. An update or a job that meets an
outage is kept and tried again; one whose own data or code fails is not (retried, it would fail
forever). Background loops log an outage as one line, not a traceback a second.
"""

from __future__ import annotations


class Outage(Exception):
    """Raised where work is put off because the database or Redis is out (``bot.runtime.Deferred``
    is one)."""


_CONNECTION_ERRORS = {  # asyncpg's names for a server that is gone, restarting or full
    "ConnectionDoesNotExistError",
    "CannotConnectNowError",
    "ConnectionFailureError",
    "PostgresConnectionError",
    "TooManyConnectionsError",
    "AdminShutdownError",
    "CrashShutdownError",
}
# SQLite's OperationalError covers bad SQL and malformed JSON too; only these are the file's.
_SQLITE_OUTAGES = ("database is locked", "unable to open database", "disk i/o error")


def _lost_connection(orig: BaseException | None) -> bool:
    for cause in (orig, orig.__cause__ if orig is not None else None):
        if isinstance(cause, ConnectionError | TimeoutError):
            return True
        if cause is not None and type(cause).__name__ in _CONNECTION_ERRORS:
            return True
    text = str(orig or "").lower()  # checked, never logged: it may quote what was sent
    return any(words in text for words in _SQLITE_OUTAGES)


def is_outage(exc: BaseException) -> bool:
    """A failure of the database or Redis themselves (down, hung, pool exhausted), not of the
    update: the update is kept and tried again instead of being answered "sorry" and dropped.
    An error the update itself causes (bad data, a bug) is not one: retried, it would fail
    forever."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from sqlalchemy.exc import DBAPIError, InterfaceError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(exc, Outage | InterfaceError | PoolTimeout | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        return True
    if isinstance(exc, DBAPIError):
        # Any DBAPIError: SQLAlchemy reports asyncpg's "the database system is shutting down"
        # (CannotConnectNowError) as a plain DBAPIError, not an OperationalError; what decides
        # is the driver's error underneath.
        return exc.connection_invalidated or _lost_connection(exc.orig)
    return exc.__cause__ is not None and is_outage(exc.__cause__)
