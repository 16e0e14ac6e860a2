"""Surveys in the console: the builder (questions, skip rules, translations, preview, publish,
import and export). Waves, results, CSV and closing the loop are in ``admin.survey_waves``.

Every change of a definition goes through ``services.surveys.builder.do_save_draft``; a problem
re-shows the form with what was typed and the reason. Results and their CSV pass through the
service's suppression untouched: a hidden cell is ``None`` and reads "fewer than k" everywhere.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.web import (
    checked_id,
    countries_of,
    db,
    render,
    require,
    verify_csrf,
)
from bot.i18n import N_, gettext, is_rtl
from bot.i18n import gettext as _
from bot.i18n.languages import LANGUAGES
from bot.storage.models import Country, Gender, Staff, StaffRole
from bot.storage.surveys import Survey, SurveyVersion
from services.errors import DomainError, NotFound
from services.onboarding import AgeBand
from services.surveys import builder, waves
from services.surveys.definition import (
    COUNTED_TYPES,
    KEY_PATTERN,
    SCALE_FACES,
    InvalidDefinition,
    QuestionType,
    SurveyDefinition,
    coverage,
    parse_definition,
    plain_number,
    text_slots,
    to_json,
    to_yaml,
    validate,
    with_translation,
)

router = APIRouter(prefix="/surveys")
SURVEYS = require(StaffRole.COUNTRY_MANAGER, StaffRole.ANALYST)
MAX_UPLOAD_BYTES = 512 * 1024
DIMENSION_LABELS = {
    "factory": N_("factory"),
    "gender": N_("gender"),
    "age_band": N_("age band"),
    "language": N_("language"),
}
GENDER_LABELS = {"woman": N_("women"), "man": N_("men"), "other": N_("other")}
TYPE_LABELS = {
    QuestionType.SINGLE: N_("single choice"),
    QuestionType.MULTI: N_("multiple choice"),
    QuestionType.SCALE: N_("scale 1–5"),
    QuestionType.YESNO: N_("yes / no"),
    QuestionType.NUMBER: N_("number"),
    QuestionType.TEXT: N_("short text"),
}
# The bot's own words (catalog "surveys"), looked up in the worker's language for the preview.
BOT_YES, BOT_NO, BOT_SKIP, BOT_DONE = "Yes", "No", "Skip", "Done ➡️"
BOT_MULTI = "Tick all that apply, then tap Done."
BOT_NUMBER = "Send a number from {min} to {max}."
BOT_TEXT = "Type your answer (up to {limit} characters)."
BOT_HEADER = "<b>{title}</b> · question {number} of {total}"
AGE_BANDS = [a.value for a in AgeBand if a != AgeBand.UNDISCLOSED]
GENDERS = [g.value for g in Gender if g != Gender.UNDISCLOSED]


def scope_of(staff: Staff) -> builder.Scope:
    return countries_of(staff)


def can_edit(survey: Survey, staff: Staff) -> bool:
    return builder.can_edit(survey, scope_of(staff))


def slug(text: str, taken: set[str]) -> str:
    """An option key from its text (latin letters and digits), else o1, o2 ..."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    base = re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:24].strip("-")
    candidates = [base] if base and KEY_PATTERN.match(base) else []
    candidates += [f"{base}-{i}" if base else f"o{i}" for i in range(1, 100)]
    return next(c for c in candidates if c not in taken)


# --- list, create, import, copy -------------------------------------------------------------


async def staff_countries(session: AsyncSession, staff: Staff) -> list[Country]:
    scope = scope_of(staff)
    rows = (await session.scalars(select(Country).order_by(Country.name))).all()
    return [c for c in rows if scope is None or c.code in scope]


