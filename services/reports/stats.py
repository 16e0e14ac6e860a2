"""Case statistics for managers and analysts: deadlines met, ageing, cases per month, report
numbers over a period. Numbers only, never a case; every count goes through small-group
suppression (DESIGN §4.2) and a share or a median is shown only when the counts under it are.

Counting is one narrow query per page (a handful of columns per case in scope, no history, no
ciphertext) and arithmetic here: deadlines compare two columns, ages and months are calendar
arithmetic that SQLite and PostgreSQL spell differently, and 5,000 cases are a few milliseconds
of Python (``benchmarks/console_scale.py``).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.reports import Case
from services.factories import list_countries
from services.reports.protocol import Category, Severity, State
from services.scope import Scope
from services.suppression import HIDDEN, Shown, suppress_line

# The protocol sets deadlines for acknowledging and triaging (DESIGN §5). For closing it sets
# none; the dashboards measure closing against 90 days from submission, the last check-in's
# horizon and the ageing chart's last band, until the programme names its own target.
CLOSE_TARGET = timedelta(days=90)
AGE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("0-7", 0, 7),
    ("8-30", 8, 30),
    ("31-90", 31, 90),
    ("90+", 91, None),
)
MONTHS_SHOWN = 12


@dataclass(frozen=True)
class CaseRow:
    country: str
    category: str
    severity: str
    state: str
    submitted_at: datetime
    ack_due_at: datetime
    triage_due_at: datetime
    acknowledged_at: datetime | None
    triaged_at: datetime | None
    closed_at: datetime | None


def _aware(value: datetime | None) -> datetime | None:
    # SQLite gives naive datetimes back; every time stored is UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


async def case_rows(
    session: AsyncSession,
    scope: Scope,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    country: str | None = None,
    open_only: bool = False,
) -> list[CaseRow]:
    """The columns statistics need, for cases in ``scope`` submitted in [since, until)."""
    query = select(
        Case.country_code,
        Case.category,
        Case.severity,
        Case.state,
        Case.submitted_at,
        Case.ack_due_at,
        Case.triage_due_at,
        Case.acknowledged_at,
        Case.triaged_at,
        Case.closed_at,
    ).where(scope.where(Case.country_code))
    if since is not None:
        query = query.where(Case.submitted_at >= since)
    if until is not None:
        query = query.where(Case.submitted_at < until)
    if country:
        query = query.where(Case.country_code == country)
    if open_only:
        query = query.where(Case.state != State.CLOSED.value)
    rows = []
    for row in (await session.execute(query)).all():
        c, cat, sev, st, sub, ack_due, tri_due, ack, tri, closed = row
        rows.append(
            CaseRow(
                c,
                cat,
                sev,
                st,
                _aware(sub) or sub,
                _aware(ack_due) or ack_due,
                _aware(tri_due) or tri_due,
                _aware(ack),
                _aware(tri),
                _aware(closed),
            )
        )
    return rows


# --- deadlines met ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OnTime:
    """Cases whose deadline has come (met or passed): how many were on time and late."""

    due: Shown
    on_time: Shown
    late: Shown

    @property
    def share(self) -> float | None:
        """On time / due, only when both are shown: a share of a hidden count would give it back."""
        if isinstance(self.on_time, int) and isinstance(self.due, int) and self.due:
            return self.on_time / self.due
        return None


def on_time(outcomes: Iterable[bool], k: int) -> OnTime:
    """``outcomes``: one bool per due case (on time or not), suppressed as a line with its total:
    a late count below k hides the on-time count beside it (or the total), so no share gives it
    back."""
    counted = Counter(outcomes)
    line, total = suppress_line({"on_time": counted[True], "late": counted[False]}, k=k)
    return OnTime(due=total, on_time=line["on_time"], late=line["late"])


def _met(done: datetime | None, due: datetime, now: datetime) -> bool | None:
    """True: done by the deadline; False: done late, or not done and the deadline passed;
    None: not due yet."""
    if done is not None:
        return done <= due
    return False if due < now else None


@dataclass(frozen=True)
class Deadlines:
    acknowledged: OnTime
    triaged: OnTime
    closed: OnTime


def deadlines(rows: Sequence[CaseRow], *, now: datetime, k: int) -> Deadlines:
    """Acknowledged, triaged and closed on time. A case closed before it was acknowledged (or
    triaged) counts as answered when it closed."""
    ack: list[bool] = []
    tri: list[bool] = []
    close: list[bool] = []
    for r in rows:
        for target, done, due in (
            (ack, r.acknowledged_at or r.closed_at, r.ack_due_at),
            (tri, r.triaged_at or r.closed_at, r.triage_due_at),
            (close, r.closed_at, r.submitted_at + CLOSE_TARGET),
        ):
            met = _met(done, due, now)
            if met is not None:
                target.append(met)
    return Deadlines(on_time(ack, k), on_time(tri, k), on_time(close, k))


# --- ageing and months -----------------------------------------------------------------------


def age_band(submitted_at: datetime, now: datetime) -> str:
    days = (now - submitted_at).days
    for key, low, high in AGE_BANDS:
        if days >= low and (high is None or days <= high):
            return key
    return AGE_BANDS[0][0]  # submitted "in the future" by clock skew: new


@dataclass(frozen=True)
class Line:
    """A one-way breakdown as it may be shown: (key, count) in order, and its total."""

    entries: list[tuple[Hashable, Shown]]
    total: Shown

    def share(self, n: Shown) -> float | None:
        if isinstance(n, int) and isinstance(self.total, int) and self.total:
            return n / self.total
        return None


def line(
    counts: Mapping[Any, int], keys: Sequence[Any], k: int, *, total_shown: bool = True
) -> Line:
    """Every key (zeros too: a missing key would tell it is 0) suppressed with the total."""
    if sum(counts.get(key, 0) for key in keys) < k:  # all small: nothing to protect or compute
        return Line([(key, None) for key in keys], None)
    entries, total = suppress_line(
        {key: counts.get(key, 0) for key in keys}, k=k, total_shown=total_shown
    )
    if not total_shown:
        total = HIDDEN if isinstance(total, int) else total
    return Line([(key, entries[key]) for key in keys], total)


def lines(breakdowns: Sequence[tuple[Mapping[Any, int], Sequence[Any]]], k: int) -> list[Line]:
    """Several breakdowns of the same cases, whose totals are one number. When one of them must
    hide it (all its entries small), every one hides it: else the others would print it and give
    the hidden entries back. With no total printed, small entries need no complement."""
    found = [line(counts, keys, k) for counts, keys in breakdowns]
    if all(isinstance(f.total, int) for f in found) or all(f.total is None for f in found):
        return found
    return [line(counts, keys, k, total_shown=False) for counts, keys in breakdowns]


def ageing(rows: Sequence[CaseRow], *, now: datetime, k: int) -> Line:
    """Open cases by days since submission."""
    counts = Counter(age_band(r.submitted_at, now) for r in rows if r.state != State.CLOSED)
    return line(dict(counts), [key for key, _low, _high in AGE_BANDS], k)


def month_of(at: datetime) -> str:
    return f"{at.year:04d}-{at.month:02d}"


def last_months(now: datetime, count: int = MONTHS_SHOWN) -> list[str]:
    """The ``count`` calendar months up to and including ``now``'s, oldest first."""
    year, month = now.year, now.month
    found = []
    for _ in range(count):
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return found[::-1]


