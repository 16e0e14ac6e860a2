"""Surveys and their versions: create, edit the draft, translate, publish (freeze), import, export.

A survey always has at most one draft version, the one the builder edits. Publishing freezes it:
waves run published versions only, so what workers answered is always known exactly. Editing a
published survey starts a new draft from the latest version.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.storage.models import Staff
from bot.storage.surveys import Survey, SurveyVersion
from services import audit
from services.clock import utcnow
from services.errors import Conflict, DomainError, NotFound
from services.surveys.definition import (
    InvalidDefinition,
    SurveyDefinition,
    parse_definition,
    validate,
)

Scope = frozenset[str] | None  # the countries a staff member may see; None: all (admins)
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


def in_scope(survey: Survey, scope: Scope) -> bool:
    """Shared templates (no country) are visible to everyone; others to their country's staff."""
    return survey.country_code is None or scope is None or survey.country_code in scope


async def access_survey(session: AsyncSession, survey_id: int, scope: Scope) -> Survey:
    survey = await session.get(Survey, survey_id)
    if survey is None or not in_scope(survey, scope):
        raise NotFound()
    return survey


def can_edit(survey: Survey, scope: Scope) -> bool:
    """Shared templates are changed by administrators only; others copy them to their country."""
    return survey.country_code is not None or scope is None


def check_can_edit(survey: Survey, scope: Scope) -> None:
    if not can_edit(survey, scope):
        raise NotEditable()


async def list_surveys(session: AsyncSession, scope: Scope) -> Sequence[Survey]:
    query = select(Survey).order_by(Survey.country_code.is_not(None), Survey.name)
    if scope is not None:
        query = query.where(Survey.country_code.is_(None) | Survey.country_code.in_(scope))
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
        await do_publish(session, survey, scope=None, actor=None)
        installed.append(survey)
    return installed


async def survey_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Survey)) or 0)
