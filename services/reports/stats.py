"""Case statistics for managers and analysts: deadlines met, ageing, cases per month, report
numbers over a period. Numbers only, never a case; every count goes through small-group
suppression (DESIGN §4.2) and a share or a median is shown only when the counts under it are.

Counting happens in the database (``count_cases``): one round trip per figure set, grouped by
country and by each breakdown, so a page reads tens of rows whatever the number of cases
(``benchmarks/console_scale.py``). Months and age bands are boundaries computed here and compared
in SQL, deadlines compare two columns, and the one calendar sum (submission + 90 days) is
spelled for each database.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Float, FunctionElement, func, literal, select, union_all
from sqlalchemy import case as sql_case
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute

from bot.storage.db import UTCDateTime
from bot.storage.reports import Case
from services.factories import list_countries
from services.reports.protocol import Category, Severity, State
from services.scope import Scope
from services.suppression import HIDDEN, Shown, SuppressedTable, suppress_cached, suppress_line

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


# --- counting in the database ---------------------------------------------------------------

SQLExpression = ColumnElement[Any] | InstrumentedAttribute[Any]


class _PlusDays(FunctionElement[datetime]):
    """``column`` + ``days`` days, on both databases. SQLite keeps times as text with six decimal
    places: the shifted time is written the same way, so comparing it with a stored time is exact."""

    type = UTCDateTime()
    inherit_cache = True
    name = "plus_days"


@compiles(_PlusDays)
def _plus_days_postgresql(element: _PlusDays, compiler: Any, **kw: Any) -> str:
    column, days = (compiler.process(c, **kw) for c in element.clauses)
    return f"({column} + make_interval(days => {days}))"


@compiles(_PlusDays, "sqlite")
def _plus_days_sqlite(element: _PlusDays, compiler: Any, **kw: Any) -> str:
    column, days = (compiler.process(c, **kw) for c in element.clauses)
    # SQLite's date functions keep milliseconds (12:00:00.9999995 would read 12:00:01): shift the
    # whole seconds and put the stored fraction back.
    whole = f"strftime('%Y-%m-%d %H:%M:%S', substr({column}, 1, 19), '+' || {days} || ' days')"
    return f"({whole} || substr({column}, 20))"


class _Seconds(FunctionElement[float]):
    """Seconds from the first time to the second, on both databases (for medians: precise to
    well under a second, which hours and days need)."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(_Seconds)
