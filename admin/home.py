"""The console's front page: what needs each role now (M14), from ``services.dashboards``.

Handlers see their cases due within a day or overdue and worker replies they have not read;
managers those too, and per country the deadlines met, the ageing of open cases and cases per
month by category as charts drawn here on the server (``admin.charts``); administrators the
same figures for every country; analysts the latest waves; organisers their topics' reach and
the delivery of their last broadcasts. Every count is suppressed in the services.
"""

from __future__ import annotations

from typing import Any

from babel.dates import format_timedelta
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from admin import charts
from admin.broadcasts import figures
from admin.reports.counts import month_label
from admin.web import DB, current_staff, render, staff_locale, suppression_threshold
from bot.i18n import gettext as _
from bot.storage.models import Staff
from services import dashboards
from services.broadcasts import messages
from services.broadcasts.messages import BroadcastStatus
from services.clock import utcnow
from services.labels import label
from services.reports import stats
from services.reports.protocol import Category, Severity, State
from services.scope import Scope

router = APIRouter()
LAST_BROADCASTS = 5


def deadline_rows(figures_: stats.Deadlines) -> list[tuple[str, stats.OnTime]]:
    return [
        (_("Acknowledged on time"), figures_.acknowledged),
        (_("Triaged on time"), figures_.triaged),
        (_("Closed within 90 days"), figures_.closed),
    ]


def age_label(key: str) -> str:
    return {
        "0-7": _("0–7 days"),
        "8-30": _("8–30 days"),
        "31-90": _("31–90 days"),
        "90+": _("more than 90 days"),
    }[key]


def country_view(found: stats.CountryFigures, locale: str) -> dict[str, Any]:
    """One country's figures with their charts laid out."""
    rows = deadline_rows(found.deadlines)
    deadline_chart = charts.bar_chart(
        [(label, f.on_time) for label, f in rows],
        None,
        shares=[f.share for _label, f in rows],
        texts=[
            _("{share} of {due}", share=_percent(f.share), due=f.due) if f.share is not None else ""
            for _label, f in rows
        ],
    )
    ages = [(age_label(str(key)), n) for key, n in found.ageing.entries]
    months = [(month_label(str(key), locale), n) for key, n in found.by_month.entries]
    categories = [(label(Category(str(key))), n) for key, n in found.by_category.entries]
    cross = found.by_month_category
    return {
        "cross": None
        if cross is None
        else {
            "categories": [words for words, _n in categories],
            "rows": [
                (words, [cross.shown(str(key), c.value) for c in Category])
                for (words, _n), (key, _m) in zip(months, found.by_month.entries, strict=True)
            ],
        },
        "figures": found,
        "deadlines": rows,
        "deadline_chart": deadline_chart,
        "ages": ages,
        "ageing_chart": charts.bar_chart(ages, found.ageing.total),
        "months": months,
        "months_chart": charts.bar_chart(months, found.by_month.total),
        "categories": categories,
        "categories_chart": charts.bar_chart(categories, found.by_category.total),
    }


@router.get("/", response_class=HTMLResponse)
async def home(
    request: Request, staff: Staff = Depends(current_staff), session: AsyncSession = DB
) -> HTMLResponse:
    k, locale, now = suppression_threshold(request), staff_locale(staff), utcnow()
    scope = Scope.of(staff)
    sections = dashboards.roles_sections(staff.role)
    values: dict[str, Any] = {"sections": sections, "k": k}
    if "cases" in sections:
        due = await dashboards.cases_due(session, staff, now=now)
        values["due"] = [
            {
                "case": c,
                "severity": Severity(c.severity),
                "state": State(c.state),
                "when": format_timedelta(c.due_at - now, add_direction=True, locale=locale),
            }
            for c in due
        ]
        values["unread"] = [
            {
                "case": u,
                "severity": Severity(u.severity),
                "when": format_timedelta(u.last_at - now, add_direction=True, locale=locale),
            }
            for u in await dashboards.unread_replies(session, staff)
        ]
    if "deadlines" in sections:
        values["countries"] = [
            country_view(found, locale)
            for found in await stats.country_figures(session, scope, now=now, k=k)
        ]
    if "waves" in sections:
        values["waves"] = await dashboards.latest_waves(session, scope, k=k)
    if "topics" in sections:
        values["topics"] = await dashboards.topic_reach(session, scope, k=k, locale=locale)
        values["broadcasts"] = [
            {"broadcast": b, "figures": figures(messages.report(b), k)}
            for b, _t in await messages.list_broadcasts(session, scope, limit=LAST_BROADCASTS * 4)
            if b.status != BroadcastStatus.DRAFT
        ][:LAST_BROADCASTS]
    return render(request, "home.html", **values)


def _percent(share: float) -> str:
    # Kept out of the gettext call: the extractor skips a call whose arguments hold an f-string.
    return f"{share * 100:.0f}%"
