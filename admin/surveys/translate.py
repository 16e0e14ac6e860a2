"""A survey's translations (one language at a time, beside the source text) and the preview of
each question as the bot shows it in a language."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from admin.forms import FormState, submit
from admin.surveys.common import SURVEYS, Draft, can_edit, known_locale, load_draft
from admin.web import DB, render, verify_csrf
from bot.i18n import gettext as _
from bot.i18n import is_rtl
from bot.i18n.languages import LANGUAGES
from bot.storage.models import Staff
from services.scope import Scope
from services.surveys import builder
from services.surveys import screens as survey_screens
from services.surveys.definition import (
    SurveyDefinition,
    coverage,
    text_slots,
    with_translation,
)

router = APIRouter(prefix="/surveys")


def _slots(definition: SurveyDefinition, locale: str) -> list[dict[str, Any]]:
    source = definition.source_locale
    return [
        {"path": path, "source": texts.get(source, ""), "value": texts.get(locale, "")}
        for path, texts in text_slots(definition)
    ]


async def _translate_page(
    request: Request,
    found: Draft,
    staff: Staff,
    locale: str,
    *,
    status: int = 200,
    typed: dict[str, str] | None = None,
    error: str | None = None,
) -> Response:
    slots = _slots(found.definition, locale)
    if typed is not None:
        for slot in slots:
            slot["value"] = typed.get(slot["path"], slot["value"])
    done, total = coverage(found.definition)[locale]
    return render(
        request,
        "surveys/translate.html",
        status_code=status,
        survey=found.survey,
        version=found.version,
        definition=found.definition,
        target=locale,
        language=LANGUAGES[locale],
        source_language=LANGUAGES[found.definition.source_locale],
        target_rtl=is_rtl(locale),
        source_rtl=is_rtl(found.definition.source_locale),
        slots=slots,
        done=done,
        total=total,
        editable=can_edit(found.survey, staff),
        error=error,
    )


@router.get("/{survey_id}/translate/{locale}", response_class=HTMLResponse)
async def translate_page(
    request: Request,
    survey_id: int,
    locale: str,
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = DB,
) -> Response:
    found = await load_draft(session, staff, survey_id)
    return await _translate_page(request, found, staff, known_locale(locale))


@router.post("/{survey_id}/translate/{locale}", dependencies=[Depends(verify_csrf)])
async def save_translation(
    request: Request,
    survey_id: int,
    locale: str,
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = DB,
) -> Response:
    found = await load_draft(session, staff, survey_id)
    known_locale(locale)
    paths = {path for path, _texts in text_slots(found.definition)}

    async def save(data: Texts) -> None:
        typed = data.texts(paths)
        definition = with_translation(found.definition, locale, typed)
        await builder.do_save_draft(
            session, found.survey, definition, scope=Scope.of(staff), actor=staff
        )

    async def again(form: FormState) -> Response:
        typed = Texts.model_validate(form.values).texts(paths)
        return await _translate_page(
            request, found, staff, locale, status=form.status, typed=typed, error=form.error
        )

    return await submit(
        request,
        session,
        Texts,
        verb=save,
        done_url=f"/surveys/{found.survey.id}#coverage",
        message=_("The translation is saved."),
        again=again,
    )


class Texts(BaseModel):
    """The translation form: one ``t:<path>`` field per text of the survey."""

    model_config = ConfigDict(extra="allow")

    def texts(self, paths: set[str]) -> dict[str, str]:
        return {
            name[2:]: value
            for name, value in (self.model_extra or {}).items()
            if name.startswith("t:") and name[2:] in paths and isinstance(value, str)
        }


def preview_screens(definition: SurveyDefinition, locale: str) -> list[dict[str, Any]]:
    """Each question as the bot shows it in ``locale``: the very screens the bot sends
    (``services.surveys.screens``), so the two cannot drift apart."""
    screens = survey_screens.preview_screens(definition, locale)
    return [
        {
            "question": q,
            # Telegram's HTML (<b>, <i>): the survey's texts in it are escaped where it is built.
            "text": Markup(screen.text),  # noqa: S704
            "translated": bool(q.text.get(locale)),
            "rows": screen.labels(),
        }
        for q, screen in zip(definition.questions, screens, strict=True)
    ]


@router.get("/{survey_id}/preview", response_class=HTMLResponse)
async def preview(
    request: Request,
    survey_id: int,
    locale: str = "",
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = DB,
) -> Response:
    found = await load_draft(session, staff, survey_id)
    locale = known_locale(locale or found.definition.source_locale)
    return render(
        request,
        "surveys/preview.html",
        survey=found.survey,
        definition=found.definition,
        target=locale,
        target_rtl=is_rtl(locale),
        languages=LANGUAGES,
        screens=preview_screens(found.definition, locale),
    )