async def _list_page(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    *,
    status: int = 200,
    **values: Any,
) -> Response:
    found = await builder.list_surveys(session, scope_of(staff))
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
        scoped = await waves.list_waves(session, scope_of(staff))
        for wave in scoped:
            wave_counts[wave.survey_id] = wave_counts.get(wave.survey_id, 0) + 1
    rows = [(s, latest.get(s.id), wave_counts.get(s.id, 0)) for s in found]
    return render(
        request,
        "surveys/list.html",
        status_code=status,
        rows=rows,
        countries=await staff_countries(session, staff),
        values=values.pop("values", {}),
        **values,
    )


@router.get("", response_class=HTMLResponse)
async def survey_list(
    request: Request, staff: Staff = Depends(SURVEYS), session: AsyncSession = Depends(db)
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


@router.post("/new", dependencies=[Depends(verify_csrf)])
async def create_survey(
    request: Request,
    key: str = Form("", max_length=64),
    title: str = Form("", max_length=600),
    country: str = Form("", max_length=8),
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = Depends(db),
) -> Response:
    try:
        code = _country_in_scope(staff, country, await staff_countries(session, staff))
        async with session.begin_nested():
            survey = await builder.do_create_survey(
                session, validate(_starter(key, title)), country_code=code, actor=staff
            )
    except DomainError as exc:
        return await _list_page(
            request,
            session,
            staff,
            status=400,
            create_error=exc.translated(),
            values={"key": key, "title": title, "country": country},
        )
    return RedirectResponse(f"/surveys/{survey.id}", status_code=303)


def _country_in_scope(staff: Staff, country: str, allowed: list[Country]) -> str | None:
    """The country a new survey belongs to: one of the staff member's (admins may leave it empty
    for a shared template)."""
    code = country.strip().upper()
    if not code and scope_of(staff) is None:
        return None
    if code not in {c.code for c in allowed}:
        raise InvalidDefinition(where="country", reason=N_("choose one of your countries"))
    return code


@router.get("/import", response_class=HTMLResponse)
async def import_page(
    request: Request, staff: Staff = Depends(SURVEYS), session: AsyncSession = Depends(db)
) -> Response:
    return render(
        request, "surveys/import.html", countries=await staff_countries(session, staff), values={}
    )


@router.post("/import", dependencies=[Depends(verify_csrf)])
async def import_survey(
    request: Request,
    file: UploadFile | None = None,
    content: str = Form("", max_length=MAX_UPLOAD_BYTES),
    country: str = Form("", max_length=8),
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = Depends(db),
) -> Response:
    countries = await staff_countries(session, staff)
    raw: bytes | str = content
    error: str | None = None
    if file is not None and file.filename:
        data = await file.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            error = _("The file is larger than 512 KB.")
        elif b"\x00" in data:
            error = _("This is not a text file. Upload a YAML or JSON survey file.")
        raw = data
    if error is None and not raw.strip():
        error = _("Choose a file or paste the survey.")
    if error is None:
        try:
            code = _country_in_scope(staff, country, countries)
            # Parsing is CPU work on up to 512 KB: in a thread, so the event loop (and, in
            # `workvoice run`, the bot) keeps serving meanwhile (M6).
            definition = await asyncio.to_thread(parse_definition, raw)
            async with session.begin_nested():
                survey = await builder.do_create_survey(
                    session, definition, country_code=code, actor=staff
                )
        except DomainError as exc:
            error = exc.translated()
    if error is not None:
        return render(
            request,
            "surveys/import.html",
            status_code=400,
            error=error,
            countries=countries,
            values={"content": content, "country": country},
        )
    return RedirectResponse(f"/surveys/{survey.id}", status_code=303)


# --- the builder ----------------------------------------------------------------------------


@dataclass
class Draft:
    survey: Survey
    version: SurveyVersion
    definition: SurveyDefinition


async def load_draft(session: AsyncSession, staff: Staff, survey_id: int) -> Draft:
    survey = await builder.access_survey(session, checked_id(survey_id), scope_of(staff))
    version = await builder.latest_version(session, survey)
    return Draft(survey, version, builder.definition_of(version))


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
    options = "\n".join(f"{o.key}: {o.text.get(source, '')}" for o in q.options)
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
        wave_count=len(await waves.list_waves(session, scope_of(staff), survey_id=found.survey.id)),
        plain=plain_number,
        **values,
    )


