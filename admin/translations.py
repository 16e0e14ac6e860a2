"""Translation coverage per language and catalog, with the native-review status from REVIEW.md."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from admin.web import render, require
from bot.storage.models import Staff, StaffRole
from workvoice.kernel.catalogs import coverage

router = APIRouter(prefix="/translations")


@router.get("", response_class=HTMLResponse)
async def translations(
    request: Request, staff: Staff = Depends(require(StaffRole.COUNTRY_MANAGER, StaffRole.ANALYST))
) -> Response:
    rows = coverage()  # English first: every catalog
    return render(
        request, "translations/list.html", rows=rows, domains=list(rows[0].domains) if rows else []
    )
