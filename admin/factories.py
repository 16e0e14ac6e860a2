"""Factories: list, create, edit, CSV import, and each factory's deep link, QR code and poster."""

from __future__ import annotations

from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from admin.forms import done
from admin.web import DB, context, render, require, verify_csrf
from bot.i18n import gettext, is_rtl
from bot.i18n import gettext as _
from bot.i18n.languages import LANGUAGES
from bot.i18n.phrases import POSTER_SCAN, POSTER_TITLE
from bot.storage.models import Factory, Staff, StaffRole
from services import audit
from services.errors import DomainError, Forbidden
from services.factories import (
    FactoryImportError,
    FactoryInput,
    access_factory,
    do_add_factory,
    do_import_factories,
    do_update_factory,
    list_countries,
    list_factories,
)
from services.scope import Scope

router = APIRouter(prefix="/factories")
VIEW = require(
    StaffRole.COUNTRY_MANAGER, StaffRole.CASE_HANDLER, StaffRole.ANALYST, StaffRole.ORGANISER
)
MANAGE = require(StaffRole.COUNTRY_MANAGER)
MAX_CSV_BYTES = 2_000_000


def bot_username(request: Request) -> str | None:
    """The bot's Telegram username, when the console knows it (settings, or the running bot)."""
    ctx = context(request)
    return ctx.bot_username or ctx.settings.bot_username or None


def start_link(username: str, payload: str) -> str:
    """The link that opens the bot with ``/start <payload>`` (posters, QR codes)."""
    return f"https://t.me/{username}?start={payload}"


def deep_link(request: Request, factory: Factory) -> str:
    return start_link(bot_username(request) or "your_workvoice_bot", f"f_{factory.code}")


def qr_svg(link: str, *, scale: int = 6) -> str:
    """An inline SVG QR code that scales to whatever size the page gives it: ``omitsize`` leaves
    out width/height and writes a viewBox, so CSS resizes the whole code instead of cropping it
    (B1: a cropped code keeps one finder pattern and scans as nothing). The quiet zone (four
    modules) stays inside the viewBox."""
    return str(
        segno.make(link, error="q").svg_inline(
            scale=scale, dark="#111", light="#fff", omitsize=True, svgclass="qr-code"
        )
    )


async def _form_page(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    *,
    factory: Factory | None,
    values: dict[str, Any],
    error: str | None = None,
    status: int = 200,
) -> Response:
    scope = Scope.of(staff)
    countries = [c for c in await list_countries(session) if scope.allows(c.code)]
    return render(
        request,
        "factories/form.html",
        status_code=status,
        factory=factory,
        values=values,
        error=error,
        countries=countries,
        languages=LANGUAGES,
    )


def _check_scope(staff: Staff, country: str) -> None:
    """A form naming a country outside the staff member's scope is refused, and says why."""
    if not Scope.of(staff).allows(country.strip().upper()):
        raise Forbidden()


@router.get("", response_class=HTMLResponse)
async def factory_list(
    request: Request, staff: Staff = Depends(VIEW), session: AsyncSession = DB
) -> Response:
    factories = await list_factories(session, Scope.of(staff))
    return render(
        request,
        "factories/list.html",
        factories=factories,
        can_manage=staff.role in {StaffRole.ADMIN, StaffRole.COUNTRY_MANAGER},
    )


