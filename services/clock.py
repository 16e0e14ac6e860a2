"""The one source of "now", so deadlines, reminders and schedules can be tested without sleeping,
and the one rule for turning a wall-clock time in a time zone into a UTC moment."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.i18n import N_
from services.errors import DomainError


def utcnow() -> datetime:
    # Tests move time with time-machine, which patches datetime.now.
    return datetime.now(UTC)


def local_today(tz: ZoneInfo) -> date:
    """Today on the calendar of time zone ``tz`` (due dates and form defaults are days there)."""
    return utcnow().astimezone(tz).date()


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
    return planned_moment(datetime.combine(day, time(DAY_STARTS)), zone).astimezone(at.tzinfo)


class NonexistentTime(DomainError):
    code = "nonexistent_time"
    message = N_(
        "{time} does not exist in the factory's time zone: the clocks jump forward then. "
        "Please choose another time."
    )


def to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """The UTC moment of a naive wall-clock time in ``tz``: every console form and schedule uses
    this one rule. A time inside a spring-forward gap is refused (``NonexistentTime``), never
    silently moved; a time that happens twice (the clocks go back) is the first of the two."""
    first = local.replace(tzinfo=tz, fold=0)
    # In a gap the round trip lands on another wall-clock time.
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise NonexistentTime(time=local.strftime("%Y-%m-%d %H:%M"))
    return first.astimezone(UTC)


def happens_twice(local: datetime, tz: ZoneInfo) -> bool:
    """Whether a wall-clock time happens twice in ``tz`` (the hour the clocks go back)."""
    return (
        local.replace(tzinfo=tz, fold=0).utcoffset() != local.replace(tzinfo=tz, fold=1).utcoffset()
    )


def planned_moment(local: datetime, tz: ZoneInfo) -> datetime:
    """The other half of the one rule, for moments the product plans itself (an occurrence of a
    stored schedule, the start of a holiday, a reminder or invitation hour): as ``to_utc``,
    except that a time the clocks skip is not refused (nobody typed it) but moved forward by the
    gap, as the wall clock itself does; a day whose midnight is skipped starts when they jump."""
    try:
        return to_utc(local, tz)
    except NonexistentTime:
        return local.replace(tzinfo=tz, fold=0).astimezone(UTC)
