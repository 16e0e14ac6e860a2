"""The survey list: every survey a staff member may see, creating one from a title, and importing
one from a YAML or JSON file."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile as StarletteUpload

from admin.forms import FieldRefused, FormState, submit
from admin.surveys.common import SURVEYS, country_in_scope, staff_countries
from admin.web import DB, render, verify_csrf
from bot.i18n import N_
from bot.i18n import gettext as _
from bot.storage.models import Staff
from bot.storage.surveys import SurveyVersion
from services.scope import Scope
from services.surveys import builder, waves
from services.surveys.definition import parse_definition, validate

router = APIRouter(prefix="/surveys")
MAX_UPLOAD_BYTES = 512 * 1024


async def _list_page(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    *,
    status: int = 200,
    **values: Any,
) -> Response:
    scope = Scope.of(staff)
    found = await builder.list_surveys(session, scope)
    ids = [s.id for s in found]
    latest: dict[int, SurveyVersion] = {}
    wave_counts: dict[int, int] = {}
    if ids:
        for version in (
            await session.scalars(
                select(SurveyVersion)
                .where(SurveyVersion.survey_id.in_(ids))
                .order_by(SurveyVersion.number)
            )
        ).all():
            latest[version.survey_id] = version
        for wave in await waves.list_waves(session, scope):
            wave_counts[wave.survey_id] = wave_counts.get(wave.survey_id, 0) + 1
    rows = [(s, latest.get(s.id), wave_counts.get(s.id, 0)) for s in found]
    countries = await staff_countries(session, staff)
    return render(
        request,
        "surveys/list.html",
        status_code=status,
        rows=rows,
        countries=countries,
        country_options=[(c.code, c.name) for c in countries],
        **values,
    )


@router.get("", response_class=HTMLResponse)
async def survey_list(
    request: Request, staff: Staff = Depends(SURVEYS), session: AsyncSession = DB
) -> Response:
    return await _list_page(request, session, staff)


def _starter(key: str, title: str) -> dict[str, Any]:
    """A minimal definition to start from: one yes/no question the builder then edits."""
    return {
        "key": key.strip().lower(),
        "title": {"en": title.strip()},
        "questions": [
            {"key": "q1", "type": "yesno", "text": {"en": "Is this question useful?"}},
        ],
    }


class NewSurvey(BaseModel):
    key: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=600)
    country: str = Field(default="", max_length=8)


@router.post("/new", dependencies=[Depends(verify_csrf)])
async def create_survey(
    request: Request, staff: Staff = Depends(SURVEYS), session: AsyncSession = DB
) -> Response:
    async def create(data: NewSurvey) -> int:
        code = country_in_scope(staff, data.country, await staff_countries(session, staff))
        survey = await builder.do_create_survey(
            session, validate(_starter(data.key, data.title)), country_code=code, actor=staff
        )
        return survey.id

    async def again(form: FormState) -> Response:
        return await _list_page(request, session, staff, status=form.status, form=form)

    return await submit(
        request,
        session,
        NewSurvey,
        verb=create,
        done_url=lambda survey_id: f"/surveys/{survey_id}",
        message=_("The survey is created. Change its first question, then add yours."),
        again=again,
    )


@router.get("/import", response_class=HTMLResponse)
async def import_page(
    request: Request, staff: Staff = Depends(SURVEYS), session: AsyncSession = DB
) -> Response:
    return render(
        request, "surveys/import.html", countries=await staff_countries(session, staff), values={}
    )


class ImportFields(BaseModel):
    content: str = Field("", max_length=MAX_UPLOAD_BYTES)
    country: str = Field("", max_length=8)


@router.post("/import", dependencies=[Depends(verify_csrf)])
async def import_survey(
    request: Request, staff: Staff = Depends(SURVEYS), session: AsyncSession = DB
) -> Response:
    countries = await staff_countries(session, staff)

    async def import_it(data: ImportFields) -> int:
        file = (await request.form()).get("file")
        raw: bytes | str = data.content
        if isinstance(file, StarletteUpload) and file.filename:
            raw = await file.read(MAX_UPLOAD_BYTES + 1)
            if len(raw) > MAX_UPLOAD_BYTES:
                raise FieldRefused("file", N_("The file is larger than 512 KB."))
            if b"\x00" in raw:
                raise FieldRefused(
                    "file", N_("This is not a text file. Upload a YAML or JSON survey file.")
                )
        if not raw.strip():
            raise FieldRefused("content", N_("Choose a file or paste the survey."))
        code = country_in_scope(staff, data.country, countries)
        # Parsing is CPU work on up to 512 KB: in a thread, so the event loop (and, in
        # `workvoice run`, the bot) keeps serving meanwhile (M6).
        definition = await asyncio.to_thread(parse_definition, raw)
        survey = await builder.do_create_survey(session, definition, country_code=code, actor=staff)
        return survey.id

    async def again(form: FormState) -> Response:
        return render(
            request,
            "surveys/import.html",
            status_code=form.status,
            error=form.error,
            countries=countries,
            values=form.values,
        )

    return await submit(
        request,
        session,
        ImportFields,
        verb=import_it,
        done_url=lambda survey_id: f"/surveys/{survey_id}",
        message=_("The survey is imported."),
        again=again,
    )
