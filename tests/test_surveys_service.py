"""The survey engine without Telegram: definitions, waves, answering, anonymity, results."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot.storage.db import transaction
from bot.storage.surveys import SurveyAnswer, SurveyParticipation, SurveyResponse, SurveyWave
from services.scope import Scope
from services.suppression import HIDDEN
from services.surveys import answering, results, results_export
from services.surveys.answering import (
    AlreadyAnswered,
    AnswerTooLong,
    NumberOutOfRange,
    StaleQuestion,
    SurveyClosed,
)
from services.surveys.batches import flush_batches
from services.surveys.builder import do_create_survey, do_publish, template_definitions
from services.surveys.definition import (
    InvalidDefinition,
    InvalidDefinitionAt,
    parse_definition,
    to_json,
    to_yaml,
    validate,
)
from services.surveys.store import MemorySurveyStore
from services.surveys.waves import (
    Audience,
    InvalidWave,
    WaveInput,
    check_wave,
    close_ended_waves,
    do_cancel_wave,
    do_create_wave,
    invite_at,
    open_due_waves,
)
from tests.conftest import sql_count
from tests.factories import make_worker
from tests.surveys_data import SAMPLE, answer, make_wave

SECRET = "test-secret"
STORE = MemorySurveyStore()


@pytest.fixture(autouse=True)
def _fresh_store() -> None:
    """Each test's drafts and pending responses wait in a store of its own."""
    global STORE
    STORE = MemorySurveyStore()


async def flush(sessions, *, close: bool = False, k: int = 5) -> int:  # type: ignore[no-untyped-def]
    """What the scheduler's batch job does (at a time past the daily rule and the close grace)."""
    later = datetime.now(UTC) + timedelta(days=1)
    return await flush_batches(sessions, STORE, secret_key=SECRET, k=k, now=later)


# --- definitions ------------------------------------------------------------------------------


def test_yaml_and_json_round_trip() -> None:
    definition = validate(SAMPLE)
    assert parse_definition(to_yaml(definition)) == definition
    assert parse_definition(to_json(definition).encode()) == definition


def test_invalid_file_names_line_and_reason() -> None:
    text = to_yaml(validate(SAMPLE)).replace("type: number", "type: slider")
    with pytest.raises(InvalidDefinitionAt) as err:
        parse_definition(text)
    line = text.splitlines().index(next(ln for ln in text.splitlines() if "slider" in ln)) + 1
    assert err.value.params["line"] == line
    assert "unknown question type" in str(err.value)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d["questions"][1].update(key="mood"), "same key"),
        (lambda d: d["questions"][2]["show_if"].update(question="hours"), "earlier question"),
        (lambda d: d["questions"][2]["show_if"].update(equals=["maybe"]), "does not have"),
        (lambda d: d["questions"][4].update(min=100, max=0), "min below max"),
        (lambda d: d["questions"][3].update(options=d["questions"][3]["options"][:1]), "2 to 12"),
        (lambda d: d["questions"][0]["text"].pop("en"), "source language"),
        (lambda d: d["questions"][0]["text"].update(xx="?"), "unknown language"),
    ],
)
def test_rules_beyond_types(change, reason: str) -> None:  # type: ignore[no-untyped-def]
    data = copy.deepcopy(SAMPLE)
    change(data)
    with pytest.raises(InvalidDefinition) as err:
        validate(data)
    assert reason in str(err.value)


@given(st.text(max_size=300))
def test_any_text_is_rejected_cleanly_or_parsed(content: str) -> None:
    with contextlib.suppress(InvalidDefinition):
        parse_definition(content)


def test_templates_are_complete_in_all_16_languages() -> None:
    found = {d.key: d for d in template_definitions()}
    assert set(found) == {"wellbeing-pulse", "worker-wellbeing"}
    assert len(found["wellbeing-pulse"].questions) == 5
    for definition in found.values():
        assert len(definition.locales()) == 16, definition.key
    types = {q.type.value for q in found["worker-wellbeing"].questions}
    assert types == {"single", "multi", "scale", "yesno", "number", "text"}


# --- waves ------------------------------------------------------------------------------------


def test_invitation_goes_out_at_a_sensible_local_hour() -> None:
    start = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 06:00 in Dhaka
    at = invite_at(start, start, "Asia/Dhaka", 12)
    assert at == datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # 12:00 in Dhaka
    late = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # 22:00 in Dhaka: wait for the morning
    assert invite_at(start, late, "Asia/Dhaka", 12) == datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
    afternoon = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 15:00 in Dhaka: now
    assert invite_at(start, afternoon, "Asia/Dhaka", 12) == afternoon


