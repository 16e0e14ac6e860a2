"""M7, second half: a worker's text with NUL or other control characters never blocks a flow.

PostgreSQL refuses U+0000 in text and JSONB: before, a NUL in a survey comment failed every save
of the draft ("Nothing you sent was lost; please try again") and the worker could never finish.
Worker text is now cleaned at the edge (``bot.middlewares.clean_update``).
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.middlewares import clean_text
from bot.storage.surveys import SurveyAnswer
from tests import journeys
from tests.factories import make_worker
from tests.harness import BotHarness
from tests.surveys_data import make_wave

CONTROLS = "\x00\x01\x07\x08\x0b\x0c\x0d\x1b\x1f\x7f\x80\x85\x9f"
THANKS = "Your answers were saved anonymously. Nobody can see who gave them."
_ids = itertools.count(9_310_000)

worker_text = st.text(
    alphabet=st.sampled_from(CONTROLS) | st.characters(codec="utf-8", exclude_categories=["Cs"]),
    max_size=40,
)


@given(worker_text)
def test_clean_text_keeps_lines_and_tabs_and_drops_every_other_control_character(
    text: str,
) -> None:
    cleaned = clean_text(text)
    assert "\x00" not in cleaned
    assert all(ch in "\n\t" or not (ord(ch) < 32 or 127 <= ord(ch) < 160) for ch in cleaned)
    assert cleaned.count("\n") == text.count("\n") and cleaned.count("\t") == text.count("\t")
    assert clean_text(cleaned) == cleaned
    assert clean_text("line one\nसिंहला\u200d\ttab") == "line one\nसिंहला\u200d\ttab"


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(comment=worker_text.map(lambda text: "a" + text + "\x00"))
async def test_m7_control_characters_in_a_survey_answer_never_stop_the_worker(
    app: BotHarness, comment: str
) -> None:
    telegram_id = next(_ids)
    await make_worker(app.sessions, telegram_id)
    if not getattr(app, "_wave_made", False):  # one wave for every example
        await make_wave(app.sessions)
        app._wave_made = True  # type: ignore[attr-defined]
    worker = app.user(telegram_id)
    await journeys.open_first_survey(worker)
    await worker.tap("Yes")
    await worker.wait_reply(contains="Which shift?")
    await worker.tap("Day")
    await worker.wait_reply(contains="Hours last week?")
    await worker.send("40\x00")
    await worker.wait_reply(contains="Anything else?")
    await worker.send(comment)
    reply = await worker.wait_reply()
    assert "went wrong" not in reply.plain_text(), worker.transcript()
    if THANKS not in reply.plain_text():  # too long once cleaned: asked again, and skippable
        await worker.tap("Skip")
        await worker.wait_reply(contains=THANKS)
    async with app.sessions() as s:
        texts = await s.scalars(select(SurveyAnswer.text).where(SurveyAnswer.text.is_not(None)))
        assert all("\x00" not in t for t in texts.all() if t)