def month_start(month: str) -> datetime:
    year, mon = (int(part) for part in month.split("-"))
    return datetime(year, mon, 1, tzinfo=UTC)


def next_month(month: str) -> str:
    year, mon = (int(part) for part in month.split("-"))
    return f"{year + mon // 12:04d}-{mon % 12 + 1:02d}"


# --- a country's dashboard figures ---------------------------------------------------------


@dataclass
class CountryFigures:
    country: str
    name: str
    open_closed: Line
    deadlines: Deadlines
    ageing: Line
    months: list[str]
    by_month: Line
    by_category: Line


async def country_figures(
    session: AsyncSession, scope: Scope, *, now: datetime, k: int
) -> list[CountryFigures]:
    """For each country in scope: open and closed cases of the last 12 months, deadlines met over
    them, ageing of every open case, and cases per month and per category."""
    months = last_months(now)
    since = month_start(months[0])
    countries = {c.code: c.name for c in await list_countries(session) if scope.allows(c.code)}
    recent = await case_rows(session, scope, since=since)
    still_open = await case_rows(session, scope, until=since, open_only=True)
    by_country: dict[str, list[CaseRow]] = {code: [] for code in countries}
    older: dict[str, list[CaseRow]] = {code: [] for code in countries}
    for r in recent:
        by_country.setdefault(r.country, []).append(r)
    for r in still_open:
        older.setdefault(r.country, []).append(r)
    found = []
    for code in sorted(set(by_country) | set(older)):
        rows = by_country.get(code, [])
        states = Counter("closed" if r.state == State.CLOSED else "open" for r in rows)
        # Cases per month and per category as two lines with the same total, not a month ×
        # category table: protecting that table with its margins takes the suppression engine
        # about a second per country (benchmarks/console_scale.py), too slow for a landing page.
        open_closed, by_month, by_category = lines(
            [
                (dict(states), ["open", "closed"]),
                (dict(Counter(month_of(r.submitted_at) for r in rows)), months),
                (dict(Counter(r.category for r in rows)), [c.value for c in Category]),
            ],
            k,
        )
        found.append(
            CountryFigures(
                country=code,
                name=countries.get(code, code),
                open_closed=open_closed,
                deadlines=deadlines(rows, now=now, k=k),
                ageing=ageing(rows + older.get(code, []), now=now, k=k),
                months=months,
                by_month=by_month,
                by_category=by_category,
            )
        )
    return found


