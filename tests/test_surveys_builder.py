"""The survey builder's edits as service verbs, without HTTP: questions (add, change, rename with
its skip rules, delete, move), texts, option and number parsing, who may edit, and the audited
access to a wave's results."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage.db import transaction
from bot.storage.models import AuditEvent
from bot.storage.surveys import Survey
from services.errors import NotFound
from services.scope import Scope
from services.surveys import builder, results, results_export
from services.surveys.builder import (
    NotEditable,
    QuestionInput,
    do_create_survey,
    do_delete_question,
    do_move_question,
    do_save_question,
    do_save_texts,
    parse_number,
    parse_options,
    slug,
)
from services.surveys.definition import InvalidDefinition, SurveyDefinition, validate
from tests.surveys_data import SAMPLE, make_wave

BD = Scope.only("BD")


async def _survey(sessions: async_sessionmaker[AsyncSession], country: str | None = "BD") -> int:
    async with transaction(sessions) as session:
        survey = await do_create_survey(session, validate(SAMPLE), country_code=country, actor=None)
        return survey.id


async def _edit(
    sessions: async_sessionmaker[AsyncSession],
    survey_id: int,
    verb: Any,
    *args: Any,
    scope: Scope = BD,
    **kw: Any,
) -> SurveyDefinition:
    async with transaction(sessions) as session:
        survey = await session.get(Survey, survey_id)
        assert survey is not None
        version = await verb(session, survey, *args, scope=scope, actor=None, **kw)
        return builder.definition_of(version)


async def _definition(
    sessions: async_sessionmaker[AsyncSession], survey_id: int
) -> SurveyDefinition:
    async with transaction(sessions) as session:
        survey = await session.get(Survey, survey_id)
        assert survey is not None
        return builder.definition_of(await builder.latest_version(session, survey))


# --- parsing ----------------------------------------------------------------------------------


def test_slug_makes_a_latin_key_and_avoids_taken_ones() -> None:
    assert slug("Fire exits!", set()) == "fire-exits"
    assert slug("Fire exits", {"fire-exits"}) == "fire-exits-1"
    assert slug("আগুন", set()) == "o1"
    assert slug("আগুন", {"o1"}) == "o2"


def test_options_keep_translations_of_kept_keys() -> None:
    previous = [{"key": "day", "text": {"en": "Day", "bn": "দিন"}}]
    options = parse_options("day: Day shift\nNight shift\n\n", previous, "en")
    assert options == [
        {"key": "day", "text": {"en": "Day shift", "bn": "দিন"}},
        {"key": "night-shift", "text": {"en": "Night shift"}},
    ]


def test_numbers_take_a_comma_and_refuse_nonsense() -> None:
    assert parse_number(" 1,5 ", "min") == 1.5
    assert parse_number("", "min") is None
    for bad in ("abc", "nan", "1e13"):
        with pytest.raises(InvalidDefinition):
            parse_number(bad, "max")


# --- questions --------------------------------------------------------------------------------


async def test_add_a_question_with_options(sessions) -> None:  # type: ignore[no-untyped-def]
    survey_id = await _survey(sessions)
    typed = QuestionInput(key="Canteen", type="single", text=" Food? ", options="Good\nbad: Bad")
    d = await _edit(sessions, survey_id, do_save_question, typed)
    q = d.question("canteen")
    assert q is not None and d.questions[-1] is q
    assert q.text == {"en": "Food?"}
    assert [(o.key, o.text["en"]) for o in q.options] == [("good", "Good"), ("bad", "Bad")]


async def test_renaming_a_question_moves_the_skip_rules_that_follow_it(sessions) -> None:  # type: ignore[no-untyped-def]
    survey_id = await _survey(sessions)
    typed = QuestionInput(original="safe", key="secure", type="yesno", text="Safe?", required=True)
    d = await _edit(sessions, survey_id, do_save_question, typed)
    assert d.question("safe") is None
    why = d.question("why")
    assert why is not None and why.show_if is not None
    assert why.show_if.question == "secure"
    secure = d.question("secure")
    assert secure is not None and secure.text["bn"]  # its translation is kept


async def test_number_and_text_limits_and_a_skip_rule(sessions) -> None:  # type: ignore[no-untyped-def]
    survey_id = await _survey(sessions)
    d = await _edit(
        sessions,
        survey_id,
        do_save_question,
        QuestionInput(
            original="hours", key="hours", type="number", text="Hours?", min="0", max="7,5"
        ),
    )
    hours = d.question("hours")
    assert hours is not None and (hours.min, hours.max) == (0, 7.5)
    d = await _edit(
        sessions,
        survey_id,
        do_save_question,
        QuestionInput(
            key="more",
            type="text",
            text="More?",
            max_length="80",
            show_if_question="safe",
            show_if_values="No, YES",
        ),
    )
    more = d.question("more")
    assert more is not None and more.max_length == 80 and more.show_if is not None
    assert more.show_if.equals == ["no", "yes"]


async def test_an_invalid_question_saves_nothing(sessions) -> None:  # type: ignore[no-untyped-def]
    survey_id = await _survey(sessions)
    before = await _definition(sessions, survey_id)
    for typed in (
        QuestionInput(key="x", type="slider", text="X?"),
        QuestionInput(original="gone", key="gone", type="yesno", text="X?"),
        QuestionInput(key="t", type="text", text="T?", max_length="ten"),
        QuestionInput(key="n", type="number", text="N?", min="a", max="3"),
    ):
        with pytest.raises(InvalidDefinition):
            await _edit(sessions, survey_id, do_save_question, typed)
    assert await _definition(sessions, survey_id) == before


async def test_delete_and_move_questions(sessions) -> None:  # type: ignore[no-untyped-def]
    survey_id = await _survey(sessions)
    keys = [q.key for q in (await _definition(sessions, survey_id)).questions]
    d = await _edit(sessions, survey_id, do_move_question, "safe", "up")
    assert [q.key for q in d.questions][:2] == ["safe", "mood"]
    d = await _edit(sessions, survey_id, do_move_question, "safe", "up")  # already first
    assert [q.key for q in d.questions][:2] == ["safe", "mood"]
    d = await _edit(sessions, survey_id, do_delete_question, "else")
    assert [q.key for q in d.questions] == ["safe", "mood", *keys[2:-1]]
    with pytest.raises(InvalidDefinition):
        await _edit(sessions, survey_id, do_delete_question, "else")
    with pytest.raises(InvalidDefinition):
        await _edit(sessions, survey_id, do_move_question, "else", "down")


async def test_texts_are_set_and_cleared_in_the_source_language(sessions) -> None:  # type: ignore[no-untyped-def]
    survey_id = await _survey(sessions)
    d = await _edit(sessions, survey_id, do_save_texts, title=" New ", intro="Hello", thanks="")
    assert d.title["en"] == "New" and d.title["bn"]
    assert d.intro == {"en": "Hello"}
    assert d.thanks.get("en") is None and d.thanks.get("bn")  # its translations stay


async def test_a_shared_template_is_edited_by_administrators_only(sessions) -> None:  # type: ignore[no-untyped-def]
    survey_id = await _survey(sessions, country=None)
    typed = QuestionInput(key="extra", type="yesno", text="Extra?")
    with pytest.raises(NotEditable):
        await _edit(sessions, survey_id, do_save_question, typed)
    d = await _edit(sessions, survey_id, do_save_question, typed, scope=Scope.everywhere())
    assert d.question("extra") is not None


# --- results, audited --------------------------------------------------------------------------


async def test_viewing_and_exporting_results_are_audited_in_the_verbs(sessions) -> None:  # type: ignore[no-untyped-def]
    wave = await make_wave(sessions)
    async with transaction(sessions) as session:
        found_wave, _survey, found = await results.access_results(
            session, wave.id, BD, actor=None, k=5
        )
        assert found_wave.id == wave.id and found.k == 5
        _wave, body = await results_export.export_results(
            session, wave.id, BD, actor=None, k=5, fewer_than="<5", hidden="-", locale="en"
        )
        assert body
        with pytest.raises(NotFound):
            await results.access_results(session, wave.id, Scope.only("KH"), actor=None, k=5)
    async with transaction(sessions) as session:
        actions = (
            await session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.object_type == "wave", AuditEvent.object_id == str(wave.id))
                .order_by(AuditEvent.id)
            )
        ).all()
    assert [a for a in actions if a.startswith("survey.results")] == [
        "survey.results.view",
        "survey.results.export",
    ]
