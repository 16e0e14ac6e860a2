"""Case triage: the queue by severity and deadline."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from admin.reports import HANDLE, keys_for
from admin.web import DB, render
from bot.storage.models import Staff
from services.reports import conversation
from services.reports.protocol import Category, State
from services.reports.queue import OPEN, case_queue

router = APIRouter(prefix="/reports")


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
