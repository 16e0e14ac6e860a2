"""The survey builder: a survey's questions, skip rules and texts, publishing, copying and
export. Each edit is a verb of ``services.surveys.builder``; a problem re-shows the form with what
was typed and the reason. Translations and the preview are in ``admin.surveys.translate``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from admin.surveys.common import (
    SURVEYS,
    TYPE_LABELS,
    Draft,
    can_edit,
    country_in_scope,
    load_draft,
    staff_countries,
)
from admin.web import DB, render, verify_csrf
from bot.i18n import N_
from bot.i18n import gettext as _
from bot.i18n.languages import LANGUAGES
from bot.storage.models import Staff
from services.errors import DomainError
from services.scope import Scope
from services.surveys import builder, waves
from services.surveys.definition import (
    COUNTED_TYPES,
    InvalidDefinition,
    QuestionType,
    SurveyDefinition,
    coverage,
    plain_number,
    to_json,
    to_yaml,
)

router = APIRouter(prefix="/surveys")


def _coverage_rows(definition: SurveyDefinition) -> list[dict[str, Any]]:
    rows = []
    for code, (done, total) in coverage(definition).items():
        lang = LANGUAGES[code]
        rows.append(
            {
                "code": code,
                "native": lang.native_name,
                "done": done,
                "total": total,
                "percent": round(100 * done / total) if total else 0,
                "rtl": lang.rtl,
                "source": code == definition.source_locale,
            }
        )
    return rows


def _question_form(definition: SurveyDefinition, key: str) -> dict[str, Any]:
    q = definition.question(key)
    if q is None:
        return {}
    source = definition.source_locale
    options = "\n".join(
        f"{o.key}{'!' if o.exclusive else ''}: {o.text.get(source, '')}" for o in q.options
    )
    return {
        "original": q.key,
        "key": q.key,
        "type": q.type.value,
        "text": q.text.get(source, ""),
        "options": options,
        "min": plain_number(q.min),
        "max": plain_number(q.max),
        "max_length": str(q.max_length) if q.type == QuestionType.TEXT else "",
        "required": q.required,
        "show_if_question": q.show_if.question if q.show_if else "",
        "show_if_values": ", ".join(q.show_if.equals) if q.show_if else "",
    }


async def _builder_page(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    found: Draft,
    *,
    status: int = 200,
    edit: str = "",
    **values: Any,
) -> Response:
    d = found.definition
    published = await builder.latest_published(session, found.survey)
    history = await builder.versions(session, found.survey)
    qform = values.pop("qform", None)
    if qform is None:
        qform = _question_form(d, edit) if edit else {}
    return render(
        request,
        "surveys/builder.html",
        status_code=status,
        survey=found.survey,
        version=found.version,
        definition=d,
        source=d.source_locale,
        is_draft=found.version.published_at is None,
        published=published,
        history=history,
        editable=can_edit(found.survey, staff),
        coverage=_coverage_rows(d),
        types=[(t.value, _(TYPE_LABELS[t])) for t in QuestionType],
        counted=[q for q in d.questions if q.type in COUNTED_TYPES],
        qform=qform,
        countries=await staff_countries(session, staff),
        wave_count=len(await waves.list_waves(session, Scope.of(staff), survey_id=found.survey.id)),
        plain=plain_number,
        **values,
    )


@router.get("/{survey_id}", response_class=HTMLResponse)
async def survey_page(
    request: Request,
    survey_id: int,
    edit: str = "",
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = DB,
) -> Response:
    found = await load_draft(session, staff, survey_id)
    return await _builder_page(request, session, staff, found, edit=edit[:32])


async def _save(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    found: Draft,
    edit: Callable[[Scope], Awaitable[object]],
    *,
    anchor: str = "",
    **on_error: Any,
) -> Response:
    """Run one of the builder's edit verbs; on a problem show the builder again with the reason
    and what was typed."""
    try:
        async with session.begin_nested():
            await edit(Scope.of(staff))
    except DomainError as exc:
        return await _builder_page(
            request, session, staff, found, status=exc.status, error=exc.translated(), **on_error
        )
    return RedirectResponse(f"/surveys/{found.survey.id}{anchor}", status_code=303)


@router.post("/{survey_id}/texts", dependencies=[Depends(verify_csrf)])
async def save_texts(
    request: Request,
    survey_id: int,
    title: str = Form("", max_length=2000),
    intro: str = Form("", max_length=2000),
    thanks: str = Form("", max_length=2000),
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = DB,
) -> Response:
    found = await load_draft(session, staff, survey_id)
    return await _save(
        request,
        session,
        staff,
        found,
        lambda scope: builder.do_save_texts(
            session, found.survey, title=title, intro=intro, thanks=thanks, scope=scope, actor=staff
        ),
        texts_form={"title": title, "intro": intro, "thanks": thanks},
    )


class QuestionForm(BaseModel):
    """The question form as typed (``original``: the key of the question changed, else empty)."""

    original: str = Field("", max_length=64)
    key: str = Field("", max_length=64)
    type: str = Field("", max_length=16)
    text: str = Field("", max_length=2000)
    options: str = Field("", max_length=20000)
    min: str = Field("", max_length=32)
    max: str = Field("", max_length=32)
    max_length: str = Field("", max_length=8)
    required: bool = False
    show_if_question: str = Field("", max_length=64)
    show_if_values: str = Field("", max_length=1000)


@router.post("/{survey_id}/questions", dependencies=[Depends(verify_csrf)])
async def save_question(
    request: Request,
    survey_id: int,
    form: Annotated[QuestionForm, Form()],
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = DB,
) -> Response:
    """Add a question (``original`` empty) or change the one with key ``original``."""
    found = await load_draft(session, staff, survey_id)
    typed = form.model_dump()
    return await _save(
        request,
        session,
        staff,
        found,
        lambda scope: builder.do_save_question(
            session, found.survey, builder.QuestionInput(**typed), scope=scope, actor=staff
        ),
        anchor="#questions",
        qform=typed,
    )


@router.post("/{survey_id}/questions/delete", dependencies=[Depends(verify_csrf)])
async def delete_question(
    request: Request,
    survey_id: int,
    key: str = Form("", max_length=64),
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = DB,
) -> Response:
    found = await load_draft(session, staff, survey_id)
    return await _save(
        request,
        session,
        staff,
        found,
        lambda scope: builder.do_delete_question(
            session, found.survey, key, scope=scope, actor=staff
        ),
        anchor="#questions",
    )


@router.post("/{survey_id}/questions/move", dependencies=[Depends(verify_csrf)])
async def move_question(
    request: Request,
    survey_id: int,
    key: str = Form("", max_length=64),
    direction: str = Form("", max_length=8),
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = DB,
) -> Response:
    found = await load_draft(session, staff, survey_id)
    return await _save(
        request,
        session,
        staff,
        found,
        lambda scope: builder.do_move_question(
            session, found.survey, key, direction, scope=scope, actor=staff
        ),
        anchor="#questions",
    )


@router.post("/{survey_id}/publish", dependencies=[Depends(verify_csrf)])
async def publish(
    request: Request,
    survey_id: int,
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = DB,
) -> Response:
    found = await load_draft(session, staff, survey_id)
    try:
        async with session.begin_nested():
            await builder.do_publish(session, found.survey, scope=Scope.of(staff), actor=staff)
    except DomainError as exc:
        return await _builder_page(
            request, session, staff, found, status=exc.status, error=exc.translated()
        )
    return RedirectResponse(f"/surveys/{found.survey.id}", status_code=303)


@router.post("/{survey_id}/draft", dependencies=[Depends(verify_csrf)])
async def start_draft(
    request: Request,
    survey_id: int,
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = DB,
) -> Response:
    """Edit a published survey: a new draft copied from the latest version."""
    found = await load_draft(session, staff, survey_id)
    try:
        await builder.do_start_draft(session, found.survey, scope=Scope.of(staff), actor=staff)
    except DomainError as exc:
        return await _builder_page(
            request, session, staff, found, status=exc.status, error=exc.translated()
        )
    return RedirectResponse(f"/surveys/{found.survey.id}", status_code=303)


@router.post("/{survey_id}/copy", dependencies=[Depends(verify_csrf)])
async def copy_survey(
    request: Request,
    survey_id: int,
    key: str = Form("", max_length=64),
    country: str = Form("", max_length=8),
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = DB,
) -> Response:
    found = await load_draft(session, staff, survey_id)
    try:
        code = country_in_scope(staff, country, await staff_countries(session, staff))
        if code is None:
            raise InvalidDefinition(where="country", reason=N_("choose one of your countries"))
        async with session.begin_nested():
            copy = await builder.do_copy_survey(
                session, found.survey, key=key, country_code=code, actor=staff
            )
    except DomainError as exc:
        return await _builder_page(
            request,
            session,
            staff,
            found,
            status=exc.status,
            copy_error=exc.translated(),
            copy_form={"key": key, "country": country},
        )
    return RedirectResponse(f"/surveys/{copy.id}", status_code=303)


def _export(found: Draft, kind: str) -> Response:
    body = to_yaml(found.definition) if kind == "yaml" else to_json(found.definition)
    media = "application/yaml" if kind == "yaml" else "application/json"
    name = f"{found.survey.key}-v{found.version.number}.{kind}"
    return Response(
        body.encode("utf-8"),
        media_type=f"{media}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/{survey_id}/export.yaml")
async def export_yaml(
    survey_id: int, staff: Staff = Depends(SURVEYS), session: AsyncSession = DB
) -> Response:
    return _export(await load_draft(session, staff, survey_id), "yaml")


@router.get("/{survey_id}/export.json")
async def export_json(
    survey_id: int, staff: Staff = Depends(SURVEYS), session: AsyncSession = DB
) -> Response:
    return _export(await load_draft(session, staff, survey_id), "json")