@router.get("/new", response_class=HTMLResponse)
async def new_factory(
    request: Request, staff: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    return await _form_page(request, session, staff, factory=None, values={})


class FactoryForm(BaseModel):
    code: str = Field("", max_length=64)
    name: str = Field("", max_length=300)
    country: str = Field("", max_length=8)
    timezone: str = Field("", max_length=64)
    size: str = Field("", max_length=12)
    languages: list[str] = Field(default_factory=list, max_length=32)


async def _save(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    form: FactoryForm,
    factory: Factory | None,
) -> Response:
    """Create (``factory`` None) or update from the form; on a problem show the form again."""
    data = FactoryInput(
        code=form.code,
        name=form.name,
        country=form.country,
        timezone=form.timezone or None,
        size=int(form.size) if form.size.strip().isdigit() else None,
        languages=tuple(form.languages),
    )
    try:
        _check_scope(staff, form.country)
        async with session.begin_nested():
            if factory is None:
                factory = await do_add_factory(session, data)
            else:
                await do_update_factory(session, factory, data)
    except DomainError as exc:
        return await _form_page(
            request,
            session,
            staff,
            factory=factory,
            values=form.model_dump(),
            error=exc.translated(),
            status=400,
        )
    await audit.record(
        session,
        "factory.save",
        actor=staff,
        object_type="factory",
        object_id=factory.id,
        country_code=factory.country_code,
        code=factory.code,
    )
    return done(request, f"/factories/{factory.id}", _("Saved."))


@router.post("/new", dependencies=[Depends(verify_csrf)])
async def create_factory(
    request: Request,
    form: Annotated[FactoryForm, Form()],
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = DB,
) -> Response:
    return await _save(request, session, staff, form, None)


@router.get("/import", response_class=HTMLResponse)
async def import_page(request: Request, staff: Staff = Depends(MANAGE)) -> Response:
    return render(request, "factories/import.html")


@router.post("/import", dependencies=[Depends(verify_csrf)])
async def import_csv(
    request: Request,
    file: UploadFile,
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = DB,
) -> Response:
    raw = await file.read(MAX_CSV_BYTES + 1)
    problems: list[str] = []
    if len(raw) > MAX_CSV_BYTES:
        problems = [_("The file is larger than 2 MB.")]
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            problems = [_("The file is not UTF-8 text. Save it as 'CSV UTF-8' and try again.")]
    if not problems:
        try:
            async with session.begin_nested():  # all rows or none
                made = await do_import_factories(session, text)
                for factory in made:
                    Scope.of(staff).check(factory.country_code)
        except FactoryImportError as exc:
            problems = [
                _("Line {line}: {reason}", line=p.line, reason=p.reason) for p in exc.problems
            ]
        except DomainError:
            problems = [_("The file names a country you do not manage.")]
    if problems:
        return render(request, "factories/import.html", status_code=400, problems=problems)
    await audit.record(
        session, "factory.import", actor=staff, object_type="factory", count=len(made)
    )
    return render(request, "factories/import.html", imported=made)


@router.get("/{factory_id}", response_class=HTMLResponse)
async def factory_page(
    request: Request,
    factory_id: int,
    staff: Staff = Depends(VIEW),
    session: AsyncSession = DB,
) -> Response:
    factory = await access_factory(session, factory_id, Scope.of(staff))
    link = deep_link(request, factory)
    return render(
        request,
        "factories/detail.html",
        factory=factory,
        link=link,
        qr=qr_svg(link),
        can_manage=staff.role in {StaffRole.ADMIN, StaffRole.COUNTRY_MANAGER},
    )


@router.get("/{factory_id}/edit", response_class=HTMLResponse)
async def edit_factory(
    request: Request,
    factory_id: int,
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = DB,
) -> Response:
    factory = await access_factory(session, factory_id, Scope.of(staff))
    values = {
        "code": factory.code,
        "name": factory.name,
        "country": factory.country_code,
        "timezone": factory.timezone,
        "size": factory.size or "",
        "languages": factory.languages,
    }
    return await _form_page(request, session, staff, factory=factory, values=values)


@router.post("/{factory_id}/edit", dependencies=[Depends(verify_csrf)])
async def update_factory(
    request: Request,
    factory_id: int,
    form: Annotated[FactoryForm, Form()],
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = DB,
) -> Response:
    return await _save(
        request, session, staff, form, await access_factory(session, factory_id, Scope.of(staff))
    )


@router.get("/{factory_id}/poster", response_class=HTMLResponse)
async def poster(
    request: Request,
    factory_id: int,
    staff: Staff = Depends(VIEW),
    session: AsyncSession = DB,
) -> Response:
    factory = await access_factory(session, factory_id, Scope.of(staff))
    link = deep_link(request, factory)
    codes = [c for c in (factory.languages or []) if c in LANGUAGES] or [
        factory.country.default_locale,
        "en",
    ]
    lines = [
        {
            "code": c,
            "rtl": is_rtl(c),
            "title": gettext(POSTER_TITLE, locale=c),
            "scan": gettext(POSTER_SCAN, locale=c),
        }
        for c in dict.fromkeys(codes)
    ]
    return render(
        request,
        "factories/poster.html",
        factory=factory,
        link=link,
        qr=qr_svg(link, scale=10),
        lines=lines,
    )