@router.get("/{survey_id}", response_class=HTMLResponse)
async def survey_page(
    request: Request,
    survey_id: int,
    edit: str = "",
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = Depends(db),
) -> Response:
    found = await load_draft(session, staff, survey_id)
    return await _builder_page(request, session, staff, found, edit=edit[:32])


async def _save(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    found: Draft,
    change: Any,
    *,
    anchor: str = "",
    **on_error: Any,
) -> Response:
    """Apply ``change`` (data → data) to the definition and save it as the draft; on a problem
    show the builder again with the reason and what was typed."""
    try:
        data = found.definition.model_dump(mode="json")
        change(data)
        definition = validate(data)
        async with session.begin_nested():
            await builder.do_save_draft(
                session, found.survey, definition, scope=scope_of(staff), actor=staff
            )
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
    session: AsyncSession = Depends(db),
) -> Response:
    found = await load_draft(session, staff, survey_id)
    source = found.definition.source_locale

    def change(data: dict[str, Any]) -> None:
        for name, value in (("title", title), ("intro", intro), ("thanks", thanks)):
            if value.strip():
                data[name][source] = value.strip()
            else:
                data[name].pop(source, None)
                if name != "title" and not any(data[name].values()):
                    data[name] = {}

    return await _save(
        request,
        session,
        staff,
        found,
        change,
        texts_form={"title": title, "intro": intro, "thanks": thanks},
    )


def _parse_options(text: str, previous: list[dict[str, Any]], source: str) -> list[dict[str, Any]]:
    """One option per line, ``key: text`` or just the text (a key is made from it). Translations
    of options that keep their key are kept."""
    before = {o["key"]: o["text"] for o in previous}
    options: list[dict[str, Any]] = []
    taken: set[str] = set()
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        key, sep, rest = line.partition(":")
        if sep and KEY_PATTERN.match(key.strip().lower()) and rest.strip():
            key, label = key.strip().lower(), rest.strip()
        else:
            key, label = slug(line, taken | set(before)), line
        taken.add(key)
        texts = dict(before.get(key, {}))
        texts[source] = label
        options.append({"key": key, "text": texts})
    return options


def _number(value: str, where: str) -> float | None:
    value = value.strip().replace(",", ".")
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise InvalidDefinition(where=where, reason=N_("wrong kind of value")) from None
    if number != number or abs(number) > 1e12:  # NaN or absurd
        raise InvalidDefinition(where=where, reason=N_("wrong kind of value"))
    return number


