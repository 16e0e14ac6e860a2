"""Report numbers (m11): cases over a period of months, without any case, for analysts and
managers: open and closed, by state, category, severity and month, deadlines met and median
times, all suppressed (``services.reports.stats``); with CSV and Excel downloads, audited.

The period is whole months in UTC, the last 12 by default. Every figure on the page is in the
files too, in the same words (the staff member's language), so nothing in a file is less
protected than on screen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from babel.dates import format_date, format_timedelta
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from admin.web import DB, render, require, staff_locale, suppression_threshold
from bot.i18n import gettext as _
from bot.storage.models import Staff, StaffRole
from services import audit
from services.clock import utcnow
from services.exports import csv_text
from services.factories import list_countries
from services.labels import label
from services.reports import stats
from services.reports.protocol import Category, Severity, State
from services.scope import Scope
from services.spreadsheets import XLSX_TYPE, Sheet, Value, xlsx_bytes
from services.suppression import Shown

router = APIRouter(prefix="/reports")
COUNTS = require(StaffRole.COUNTRY_MANAGER, StaffRole.CASE_HANDLER, StaffRole.ANALYST)
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
MAX_MONTHS = 120


@dataclass
class Period:
    first: str
    last: str
    country: str  # "" for every country in scope
    error: str = ""


async def read_period(
    session: AsyncSession, staff: Staff, first: str, last: str, country: str
) -> tuple[Period, list[tuple[str, str]]]:
    """The period and country asked for, or the last 12 months with a plain reason why not."""
    months = stats.last_months(utcnow())
    default_first, default_last = months[0], months[-1]
    scope = Scope.of(staff)
    countries = [(c.code, c.name) for c in await list_countries(session) if scope.allows(c.code)]
    country = country.strip().upper()
    if country not in {code for code, _name in countries}:
        country = ""
    first, last = first.strip() or default_first, last.strip() or default_last
    error = ""
    if not (MONTH.match(first) and MONTH.match(last)):
        error = _("Months are written as year and month, such as 2026-03.")
    elif first > last:
        error = _("The first month is after the last month.")
    elif _span(first, last) > MAX_MONTHS:
        error = _("Choose at most {count} months.", count=MAX_MONTHS)
    if error:
        first, last = default_first, default_last
    return Period(first, last, country, error), countries


def _span(first: str, last: str) -> int:
    (y1, m1), (y2, m2) = ((int(p) for p in m.split("-")) for m in (first, last))
    return (y2 - y1) * 12 + (m2 - m1) + 1


def month_label(month: str, locale: str) -> str:
    year, mon = (int(p) for p in month.split("-"))
    return format_date(date(year, mon, 1), format="MMM y", locale=locale)


def duration(hours: float | None, locale: str) -> str | None:
    if hours is None:
        return None
    return format_timedelta(timedelta(hours=hours), threshold=1.1, locale=locale)


def breakdowns(numbers: stats.PeriodNumbers, locale: str) -> list[dict[str, Any]]:
    """Each one-way breakdown with its rows' words, in page order."""

    def rows(line: stats.Line, words: Any) -> list[tuple[str, Shown, float | None]]:
        return [(words(key), n, line.share(n)) for key, n in line.entries]

    return [
        {"id": "open-closed", "title": _("Open and closed"), "line": numbers.open_closed,
         "rows": rows(numbers.open_closed, lambda k: _("open") if k == "open" else _("closed"))},
        {"id": "by-state", "title": _("By state"), "line": numbers.by_state,
         "rows": rows(numbers.by_state, lambda k: label(State(k)))},
        {"id": "by-category", "title": _("By category"), "line": numbers.by_category,
         "rows": rows(numbers.by_category, lambda k: label(Category(k)))},
        {"id": "by-severity", "title": _("By severity"), "line": numbers.by_severity,
         "rows": rows(numbers.by_severity, lambda k: label(Severity(k)))},
        {"id": "by-month", "title": _("By month of submission"), "line": numbers.by_month,
         "rows": rows(numbers.by_month, lambda k: month_label(str(k), locale))},
    ]  # fmt: skip


def deadline_rows(numbers: stats.PeriodNumbers) -> list[tuple[str, stats.OnTime]]:
    d = numbers.deadlines
    return [
        (_("Acknowledged on time"), d.acknowledged),
        (_("Triaged on time"), d.triaged),
        (_("Closed within 90 days"), d.closed),
    ]


