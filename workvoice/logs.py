"""Logging set-up. Log lines name events and pseudonymous ids, never a worker's id, name or text."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiogram.event logs every update id at INFO; keep it for debugging only.
    logging.getLogger("aiogram.event").setLevel(max(logging.WARNING, root.level))
    # aiosqlite logs every statement with its parameters (Telegram ids among them) at DEBUG.
    for noisy in ("uvicorn.access", "alembic", "apscheduler", "aiogram.dispatcher", "aiosqlite"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
