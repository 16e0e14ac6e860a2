"""Surveys and their versions: create, edit the draft, translate, publish (freeze), import, export.

A survey always has at most one draft version, the one the builder edits. Publishing freezes it:
waves run published versions only, so what workers answered is always known exactly. Editing a
published survey starts a new draft from the latest version.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.storage.models import Staff
from bot.storage.surveys import Survey, SurveyVersion
from services import audit
from services.clock import utcnow
from services.errors import Conflict, DomainError, NotFound
from services.scope import Scope
from services.surveys.definition import (
    KEY_PATTERN,
    InvalidDefinition,
    QuestionType,
    SurveyDefinition,
    parse_definition,
    validate,
)

TEMPLATE_FILES = ("wellbeing-pulse.yaml", "worker-wellbeing.yaml")


class SurveyExists(DomainError):
    code = "survey_exists"
    status = 409
    message = N_("A survey with the key {key} already exists.")


class NotEditable(DomainError):
    code = "survey_not_editable"
    status = 403
    message = N_(
        "Only an administrator can change a shared template. Copy it to your country first."
    )


def visible_in(survey: Survey, scope: Scope) -> bool:
    """Shared templates (no country) are visible to everyone; others to their country's staff."""
    return survey.country_code is None or scope.allows(survey.country_code)


async def access_survey(session: AsyncSession, survey_id: int, scope: Scope) -> Survey:
    survey = await session.get(Survey, survey_id)
    if survey is None or not visible_in(survey, scope):
        raise NotFound()
    return survey


def can_edit(survey: Survey, scope: Scope) -> bool:
    """Shared templates are changed by administrators only; others copy them to their country."""
    return survey.country_code is not None or scope.is_everywhere


def check_can_edit(survey: Survey, scope: Scope) -> None:
    if not can_edit(survey, scope):
        raise NotEditable()


async def list_surveys(session: AsyncSession, scope: Scope) -> Sequence[Survey]:
    query = select(Survey).order_by(Survey.country_code.is_not(None), Survey.name)
    if not scope.is_everywhere:
        query = query.where(Survey.country_code.is_(None) | scope.where(Survey.country_code))
    return (await session.scalars(query)).all()


async def versions(session: AsyncSession, survey: Survey) -> Sequence[SurveyVersion]:
    return (
        await session.scalars(
            select(SurveyVersion)
            .where(SurveyVersion.survey_id == survey.id)
            .order_by(SurveyVersion.number.desc())
        )
    ).all()


async def latest_version(session: AsyncSession, survey: Survey) -> SurveyVersion:
    version = await session.scalar(
        select(SurveyVersion)
        .where(SurveyVersion.survey_id == survey.id)
        .order_by(SurveyVersion.number.desc())
        .limit(1)
    )
    if version is None:  # every survey is created with a first version
        raise NotFound()
    return version


async def latest_published(session: AsyncSession, survey: Survey) -> SurveyVersion | None:
    return await session.scalar(
        select(SurveyVersion)
        .where(SurveyVersion.survey_id == survey.id, SurveyVersion.published_at.is_not(None))
        .order_by(SurveyVersion.number.desc())
        .limit(1)
    )


def definition_of(version: SurveyVersion) -> SurveyDefinition:
    return SurveyDefinition.model_validate(version.definition)


async def do_create_survey(
    session: AsyncSession,
    definition: SurveyDefinition,
    *,
    country_code: str | None,
    actor: Staff | None,
) -> Survey:
    if await session.scalar(select(Survey.id).where(Survey.key == definition.key)) is not None:
        raise SurveyExists(key=definition.key)
    survey = Survey(
        key=definition.key,
        name=definition.text(definition.title, definition.source_locale)[:200],
        country_code=country_code,
        created_by_staff_id=actor.id if actor else None,
        created_at=utcnow(),
    )
    session.add(survey)
    await session.flush()
    session.add(
        SurveyVersion(
            survey_id=survey.id,
            number=1,
            definition=definition.model_dump(mode="json"),
            created_at=utcnow(),
        )
    )
    await session.flush()
    await audit.record(
        session,
        "survey.create",
        actor=actor,
        object_type="survey",
        object_id=survey.id,
        country_code=country_code,
        key=survey.key,
    )
    return survey


async def do_import_survey(
    session: AsyncSession, content: str | bytes, *, country_code: str | None, actor: Staff | None
) -> Survey:
    """A new survey from a YAML or JSON file; an invalid file stores nothing."""
    return await do_create_survey(
        session, parse_definition(content), country_code=country_code, actor=actor
    )


async def draft_version(session: AsyncSession, survey: Survey) -> SurveyVersion:
    """The version the builder edits: the latest if still a draft, else a new copy of it."""
    latest = await latest_version(session, survey)
    if latest.published_at is None:
        return latest
    draft = SurveyVersion(
        survey_id=survey.id,
        number=latest.number + 1,
        definition=dict(latest.definition),
        created_at=utcnow(),
    )
    session.add(draft)
    await session.flush()
    return draft