@router.post("/{survey_id}/questions", dependencies=[Depends(verify_csrf)])
async def save_question(
    request: Request,
    survey_id: int,
    original: str = Form("", max_length=64),
    key: str = Form("", max_length=64),
    type: str = Form("", max_length=16),
    text: str = Form("", max_length=2000),
    options: str = Form("", max_length=20000),
    min: str = Form("", max_length=32),
    max: str = Form("", max_length=32),
    max_length: str = Form("", max_length=8),
    required: bool = Form(False),
    show_if_question: str = Form("", max_length=64),
    show_if_values: str = Form("", max_length=1000),
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = Depends(db),
) -> Response:
    """Add a question (``original`` empty) or change the one with key ``original``."""
    found = await load_draft(session, staff, survey_id)
    source = found.definition.source_locale
    typed = {
        "original": original,
        "key": key,
        "type": type,
        "text": text,
        "options": options,
        "min": min,
        "max": max,
        "max_length": max_length,
        "required": required,
        "show_if_question": show_if_question,
        "show_if_values": show_if_values,
    }

    def change(data: dict[str, Any]) -> None:
        questions: list[dict[str, Any]] = data["questions"]
        index = next((i for i, q in enumerate(questions) if q["key"] == original), None)
        if original and index is None:
            raise InvalidDefinition(where="questions", reason=N_("this question was removed"))
        previous = questions[index] if index is not None else {"text": {}, "options": []}
        if type not in {t.value for t in QuestionType}:
            raise InvalidDefinition(where="type", reason=N_("unknown question type"))
        kind = QuestionType(type)
        question: dict[str, Any] = {
            "key": key.strip().lower(),
            "type": kind.value,
            "text": {**previous["text"], source: text.strip()},
            "required": required,
        }
        if kind in {QuestionType.SINGLE, QuestionType.MULTI}:
            question["options"] = _parse_options(options, previous.get("options", []), source)
        if kind == QuestionType.NUMBER:
            question["min"] = _number(min, "min")
            question["max"] = _number(max, "max")
        if kind == QuestionType.TEXT and max_length.strip():
            if not max_length.strip().isdigit():
                raise InvalidDefinition(where="max_length", reason=N_("wrong kind of value"))
            question["max_length"] = int(max_length.strip()[:6])
        if show_if_question.strip():
            equals = [v.strip().lower() for v in re.split(r"[,\n]", show_if_values) if v.strip()]
            question["show_if"] = {"question": show_if_question.strip(), "equals": equals}
        if index is None:
            questions.append(question)
        else:
            questions[index] = question
            if original != question["key"]:  # skip rules follow a renamed question
                for other in questions:
                    rule = other.get("show_if")
                    if rule and rule["question"] == original:
                        rule["question"] = question["key"]

    return await _save(request, session, staff, found, change, anchor="#questions", qform=typed)


@router.post("/{survey_id}/questions/delete", dependencies=[Depends(verify_csrf)])
async def delete_question(
    request: Request,
    survey_id: int,
    key: str = Form("", max_length=64),
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = Depends(db),
) -> Response:
    found = await load_draft(session, staff, survey_id)

    def change(data: dict[str, Any]) -> None:
        kept = [q for q in data["questions"] if q["key"] != key]
        if len(kept) == len(data["questions"]):
            raise InvalidDefinition(where="questions", reason=N_("this question was removed"))
        data["questions"] = kept

    return await _save(request, session, staff, found, change, anchor="#questions")


@router.post("/{survey_id}/questions/move", dependencies=[Depends(verify_csrf)])
async def move_question(
    request: Request,
    survey_id: int,
    key: str = Form("", max_length=64),
    direction: str = Form("", max_length=8),
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = Depends(db),
) -> Response:
    found = await load_draft(session, staff, survey_id)

    def change(data: dict[str, Any]) -> None:
        questions = data["questions"]
        index = next((i for i, q in enumerate(questions) if q["key"] == key), None)
        if index is None:
            raise InvalidDefinition(where="questions", reason=N_("this question was removed"))
        other = index - 1 if direction == "up" else index + 1
        if 0 <= other < len(questions):
            questions[index], questions[other] = questions[other], questions[index]

    return await _save(request, session, staff, found, change, anchor="#questions")


@router.post("/{survey_id}/publish", dependencies=[Depends(verify_csrf)])
async def publish(
    request: Request,
    survey_id: int,
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = Depends(db),
) -> Response:
    found = await load_draft(session, staff, survey_id)
    try:
        async with session.begin_nested():
            await builder.do_publish(session, found.survey, scope=scope_of(staff), actor=staff)
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
    session: AsyncSession = Depends(db),
) -> Response:
    """Edit a published survey: a new draft copied from the latest version."""
    found = await load_draft(session, staff, survey_id)
    try:
        await builder.do_start_draft(session, found.survey, scope=scope_of(staff), actor=staff)
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
    session: AsyncSession = Depends(db),
) -> Response:
    found = await load_draft(session, staff, survey_id)
    try:
        code = _country_in_scope(staff, country, await staff_countries(session, staff))
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
    survey_id: int, staff: Staff = Depends(SURVEYS), session: AsyncSession = Depends(db)
) -> Response:
    return _export(await load_draft(session, staff, survey_id), "yaml")


