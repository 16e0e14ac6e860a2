"""The survey builder: a survey's questions, skip rules and texts, publishing, copying and
export. Each edit is a verb of ``services.surveys.builder``; a problem re-shows the form with what
was typed and the reason. Translations and the preview are in ``admin.surveys.translate``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from admin.forms import FormState, submit
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

M = TypeVar("M", bound=BaseModel)
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


class Nothing(BaseModel):
    """A button without fields (publish, start a draft)."""


class TextsForm(BaseModel):
    title: str = Field("", max_length=2000)
    intro: str = Field("", max_length=2000)
    thanks: str = Field("", max_length=2000)


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


class KeyForm(BaseModel):
    key: str = Field("", max_length=64)
    direction: str = Field("", max_length=8)


class CopyForm(BaseModel):
    key: str = Field("", max_length=64)
    country: str = Field("", max_length=8)


async def _save(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    found: Draft,
    model: type[M],
    edit: Callable[[M], Awaitable[object]],
    *,
    message: str,
    anchor: str = "",
    kept: str = "",
    error_key: str = "error",
) -> Response:
    """One of the builder's edit verbs through ``admin.forms.submit``: back to the builder with
    ``message``, or the builder again with the reason (as ``error_key``) and what was typed (as
    ``kept``)."""

    async def again(form: FormState) -> Response:
        shown: dict[str, Any] = {error_key: form.error}
        if kept:
            shown[kept] = form.values
        return await _builder_page(request, session, staff, found, status=form.status, **shown)

    return await submit(
        request,
        session,
        model,
        verb=edit,
        done_url=f"/surveys/{found.survey.id}{anchor}",
        message=message,
        again=again,
    )


@router.post("/{survey_id}/texts", dependencies=[Depends(verify_csrf)])
async def save_texts(
    request: Request, survey_id: int, staff: Staff = Depends(SURVEYS), session: AsyncSession = DB
) -> Response:
    found = await load_draft(session, staff, survey_id)

    async def save(data: TextsForm) -> None:
        await builder.do_save_texts(
            session, found.survey, **data.model_dump(), scope=Scope.of(staff), actor=staff
        )

    return await _save(
        request, session, staff, found, TextsForm, save, message=_("Saved."), kept="texts_form"
    )


@router.post("/{survey_id}/questions", dependencies=[Depends(verify_csrf)])
async def save_question(
    request: Request, survey_id: int, staff: Staff = Depends(SURVEYS), session: AsyncSession = DB
) -> Response:
    """Add a question (``original`` empty) or change the one with key ``original``."""
    found = await load_draft(session, staff, survey_id)

    async def save(data: QuestionForm) -> None:
        question = builder.QuestionInput(**data.model_dump())
        await builder.do_save_question(
            session, found.survey, question, scope=Scope.of(staff), actor=staff
        )

    return await _save(
        request,
        session,
        staff,
        found,
        QuestionForm,
        save,
        message=_("The question is saved."),
        anchor="#questions",
        kept="qform",
    )


@router.post("/{survey_id}/questions/delete", dependencies=[Depends(verify_csrf)])
async def delete_question(
    request: Request, survey_id: int, staff: Staff = Depends(SURVEYS), session: AsyncSession = DB
) -> Response:
    found = await load_draft(session, staff, survey_id)

    async def delete(data: KeyForm) -> None:
        await builder.do_delete_question(
            session, found.survey, data.key, scope=Scope.of(staff), actor=staff
        )

    return await _save(
        request,
        session,
        staff,
        found,
        KeyForm,
        delete,
        message=_("The question is deleted from the draft."),
        anchor="#questions",
    )


@router.post("/{survey_id}/questions/move", dependencies=[Depends(verify_csrf)])
async def move_question(
    request: Request, survey_id: int, staff: Staff = Depends(SURVEYS), session: AsyncSession = DB
) -> Response:
    found = await load_draft(session, staff, survey_id)

    async def move(data: KeyForm) -> None:
        await builder.do_move_question(
            session, found.survey, data.key, data.direction, scope=Scope.of(staff), actor=staff
        )

    return await _save(
        request,
        session,
        staff,
        found,
        KeyForm,
        move,
        message=_("The question is moved."),
        anchor="#questions",
    )


@router.post("/{survey_id}/publish", dependencies=[Depends(verify_csrf)])
async def publish(
    request: Request, survey_id: int, staff: Staff = Depends(SURVEYS), session: AsyncSession = DB
) -> Response:
    found = await load_draft(session, staff, survey_id)

    async def publish_it(_data: Nothing) -> None:
        await builder.do_publish(session, found.survey, scope=Scope.of(staff), actor=staff)

    message = _("The survey is published: you can now plan a wave.")
    return await _save(request, session, staff, found, Nothing, publish_it, message=message)


@router.post("/{survey_id}/draft", dependencies=[Depends(verify_csrf)])
async def start_draft(
    request: Request, survey_id: int, staff: Staff = Depends(SURVEYS), session: AsyncSession = DB
) -> Response:
    """Edit a published survey: a new draft copied from the latest version."""
    found = await load_draft(session, staff, survey_id)

    async def start(_data: Nothing) -> None:
        await builder.do_start_draft(session, found.survey, scope=Scope.of(staff), actor=staff)

    message = _("A new draft is ready to edit; workers keep the published version until then.")
    return await _save(request, session, staff, found, Nothing, start, message=message)


@router.post("/{survey_id}/copy", dependencies=[Depends(verify_csrf)])
async def copy_survey(
    request: Request, survey_id: int, staff: Staff = Depends(SURVEYS), session: AsyncSession = DB
) -> Response:
    found = await load_draft(session, staff, survey_id)

    async def copy(data: CopyForm) -> int:
        code = country_in_scope(staff, data.country, await staff_countries(session, staff))
        if code is None:
            raise InvalidDefinition(where="country", reason=N_("choose one of your countries"))
        made = await builder.do_copy_survey(
            session, found.survey, key=data.key, country_code=code, actor=staff
        )
        return made.id

    async def again(form: FormState) -> Response:
        return await _builder_page(
            request,
            session,
            staff,
            found,
            status=form.status,
            copy_error=form.error,
            copy_form=form.values,
        )

    return await submit(
        request,
        session,
        CopyForm,
        verb=copy,
        done_url=lambda copy_id: f"/surveys/{copy_id}",
        message=_("The copy is made: this is its draft."),
        again=again,
    )


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
