"""The time zone a staff member reads console times in (a block of the Account page)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from admin.forms import FormState, done, flash, read_form
from admin.web import DB, current_staff, verify_csrf
from bot.i18n import gettext as _
from bot.storage.models import Staff
from services.staff_zones import do_set_timezone, is_zone

router = APIRouter()


class ZoneForm(BaseModel):
    timezone: str

    @field_validator("timezone")
    @classmethod
    def _known(cls, value: str) -> str:
        value = value.strip()
        if value and not is_zone(value):  # empty: back to the first country's zone
            raise ValueError("unknown time zone")
        return value


@router.post("/account/timezone", dependencies=[Depends(verify_csrf)])
async def change_timezone(
    request: Request, staff: Staff = Depends(current_staff), session: AsyncSession = DB
) -> Response:
    data, state = await read_form(request, ZoneForm)
    if data is None:
        return _refused(request, state)
    await do_set_timezone(session, staff, data.timezone or None)
    if not data.timezone:
        return done(request, "/account", _("Times are now shown in your first country's zone."))
    return done(request, "/account", _("Times are now shown in {zone}.", zone=data.timezone))


def _refused(request: Request, state: FormState) -> Response:
    # The list offers only known zones: a refusal is a forged or stale form, said on the page.
    flash(request, state.errors.get("timezone") or _("This is not valid."), "error")
    return done(request, "/account")
