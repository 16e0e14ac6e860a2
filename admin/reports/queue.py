"""Case triage: the queue (danger and critical first, then by next deadline), paged with a total,
filtered and searchable by case number; filters a staff member saves are listed above it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from admin.forms import FormState, done, submit
from admin.reports import HANDLE, keys_for
from admin.web import DB, checked_id, render, verify_csrf
from bot.i18n import format_datetime, format_number
from bot.i18n import gettext as _
from bot.storage.models import Staff
from services.errors import NotFound
from services.reports import conversation
from services.reports.protocol import Category, State
from services.reports.queue import (
    PAGE_SIZE,
    QueueFilters,
    case_queue,
    country_choices,
    do_delete_filter,
    do_save_filter,
    find_case_number,
    saved_filters,
)
from services.staff_zones import staff_zone

router = APIRouter(prefix="/reports")


class SaveFilterForm(BaseModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    query: Annotated[str, StringConstraints(max_length=500)] = ""


def language_name(code: str, locale: str) -> str:
    """A worker's language in the staff member's words ("Bangla", "বাংলা", "البنغالية")."""
    try:
        return Locale.parse(code).get_display_name(locale) or code
    except (ValueError, UnknownLocaleError):
        return code


async def _queue_page(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    filters: QueueFilters,
    *,
    page: int = 1,
    number: str = "",
    not_found: bool = False,
    form: FormState | None = None,
) -> Response:
    result = await case_queue(session, staff, filters, page=page)
    zone: ZoneInfo = await staff_zone(session, staff)
    locale = staff.locale

    def when(moment: datetime | None) -> str:
        return format_datetime(moment, tz=zone, locale=locale, format="short") if moment else ""

    query = filters.query_string()
    sep = "&" if query else ""
    return render(
        request,
        "reports/queue.html",
        status_code=form.status if form else 200,
        result=result,
        when=when,
        language_name=lambda code: language_name(code, locale),
        zone=zone.key,
        shown=lambda n: format_number(n, locale=locale),
        page_size=PAGE_SIZE,
        categories=list(Category),
        states=list(State),
        countries=await country_choices(session, staff),
        filters=filters,
        query=query,
        page_link=lambda n: f"/reports?{query}{sep}page={n}",
        saved=await saved_filters(session, staff),
        number=number,
        not_found=not_found,
        form=form,
    )


@router.get("", response_class=HTMLResponse)
async def queue(
    request: Request,
    page: int = 1,
    number: str = "",
    staff: Staff = Depends(HANDLE),
    session: AsyncSession = DB,
) -> Response:
    # A number typed in the search box leads straight to that case (if she may see it).
    if number.strip():
        found = await find_case_number(session, staff, number)
        if found is not None:
            return RedirectResponse(f"/reports/{found}", status_code=303)
    # The console holds the private key: file reporters' waiting messages with their cases.
    await conversation.attach_reporter_messages(session, keys_for(request))
    filters = QueueFilters.parse(dict(request.query_params))
    return await _queue_page(
        request,
        session,
        staff,
        filters,
        page=page,
        number=number.strip()[:40],
        not_found=bool(number.strip()),
    )


@router.post("/filters", dependencies=[Depends(verify_csrf)])
async def save_filter(
    request: Request, staff: Staff = Depends(HANDLE), session: AsyncSession = DB
) -> Response:
    async def again(form: FormState) -> Response:
        query = str(form.value("query", ""))
        filters = QueueFilters.parse(dict(request.query_params) | _query_dict(query))
        return await _queue_page(request, session, staff, filters, form=form)

    return await submit(
        request,
        session,
        SaveFilterForm,
        verb=lambda data: do_save_filter(session, staff, data.name, data.query),
        done_url=lambda saved: f"/reports?{saved.query}",
        message=_("Filter saved."),
        again=again,
    )


@router.post("/filters/{filter_id}/delete", dependencies=[Depends(verify_csrf)])
async def delete_filter(
    request: Request,
    filter_id: int,
    staff: Staff = Depends(HANDLE),
    session: AsyncSession = DB,
) -> Response:
    if not await do_delete_filter(session, staff, checked_id(filter_id)):
        raise NotFound()  # another staff member's filter, as if it did not exist
    return done(request, "/reports", _("Filter deleted."))


def _query_dict(query: str) -> dict[str, str]:
    return dict(parse_qsl(query.lstrip("?")))