async def _numbers(
    request: Request, session: AsyncSession, staff: Staff, first: str, last: str, country: str
) -> tuple[Period, list[tuple[str, str]], stats.PeriodNumbers]:
    period, countries = await read_period(session, staff, first, last, country)
    numbers = await stats.period_numbers(
        session,
        Scope.of(staff),
        first=period.first,
        last=period.last,
        country=period.country or None,
        now=utcnow(),
        k=suppression_threshold(request),
    )
    return period, countries, numbers


@router.get("/counts", response_class=HTMLResponse)
async def counts(
    request: Request,
    first: str = "",
    last: str = "",
    country: str = "",
    staff: Staff = Depends(COUNTS),
    session: AsyncSession = DB,
) -> Response:
    """Numbers without cases over a period (``services.reports.stats.period_numbers``)."""
    locale, k = staff_locale(staff), suppression_threshold(request)
    period, countries, numbers = await _numbers(request, session, staff, first, last, country)
    query = f"first={period.first}&last={period.last}&country={period.country}"
    return render(
        request,
        "reports/counts.html",
        status_code=422 if period.error else 200,
        k=k,
        period=period,
        countries=countries,
        numbers=numbers,
        breakdowns=breakdowns(numbers, locale),
        deadlines=deadline_rows(numbers),
        median_ack=duration(numbers.median_ack_hours, locale),
        median_close=duration(
            numbers.median_close_days * 24 if numbers.median_close_days is not None else None,
            locale,
        ),
        query=query,
    )


# --- downloads ---------------------------------------------------------------------------------


def export_rows(
    numbers: stats.PeriodNumbers, *, locale: str, k: int
) -> tuple[list[str], list[list[Value]]]:
    """One row per figure: what, group, count (a number or empty), why it is not shown (empty or
    "fewer than k" / "hidden"), share of all cases in the period (a number or empty)."""
    fewer, hidden = _("fewer than %(k)s") % {"k": k}, _("hidden")
    header = [_("Figure"), _("Group"), _("Count"), _("Not shown"), _("Share")]
    period_words = f"{month_label(numbers.first, locale)} – {month_label(numbers.last, locale)}"

    def why(n: Shown) -> str:
        return "" if isinstance(n, int) else fewer if n is None else hidden

    def count(n: Shown) -> int | None:
        return n if isinstance(n, int) else None

    rows: list[list[Value]] = [
        [_("Period"), period_words, None, "", None],
        [_("Country"), numbers.country or _("all my countries"), None, "", None],
        [_("All cases"), "", count(numbers.total), why(numbers.total), None],
    ]
    for part in breakdowns(numbers, locale):
        for words, n, share in part["rows"]:
            rows.append([part["title"], words, count(n), why(n), share])
    for words, f in deadline_rows(numbers):
        rows.append([words, _("on time"), count(f.on_time), why(f.on_time), f.share])
        rows.append([words, _("late"), count(f.late), why(f.late), None])
    for words, value in (
        (_("Median time to acknowledge (hours)"), numbers.median_ack_hours),
        (_("Median time to close (days)"), numbers.median_close_days),
    ):
        rows.append([words, "", _round(value), "" if value is not None else fewer, None])
    return header, rows


def _round(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


async def _download(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    first: str,
    last: str,
    country: str,
    kind: str,
) -> Response:
    locale, k = staff_locale(staff), suppression_threshold(request)
    period, _countries, numbers = await _numbers(request, session, staff, first, last, country)
    header, rows = export_rows(numbers, locale=locale, k=k)
    name = f"report-numbers-{period.first}-{period.last}{'-' + period.country if period.country else ''}"
    await audit.record(
        session,
        "case.counts.export",
        actor=staff,
        country_code=period.country or None,
        first=period.first,
        last=period.last,
        format=kind,
    )
    if kind == "csv":
        # The byte-order mark makes Excel on Windows read UTF-8 (Bangla, Khmer, Arabic words).
        body = ("\ufeff" + csv_text([header, *rows])).encode("utf-8")
        media = "text/csv; charset=utf-8"
    else:
        body = xlsx_bytes([Sheet(_("Report numbers"), header, rows, frozenset({4}))])
        media = XLSX_TYPE
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{name}.{kind}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/counts.csv")
async def counts_csv(
    request: Request,
    first: str = "",
    last: str = "",
    country: str = "",
    staff: Staff = Depends(COUNTS),
    session: AsyncSession = DB,
) -> Response:
    return await _download(request, session, staff, first, last, country, "csv")


@router.get("/counts.xlsx")
async def counts_xlsx(
    request: Request,
    first: str = "",
    last: str = "",
    country: str = "",
    staff: Staff = Depends(COUNTS),
    session: AsyncSession = DB,
) -> Response:
    return await _download(request, session, staff, first, last, country, "xlsx")
