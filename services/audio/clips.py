"""The clip store: which screens and survey texts have a recording in which language, keeping,
replacing and deleting clips (audited), and the coverage table staff fill in.

A clip is for a ``target``: a key screen of the bot (``screen:menu``) or a survey's question or
answer by their stable keys (``survey:<survey>:<question>[:<option>]``), so a clip stays right
when a new version of the survey changes other questions. Survey clips follow the survey's
country: staff who cannot see a survey cannot hear, add or delete its clips.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.i18n.languages import LANGUAGES
from bot.storage.audio import AudioClip
from bot.storage.models import Country, Factory, Staff
from bot.storage.surveys import Survey
from services import audit
from services.audio.media import Voice
from services.errors import Forbidden, NotFound
from services.scope import Scope
from services.surveys import builder
from services.surveys.definition import SurveyDefinition


class KeyScreen(StrEnum):
    """The worker's screens that matter most to someone who cannot read them."""

    LANGUAGE = "language"
    CONSENT = "consent"
    MENU = "menu"
    REPORT = "report"
    DANGER = "danger"
    RECEIPT = "receipt"


SCREEN_LABELS: dict[KeyScreen, str] = {
    KeyScreen.LANGUAGE: N_("Language picker"),
    KeyScreen.CONSENT: N_("Privacy notice and consent"),
    KeyScreen.MENU: N_("Main menu"),
    KeyScreen.REPORT: N_("Report: what is the problem about?"),
    KeyScreen.DANGER: N_("Report: is someone in danger now?"),
    KeyScreen.RECEIPT: N_("Report receipt"),
}
ALL_LOCALES: tuple[str, ...] = tuple(LANGUAGES)  # English first, then the picker's order


def screen_target(screen: KeyScreen | str) -> str:
    return f"screen:{KeyScreen(screen).value}"


def survey_target(survey_key: str, question: str, option: str | None = None) -> str:
    return f"survey:{survey_key}:{question}" + (f":{option}" if option else "")


def survey_key_of(target: str) -> str | None:
    parts = target.split(":")
    return parts[1] if parts[0] == "survey" and len(parts) >= 3 else None


# --- reading, for the bot ----------------------------------------------------------------------


async def clip_for(session: AsyncSession, target: str, locale: str) -> AudioClip | None:
    return await session.scalar(
        select(AudioClip).where(AudioClip.target == target, AudioClip.locale == locale)
    )


async def clips_for(
    session: AsyncSession, targets: Sequence[str], locale: str
) -> dict[str, AudioClip]:
    """The clips of several targets in one language, by target (one query for a question and
    all its answers)."""
    if not targets:
        return {}
    found = await session.scalars(
        select(AudioClip).where(AudioClip.target.in_(list(targets)), AudioClip.locale == locale)
    )
    return {clip.target: clip for clip in found}


async def clips_in_every_language(session: AsyncSession, target: str) -> list[AudioClip]:
    """A target's clips, in the order of the language picker (for the picker's own clip)."""
    found = {
        c.locale: c
        for c in await session.scalars(select(AudioClip).where(AudioClip.target == target))
    }
    return [found[code] for code in ALL_LOCALES if code in found]


async def remember_file_id(session: AsyncSession, clip_id: int, file_id: str) -> None:
    """Telegram's id for a clip it has: later sends name it instead of uploading the bytes."""
    await session.execute(
        update(AudioClip).where(AudioClip.id == clip_id).values(telegram_file_id=file_id[:255])
    )


# --- what a target is, and who may touch it ----------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A target checked against the staff member's scope: its survey when it is a survey's."""

    key: str
    survey: Survey | None = None

    @property
    def country_code(self) -> str | None:
        return self.survey.country_code if self.survey is not None else None


async def _survey_by_key(session: AsyncSession, key: str, scope: Scope) -> Survey:
    survey = await session.scalar(select(Survey).where(Survey.key == key))
    if survey is None or not builder.visible_in(survey, scope):
        raise NotFound()
    return survey


async def check_target(
    session: AsyncSession, target: str, scope: Scope, *, edit: bool = False
) -> Target:
    """``target`` if it names a key screen or a question or answer of a survey the staff member
    may see (and, with ``edit``, change); else ``NotFound`` (another country's looks the same)."""
    parts = target.split(":")
    if parts[0] == "screen" and len(parts) == 2 and parts[1] in set(KeyScreen):
        return Target(target)
    if parts[0] != "survey" or len(parts) not in (3, 4):
        raise NotFound()
    survey = await _survey_by_key(session, parts[1], scope)
    definition = await survey_definition(session, survey)
    question = definition.question(parts[2])
    if question is None or (len(parts) == 4 and parts[3] not in {o.key for o in question.options}):
        raise NotFound()
    if edit:
        builder.check_can_edit(survey, scope)
    return Target(target, survey)