def _seconds_postgresql(element: _Seconds, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


@compiles(_Seconds, "sqlite")
def _seconds_sqlite(element: _Seconds, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


def _met(done: SQLExpression, due: SQLExpression, now: datetime) -> ColumnElement[Any]:
    """'1': done by the deadline; '0': done late, or not done and the deadline passed; NULL: not
    due yet."""
    return sql_case(
        (done.is_not(None), sql_case((done <= due, "1"), else_="0")),
        (due < now, "0"),
        else_=None,
    )


def _month(months: Sequence[str]) -> ColumnElement[Any]:
    """The submission month among ``months`` (cases are read from the first one's start)."""
    return sql_case(
        *[(Case.submitted_at < month_start(next_month(m)), m) for m in months], else_=None
    )


def _age(now: datetime) -> ColumnElement[Any]:
    """The age band of ``age_band`` (whole days since submission), in SQL."""
    bands = []
    for key, _low, high in AGE_BANDS:
        if high is not None:
            bands.append((Case.submitted_at > now - timedelta(days=high + 1), key))
    return sql_case(*bands, else_=AGE_BANDS[-1][0])


def _dimensions(now: datetime, months: Sequence[str]) -> dict[str, SQLExpression]:
    return {
        "open_closed": sql_case((Case.state == State.CLOSED.value, "closed"), else_="open"),
        "state": Case.state,
        "category": Case.category,
        "severity": Case.severity,
        "month": _month(months),
        "age": _age(now),
        "ack": _met(func.coalesce(Case.acknowledged_at, Case.closed_at), Case.ack_due_at, now),
        "triage": _met(func.coalesce(Case.triaged_at, Case.closed_at), Case.triage_due_at, now),
        "close": _met(Case.closed_at, _PlusDays(Case.submitted_at, CLOSE_TARGET.days), now),
        # "2026-05|harassment": one key for the month × category table.
        "month_category": _month(months).op("||")(literal("|")).op("||")(Case.category),
    }


Counts = dict[tuple[str, str], Counter[str]]  # (country, dimension) -> key -> cases


async def count_cases(
    session: AsyncSession,
    conditions: Sequence[ColumnElement[bool]],
    names: Sequence[str],
    *,
    now: datetime,
    months: Sequence[str] = (),
) -> Counts:
    """Cases matching ``conditions`` counted per country by each dimension in ``names``, in one
    round trip: a page reads tens of rows, not one per case. A dimension's NULL key (not due
    yet, outside the months) is not counted."""
    dimensions = _dimensions(now, months)
    # Grouping by a column of a CTE, not by an expression: PostgreSQL cannot tell that
    # an expression with bound values in GROUP BY is the one selected.
    rows = (
        select(Case.country_code.label("country"), *[dimensions[n].label(n) for n in names])
        .where(*conditions)
        .cte("counted")
    )
    query = union_all(
        *[
            select(
                rows.c.country,
                literal(name).label("dimension"),
                rows.c[name].label("key"),
                func.count().label("n"),
            )
            .where(rows.c[name].is_not(None))
            .group_by(rows.c.country, rows.c[name])
            for name in names
        ]
    )
    found: Counts = defaultdict(Counter)
    for country, dimension, key, n in (await session.execute(query)).all():
        found[(country, dimension)][str(key)] += int(n)
    return found


def merged(counts: Counts, dimension: str, countries: Iterable[str]) -> Counter[str]:
    total: Counter[str] = Counter()
    for country in countries:
        total.update(counts.get((country, dimension), Counter()))
    return total


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


def on_time(met: Mapping[str, int], k: int) -> OnTime:
    """``met``: due cases on time ("1") and late ("0"), suppressed as a line with its total: a
    late count below k hides the on-time count beside it (or the total), so no share gives it
    back."""
    line, total = suppress_line({"on_time": met.get("1", 0), "late": met.get("0", 0)}, k=k)
    return OnTime(due=total, on_time=line["on_time"], late=line["late"])


@dataclass(frozen=True)
class Deadlines:
    acknowledged: OnTime
    triaged: OnTime
    closed: OnTime


DEADLINES = ("ack", "triage", "close")


def deadlines(counts: Counts, countries: Iterable[str], k: int) -> Deadlines:
    """Acknowledged, triaged and closed on time (``count_cases`` with ``DEADLINES``). A case
    closed before it was acknowledged (or triaged) counts as answered when it closed."""
    countries = list(countries)
    ack, triage, close = (merged(counts, name, countries) for name in DEADLINES)
    return Deadlines(on_time(ack, k), on_time(triage, k), on_time(close, k))


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


def ageing(counts: Mapping[str, int], k: int) -> Line:
    """Open cases by days since submission (the ``age`` dimension of ``count_cases``)."""
    return line(counts, [key for key, _low, _high in AGE_BANDS], k)


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
    # Months × categories, suppressed against the two lines above as its margins; None when
    # their total is not shown (nothing to break down).
    by_month_category: SuppressedTable | None = None


def cross_table(
    counts: Mapping[str, int], by_month: Line, by_category: Line, k: int
) -> SuppressedTable | None:
    """Cases per month and category (``month_category`` keys), consistent with the two lines
    printed beside it: their numbers are its margins, so no cell adds up to a hidden one."""
    if not isinstance(by_month.total, int):
        return None
    months = tuple(str(key) for key, _n in by_month.entries)
    categories = tuple(str(key) for key, _n in by_category.entries)
    cells = tuple(
        sorted(
            (month, category, n)
            for key, n in counts.items()
            for month, _bar, category in [key.partition("|")]
        )
    )
    return suppress_cached(
        cells,
        months,
        categories,
        tuple(n for _key, n in by_month.entries),
        tuple(n for _key, n in by_category.entries),
        by_month.total,
        k,
    )


async def country_figures(
    session: AsyncSession, scope: Scope, *, now: datetime, k: int
) -> list[CountryFigures]:
    """For each country in scope: open and closed cases of the last 12 months, deadlines met over
    them, ageing of every open case, and cases per month and per category."""
    months = last_months(now)
    since = month_start(months[0])
    countries = {c.code: c.name for c in await list_countries(session) if scope.allows(c.code)}
    in_scope = scope.where(Case.country_code)
    recent = await count_cases(
        session,
        [in_scope, Case.submitted_at >= since],
        ["open_closed", "month", "category", "month_category", *DEADLINES],
        now=now,
        months=months,
    )
    still_open = await count_cases(
        session, [in_scope, Case.state != State.CLOSED.value], ["age"], now=now
    )
    found = []
    for code in sorted(set(countries) | {country for country, _name in recent | still_open}):
        # Cases per month and per category as two lines with the same total, and the month ×
        # category table with those lines as its margins.
        open_closed, by_month, by_category = lines(
            [
                (recent.get((code, "open_closed"), {}), ["open", "closed"]),
                (recent.get((code, "month"), {}), months),
                (recent.get((code, "category"), {}), [c.value for c in Category]),
            ],
            k,
        )
        found.append(
            CountryFigures(
                country=code,
                name=countries.get(code, code),
                open_closed=open_closed,
                deadlines=deadlines(recent, [code], k),
                ageing=ageing(still_open.get((code, "age"), {}), k),
                months=months,
                by_month=by_month,
                by_category=by_category,
                by_month_category=cross_table(
                    recent.get((code, "month_category"), {}), by_month, by_category, k
                ),
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


async def _seconds(
    session: AsyncSession, conditions: Sequence[ColumnElement[bool]], done: Any
) -> list[float]:
    """Seconds from submission to ``done`` of the matching cases where it is set."""
    query = select(_Seconds(Case.submitted_at, done)).where(*conditions, done.is_not(None))
    return [float(n) for n in (await session.scalars(query)).all()]


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
    months = [first]
    while months[-1] != last and len(months) < 240:
        months.append(next_month(months[-1]))
    conditions = [
        scope.where(Case.country_code),
        Case.submitted_at >= month_start(first),
        Case.submitted_at < month_start(next_month(last)),
    ]
    if country:
        conditions.append(Case.country_code == country)
    names = ["open_closed", "state", "category", "severity", "month", *DEADLINES]
    counts = await count_cases(session, conditions, names, now=now, months=months)
    countries = {c for c, _name in counts}
    open_closed_line, by_state, by_category, by_severity, by_month = lines(
        [
            (merged(counts, "open_closed", countries), ["open", "closed"]),
            (merged(counts, "state", countries), [s.value for s in State]),
            (merged(counts, "category", countries), [c.value for c in Category]),
            (merged(counts, "severity", countries), [s.value for s in Severity]),
            (merged(counts, "month", countries), months),
        ],
        k,
    )
    ack_hours = [n / 3600 for n in await _seconds(session, conditions, Case.acknowledged_at)]
    close_days = [n / 86400 for n in await _seconds(session, conditions, Case.closed_at)]
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
        deadlines=deadlines(counts, countries, k),
        median_ack_hours=_median(ack_hours, k),
        median_close_days=_median(close_days, k),
    )
