"""The team side of staff accounts (``services.accounts``): the team list, invitations and
deactivation, each scoped to the manager's countries. A staff member's own side (sign-in, their
account page, accepting an invitation) is ``admin.accounts``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.web import DB, render, require, verify_csrf
from bot.i18n import gettext as _
from bot.storage.models import Staff, StaffCountry, StaffRole
from services import accounts
from services.errors import DomainError, NotFound
from services.factories import list_countries
from services.scope import Scope

router = APIRouter(prefix="/staff")
MANAGE = require(StaffRole.COUNTRY_MANAGER)


async def _team(session: AsyncSession, actor: Staff) -> list[Staff]:
    query = select(Staff).order_by(Staff.email)
    scope = Scope.of(actor)
    if not scope.is_everywhere:
        query = query.where(
            Staff.id.in_(
                select(StaffCountry.staff_id).where(scope.where(StaffCountry.country_code))
            )
        )
    return list((await session.scalars(query)).all())


async def _page(request: Request, session: AsyncSession, actor: Staff, **values: Any) -> Response:
    scope = Scope.of(actor)
    countries = [c for c in await list_countries(session) if scope.allows(c.code)]
    roles = sorted(accounts.INVITABLE.get(StaffRole(actor.role), set()))
    return render(
        request,
        "staff/list.html",
        team=await _team(session, actor),
        countries=countries,
        roles=roles,
        **values,
    )


@router.get("", response_class=HTMLResponse)
async def staff_list(
    request: Request, actor: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    return await _page(request, session, actor)


@router.post("/invite", dependencies=[Depends(verify_csrf)])
async def invite(
    request: Request,
    email: str = Form("", max_length=254),
    role: str = Form(""),
    name: str = Form("", max_length=120),
    countries: list[str] = Form(default_factory=list),
    actor: Staff = Depends(MANAGE),
    session: AsyncSession = DB,
) -> Response:
    try:
        async with session.begin_nested():  # a refused invitation leaves no half-made account
            staff, token = await accounts.do_invite_staff(
                session, actor=actor, email=email, role=role, countries=countries, name=name
            )
    except DomainError as exc:
        return await _page(request, session, actor, error=exc.translated())
    link = f"{str(request.base_url).rstrip('/')}/invite/{token}"
    return await _page(
        request,
        session,
        actor,
        invite_link=link,
        invited=staff.email,
        flashes=[("ok", _("Invitation created. Send the link below to the person."))],
    )


@router.post("/{staff_id}/active", dependencies=[Depends(verify_csrf)])
async def set_active(
    request: Request,
    staff_id: int,
    active: bool = Form(False),
    actor: Staff = Depends(MANAGE),
    session: AsyncSession = DB,
) -> Response:
    target = await session.get(Staff, staff_id)
    if target is None or target not in await _team(session, actor):
        raise NotFound()
    if actor.role != StaffRole.ADMIN and target.role in {
        StaffRole.ADMIN,
        StaffRole.COUNTRY_MANAGER,
    }:
        raise NotFound()
    try:
        await accounts.do_set_active(session, actor=actor, staff=target, active=active)
    except DomainError as exc:
        return await _page(request, session, actor, error=exc.translated())
    return await _page(request, session, actor, flashes=[("ok", _("Saved."))])