async def test_opening_a_wave_queues_one_invitation_and_reminder_each(sessions) -> None:  # type: ignore[no-untyped-def]
    for i in range(3):
        await make_worker(sessions, 5000 + i, locale="bn")
    await make_worker(sessions, 5100, locale="km", factory_code="PP-1", country="KH")
    wave = await make_wave(sessions)
    assert await sql_count(sessions, "SELECT count(*) FROM outbox WHERE kind='surveys.invite'") == 3
    assert (
        await sql_count(sessions, "SELECT count(*) FROM outbox WHERE kind='surveys.reminder'") == 3
    )
    async with transaction(sessions) as session:
        again = await session.get(SurveyWave, wave.id)
        assert again is not None and again.invited_count == 3 and again.status == "open"


# --- answering --------------------------------------------------------------------------------


async def answer_all(sessions, user, wave_id: int, *, safe: str = "yes") -> None:  # type: ignore[no-untyped-def]
    await answer(sessions, STORE, user, wave_id, safe=safe, reasons=("fire", "people"), hours="৪৮")


async def test_answers_carry_no_person_and_count_once(sessions) -> None:  # type: ignore[no-untyped-def]
    worker = await make_worker(sessions, 987654321, locale="bn", gender="woman")
    colleague = await make_worker(sessions, 987654322, locale="bn", gender="woman")
    wave = await make_wave(sessions)
    await answer_all(sessions, worker, wave.id, safe="no")
    await answer_all(sessions, colleague, wave.id, safe="no")
    # Finishing writes no answer; two responses wait (fewer than k) until the wave closes, and
    # since the wave never published anything they are written then (results suppress them).
    assert await sql_count(sessions, "SELECT count(*) FROM survey_answers") == 0
    assert await flush(sessions) == 0
    async with transaction(sessions) as s:
        with pytest.raises(AlreadyAnswered):
            await answering.do_begin(s, worker, wave.id, secret_key=SECRET, store=STORE)
    async with transaction(sessions) as s:
        live = await s.get(SurveyWave, wave.id)
        assert live is not None
        await do_cancel_wave(s, live, actor=None)
    assert await flush(sessions) == 2
    async with transaction(sessions) as s:
        rows = (await s.scalars(select(SurveyAnswer))).all()
        assert {(r.question_key, r.value) for r in rows if r.value} == {
            ("mood", "4"),
            ("safe", "no"),
            ("why", "*"),
            ("why", "fire"),
            ("why", "people"),
            ("shift", "day"),
        }
        assert [r.number for r in rows if r.number is not None] == [48.0, 48.0]  # Bangla digits
        # Two alike: their demographics stay (a lone one would be generalised, see below).
        assert all(r.gender == "woman" and r.language == "bn" and r.factory_id for r in rows)
        participations = (await s.scalars(select(SurveyParticipation))).all()
        assert len(participations) == 2
        participation = participations[0]
        assert participation.completed_on is not None
        assert not {"draft", "position"} & set(SurveyParticipation.__table__.columns.keys())
        assert str(worker.telegram_id) not in participation.person_key
    # No column of the answer tables can hold a user or chat id.
    for table in (SurveyAnswer.__table__, SurveyResponse.__table__):
        assert not {"user_id", "chat_id", "telegram_id"} & set(table.columns.keys())
    assert await sql_count(sessions, "SELECT count(*) FROM survey_responses") == 2


async def test_resume_back_skip_logic_and_stale_buttons(sessions) -> None:  # type: ignore[no-untyped-def]
    worker = await make_worker(sessions, 4242)
    wave = await make_wave(sessions)
    async with transaction(sessions) as s:
        step = await answering.do_begin(s, worker, wave.id, secret_key=SECRET, store=STORE)
        assert (step.number, step.total) == (1, 6)
        step = await answering.do_answer(s, worker, wave.id, 0, "2", secret_key=SECRET, store=STORE)
        step = await answering.do_answer(
            s, worker, wave.id, 1, "yes", secret_key=SECRET, store=STORE
        )
        assert step.question is not None and step.question.key == "shift"  # "why" skipped
        assert (step.number, step.total) == (3, 5)
    async with transaction(sessions) as s:  # later, in another transaction: where they left off
        step = await answering.do_begin(s, worker, wave.id, secret_key=SECRET, store=STORE)
        assert step.question is not None and step.question.key == "shift"
        with pytest.raises(StaleQuestion):
            await answering.do_answer(s, worker, wave.id, 0, "5", secret_key=SECRET, store=STORE)
        step = await answering.do_back(
            s, worker, wave.id, step.index, secret_key=SECRET, store=STORE
        )
        assert step.question is not None and step.question.key == "safe"
        step = await answering.do_answer(
            s, worker, wave.id, 1, "no", secret_key=SECRET, store=STORE
        )
        assert step.question is not None and step.question.key == "why"
        with pytest.raises(answering.AnswerRequired):
            await answering.do_finish_choice(
                s, worker, wave.id, step.index, secret_key=SECRET, store=STORE
            )