async def do_save_draft(
    session: AsyncSession,
    survey: Survey,
    definition: SurveyDefinition,
    *,
    scope: Scope,
    actor: Staff | None,
) -> SurveyVersion:
    draft = await do_start_draft(session, survey, scope=scope, actor=actor)
    if definition.key != survey.key:
        raise InvalidDefinition(where="key", reason=N_("the key of a survey cannot change"))
    draft.definition = validate(definition.model_dump(mode="json")).model_dump(mode="json")
    survey.name = definition.text(definition.title, definition.source_locale)[:200]
    await session.flush()
    return draft


async def do_start_draft(
    session: AsyncSession, survey: Survey, *, scope: Scope, actor: Staff | None
) -> SurveyVersion:
    """Open the draft for editing (a copy of a published latest version), audited."""
    check_can_edit(survey, scope)
    draft = await draft_version(session, survey)
    await audit.record(
        session,
        "survey.edit",
        actor=actor,
        object_type="survey",
        object_id=survey.id,
        country_code=survey.country_code,
        version=draft.number,
    )
    return draft


async def do_publish(
    session: AsyncSession, survey: Survey, *, scope: Scope, actor: Staff | None
) -> SurveyVersion:
    """Freeze the draft: from now on it never changes and waves may run it."""
    check_can_edit(survey, scope)
    latest = await latest_version(session, survey)
    if latest.published_at is not None:
        raise Conflict(N_("This version is already published."))
    validate(latest.definition)  # a draft saved by an older release is checked again
    latest.published_at = utcnow()
    latest.published_by_staff_id = actor.id if actor else None
    await session.flush()
    await audit.record(
        session,
        "survey.publish",
        actor=actor,
        object_type="survey",
        object_id=survey.id,
        country_code=survey.country_code,
        version=latest.number,
    )
    return latest


async def do_copy_survey(
    session: AsyncSession, survey: Survey, *, key: str, country_code: str, actor: Staff | None
) -> Survey:
    """A country's own editable copy of a survey (usually a shared template)."""
    latest = definition_of(await latest_version(session, survey))
    data = latest.model_dump(mode="json")
    data["key"] = key.strip().lower()
    return await do_create_survey(session, validate(data), country_code=country_code, actor=actor)


def template_definitions() -> list[SurveyDefinition]:
    folder = resources.files("services.surveys") / "templates"
    return [parse_definition(folder.joinpath(name).read_bytes()) for name in TEMPLATE_FILES]


async def do_install_templates(session: AsyncSession) -> list[Survey]:
    """The built-in templates as shared, published surveys (idempotent: existing keys are kept)."""
    installed = []
    for definition in template_definitions():
        existing = await session.scalar(select(Survey).where(Survey.key == definition.key))
        if existing is not None:
            installed.append(existing)
            continue
        survey = await do_create_survey(session, definition, country_code=None, actor=None)
        await do_publish(session, survey, scope=Scope.everywhere(), actor=None)
        installed.append(survey)
    return installed


# --- the builder's edits: each a change of the draft definition, saved by ``do_save_draft`` ---


async def _edit(
    session: AsyncSession,
    survey: Survey,
    change: Callable[[dict[str, Any], str], None],
    *,
    scope: Scope,
    actor: Staff | None,
) -> SurveyVersion:
    """Apply ``change(data, source_locale)`` to the latest definition and save it as the draft;
    an invalid result raises and saves nothing."""
    latest = definition_of(await latest_version(session, survey))
    data = latest.model_dump(mode="json")
    change(data, latest.source_locale)
    return await do_save_draft(session, survey, validate(data), scope=scope, actor=actor)


async def do_save_texts(
    session: AsyncSession,
    survey: Survey,
    *,
    title: str,
    intro: str,
    thanks: str,
    scope: Scope,
    actor: Staff | None,
) -> SurveyVersion:
    """The title, introduction and thank-you in the source language (empty removes them)."""

    def change(data: dict[str, Any], source: str) -> None:
        for name, value in (("title", title), ("intro", intro), ("thanks", thanks)):
            if value.strip():
                data[name][source] = value.strip()
            else:
                data[name].pop(source, None)
                if name != "title" and not any(data[name].values()):
                    data[name] = {}

    return await _edit(session, survey, change, scope=scope, actor=actor)


@dataclass
class QuestionInput:
    """A question as typed in the builder's form: every field the text the staff member typed.
    ``original`` is the key of the question being changed, empty for a new one."""

    original: str = ""
    key: str = ""
    type: str = ""
    text: str = ""
    options: str = ""
    min: str = ""
    max: str = ""
    max_length: str = ""
    required: bool = False
    show_if_question: str = ""
    show_if_values: str = ""


