"""The team side of staff accounts (``services.accounts``): the team list, invitations, and each
member's page where an admin (or a country manager, for the roles below theirs in their
countries) changes the role and countries, resets a lost second factor, sends a new invitation or
a password reset link, and deactivates the account. Every change is audited by the service; every
irreversible one needs its box ticked. A staff member's own side is ``admin.accounts``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.accounts import show_once, take_once
from admin.forms import FormState, submit
from admin.web import DB, checked_id, render, require, verify_csrf
from bot.i18n import N_
from bot.i18n import gettext as _
from bot.i18n.languages import LANGUAGES
from bot.storage.models import Staff, StaffCountry, StaffRole
from services import accounts, translations
from services.clock import utcnow
from services.errors import DomainError
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


def _roles(actor: Staff) -> list[tuple[str, StaffRole]]:
    """The roles ``actor`` may give, as (value, role) for the ``label`` filter."""
    return [(r.value, r) for r in sorted(accounts.INVITABLE.get(StaffRole(actor.role), set()))]


async def _countries(session: AsyncSession, actor: Staff) -> list[tuple[str, str]]:
    scope = Scope.of(actor)
    return [(c.code, c.name) for c in await list_countries(session) if scope.allows(c.code)]


def _link(request: Request, token: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/invite/{token}"


async def _page(
    request: Request, session: AsyncSession, actor: Staff, form: FormState | None = None
) -> Response:
    team = await _team(session, actor)
    names = dict(await _countries(session, actor))
    once = take_once(request)
    return render(
        request,
        "staff/list.html",
        status_code=form.status if form else 200,
        team=[
            {
                "member": m,
                "role": StaffRole(m.role),
                "countries": [names.get(c, c) for c in sorted(m.country_codes)],
                "manageable": accounts.manageable(actor, m),
            }
            for m in team
        ],
        countries=list(names.items()),
        roles=_roles(actor),
        review_languages=[(code, LANGUAGES[code]) for code in translations.review_locales()],
        form=form,
        invite_link=once.get("invite_link"),
        invited=once.get("invited"),
    )


@router.get("", response_class=HTMLResponse)
async def staff_list(
    request: Request, actor: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    return await _page(request, session, actor)


class InviteForm(BaseModel):
    email: str = Field("", max_length=254)
    role: str = Field("", max_length=32)
    name: str = Field("", max_length=120)
    countries: list[str] = Field(default_factory=list, max_length=64)


@router.post("/invite", dependencies=[Depends(verify_csrf)])
async def invite(
    request: Request, actor: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    async def verb(form: InviteForm) -> Staff:
        if form.role not in set(StaffRole):  # no role chosen (a role above theirs is a 403)
            raise DomainError(N_("Please choose one of the options."))
        staff, token = await accounts.do_invite_staff(
            session,
            actor=actor,
            email=form.email,
            role=form.role,
            countries=form.countries,
            name=form.name,
        )
        show_once(request, "invite_link", _link(request, token))
        show_once(request, "invited", staff.email)
        return staff

    async def again(form: FormState) -> Response:
        return await _page(request, session, actor, form)

    return await submit(
        request,
        session,
        InviteForm,
        verb=verb,
        done_url="/staff",
        message=_("Invitation created. Send the link below to the person."),
        again=again,
    )


# -- one member ----------------------------------------------------------------------------------


async def _member_page(
    request: Request,
    session: AsyncSession,
    actor: Staff,
    member: Staff,
    form: FormState | None = None,
) -> Response:
    once = take_once(request)
    return render(
        request,
        "staff/member.html",
        status_code=form.status if form else 200,
        member=member,
        role=StaffRole(member.role),
        countries=await _countries(session, actor),
        outside=sorted(member.country_codes - actor.country_codes)
        if actor.role != StaffRole.ADMIN
        else [],
        roles=_roles(actor),
        review_languages=[(code, LANGUAGES[code]) for code in translations.review_locales()],
        form=form,
        link=once.get("link"),
        link_kind=once.get("link_kind"),
        invite_expired=member.password_hash is None
        and member.invite_expires_at is not None
        and member.invite_expires_at < utcnow(),
    )


@router.get("/{staff_id}", response_class=HTMLResponse)
async def member_page(
    request: Request, staff_id: int, actor: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    member = await accounts.access_member(session, actor, checked_id(staff_id))
    return await _member_page(request, session, actor, member)


class RoleForm(BaseModel):
    role: str = Field("", max_length=32)
    countries: list[str] = Field(default_factory=list, max_length=64)


class LanguagesForm(BaseModel):
    languages: list[str] = Field(default_factory=list, max_length=len(LANGUAGES))


class Confirmed(BaseModel):
    """An action with nothing to type: only the confirmation box (checked by ``submit``)."""


async def _act(
    request: Request,
    session: AsyncSession,
    actor: Staff,
    staff_id: int,
    model: type[BaseModel],
    action: Callable[[Staff, Any], Awaitable[object]],
    message: str,
    *,
    confirm: bool,
) -> Response:
    member = await accounts.access_member(session, actor, checked_id(staff_id))

    async def again(form: FormState) -> Response:
        return await _member_page(request, session, actor, member, form)

    return await submit(
        request,
        session,
        model,
        verb=lambda data: action(member, data),
        done_url=f"/staff/{member.id}",
        message=message,
        again=again,
        confirm=confirm,
    )


@router.post("/{staff_id}/role", dependencies=[Depends(verify_csrf)])
async def change_role(
    request: Request, staff_id: int, actor: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    async def action(member: Staff, form: RoleForm) -> None:
        if form.role not in set(StaffRole):  # nothing chosen (a role above theirs is a 403)
            raise DomainError(N_("Please choose one of the options."))
        await accounts.do_change_role(
            session, actor=actor, staff=member, role=form.role, countries=form.countries
        )

    return await _act(
        request,
        session,
        actor,
        staff_id,
        RoleForm,
        action,
        _("Role and countries saved. The person signs in again to use them."),
        confirm=False,
    )


@router.post("/{staff_id}/languages", dependencies=[Depends(verify_csrf)])
async def change_languages(
    request: Request, staff_id: int, actor: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    async def action(member: Staff, form: LanguagesForm) -> None:
        await translations.set_reviewer_languages(
            session, actor=actor, staff=member, languages=form.languages
        )

    return await _act(
        request,
        session,
        actor,
        staff_id,
        LanguagesForm,
        action,
        _("Saved: they review the translations of these languages."),
        confirm=False,
    )


@router.post("/{staff_id}/totp-reset", dependencies=[Depends(verify_csrf)])
async def reset_totp(
    request: Request, staff_id: int, actor: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    async def action(member: Staff, _form: Confirmed) -> None:
        await accounts.do_reset_totp(session, actor=actor, staff=member)

    return await _act(
        request,
        session,
        actor,
        staff_id,
        Confirmed,
        action,
        _("Two-step sign-in was reset. They set up a new authenticator at their next sign-in."),
        confirm=True,
    )


@router.post("/{staff_id}/invite", dependencies=[Depends(verify_csrf)])
async def resend_invite(
    request: Request, staff_id: int, actor: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    async def action(member: Staff, _form: Confirmed) -> None:
        token = await accounts.do_resend_invite(session, actor=actor, staff=member)
        show_once(request, "link", _link(request, token))
        show_once(request, "link_kind", "invite")

    return await _act(
        request,
        session,
        actor,
        staff_id,
        Confirmed,
        action,
        _("A new invitation link was made. The old link no longer works."),
        confirm=False,
    )


@router.post("/{staff_id}/password-reset", dependencies=[Depends(verify_csrf)])
async def reset_password(
    request: Request, staff_id: int, actor: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    async def action(member: Staff, _form: Confirmed) -> None:
        token = await accounts.do_reset_password(session, actor=actor, staff=member)
        show_once(request, "link", _link(request, token))
        show_once(request, "link_kind", "reset")

    return await _act(
        request,
        session,
        actor,
        staff_id,
        Confirmed,
        action,
        _("The password was reset and their sessions ended. Send them the link below."),
        confirm=True,
    )


class ActiveForm(BaseModel):
    active: bool = False


@router.post("/{staff_id}/active", dependencies=[Depends(verify_csrf)])
async def set_active(
    request: Request, staff_id: int, actor: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    """Deactivating ends every session at once and needs its box ticked (M13); reactivating
    does not (it only lets the person sign in again)."""
    form = await request.form()
    active = str(form.get("active", "")).lower() in {"1", "true", "on"}

    async def action(member: Staff, data: ActiveForm) -> None:
        await accounts.do_set_active(session, actor=actor, staff=member, active=data.active)

    return await _act(
        request,
        session,
        actor,
        staff_id,
        ActiveForm,
        action,
        _("The account is active again.") if active else _("The account was deactivated."),
        confirm=not active,
    )
