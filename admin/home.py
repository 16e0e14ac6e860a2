"""The console's front page: where each capability starts."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from admin.web import current_staff, render
from bot.storage.models import Staff

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, staff: Staff = Depends(current_staff)) -> HTMLResponse:
    return render(request, "home.html")