def slug(text: str, taken: set[str]) -> str:
    """An option key from its text (latin letters and digits), else o1, o2 ..."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    base = re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:24].strip("-")
    candidates = [base] if base and KEY_PATTERN.match(base) else []
    candidates += [f"{base}-{i}" if base else f"o{i}" for i in range(1, 100)]
    return next(c for c in candidates if c not in taken)


def parse_options(text: str, previous: list[dict[str, Any]], source: str) -> list[dict[str, Any]]:
    """One option per line, ``key: text`` or just the text (a key is made from it); ``key!: text``
    marks an answer that cannot be ticked with others ("Nothing"). Translations of options that
    keep their key are kept."""
    before = {o["key"]: o["text"] for o in previous}
    options: list[dict[str, Any]] = []
    taken: set[str] = set()
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        key, sep, rest = line.partition(":")
        key = key.strip().lower()
        exclusive = key.endswith("!")
        key = key.removesuffix("!")
        if sep and KEY_PATTERN.match(key) and rest.strip():
            label = rest.strip()
        else:
            key, label, exclusive = slug(line, taken | set(before)), line, False
        taken.add(key)
        texts = dict(before.get(key, {}))
        texts[source] = label
        option: dict[str, Any] = {"key": key, "text": texts}
        if exclusive:
            option["exclusive"] = True
        options.append(option)
    return options


def parse_number(value: str, where: str) -> float | None:
    """A typed bound (comma or dot for decimals); empty is None."""
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


def _removed() -> InvalidDefinition:
    return InvalidDefinition(where="questions", reason=N_("this question was removed"))


def _index_of(questions: list[dict[str, Any]], key: str) -> int | None:
    return next((i for i, q in enumerate(questions) if q["key"] == key), None)


async def do_save_question(
    session: AsyncSession,
    survey: Survey,
    typed: QuestionInput,
    *,
    scope: Scope,
    actor: Staff | None,
) -> SurveyVersion:
    """Add a question (``typed.original`` empty) or change the one with that key; skip rules
    follow a renamed question."""
    original = typed.original

    def change(data: dict[str, Any], source: str) -> None:
        questions: list[dict[str, Any]] = data["questions"]
        index = _index_of(questions, original)
        if original and index is None:
            raise _removed()
        previous = questions[index] if index is not None else {"text": {}, "options": []}
        if typed.type not in {t.value for t in QuestionType}:
            raise InvalidDefinition(where="type", reason=N_("unknown question type"))
        kind = QuestionType(typed.type)
        question: dict[str, Any] = {
            "key": typed.key.strip().lower(),
            "type": kind.value,
            "text": {**previous["text"], source: typed.text.strip()},
            "required": typed.required,
        }
        if kind in {QuestionType.SINGLE, QuestionType.MULTI}:
            question["options"] = parse_options(typed.options, previous.get("options", []), source)
        if kind == QuestionType.NUMBER:
            question["min"] = parse_number(typed.min, "min")
            question["max"] = parse_number(typed.max, "max")
        max_length = typed.max_length.strip()
        if kind == QuestionType.TEXT and max_length:
            if not max_length.isdigit():
                raise InvalidDefinition(where="max_length", reason=N_("wrong kind of value"))
            question["max_length"] = int(max_length[:6])
        if typed.show_if_question.strip():
            equals = [
                v.strip().lower() for v in re.split(r"[,\n]", typed.show_if_values) if v.strip()
            ]
            question["show_if"] = {"question": typed.show_if_question.strip(), "equals": equals}
        if index is None:
            questions.append(question)
            return
        questions[index] = question
        if original != question["key"]:  # skip rules follow a renamed question
            for other in questions:
                rule = other.get("show_if")
                if rule and rule["question"] == original:
                    rule["question"] = question["key"]

    return await _edit(session, survey, change, scope=scope, actor=actor)


async def do_delete_question(
    session: AsyncSession, survey: Survey, key: str, *, scope: Scope, actor: Staff | None
) -> SurveyVersion:
    def change(data: dict[str, Any], _source: str) -> None:
        kept = [q for q in data["questions"] if q["key"] != key]
        if len(kept) == len(data["questions"]):
            raise _removed()
        data["questions"] = kept

    return await _edit(session, survey, change, scope=scope, actor=actor)


async def do_move_question(
    session: AsyncSession,
    survey: Survey,
    key: str,
    direction: str,
    *,
    scope: Scope,
    actor: Staff | None,
) -> SurveyVersion:
    """Swap a question with the one above (``direction`` "up") or below; at an end, no change."""

    def change(data: dict[str, Any], _source: str) -> None:
        questions = data["questions"]
        index = _index_of(questions, key)
        if index is None:
            raise _removed()
        other = index - 1 if direction == "up" else index + 1
        if 0 <= other < len(questions):
            questions[index], questions[other] = questions[other], questions[index]

    return await _edit(session, survey, change, scope=scope, actor=actor)
