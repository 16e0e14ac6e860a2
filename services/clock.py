"""The one source of "now", so deadlines, reminders and schedules can be tested without sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    # Tests move time with time-machine, which patches datetime.now.
    return datetime.now(UTC)


# Optional messages (news, invitations) reach phones only in the day: a phone is often shared, and
# one that buzzes at night tells the household a worker is in touch with someone.
DAY_STARTS, DAY_ENDS = 8, 20


def in_daytime(at: datetime, tz: str) -> datetime:
    """``at`` if it falls in the day in time zone ``tz``, else the next morning there."""
    zone = ZoneInfo(tz)
    local = at.astimezone(zone)
    if DAY_STARTS <= local.hour < DAY_ENDS:
        return at
    day = local.date() + timedelta(days=1 if local.hour >= DAY_ENDS else 0)
    return datetime.combine(day, time(DAY_STARTS), tzinfo=zone).astimezone(at.tzinfo)
