"""Factories: list, create, edit, CSV import, and each factory's deep link, QR code and poster."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import segno
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from admin.forms import FormState, done, submit
from admin.web import (
    DB,
    checked_id,
    context,
    render,
    require,
    staff_locale,
    suppression_threshold,
    verify_csrf,
)
from bot.i18n import N_, format_number, gettext, is_rtl, ngettext
from bot.i18n import gettext as _
from bot.i18n.languages import LANGUAGES
from bot.i18n.phrases import POSTER_SCAN, POSTER_TITLE
from bot.storage.models import Factory, Staff, StaffRole
from services import audit
from services.errors import DomainError
from services.factories import (
    FactoryImportError,
    FactoryInput,
    InvalidFactory,
    access_factory,
    country_zones,
    do_add_factory,
    do_import_factories,
    do_update_factory,
    list_countries,
)
from services.factory_reach import SORTS, factory_reach, list_factory_page
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
    form: FormState,
) -> Response:
    scope = Scope.of(staff)
    countries = [c for c in await list_countries(session) if scope.allows(c.code)]
    zones = sorted({z for c in countries for z in country_zones(c)})
    return render(
        request,
        "factories/form.html",
        status_code=form.status,
        factory=factory,
        form=form,
        countries=[(c.code, c.name) for c in countries],
        zones=zones,
        languages=LANGUAGES,
    )


def _list_url(params: dict[str, Any], **changes: Any) -> str:
    merged = {**params, **changes}
    kept = {k: v for k, v in merged.items() if v not in (None, "", 1, "1") or k == "dir"}
    if kept.get("dir") != "desc":
        kept.pop("dir", None)
    return "/factories" + (f"?{urlencode(kept)}" if kept else "")


@router.get("", response_class=HTMLResponse)
async def factory_list(
    request: Request,
    q: str = "",
    country: str = "",
    sort: str = "name",
    dir: str = "asc",
    page: int = 1,
    staff: Staff = Depends(VIEW),
    session: AsyncSession = DB,
) -> Response:
    """Every factory in the staff member's countries, searchable by code or name, 50 a page,
    with joined workers and open cases (both suppressed below k)."""
    scope, k = Scope.of(staff), suppression_threshold(request)
    sort = sort if sort in SORTS else "name"
    descending = dir == "desc"
    countries = [c for c in await list_countries(session) if scope.allows(c.code)]
    country = country.strip().upper()
    if country not in {c.code for c in countries}:
        country = ""
    found = await list_factory_page(
        session,
        scope,
        k=k,
        search=q[:100],
        country=country or None,
        sort=sort,
        descending=descending,
        page=max(1, min(page, 100_000)),
    )
    locale = staff_locale(staff)
    params = {"q": q.strip(), "country": country, "sort": sort, "dir": dir}
    last = found.first + len(found.rows) - 1
    showing = ngettext(
        "Showing {first}–{last} of {total} factory",
        "Showing {first}–{last} of {total} factories",
        found.total,
        first=format_number(found.first, locale=locale),
        last=format_number(max(last, 0), locale=locale),
        total=format_number(found.total, locale=locale),
    )
    columns = {
        key: {
            "url": _list_url(
                params,
                sort=key,
                dir="desc" if key == sort and not descending else "asc",
                page=1,
            ),
            "sorted": ("descending" if descending else "ascending") if key == sort else None,
        }
        for key in SORTS
    }
    return render(
        request,
        "factories/list.html",
        found=found,
        k=k,
        q=q,
        country=country,
        countries=[(c.code, c.name) for c in countries],
        showing=showing,
        columns=columns,
        previous=_list_url(params, page=found.page - 1) if found.page > 1 else None,
        next=_list_url(params, page=found.page + 1) if found.page < found.pages else None,
        page_of=_(
            "Page {page} of {pages}",
            page=format_number(found.page, locale=locale),
            pages=format_number(found.pages, locale=locale),
        ),
        can_manage=staff.role in {StaffRole.ADMIN, StaffRole.COUNTRY_MANAGER},
    )


@router.get("/new", response_class=HTMLResponse)
async def new_factory(
    request: Request, staff: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    return await _form_page(request, session, staff, factory=None, form=FormState())


class FactoryForm(BaseModel):
    code: str = Field("", max_length=64)
    name: str = Field("", max_length=300)
    country: str = Field("", max_length=8)
    timezone: str = Field("", max_length=64)
    size: str = Field("", max_length=20)
    languages: list[str] = Field(default_factory=list, max_length=32)


async def _save(
    request: Request, session: AsyncSession, staff: Staff, factory: Factory | None
) -> Response:
    """Create (``factory`` None) or update from the form; on problems the same form again with
    every problem beside its field at once (m6)."""
    refused: dict[str, str] = {}

    async def verb(form: FactoryForm) -> Factory:
        data = FactoryInput(
            code=form.code,
            name=form.name,
            country=form.country,
            timezone=form.timezone or None,
            size=form.size,
            languages=tuple(form.languages),
        )
        try:
            if not Scope.of(staff).allows(form.country.strip().upper()):
                raise InvalidFactory(
                    reason=N_("you do not have access to factories in this country"),
                    field="country",
                )
            made = (
                await do_add_factory(session, data)
                if factory is None
                else await do_update_factory(session, factory, data)
            )
        except InvalidFactory as exc:
            refused.update(exc.reasons())
            raise
        await audit.record(
            session,
            "factory.save",
            actor=staff,
            object_type="factory",
            object_id=made.id,
            country_code=made.country_code,
            code=made.code,
        )
        return made

    async def again(form: FormState) -> Response:
        if refused:
            form.errors.update(refused)
            form.error = _("Some fields need a change. They are marked below.")
        return await _form_page(request, session, staff, factory=factory, form=form)

    return await submit(
        request,
        session,
        FactoryForm,
        verb=verb,
        done_url=lambda made: f"/factories/{made.id}",
        message=_("Saved."),
        again=again,
    )


@router.post("/new", dependencies=[Depends(verify_csrf)])
async def create_factory(
    request: Request, staff: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    return await _save(request, session, staff, None)


@router.get("/import", response_class=HTMLResponse)
async def import_page(request: Request, staff: Staff = Depends(MANAGE)) -> Response:
    return render(request, "factories/import.html")


def _import_refused(request: Request, problems: list[str]) -> Response:
    return render(request, "factories/import.html", status_code=400, problems=problems)


@router.post("/import", dependencies=[Depends(verify_csrf)])
async def import_csv(
    request: Request, staff: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    upload = (await request.form()).get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _import_refused(request, [_("No file was chosen. Choose a CSV file, then Import.")])
    raw = await upload.read(MAX_CSV_BYTES + 1)
    if len(raw) > MAX_CSV_BYTES:
        return _import_refused(request, [_("The file is larger than 2 MB.")])
    if not raw.strip():
        return _import_refused(request, [_("The file is empty.")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _import_refused(
            request, [_("The file is not UTF-8 text. Save it as 'CSV UTF-8' and try again.")]
        )
    scope, elsewhere = Scope.of(staff), list[str]()
    try:
        async with session.begin_nested():  # all rows or none
            made = await do_import_factories(session, text)
            elsewhere = sorted({f.country_code for f in made if not scope.allows(f.country_code)})
            if elsewhere:
                raise DomainError()
    except FactoryImportError as exc:
        return _import_refused(
            request,
            [_("Line {line}: {reason}", line=p.line, reason=p.translated()) for p in exc.problems],
        )
    except DomainError:
        return _import_refused(
            request,
            [
                _(
                    "The file names a country you do not manage: {countries}.",
                    countries=", ".join(elsewhere),
                )
            ],
        )
    await audit.record(
        session, "factory.import", actor=staff, object_type="factory", count=len(made)
    )
    return done(
        request,
        "/factories",
        ngettext("Imported {n} factory.", "Imported {n} factories.", len(made)),
    )


@router.get("/{factory_id}", response_class=HTMLResponse)
async def factory_page(
    request: Request,
    factory_id: int,
    staff: Staff = Depends(VIEW),
    session: AsyncSession = DB,
) -> Response:
    scope, k = Scope.of(staff), suppression_threshold(request)
    factory = await access_factory(session, checked_id(factory_id), scope)
    link = deep_link(request, factory)
    return render(
        request,
        "factories/detail.html",
        factory=factory,
        link=link,
        qr=qr_svg(link),
        k=k,
        reach=await factory_reach(session, factory, scope, k=k),
        languages=LANGUAGES,
        can_manage=staff.role in {StaffRole.ADMIN, StaffRole.COUNTRY_MANAGER},
        sees_results=staff.role in {StaffRole.ADMIN, StaffRole.COUNTRY_MANAGER, StaffRole.ANALYST},
        sees_committees=staff.role != StaffRole.ORGANISER,
    )


@router.get("/{factory_id}/edit", response_class=HTMLResponse)
async def edit_factory(
    request: Request,
    factory_id: int,
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = DB,
) -> Response:
    factory = await access_factory(session, checked_id(factory_id), Scope.of(staff))
    values = {
        "code": factory.code,
        "name": factory.name,
        "country": factory.country_code,
        "timezone": factory.timezone,
        "size": str(factory.size or ""),
        "languages": factory.languages,
    }
    return await _form_page(request, session, staff, factory=factory, form=FormState(values))


@router.post("/{factory_id}/edit", dependencies=[Depends(verify_csrf)])
async def update_factory(
    request: Request,
    factory_id: int,
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = DB,
) -> Response:
    factory = await access_factory(session, checked_id(factory_id), Scope.of(staff))
    return await _save(request, session, staff, factory)


@router.get("/{factory_id}/poster", response_class=HTMLResponse)
async def poster(
    request: Request,
    factory_id: int,
    staff: Staff = Depends(VIEW),
    session: AsyncSession = DB,
) -> Response:
    factory = await access_factory(session, checked_id(factory_id), Scope.of(staff))
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
