"""The one source of "now", so deadlines, reminders and schedules can be tested without sleeping."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    # Tests move time with time-machine, which patches datetime.now.
    return datetime.now(UTC)