async def test_two_taps_starting_one_wave_at_once_share_one_participation(sessions) -> None:  # type: ignore[no-untyped-def]
    """The first tap's reply goes out before its transaction commits, so a fast second tap starts
    the same wave while the first participation is still uncommitted: it must wait for it and
    use it, not fail on the unique key (a CI run lost a worker's answer to exactly this)."""
    worker = await make_worker(sessions, 4343)
    wave = await make_wave(sessions)
    kw: dict[str, Any] = {"secret_key": SECRET, "store": STORE}
    async with sessions() as first, sessions() as second:
        one = await answering.do_begin(first, worker, wave.id, **kw)
        racing = asyncio.create_task(answering.do_begin(second, worker, wave.id, **kw))
        await asyncio.sleep(0.2)  # the second insert is now waiting on the first's row
        await first.commit()
        two = await racing
        await second.commit()
    assert one.participation.id == two.participation.id
    assert await sql_count(sessions, "SELECT count(*) FROM survey_participations") == 1


async def test_bad_numbers_and_long_text_are_refused(sessions) -> None:  # type: ignore[no-untyped-def]
    worker = await make_worker(sessions, 4343)
    wave = await make_wave(sessions)
    async with transaction(sessions) as s:
        for index, value in ((0, "3"), (1, "yes"), (3, "night")):
            await answering.do_answer(
                s, worker, wave.id, index, value, secret_key=SECRET, store=STORE
            )
        with pytest.raises(NumberOutOfRange):
            await answering.do_answer(s, worker, wave.id, 4, "101", secret_key=SECRET, store=STORE)
        with pytest.raises(answering.NotANumber):
            await answering.do_answer(s, worker, wave.id, 4, "many", secret_key=SECRET, store=STORE)
        await answering.do_answer(s, worker, wave.id, 4, "12,5", secret_key=SECRET, store=STORE)
        with pytest.raises(AnswerTooLong):
            await answering.do_answer(
                s, worker, wave.id, 5, "x" * 51, secret_key=SECRET, store=STORE
            )


async def test_a_wave_that_ends_mid_answer_counts_nothing(sessions) -> None:  # type: ignore[no-untyped-def]
    worker = await make_worker(sessions, 4444)
    wave = await make_wave(sessions, days=1)
    async with transaction(sessions) as s:
        await answering.do_begin(s, worker, wave.id, secret_key=SECRET, store=STORE)
        await answering.do_answer(s, worker, wave.id, 0, "1", secret_key=SECRET, store=STORE)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=2)):
        async with transaction(sessions) as s:
            assert await close_ended_waves(s) == 1
        async with transaction(sessions) as s:
            with pytest.raises(SurveyClosed):
                await answering.do_answer(
                    s, worker, wave.id, 1, "yes", secret_key=SECRET, store=STORE
                )
        # The unfinished draft waited only in the store; settling the closed wave forgets it.
        assert len(STORE._drafts) == 1
        assert await flush(sessions) == 0
        assert STORE._drafts == {} and STORE._pools.get(wave.id, {}) == {}
    assert await sql_count(sessions, "SELECT count(*) FROM survey_answers") == 0


# --- results ----------------------------------------------------------------------------------


