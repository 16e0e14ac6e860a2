"""Meeting times in the factory's wall-clock time: RRULE parsing, local → UTC, DST gaps and overlaps.

A schedule is an RFC 5545 RRULE evaluated on *local* (naive) datetimes, so "the first Tuesday at
14:00" stays at 14:00 on the factory's clock when daylight-saving time begins or ends; each local
occurrence is then turned into an aware UTC instant with ``zoneinfo``.

Two local times need a rule (both are refused or reported, never guessed silently):
- a time that does not exist (the clocks jump forward over it): refused with
  ``services.clock.NonexistentTime``;
- a time that happens twice (the clocks go back): the first of the two is used (``fold=0``), and
  the caller gets it in ``ambiguous`` so the console can say so.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, rrule, rrulestr

from bot.i18n import N_
from services.clock import NonexistentTime, happens_twice, planned_moment, to_utc
from services.errors import DomainError

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
LOCAL_LENGTH = len("YYYY-MM-DDTHH:MM")  # what LOCAL_FORMAT writes
# How far ahead a new schedule is checked for impossible times (and meetings are materialised).
CHECK_YEARS = 3


class Weekday(StrEnum):
    """RFC 5545 day codes, as the simple schedule form sends and an RRULE's BYDAY holds them."""

    MO = "MO"
    TU = "TU"
    WE = "WE"
    TH = "TH"
    FR = "FR"
    SA = "SA"
    SU = "SU"


WEEKDAYS = tuple(Weekday)


class InvalidSchedule(DomainError):
    code = "invalid_schedule"
    message = N_("This schedule could not be read. Please check the repeat rule and try again.")


class InvalidTime(DomainError):
    code = "invalid_time"
    message = N_("Please give the date and time as YYYY-MM-DD and HH:MM.")


@dataclass(frozen=True)
class Occurrence:
    key: str  # the local start, "2026-03-03T14:00": stable across re-materialising
    starts_at: datetime  # aware UTC
    ambiguous: bool  # the local time happens twice; the first one was taken


def parse_local(value: str) -> datetime:
    """A naive local datetime from the console's "YYYY-MM-DDTHH:MM" (or with a space)."""
    try:
        return datetime.strptime(value.strip().replace(" ", "T")[:LOCAL_LENGTH], LOCAL_FORMAT)  # noqa: DTZ007
    except ValueError:
        raise InvalidTime() from None


def local_key(local: datetime) -> str:
    return local.strftime(LOCAL_FORMAT)


def friendly_rrule(*, freq: str, weekday: str, ordinal: int = 0, interval: int = 1) -> str:
    """The console's simple form as an RRULE: "monthly on the first Tuesday", "every 2 weeks".

    ``ordinal`` 1..4 or -1 (last) picks one weekday of the month; 0 means every such weekday.
    """
    if freq not in {"weekly", "monthly"} or weekday not in WEEKDAYS:
        raise InvalidSchedule()
    if not 1 <= interval <= 12 or ordinal not in {-1, 0, 1, 2, 3, 4}:
        raise InvalidSchedule()
    byday = f"{ordinal}{weekday}" if freq == "monthly" and ordinal else weekday
    parts = [f"FREQ={freq.upper()}"]
    if interval > 1:
        parts.append(f"INTERVAL={interval}")
    parts.append(f"BYDAY={byday}")
    return ";".join(parts)


def check_rrule(rule: str, local_start: datetime) -> rrule:
    """Parse an RRULE against the first local start; refuse anything more often than daily."""
    text = rule.strip().removeprefix("RRULE:")
    if not text or "\n" in text or "DTSTART" in text.upper() or len(text) > 400:
        raise InvalidSchedule()
    try:
        parsed = rrulestr(text, dtstart=local_start)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError):
        raise InvalidSchedule() from None
    # A meeting more often than daily is a typo (FREQ=HOURLY ...), and would flood members.
    if not isinstance(parsed, rrule) or parsed._freq > DAILY:
        raise InvalidSchedule()
    return parsed


def local_occurrences(rule: rrule, after: datetime, before: datetime) -> Iterator[datetime]:
    """Local starts of ``rule`` with ``after <= start < before`` (naive, local)."""
    for local in rule.xafter(after - timedelta(seconds=1), inc=False):
        if local >= before:
            return
        yield local


def check_schedule(
    rule_text: str, local_start: datetime, tz: ZoneInfo, *, years: int = CHECK_YEARS
) -> tuple[rrule, list[str]]:
    """Validate a schedule for the next ``years``: refuse the first non-existent occurrence and
    list the ambiguous ones (where the first of the two times will be used)."""
    rule = check_rrule(rule_text, local_start)
    ambiguous = []
    end = local_start.replace(year=local_start.year + years)
    for count, local in enumerate(local_occurrences(rule, local_start, end)):
        if count > 2000:
            break
        to_utc(local, tz)  # refuses a time in a gap
        if happens_twice(local, tz):
            ambiguous.append(local_key(local))
    if not any(True for _ in local_occurrences(rule, local_start, end)):
        raise InvalidSchedule()
    return rule, ambiguous


def occurrences(
    rule: rrule, tz: ZoneInfo, *, after_utc: datetime, before_utc: datetime
) -> list[Occurrence]:
    """Occurrences whose UTC start falls in [after_utc, before_utc).

    A time that became non-existent after the schedule was checked (the zone's rules changed) is
    moved forward by the gap, as the wall clock itself does, rather than lost.
    """
    # A day of margin either side covers any UTC offset; the UTC window is applied exactly below.
    after = after_utc.astimezone(tz).replace(tzinfo=None) - timedelta(days=1)
    before = before_utc.astimezone(tz).replace(tzinfo=None) + timedelta(days=1)
    found = []
    for local in local_occurrences(rule, after, before):
        try:
            starts_at, twice = to_utc(local, tz), happens_twice(local, tz)
        except NonexistentTime:
            starts_at, twice = planned_moment(local, tz), False
        if after_utc <= starts_at < before_utc:
            found.append(Occurrence(local_key(local), starts_at, twice))
    return found
