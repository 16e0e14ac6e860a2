"""Report numbers: counts of cases without any case, for analysts and managers (suppressed)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from admin.web import DB, render, require, suppression_threshold
from bot.storage.models import Staff, StaffRole
from services.reports.queue import case_counts, severities_in_order
from services.scope import Scope

router = APIRouter(prefix="/reports")
COUNTS = require(StaffRole.COUNTRY_MANAGER, StaffRole.CASE_HANDLER, StaffRole.ANALYST)


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