async def test_results_suppress_small_groups_everywhere(sessions) -> None:  # type: ignore[no-untyped-def]
    wave = await make_wave(sessions, open_now=False)
    workers = [
        await make_worker(sessions, 6000 + i, gender="woman" if i < 8 else "man") for i in range(10)
    ]
    async with transaction(sessions) as s:
        await open_due_waves(s, worker="t")
    for i, worker in enumerate(workers):
        await answer_all(sessions, worker, wave.id, safe="no" if i == 9 else "yes")
    assert await flush(sessions) == 10
    async with transaction(sessions) as s:
        fresh = await s.get(SurveyWave, wave.id)
        assert fresh is not None
        found = await results.wave_results(s, fresh, k=5)
    assert found.respondents == 10 and found.invited == 10
    # 2 men are too few; 8 women would give them back as 10 - 8 (complementary suppression).
    assert found.respondents_by["gender"] == {"woman": HIDDEN, "man": None}
    safe = next(q for q in found.questions if q.question.key == "safe")
    # One "no": hidden, and the 9 "yes" too (or the total), since 10 answered would give it back.
    assert safe.counts["no"] is None and not isinstance(safe.counts["yes"], int)
    mood = next(q for q in found.questions if q.question.key == "mood")
    # No zero is printed ("fewer than 5" is 0..4), and 10 − 0 − 0 ... cannot pin the 10 either.
    assert [mood.counts[v] for v in "1235"] == [None] * 4 and not isinstance(mood.counts["4"], int)
    # The men's column (2) is hidden, and the lone "no" cannot be worked out from any total.
    table = safe.breakdowns["gender"]
    assert table.shown("no", "man") is None and table.column_totals["man"] is None
    assert not isinstance(table.shown("yes", "man"), int)
    assert table.row_totals["no"] is None
    hours = next(q for q in found.questions if q.question.key == "hours")
    assert hours.numbers is not None and hours.numbers.mean == 48.0
    other = next(q for q in found.questions if q.question.key == "else")
    assert other.texts is None  # nobody wrote: nothing to list
    csv_text = results_export.results_csv(
        found, fewer_than="fewer than 5", hidden="hidden", locale="en"
    )
    assert "fewer than 5" in csv_text and ",man," in csv_text
    rows = list(csv.DictReader(io.StringIO(csv_text.removeprefix("\ufeff"))))
    men = [row for row in rows if row["group"] == "man" and row["answer"] != "respondents"]
    assert men and all(row["count"] == "" and row["share"] == "" for row in men), men
    assert {row["not shown"] for row in men if row["answer"] != "mean"} <= {
        "fewer than 5",
        "hidden",
    }


BANGLA_DIGITS = "০১২৩৪৫৬৭৮৯"


@given(st.integers(min_value=-1000, max_value=1000), st.booleans())
def test_numbers_in_any_script_are_read_and_bounded(value: int, bangla: bool) -> None:
    question = validate(SAMPLE).questions[4]  # hours: 0 to 100
    written = str(value)
    if bangla:
        written = "".join(BANGLA_DIGITS[int(ch)] if ch.isdigit() else ch for ch in written)
    if 0 <= value <= 100:
        assert answering.parse_number(written, question) == value
    else:
        with pytest.raises(NumberOutOfRange):
            answering.parse_number(written, question)


async def test_a_monthly_wave_schedules_the_next_when_it_opens(sessions) -> None:  # type: ignore[no-untyped-def]
    start = datetime.now(UTC) + timedelta(hours=1)
    async with transaction(sessions) as s:
        survey = await do_create_survey(s, validate(SAMPLE), country_code="BD", actor=None)
        version = await do_publish(s, survey, scope=Scope.everywhere(), actor=None)
        wave = await do_create_wave(
            s,
            WaveInput(
                version_id=version.id,
                name="Monthly pulse",
                audience=Audience(["BD"]),
                starts_at=start,
                ends_at=start + timedelta(days=7),
                repeat="monthly",
            ),
            scope=Scope.everywhere(),
            actor=None,
        )
        assert await open_due_waves(s, worker="a") == []  # not yet
    with time_machine.travel(start + timedelta(minutes=1)):
        async with transaction(sessions) as s:
            assert await open_due_waves(s, worker="a") == [wave.id]
            assert await open_due_waves(s, worker="b") == []  # claimed once
    async with transaction(sessions) as s:
        waves = (await s.scalars(select(SurveyWave).order_by(SurveyWave.id))).all()
        assert [w.status for w in waves] == ["open", "scheduled"]
        assert waves[1].previous_wave_id == wave.id
        assert waves[1].starts_at.month == (start.month % 12) + 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"countries": []}, "at least one country"),
        ({"countries": ["KH"]}, "your own countries"),
        ({"days": 100}, "at most 92 days"),
        ({"invite_hour": 23}, "between 8:00 and 20:00"),
        ({"reminder_after_hours": 24 * 30}, "before the wave ends"),
        ({"repeat": "weekly-ish"}, "unknown repetition"),
    ],
)
async def test_wave_input_is_checked(sessions, change: dict, reason: str) -> None:  # type: ignore[no-untyped-def,type-arg]
    start = datetime.now(UTC)
    async with transaction(sessions) as s:
        survey = await do_create_survey(s, validate(SAMPLE), country_code="BD", actor=None)
        version = await do_publish(s, survey, scope=Scope.everywhere(), actor=None)
        data = WaveInput(
            version_id=version.id,
            name="Pulse",
            audience=Audience(change.get("countries", ["BD"])),
            starts_at=start,
            ends_at=start + timedelta(days=change.get("days", 14)),
            repeat=change.get("repeat", "none"),
            invite_hour=change.get("invite_hour", 12),
            reminder_after_hours=change.get("reminder_after_hours", 72),
        )
        with pytest.raises(InvalidWave) as err:
            await check_wave(s, data, scope=Scope.only("BD"))
        assert reason in str(err.value)