# --- report numbers over a period ----------------------------------------------------------


@dataclass
class PeriodNumbers:
    first: str  # YYYY-MM
    last: str  # YYYY-MM, inclusive
    country: str | None
    total: Shown
    open_closed: Line
    by_state: Line
    by_category: Line
    by_severity: Line
    by_month: Line
    deadlines: Deadlines
    median_ack_hours: float | None  # None: fewer than k cases acknowledged
    median_close_days: float | None


def _median(values: list[float], k: int) -> float | None:
    return statistics.median(values) if len(values) >= k else None


async def period_numbers(
    session: AsyncSession,
    scope: Scope,
    *,
    first: str,
    last: str,
    country: str | None,
    now: datetime,
    k: int,
) -> PeriodNumbers:
    """Cases submitted from month ``first`` to month ``last`` (both included) in ``scope`` (one
    country of it, or all). Each breakdown is a line suppressed with the same total."""
    rows = await case_rows(
        session,
        scope,
        since=month_start(first),
        until=month_start(next_month(last)),
        country=country,
    )
    months = [first]
    while months[-1] != last and len(months) < 240:
        months.append(next_month(months[-1]))
    states = Counter(r.state for r in rows)
    open_closed = Counter("closed" if r.state == State.CLOSED else "open" for r in rows)
    ack_hours = [
        (r.acknowledged_at - r.submitted_at).total_seconds() / 3600
        for r in rows
        if r.acknowledged_at is not None
    ]
    close_days = [
        (r.closed_at - r.submitted_at).total_seconds() / 86400
        for r in rows
        if r.closed_at is not None
    ]
    open_closed_line, by_state, by_category, by_severity, by_month = lines(
        [
            (dict(open_closed), ["open", "closed"]),
            (dict(states), [s.value for s in State]),
            (dict(Counter(r.category for r in rows)), [c.value for c in Category]),
            (dict(Counter(r.severity for r in rows)), [s.value for s in Severity]),
            (dict(Counter(month_of(r.submitted_at) for r in rows)), months),
        ],
        k,
    )
    return PeriodNumbers(
        first=first,
        last=last,
        country=country,
        total=by_state.total,
        open_closed=open_closed_line,
        by_state=by_state,
        by_category=by_category,
        by_severity=by_severity,
        by_month=by_month,
        deadlines=deadlines(rows, now=now, k=k),
        median_ack_hours=_median(ack_hours, k),
        median_close_days=_median(close_days, k),
    )