async def check_changeable(session: AsyncSession, key: str, locale: str, scope: Scope) -> Target:
    """The target named ``key``, if the staff member may record or delete its clip in ``locale``:
    one check for both, so neither route can skip half of it.

    A survey's recordings follow the survey (``check_target`` with ``edit``). A key screen's
    recording is heard in every country that speaks its language: a country manager changes it only
    for a language of their countries (each one's main language and the languages of its
    factories: another country's Khmer voice is not theirs to replace); administrators for any."""
    target = await check_target(session, key, scope, edit=True)
    locale = check_locale(locale)
    if target.survey is not None or scope.is_everywhere:
        return target
    spoken = set(
        (
            await session.scalars(select(Country.default_locale).where(scope.where(Country.code)))
        ).all()
    )
    for languages in (
        await session.scalars(select(Factory.languages).where(scope.where(Factory.country_code)))
    ).all():
        spoken.update(languages or ())
    if locale not in spoken:
        raise Forbidden()
    return target


async def survey_definition(session: AsyncSession, survey: Survey) -> SurveyDefinition:
    """The newest version's definition: the texts staff are recording are the ones being edited
    or the ones workers get."""
    return builder.definition_of(await builder.latest_version(session, survey))


def check_locale(locale: str) -> str:
    if locale not in ALL_LOCALES:
        raise NotFound()
    return locale


async def access_clip(session: AsyncSession, token: str, scope: Scope) -> AudioClip:
    """A clip by its random token, if the staff member may hear it."""
    if not token or len(token) > 32:
        raise NotFound()
    clip = await session.scalar(select(AudioClip).where(AudioClip.token == token))
    if clip is None:
        raise NotFound()
    if (key := survey_key_of(clip.target)) is not None:
        await _survey_by_key(session, key, scope)
    return clip


async def clips_of(session: AsyncSession, target: str) -> dict[str, AudioClip]:
    found = await session.scalars(select(AudioClip).where(AudioClip.target == target))
    return {clip.locale: clip for clip in found}


# --- changing, for staff -----------------------------------------------------------------------


async def do_store_clip(
    session: AsyncSession,
    target: Target,
    locale: str,
    voice: Voice,
    *,
    actor: Staff | None,
    synthetic: bool = False,
    ip: str | None = None,
) -> AudioClip:
    """Keep ``voice`` as the clip of ``target`` in ``locale``, replacing the one there was."""
    locale = check_locale(locale)
    replaced = await session.scalar(
        delete(AudioClip)
        .where(AudioClip.target == target.key, AudioClip.locale == locale)
        .returning(AudioClip.id)
    )
    await session.flush()
    clip = AudioClip(
        token=secrets.token_urlsafe(18),
        target=target.key,
        survey_key=survey_key_of(target.key),
        locale=locale,
        content=voice.content,
        duration_ms=voice.duration_ms,
        size=voice.size,
        synthetic=synthetic,
        uploaded_by_staff_id=actor.id if actor is not None else None,
    )
    session.add(clip)
    await session.flush()
    await audit.record(
        session,
        "audio.replace" if replaced is not None else "audio.upload",
        actor=actor,
        object_type="audio",
        object_id=target.key[:64],
        country_code=target.country_code,
        ip=ip,
        locale=locale,
        seconds=round(voice.duration_ms / 1000, 1),
        bytes=voice.size,
    )
    return clip


async def do_delete_clip(
    session: AsyncSession, target: Target, locale: str, *, actor: Staff, ip: str | None = None
) -> None:
    locale = check_locale(locale)
    gone = await session.scalar(
        delete(AudioClip)
        .where(AudioClip.target == target.key, AudioClip.locale == locale)
        .returning(AudioClip.id)
    )
    if gone is None:
        raise NotFound()
    await audit.record(
        session,
        "audio.delete",
        actor=actor,
        object_type="audio",
        object_id=target.key[:64],
        country_code=target.country_code,
        ip=ip,
        locale=locale,
    )


# --- coverage ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoverageRow:
    """One screen, question or answer: its label and the languages that have a clip."""

    target: str
    label: str  # a msgid for screens, the survey's own text for questions and answers
    survey: Survey | None
    depth: int  # 0 a screen or question, 1 an answer under its question
    recorded: frozenset[str]


async def coverage(
    session: AsyncSession, scope: Scope, locales: Sequence[str]
) -> tuple[list[CoverageRow], dict[str, tuple[int, int]]]:
    """Every key screen and every question and answer of the surveys in scope, with the languages
    recorded; and for each of ``locales``: (clips, places that want one)."""
    recorded: dict[str, set[str]] = {}
    for target, locale in (await session.execute(select(AudioClip.target, AudioClip.locale))).all():
        recorded.setdefault(target, set()).add(locale)
    rows = [
        CoverageRow(screen_target(s), SCREEN_LABELS[s], None, 0, frozenset()) for s in KeyScreen
    ]
    for survey in await builder.list_surveys(session, scope):
        definition = await survey_definition(session, survey)
        source = definition.source_locale
        for q in definition.questions:
            key = survey_target(survey.key, q.key)
            rows.append(CoverageRow(key, definition.text(q.text, source), survey, 0, frozenset()))
            for o in q.options:
                rows.append(
                    CoverageRow(
                        survey_target(survey.key, q.key, o.key),
                        definition.text(o.text, source),
                        survey,
                        1,
                        frozenset(),
                    )
                )
    rows = [
        CoverageRow(r.target, r.label, r.survey, r.depth, frozenset(recorded.get(r.target, ())))
        for r in rows
    ]
    totals = {code: (sum(1 for r in rows if code in r.recorded), len(rows)) for code in locales}
    return rows, totals
