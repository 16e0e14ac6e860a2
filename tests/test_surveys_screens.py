"""One screen definition for the bot and the console's preview, and the survey details of the
worker-journeys review (B17): one thank-you, one instruction, exclusive answers, one time estimate,
late joiners invited once, arrows that follow the reading direction."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot.i18n import gettext
from bot.storage.db import transaction
from bot.storage.models import User
from bot.storage.surveys import SurveyWave
from services.surveys.answering import toggled
from services.surveys.builder import parse_options
from services.surveys.definition import InvalidDefinition, dump, parse_definition, validate
from services.surveys.waves import invite_late_joiners
from tests.console import ConsoleHarness
from tests.factories import make_factory, make_worker
from tests.harness import BotHarness
from tests.surveys_data import SAMPLE, make_wave

TEMPLATES = Path(__file__).resolve().parents[1] / "services" / "surveys" / "templates"
PULSE = dump(parse_definition((TEMPLATES / "wellbeing-pulse.yaml").read_text("utf-8")))


@pytest.fixture(autouse=True)
def _working_hours() -> Iterator[None]:
    """13:00 in Dhaka: invitations go out at once."""
    now = datetime.now(UTC)
    with time_machine.travel(now.replace(hour=7, minute=0) + timedelta(days=1), tick=True):
        yield


def rows_of(message: Any) -> list[list[str]]:
    markup = message.reply_markup or {}
    return [[b["text"] for b in row] for row in markup.get("inline_keyboard", [])]


def preview_rows(page: str) -> list[list[list[str]]]:
    """Each previewed question's button rows, as the console's HTML draws them."""
    screens = []
    for figure in re.findall(r'<figure class="preview-screen">(.*?)</figure>', page, re.S):
        rows = re.findall(r'<div class="kb-row">(.*?)</div>', figure, re.S)
        screens.append(
            [
                [html.unescape(label) for label in re.findall(r'button-like">(.*?)</span>', row)]
                for row in rows
            ]
        )
    return screens


@pytest.mark.parametrize("locale", ["ar", "bn"])
async def test_the_preview_draws_the_rows_the_bot_sends(
    app: BotHarness, console: ConsoleHarness, locale: str, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("one database is enough to compare two renderings")
    await make_worker(app.sessions, 7101, locale=locale)
    worker = app.user(7101, language_code=locale)
    wave = await make_wave(app.sessions, definition=PULSE)
    await app.deliver()
    await worker.tap(gettext("▶️ Start", locale=locale))
    seen = [rows_of(await worker.wait_reply())]
    # Answer with the first button of each question, ticking one box before Done on the multi.
    for _n in range(len(PULSE["questions"]) - 1):
        last = worker.last
        await worker.tap(rows_of(last)[0][0])
        seen.append(rows_of(await worker.wait_reply()))
    manager = await console.staff("country_manager", ["BD"])
    client = console.client_for(manager)
    page = await client.get(f"/surveys/{wave.survey_id}/preview?locale={locale}")
    assert page.status_code == 200
    assert preview_rows(page.text) == seen
    back, later = gettext("⬅️ Back", locale=locale), gettext("⏸ Later", locale=locale)
    assert seen[0][-1] == [later] and seen[1][-1] == [back, later]


async def test_rtl_arrows_one_thank_you_and_nothing_ticked_alone(app: BotHarness) -> None:
    """B17 in Arabic: ➡️ Back and Done ⬅️; "Nothing" clears the other ticks and the other way
    round; the instruction once; one thank-you at the end."""
    await make_worker(app.sessions, 7102, locale="ar")
    worker = app.user(7102, language_code="ar")
    await make_wave(app.sessions, definition=PULSE)
    await app.deliver()
    invitation = worker.last.plain_text()
    # "5 أسئلة قصيرة، حوالي دقيقتين… يستغرق بضع دقائق… مجهولة… مجهول": now one of each.
    assert invitation.count("دق") == 1 and invitation.count("مجهول") == 1, invitation
    await worker.tap(gettext("▶️ Start", locale="ar"))
    await worker.wait_reply()
    for _n in range(4):  # mood, safe, respect, overtime: the first answer each time
        await worker.tap(rows_of(worker.last)[0][0])
        await worker.wait_reply()
    multi = worker.last
    text = multi.plain_text()
    assert gettext("Tick all that apply, then tap Done.", locale="ar") in text
    assert "يمكن اختيار أكثر من جواب" not in text  # the question no longer says it too
    labels = multi.buttons()
    assert "⬅️ رجوع" not in labels and any(b.startswith("➡️") for b in labels)
    done = gettext("Done ➡️", locale="ar")  # the catalog points it left, the way Arabic reads
    assert done.endswith("⬅️")
    assert done in labels
    nothing = "لا شيء"
    pay = labels[0]
    await worker.tap(pay)
    await worker.wait_button(f"✅ {pay}")
    await worker.tap(nothing)
    await worker.wait_button(f"✅ {nothing}")
    assert f"✅ {pay}" not in worker.last.buttons() and pay in worker.last.buttons()
    await worker.tap(pay)
    await worker.wait_button(f"✅ {pay}")
    assert f"✅ {nothing}" not in worker.last.buttons()
    await worker.tap(done)
    end = await worker.wait_reply(
        contains=gettext(
            "Your answers were saved anonymously. Nobody can see who gave them.", locale="ar"
        )
    )
    assert end.plain_text().count("شكر") == 1  # the survey's thank-you, not a second one


async def test_the_invitation_says_anonymous_once_and_gives_one_time(app: BotHarness) -> None:
    await make_worker(app.sessions, 7105, locale="en")
    worker = app.user(7105)
    await make_wave(app.sessions, definition=PULSE)
    await app.deliver()
    text = (await worker.wait_reply(contains="Short wellbeing survey")).plain_text()
    assert text.count("anonymous") == 1 and text.count("minute") == 1, text
    assert "about 2 minutes" in text  # 5 questions


async def test_a_worker_who_links_her_factory_after_the_wave_opened_is_invited_once(
    app: BotHarness,
) -> None:
    await make_worker(app.sessions, 7103, locale="en")
    await make_worker(app.sessions, 7104, locale="en", factory_code=None)  # skipped the code
    early, late = app.user(7103), app.user(7104)
    wave = await make_wave(app.sessions, definition=SAMPLE)
    assert await app.deliver() == 1
    assert late.messages == []
    factory = await make_factory(app.sessions, "DK-01", country="BD")
    async with transaction(app.sessions) as s:  # she links it now (🏭 Link my factory)
        user = await s.scalar(select(User).where(User.telegram_id == 7104))
        assert user is not None
        user.factory_id = factory.id
    for _tick in range(3):  # the scheduler runs every minute: still one invitation
        async with transaction(app.sessions) as s:
            await invite_late_joiners(s)
    assert await app.deliver() == 1
    invitation = await late.wait_reply(contains="Sample pulse")
    assert gettext("▶️ Start", locale="en") in invitation.buttons()
    assert sum("Sample pulse" in m.plain_text() for m in early.messages) == 1
    async with transaction(app.sessions) as s:
        assert await invite_late_joiners(s) == 0
        counted = await s.get(SurveyWave, wave.id)
        assert counted is not None and counted.invited_count == 2


# --- exclusive answers: the rule, the builder's syntax, the validation -------------------------

WORRIES = validate(PULSE).question("worries")


@given(st.lists(st.sampled_from(WORRIES.values() if WORRIES else []), max_size=12))
def test_nothing_is_never_ticked_with_another_answer(taps: list[str]) -> None:
    assert WORRIES is not None
    exclusive = {o.key for o in WORRIES.options if o.exclusive}
    assert exclusive == {"nothing"}
    ticked: list[str] = []
    for option in taps:
        after = toggled(WORRIES, ticked, option)
        assert not (set(after) & exclusive and len(after) > 1)
        assert (option in after) == (option not in ticked)  # a tap ticks, or unticks
        assert after == [v for v in WORRIES.values() if v in after]  # in the question's order
        ticked = after


def test_the_builder_marks_an_exclusive_option_with_an_exclamation_mark() -> None:
    options = parse_options("pay: Pay\nnothing!: Nothing\nJust text", [], "en")
    assert [(o["key"], o.get("exclusive", False)) for o in options] == [
        ("pay", False),
        ("nothing", True),
        ("just-text", False),
    ]
    single = {**SAMPLE, "questions": [dict(SAMPLE["questions"][3])]}
    single["questions"][0]["options"] = [
        {"key": "day", "text": {"en": "Day"}},
        {"key": "none", "text": {"en": "None"}, "exclusive": True},
    ]
    with pytest.raises(InvalidDefinition):
        validate(single)
