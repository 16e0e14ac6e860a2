"""Logging set-up. Log lines name events and row ids of things, never a worker's id, name or text.

Exceptions are where that breaks by accident: a database error's message quotes the value it
refused (a survey draft, a report's words) and SQLAlchemy appends ``[parameters: ...]``; aiogram
prints ``ExceptionType: message`` for a failed update. So every record, from every logger (ours,
aiogram, uvicorn, apscheduler, SQLAlchemy), goes through ``SafeFormatter``: the exception's type
and stack frames, never its message or args (DESIGN §4.5). ``RedactFilter`` drops the few
library records that carry data rows whatever their level is set to.
"""

from __future__ import annotations

import logging
import sys
import traceback
from types import TracebackType
from typing import IO, Any

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

# Loggers whose debug records are data: SQLAlchemy logs every fetched row at DEBUG, aiosqlite
# every call with its arguments (SQL parameters, Telegram ids among them).
_DATA_LOGGERS = {"sqlalchemy.engine": logging.INFO, "aiosqlite": logging.WARNING}


def _safe_arg(value: Any) -> Any:
    # aiogram and others log ``"%s: %s", type(e).__name__, e``: the message goes, the type stays.
    return type(value).__name__ if isinstance(value, BaseException) else value


def describe_exception(exc: BaseException | None, tb: TracebackType | None = None) -> str:
    """A traceback with frames and exception types only, causes and contexts included."""
    lines: list[str] = []
    seen: set[int] = set()

    def walk(error: BaseException, trace: TracebackType | None) -> None:
        seen.add(id(error))
        cause = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
        if cause is not None and id(cause) not in seen:
            walk(cause, cause.__traceback__)
            lines.append(
                "\nThe above exception was the direct cause of the following exception:\n\n"
                if error.__cause__ is not None
                else "\nDuring handling of the above exception, another exception occurred:\n\n"
            )
        if trace is not None:
            lines.append("Traceback (most recent call last):\n")
            lines.extend(traceback.format_list(traceback.extract_tb(trace)))
        kind = type(error)
        module = "" if kind.__module__ == "builtins" else f"{kind.__module__}."
        lines.append(f"{module}{kind.__qualname__} (message not logged)\n")
        if isinstance(error, BaseExceptionGroup):
            for number, inner in enumerate(error.exceptions, 1):
                if id(inner) not in seen:
                    lines.append(f"+ sub-exception {number}:\n")
                    walk(inner, inner.__traceback__)

    if exc is not None:
        walk(exc, tb if tb is not None else exc.__traceback__)
    return "".join(lines).rstrip("\n")


class SafeFormatter(logging.Formatter):
    """The standard format, with exception types and frames but no exception messages."""

    def __init__(self, fmt: str = FORMAT, datefmt: str | None = None) -> None:
        super().__init__(fmt, datefmt)

    def format(self, record: logging.LogRecord) -> str:
        # Built here rather than by Formatter.format: that one reuses record.exc_text, which
        # another handler's formatter may have filled with the full message.
        msg = record.msg
        if isinstance(msg, BaseException):
            msg = _safe_arg(msg)
        args: Any = record.args
        if isinstance(args, tuple):
            args = tuple(_safe_arg(a) for a in args)
        elif isinstance(args, dict):
            args = {k: _safe_arg(v) for k, v in args.items()}
        message = str(msg)
        if args:
            try:
                message = message % args
            except (TypeError, ValueError, KeyError):
                message = f"{message} (arguments not logged)"
        values = dict(record.__dict__, message=message)
        if self.usesTime():
            values["asctime"] = self.formatTime(record, self.datefmt)
        text = self._style._fmt % values if self._style._fmt else message
        if record.exc_info and record.exc_info[1] is not None:
            text += "\n" + describe_exception(record.exc_info[1], record.exc_info[2])
        if record.stack_info:
            text += "\n" + self.formatStack(record.stack_info)
        return text

    def formatException(self, ei: Any) -> str:
        return describe_exception(ei[1], ei[2])


class RedactFilter(logging.Filter):
    """Drops library records that carry data rows or call arguments (see ``_DATA_LOGGERS``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, floor in _DATA_LOGGERS.items():
            if (record.name == name or record.name.startswith(name + ".")) and (
                record.levelno < floor
            ):
                return False
        return True


def safe_handler(stream: IO[str] | None = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(SafeFormatter())
    handler.addFilter(RedactFilter())
    return handler


def configure_logging(level: str = "INFO", *, stream: IO[str] | None = None) -> None:
    handler = safe_handler(stream)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # A library that brought its own handler (or one added before us) formats safely too.
    for logger in logging.root.manager.loggerDict.values():
        if isinstance(logger, logging.Logger):
            for own in logger.handlers:
                own.setFormatter(SafeFormatter())
                if not any(isinstance(f, RedactFilter) for f in own.filters):
                    own.addFilter(RedactFilter())
    # aiogram.event logs every update id at INFO; keep it for debugging only.
    logging.getLogger("aiogram.event").setLevel(max(logging.WARNING, root.level))
    # aiosqlite logs every statement with its parameters (Telegram ids among them) at DEBUG.
    for noisy in ("uvicorn.access", "alembic", "apscheduler", "aiogram.dispatcher", "aiosqlite"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