@router.get("/{survey_id}/export.json")
async def export_json(
    survey_id: int, staff: Staff = Depends(SURVEYS), session: AsyncSession = Depends(db)
) -> Response:
    return _export(await load_draft(session, staff, survey_id), "json")


# --- translations and preview ---------------------------------------------------------------


def _known_locale(locale: str) -> str:
    if locale not in LANGUAGES:
        raise NotFound()
    return locale


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
    session: AsyncSession = Depends(db),
) -> Response:
    found = await load_draft(session, staff, survey_id)
    return await _translate_page(request, found, staff, _known_locale(locale))


@router.post("/{survey_id}/translate/{locale}", dependencies=[Depends(verify_csrf)])
async def save_translation(
    request: Request,
    survey_id: int,
    locale: str,
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = Depends(db),
) -> Response:
    found = await load_draft(session, staff, survey_id)
    _known_locale(locale)
    form = await request.form()
    paths = {path for path, _texts in text_slots(found.definition)}
    typed = {
        name[2:]: value
        for name, value in form.multi_items()
        if name.startswith("t:") and name[2:] in paths and isinstance(value, str)
    }
    try:
        definition = with_translation(found.definition, locale, typed)
        async with session.begin_nested():
            await builder.do_save_draft(
                session, found.survey, definition, scope=scope_of(staff), actor=staff
            )
    except DomainError as exc:
        return await _translate_page(
            request, found, staff, locale, status=exc.status, typed=typed, error=exc.translated()
        )
    return RedirectResponse(f"/surveys/{found.survey.id}#coverage", status_code=303)


def preview_screens(definition: SurveyDefinition, locale: str) -> list[dict[str, Any]]:
    """Each question as the bot shows it: header, text, hint and buttons, in ``locale``."""
    title = definition.text(definition.title, locale)
    total = len(definition.questions)
    screens = []
    for number, q in enumerate(definition.questions, start=1):
        header = gettext(BOT_HEADER, locale=locale, title=escape(title), number=number, total=total)
        hint = ""
        rows: list[list[str]] = []
        if q.type == QuestionType.SCALE:
            rows.append([f"{face} {i + 1}" for i, face in enumerate(SCALE_FACES)])
        elif q.type == QuestionType.YESNO:
            rows.append([gettext(BOT_YES, locale=locale), gettext(BOT_NO, locale=locale)])
        elif q.type in (QuestionType.SINGLE, QuestionType.MULTI):
            rows.extend([definition.text(o.text, locale)] for o in q.options)
            if q.type == QuestionType.MULTI:
                hint = gettext(BOT_MULTI, locale=locale)
                rows.append([gettext(BOT_DONE, locale=locale)])
        elif q.type == QuestionType.NUMBER:
            hint = gettext(
                BOT_NUMBER, locale=locale, min=plain_number(q.min), max=plain_number(q.max)
            )
        elif q.type == QuestionType.TEXT:
            hint = gettext(BOT_TEXT, locale=locale, limit=q.max_length)
        if not q.required:
            rows.append([gettext(BOT_SKIP, locale=locale)])
        screens.append(
            {
                "question": q,
                "header": Markup(header),  # noqa: S704 - catalog text; the title is escaped
                "text": definition.text(q.text, locale),
                "translated": bool(q.text.get(locale)),
                "hint": hint,
                "rows": rows,
            }
        )
    return screens


@router.get("/{survey_id}/preview", response_class=HTMLResponse)
async def preview(
    request: Request,
    survey_id: int,
    locale: str = "",
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = Depends(db),
) -> Response:
    found = await load_draft(session, staff, survey_id)
    locale = _known_locale(locale or found.definition.source_locale)
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
