"""The audit trail: who signed in, viewed or changed what, and when (read-only)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.web import DB, render, require
from bot.storage.models import AuditEvent, Staff, StaffCountry, StaffRole
from services.scope import Scope

router = APIRouter(prefix="/audit")
PAGE = 100


def _day(value: str, *, end: bool = False) -> datetime | None:
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return day + timedelta(days=1) if end else datetime.combine(day.date(), time(), tzinfo=UTC)


@router.get("", response_class=HTMLResponse)
async def audit_log(
    request: Request,
    action: str = "",
    actor: str = "",
    since: str = "",
    until: str = "",
    page: int = 1,
    staff: Staff = Depends(require(StaffRole.COUNTRY_MANAGER)),
    session: AsyncSession = DB,
) -> Response:
    query = select(AuditEvent, Staff.email).outerjoin(Staff, Staff.id == AuditEvent.actor_staff_id)
    scope = Scope.of(staff)
    if not scope.is_everywhere:
        # A manager sees events about their countries and the actions of their own team.
        team = select(StaffCountry.staff_id).where(scope.where(StaffCountry.country_code))
        query = query.where(
            or_(scope.where(AuditEvent.country_code), AuditEvent.actor_staff_id.in_(team))
        )
    if action:
        query = query.where(AuditEvent.action.startswith(action[:64]))
    if actor:
        query = query.where(Staff.email.contains(actor[:254].lower()))
    if start := _day(since):
        query = query.where(AuditEvent.at >= start)
    if stop := _day(until, end=True):
        query = query.where(AuditEvent.at < stop)
    page = max(1, min(page, 10_000))
    rows = (
        await session.execute(
            query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .offset((page - 1) * PAGE)
            .limit(PAGE + 1)
        )
    ).all()
    return render(
        request,
        "audit/list.html",
        events=rows[:PAGE],
        more=len(rows) > PAGE,
        page=page,
        filters={"action": action, "actor": actor, "since": since, "until": until},
    )
