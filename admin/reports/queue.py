"""Case triage: the queue by severity and deadline, and the report numbers."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from admin.reports import HANDLE, keys_for
from admin.web import DB, render, require, suppression_threshold
from bot.storage.models import Staff, StaffRole
from services.reports import conversation
from services.reports.protocol import Category, State
from services.reports.queue import OPEN, case_counts, case_queue, severities_in_order
from services.scope import Scope

router = APIRouter(prefix="/reports")
COUNTS = require(StaffRole.COUNTRY_MANAGER, StaffRole.CASE_HANDLER, StaffRole.ANALYST)


@router.get("", response_class=HTMLResponse)
async def queue(
    request: Request,
    country: str = "",
    factory: str = "",
    category: str = "",
    state: str = OPEN,
    staff: Staff = Depends(HANDLE),
    session: AsyncSession = DB,
) -> Response:
    # The console holds the private key: file reporters' waiting messages with their cases.
    await conversation.attach_reporter_messages(session, keys_for(request))
    rows = await case_queue(
        session, staff, country=country, factory=factory, category=category, state=state
    )
    return render(
        request,
        "reports/queue.html",
        rows=rows,
        categories=list(Category),
        states=list(State),
        filters={"country": country, "factory": factory, "category": category, "state": state},
    )


@router.get("/counts", response_class=HTMLResponse)
async def counts(
    request: Request, staff: Staff = Depends(COUNTS), session: AsyncSession = DB
) -> Response:
    """Numbers without cases, for analysts (``services.reports.queue.case_counts``)."""
    k = suppression_threshold(request)
    grids = await case_counts(session, Scope.of(staff), k=k)
    return render(
        request, "reports/counts.html", grids=grids, severities=severities_in_order(), k=k
    )
