"""The audit trail: who signed in, viewed or changed what, and when (read-only), in words, with
filters that say plainly when a date cannot be used, and a CSV of the filtered events.

The CSV holds what the page shows a country manager (time, staff e-mail, action, object, country,
details in words, the staff member's address); audit details are ids, counts and stored keys,
never a worker's words or Telegram id. Each download is itself audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin import audit_words
from admin.web import DB, client_ip, render, require
from bot.i18n import gettext as _
from bot.storage.models import AuditEvent, Staff, StaffCountry, StaffRole
from services import audit
from services.exports import csv_text
from services.scope import Scope

router = APIRouter(prefix="/audit")
AUDITORS = require(StaffRole.COUNTRY_MANAGER)
PAGE = 100
Q = TypeVar("Q", bound=Select)
EXPORT_LIMIT = 100_000  # rows in one CSV; the page says to narrow the filter beyond that


@dataclass
class Filters:
    action: str = ""
    actor: str = ""
    since: str = ""
    until: str = ""

    def query(self, **extra: Any) -> str:
        values = {k: v for k, v in {**self.__dict__, **extra}.items() if v not in ("", None)}
        return urlencode(values)


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def check_dates(filters: Filters) -> tuple[datetime | None, datetime | None, dict[str, str]]:
    """The period as UTC bounds, and a plain reason for each date that cannot be used."""
    errors: dict[str, str] = {}
    start = stop = None
    if filters.since:
        day = _day(filters.since)
        if day is None:
            errors["since"] = _("This is not a date. Please use the form 2026-12-31.")
        else:
            start = datetime.combine(day, time(), tzinfo=UTC)
    if filters.until:
        day = _day(filters.until)
        if day is None:
            errors["until"] = _("This is not a date. Please use the form 2026-12-31.")
        else:
            stop = datetime.combine(day, time(), tzinfo=UTC) + timedelta(days=1)
    if start and stop and start >= stop:
        errors["until"] = _("This day is before the first day. Please swap the two dates.")
    return start, stop, errors


def _scoped(query: Q, staff: Staff) -> Q:
    scope = Scope.of(staff)
    if scope.is_everywhere:
        return query
    # A manager sees events about their countries and the actions of their own team.
    team = select(StaffCountry.staff_id).where(scope.where(StaffCountry.country_code))
    return query.where(
        or_(scope.where(AuditEvent.country_code), AuditEvent.actor_staff_id.in_(team))
    )


def events_query(
    staff: Staff, filters: Filters, start: datetime | None, stop: datetime | None
) -> Select[AuditEvent, str]:
    query = select(AuditEvent, Staff.email).outerjoin(Staff, Staff.id == AuditEvent.actor_staff_id)
    query = _scoped(query, staff)
    if filters.action:
        query = query.where(AuditEvent.action == filters.action[:64])
    if filters.actor:
        query = query.where(Staff.email.contains(filters.actor[:254].lower()))
    if start:
        query = query.where(AuditEvent.at >= start)
    if stop:
        query = query.where(AuditEvent.at < stop)
    return query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())


async def _emails(session: AsyncSession, rows: list[Any]) -> dict[int, str]:
    ids = audit_words.staff_ids([event.detail for event, _email in rows])
    if not ids:
        return {}
    found = await session.execute(select(Staff.id, Staff.email).where(Staff.id.in_(ids)))
    return {int(i): str(e) for i, e in found.all()}


def _row(event: AuditEvent, email: str | None, emails: dict[int, str]) -> dict[str, str]:
    return {
        "at": event.at.strftime("%Y-%m-%d %H:%M:%S"),
        "who": email or _("system"),
        "action": audit_words.action_words(event.action),
        "key": event.action,
        "object": audit_words.object_words(event.object_type, event.object_id),
        "country": event.country_code or "",
        "details": audit_words.detail_words(event.detail, emails),
        "ip": event.ip or "",
    }


async def _action_options(session: AsyncSession, staff: Staff) -> list[tuple[str, str]]:
    """The actions the log holds (in this staff member's scope), by their words."""
    found = (await session.scalars(_scoped(select(AuditEvent.action).distinct(), staff))).all()
    options = [(str(a), audit_words.action_words(str(a))) for a in found]
    return sorted(options, key=lambda option: option[1].casefold())


def _filters(action: str, actor: str, since: str, until: str) -> Filters:
    return Filters(action.strip()[:64], actor.strip()[:254], since.strip()[:10], until.strip()[:10])


@router.get("", response_class=HTMLResponse)
async def audit_log(
    request: Request,
    action: str = "",
    actor: str = "",
    since: str = "",
    until: str = "",
    page: int = 1,
    staff: Staff = Depends(AUDITORS),
    session: AsyncSession = DB,
) -> Response:
    filters = _filters(action, actor, since, until)
    start, stop, errors = check_dates(filters)
    page = max(1, min(page, 10_000))
    rows: list[Any] = []
    if not errors:  # a period that cannot be read lists nothing rather than everything
        rows = list(
            (
                await session.execute(
                    events_query(staff, filters, start, stop)
                    .offset((page - 1) * PAGE)
                    .limit(PAGE + 1)
                )
            ).all()
        )
    emails = await _emails(session, rows[:PAGE])
    return render(
        request,
        "audit/list.html",
        status_code=400 if errors else 200,
        events=[_row(event, email, emails) for event, email in rows[:PAGE]],
        more=len(rows) > PAGE,
        page=page,
        filters=filters,
        errors=errors,
        actions=await _action_options(session, staff),
        newer=f"?{filters.query(page=page - 1)}",
        older=f"?{filters.query(page=page + 1)}",
        export=f"/audit/export.csv?{filters.query()}",
    )


@router.get("/export.csv")
async def audit_export(
    request: Request,
    action: str = "",
    actor: str = "",
    since: str = "",
    until: str = "",
    staff: Staff = Depends(AUDITORS),
    session: AsyncSession = DB,
) -> Response:
    """The filtered events as CSV (newest first, at most ``EXPORT_LIMIT``); the download is
    audited with its filters."""
    filters = _filters(action, actor, since, until)
    start, stop, errors = check_dates(filters)
    if errors:  # back to the page, which says what is wrong with the dates
        return await audit_log(
            request, filters.action, filters.actor, filters.since, filters.until, 1, staff, session
        )
    rows = list(
        (await session.execute(events_query(staff, filters, start, stop).limit(EXPORT_LIMIT))).all()
    )
    emails = await _emails(session, rows)
    header = [
        _("When (UTC)"),
        _("Who"),
        _("Action"),
        _("Action key"),
        _("Object"),
        _("Country"),
        _("Details"),
        _("Staff IP address"),
    ]
    lines = [header] + [list(_row(event, email, emails).values()) for event, email in rows]
    await audit.record(
        session,
        "audit.export",
        actor=staff,
        ip=client_ip(request),
        count=len(rows),
        # The filters, as what they chose ("action" is record's own argument).
        **{f"filter_{k}": v for k, v in filters.__dict__.items() if v},
    )
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    return Response(
        "\ufeff" + csv_text(lines),  # the BOM: Excel then reads the UTF-8 text as such
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="audit-{day}.csv"',
            "Cache-Control": "no-store",
        },
    )
