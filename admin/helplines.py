"""Helplines in the console: the numbers a worker sees at once when she says someone is in danger.

Country managers edit their countries' lines, administrators every country's: the kind, the number
(international form, so Telegram offers a tap to call), a name per language (a worker sees the
kind's translated name where a line has none in her language) and, for migrants, the languages an
embassy or community line answers in. The seeded numbers are marked unverified until country staff
check them. Every change is audited by the service.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from admin.forms import FormState, submit
from admin.web import DB, render, require, staff_locale, verify_csrf
from bot.i18n import gettext, is_rtl
from bot.i18n.languages import LANGUAGES
from bot.storage.models import Country, Staff, StaffRole
from services import helplines
from services.errors import NotFound
from services.factories import list_countries
from services.helplines import Helpline, HelplineInput, HelplineKind
from services.scope import Scope

router = APIRouter(prefix="/helplines")
MANAGE = require(StaffRole.COUNTRY_MANAGER)  # administrators too (require adds them)


async def scoped(code: str, staff: Staff = Depends(MANAGE), session: AsyncSession = DB) -> Country:
    return await helplines.access_country(session, code, Scope.of(staff))


@dataclass
class LineForm:
    """The line form as typed, kept whole when the service refuses it."""

    kind: str = HelplineKind.EMERGENCY.value
    phone: str = ""
    names: dict[str, str] = field(default_factory=dict)  # per language (the topic-name macro)
    languages: list[str] = field(default_factory=list)
    nationality: str = ""
    verified: bool = False
    version: str = ""

    @classmethod
    def parse_values(cls, values: Mapping[str, Any]) -> LineForm:
        """From the typed values (``admin.forms.FormState.values`` or the validated model)."""

        def one(name: str) -> str:
            value = values.get(name)
            return value if isinstance(value, str) else ""

        listed = values.get("languages") or []
        return cls(
            kind=one("kind"),
            phone=one("phone"),
            names={code: one(f"name:{code}") for code in LANGUAGES if one(f"name:{code}")},
            languages=[listed] if isinstance(listed, str) else [str(v) for v in listed],
            nationality=one("nationality"),
            verified=one("verified") == "on",
            version=one("version"),
        )

    @classmethod
    def of(cls, line: Helpline, version: str) -> LineForm:
        return cls(
            line.kind.value,
            line.phone,
            dict(line.labels),
            list(line.languages),
            line.nationality or "",
            line.verified,
            version,
        )

    def to_input(self) -> HelplineInput:
        return HelplineInput(
            kind=self.kind,
            phone=self.phone,
            labels=dict(self.names),
            languages=list(self.languages),
            nationality=self.nationality,
            verified=self.verified,
        )


class LineModel(BaseModel):
    """The line form as sent; the names per language come as ``name:<code>`` fields."""

    model_config = ConfigDict(extra="allow")

    kind: str = Field(default="", max_length=32)
    phone: str = Field(default="", max_length=64)
    languages: list[str] = Field(default_factory=list, max_length=len(LANGUAGES))
    nationality: str = Field(default="", max_length=8)
    verified: str = ""
    version: str = Field(default="", max_length=128)

    def line_form(self) -> LineForm:
        return LineForm.parse_values(self.model_dump() | dict(self.model_extra or {}))


def _kinds(locale: str) -> list[tuple[str, str]]:
    return [
        (kind.value, gettext(helplines.FALLBACK_LABELS[kind], locale=locale))
        for kind in HelplineKind
    ]


def _name_fields() -> list[tuple[str, str, bool]]:
    return [(code, lang.native_name, is_rtl(code)) for code, lang in LANGUAGES.items()]


@router.get("", response_class=HTMLResponse)
async def country_list(
    request: Request, staff: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    scope = Scope.of(staff)
    rows = []
    for country in await list_countries(session):
        if scope.allows(country.code):
            lines = helplines.stored_lines(country)
            rows.append(
                {
                    "country": country,
                    "count": len(lines),
                    "unverified": sum(not line.verified for line in lines),
                }
            )
    return render(request, "helplines/list.html", rows=rows)


async def _country_page(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    country: Country,
    *,
    editing: int | None = None,
    values: LineForm | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    locale = staff_locale(staff)
    lines = helplines.stored_lines(country)
    version = helplines.version(country)
    if values is None:
        values = (
            LineForm.of(lines[editing], version)
            if editing is not None
            else LineForm(version=version)
        )
    return render(
        request,
        "helplines/country.html",
        status_code=status,
        country=country,
        rows=[
            {"index": n, "line": line, "label": line.label(locale), "rtl_label": is_rtl(locale)}
            for n, line in enumerate(lines)
        ],
        has_migrant_line=any(line.kind is HelplineKind.MIGRANT for line in lines),
        editing=editing,
        values=values,
        version=version,
        kinds=_kinds(locale),
        names=_name_fields(),
        languages=LANGUAGES,
        label_limit=helplines.LABEL_LIMIT,
        error=error,
    )


@router.get("/{code}", response_class=HTMLResponse)
async def country_page(
    request: Request,
    edit: int | None = None,
    country: Country = Depends(scoped),
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = DB,
) -> Response:
    if edit is not None and not 0 <= edit < len(country.helplines or []):
        raise NotFound()
    return await _country_page(request, session, staff, country, editing=edit)


async def _save(
    request: Request, session: AsyncSession, staff: Staff, country: Country, index: int | None
) -> Response:
    async def save(data: LineModel) -> None:
        values = data.line_form()
        await helplines.do_save_line(
            session,
            country,
            index,
            values.to_input(),
            seen_version=values.version,
            scope=Scope.of(staff),
            actor=staff,
        )

    async def again(form: FormState) -> Response:
        await session.refresh(country)  # the page shows the stored list beside the typed form
        return await _country_page(
            request,
            session,
            staff,
            country,
            editing=index,
            values=LineForm.parse_values(form.values),
            error=form.error,
            status=form.status,
        )

    return await submit(
        request,
        session,
        LineModel,
        verb=save,
        done_url=f"/helplines/{country.code}",
        message=gettext("Saved."),
        again=again,
    )


@router.post("/{code}", dependencies=[Depends(verify_csrf)])
async def add_line(
    request: Request,
    country: Country = Depends(scoped),
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = DB,
) -> Response:
    return await _save(request, session, staff, country, None)


@router.post("/{code}/{index}", dependencies=[Depends(verify_csrf)])
async def update_line(
    request: Request,
    index: int,
    country: Country = Depends(scoped),
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = DB,
) -> Response:
    return await _save(request, session, staff, country, index)


@router.post("/{code}/{index}/remove", dependencies=[Depends(verify_csrf)])
async def remove_line(
    request: Request,
    index: int,
    country: Country = Depends(scoped),
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = DB,
) -> Response:
    async def remove(data: LineModel) -> None:
        await helplines.do_remove_line(
            session, country, index, seen_version=data.version, scope=Scope.of(staff), actor=staff
        )

    async def again(form: FormState) -> Response:
        await session.refresh(country)
        return await _country_page(
            request, session, staff, country, error=form.error, status=form.status
        )

    return await submit(
        request,
        session,
        LineModel,
        verb=remove,
        done_url=f"/helplines/{country.code}",
        message=gettext("The line is removed: workers no longer see it."),
        again=again,
    )
