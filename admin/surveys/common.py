"""What the survey console pages share: who may use them, the labels of audience groups and
question types, the staff member's countries, and the survey being edited (``load_draft``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.web import checked_id, require
from bot.i18n import N_
from bot.i18n.languages import LANGUAGES
from bot.storage.models import Country, Gender, Staff, StaffRole
from bot.storage.surveys import Survey, SurveyVersion, SurveyWave
from services.errors import NotFound
from services.onboarding import AgeBand
from services.scope import Scope
from services.surveys import builder, waves
from services.surveys.definition import InvalidDefinition, QuestionType, SurveyDefinition

SURVEYS = require(StaffRole.COUNTRY_MANAGER, StaffRole.ANALYST)
DIMENSION_LABELS = {
    "factory": N_("factory"),
    "gender": N_("gender"),
    "age_band": N_("age band"),
    "language": N_("language"),
}
GENDER_LABELS: dict[str, str] = {
    Gender.WOMAN: N_("women"),
    Gender.MAN: N_("men"),
    Gender.OTHER: N_("other"),
}
TYPE_LABELS = {
    QuestionType.SINGLE: N_("single choice"),
    QuestionType.MULTI: N_("multiple choice"),
    QuestionType.SCALE: N_("scale 1–5"),
    QuestionType.YESNO: N_("yes / no"),
    QuestionType.NUMBER: N_("number"),
    QuestionType.TEXT: N_("short text"),
}
AGE_BANDS = [a.value for a in AgeBand if a != AgeBand.UNDISCLOSED]
GENDERS = [g.value for g in Gender if g != Gender.UNDISCLOSED]


def can_edit(survey: Survey, staff: Staff) -> bool:
    return builder.can_edit(survey, Scope.of(staff))


async def staff_countries(session: AsyncSession, staff: Staff) -> list[Country]:
    query = select(Country).where(Scope.of(staff).where(Country.code)).order_by(Country.name)
    return list((await session.scalars(query)).all())


def country_in_scope(staff: Staff, country: str, allowed: list[Country]) -> str | None:
    """The country a new survey belongs to: one of the staff member's (admins may leave it empty
    for a shared template)."""
    code = country.strip().upper()
    if not code and Scope.of(staff).is_everywhere:
        return None
    if code not in {c.code for c in allowed}:
        raise InvalidDefinition(where="country", reason=N_("choose one of your countries"))
    return code


def known_locale(locale: str) -> str:
    if locale not in LANGUAGES:
        raise NotFound()
    return locale


@dataclass
class Draft:
    survey: Survey
    version: SurveyVersion
    definition: SurveyDefinition


async def load_draft(session: AsyncSession, staff: Staff, survey_id: int) -> Draft:
    survey = await builder.access_survey(session, checked_id(survey_id), Scope.of(staff))
    version = await builder.latest_version(session, survey)
    return Draft(survey, version, builder.definition_of(version))


async def access_wave_of(session: AsyncSession, staff: Staff, wave_id: int) -> SurveyWave:
    """The wave of the path, if it is in the staff member's countries."""
    return await waves.access_wave(session, checked_id(wave_id), Scope.of(staff))
