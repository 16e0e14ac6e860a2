"""Workers answer a survey wave through the fake Telegram API (DESIGN §4.1, §7)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import select, text

from bot.i18n import gettext, pgettext
from bot.i18n.digits import localize
from bot.storage.db import transaction
from bot.storage.surveys import SurveyAnswer, SurveyWave
from services.suppression import HIDDEN
from services.surveys import results
from services.surveys.store import MemorySurveyStore, RedisSurveyStore
from services.surveys.waves import do_close_the_loop
from tests.console import TEST_SECRET as SECRET
from tests.factories import make_worker
from tests.harness import BotHarness, running_bot
from tests.surveys_data import make_wave, publish


@pytest.fixture(autouse=True)
def _working_hours() -> Iterator[None]:
    """13:00 in Dhaka, 14:00 in Phnom Penh: invitations go out at once (they wait for the day)."""
    now = datetime.now(UTC)
    with time_machine.travel(now.replace(hour=7, minute=0) + timedelta(days=1), tick=True):
        yield


def t(message: str, locale: str = "bn", **params: object) -> str:
    if message in ("Yes", "No"):  # the answer buttons' meaning of the two words (msgctxt)
        return pgettext("answer button", message, locale=locale)
    return gettext(message, locale=locale, **params)


async def answer_through_the_bot(
    app: BotHarness, telegram_id: int, locale: str, *, safe: str = "Yes"
) -> None:
    """From the invitation to the thank-you, by taps and typing, as a worker would."""
    worker = app.user(telegram_id, language_code=locale)
    await worker.tap(t("▶️ Start", locale))
    await worker.wait_reply()
    await worker.tap("🙂 " + localize("4", locale))  # the language's own digits (B14)
    await worker.wait_reply()
    await worker.tap(t(safe, locale))
    await worker.wait_reply()
    if safe == "No":
        options = worker.last.buttons()
        await worker.tap(options[0])
        await worker.wait_button(f"✅ {options[0]}")
        await worker.tap(t("Done ➡️", locale))
        await worker.wait_reply()
    await worker.tap(worker.last.buttons()[0])  # shift: day
    await worker.wait_reply()
    await worker.send("40")
    await worker.wait_reply()
    await worker.tap(t("Skip", locale))
    # The survey's own thank-you, then (once, no second "thank you") what became of the answers.
    done = await worker.wait_reply(
        contains=t("Your answers were saved anonymously. Nobody can see who gave them.", locale)
    )
    assert done.plain_text().count(t("Thank you!", locale)) <= 1


async def test_a_bangla_worker_answers_every_kind_of_question(app: BotHarness) -> None:
    await make_worker(app.sessions, 7001, locale="bn", gender="woman")
    worker = app.user(7001, language_code="bn")
    wave = await make_wave(app.sessions)
    assert await app.deliver() == 1  # the invitation now; the reminder is not due yet
    invitation = await worker.wait_reply(contains="নমুনা জরিপ")
    assert t("▶️ Start") in invitation.buttons()
    await worker.tap(t("▶️ Start"))
    first = await worker.wait_reply()
    assert "আপনি কেমন আছেন?" in first.plain_text()
    assert first.buttons()[:5] == ["😞 ১", "🙁 ২", "😐 ৩", "🙂 ৪", "😄 ৫"]  # Bangla digits (B14)
    await worker.tap("😐 ৩")
    second = await worker.wait_reply()
    assert t("⬅️ Back") in second.buttons()
    await worker.tap(t("No"))
    multi = await worker.wait_reply(contains="কী আপনাকে অনিরাপদ করে?")
    assert t("Tick all that apply, then tap Done.") in multi.plain_text()
    await worker.tap(t("Done ➡️"))  # nothing ticked: refused, nothing lost
    await worker.wait_idle()
    assert worker.answered_callbacks[-1]["text"] == t("This question needs an answer.")
    await worker.tap("মেশিন")
    await worker.wait_idle()
    assert "✅ মেশিন" in worker.last.buttons()
    await worker.tap(t("Done ➡️"))
    await worker.wait_reply(contains="কোন শিফট?")
    await worker.tap("রাত")
    await worker.wait_reply(contains="গত সপ্তাহে কত ঘণ্টা?")
    await worker.send("৫০০")  # out of range, in Bangla digits
    refusal = await worker.wait_reply()
    assert refusal.plain_text() == t(
        "Please send a number from {min} to {max}.", min="0", max="100"
    )
    await worker.send("৪৫")
    await worker.wait_reply(contains="আর কিছু?")
    await worker.send("x" * 51)
    assert (await worker.wait_reply()).plain_text() == t(
        "Please keep your answer under {limit} characters.", limit=50
    )
    await worker.send("ক্যান্টিনে পানি নেই")
    done = await worker.wait_reply()
    assert "ধন্যবাদ!" in done.plain_text()
    # Finished, and counted, but no answer is written yet: it waits for a batch (here the close,
    # as fewer than k answered and nothing was published before).
    async with app.sessions() as s:
        assert (await s.scalars(select(SurveyAnswer))).all() == []
    assert await app.survey_store.pending_count(wave.id) == 1
    # Tapping Start on the old invitation again: already answered, counted once.
    await worker.tap(t("▶️ Start"), message=invitation)
    assert (await worker.wait_reply()).plain_text() == t(
        "You have already answered this survey. Thank you!"
    )
    assert await publish(app.sessions, app.survey_store, secret_key=SECRET, close=wave.id) == 1
    async with app.sessions() as s:
        rows = (await s.scalars(select(SurveyAnswer))).all()
    assert {(r.question_key, r.value, r.number, r.text) for r in rows} == {
        ("mood", "3", None, None),
        ("safe", "no", None, None),
        ("why", "*", None, None),
        ("why", "machines", None, None),
        ("shift", "night", None, None),
        ("hours", None, 45.0, None),
        ("else", None, None, "ক্যান্টিনে পানি নেই"),
    }
    async with app.sessions() as s:
        assert await s.scalar(text("SELECT count(*) FROM survey_responses")) == 1


async def test_resume_after_a_restart_with_redis_and_old_buttons(
    sessions: Any, redis_url: str, redis_prefix: str
) -> None:
    """M11: the draft waits sealed in Redis, not in the database; a restarted bot (new FSM memory,
    new Redis connection) finds the worker's place there."""
    async with running_bot(
        sessions, survey_store=RedisSurveyStore.from_url(redis_url, prefix=redis_prefix)
    ) as app:
        await make_worker(app.sessions, 7002, locale="km")
        worker = app.user(7002, language_code="km")
        await make_wave(app.sessions)
        await app.deliver()
        await worker.tap(t("▶️ Start", "km"))
        first = await worker.wait_reply()
        await worker.tap("😄 5")
        await worker.wait_reply()
        await worker.tap(t("Yes", "km"))
        await worker.wait_reply(contains="វេនណា?")
        await worker.tap(t("⏸ Later", "km"))
        await worker.wait_reply()
        before = app.survey_store
        await app.restart(survey_store=RedisSurveyStore.from_url(redis_url, prefix=redis_prefix))
        await before.close()
        assert app.survey_store is not before
        await worker.send("/surveys")
        listing = await worker.wait_reply()
        await worker.tap(listing.buttons()[0])
        resumed = await worker.wait_reply()
        assert "វេនណា?" in resumed.plain_text()
        assert (
            t(
                "<b>{title}</b> · question {number} of {total}",
                "km",
                title="ការស្ទង់មតិគំរូ",
                number=3,
                total=5,
            )
            in resumed.text
        )
        # A button on the first question's message (removed from view, but replayed): stale.
        await worker.tap_data(f"sv:a:{resumed_wave(listing)}:0:0", message_id=first.message_id)
        await worker.wait_reply(contains="វេនណា?")
        assert worker.answered_callbacks[-1]["text"] == t(
            "This question was already answered. Here is where you are now.", "km"
        )
        # Forged callback data for a wave that does not exist
        await worker.tap_data("sv:a:999999:0:0")
        await worker.wait_reply(contains=t("This survey is not open to you.", "km"))
        await app.survey_store.close()


async def test_without_redis_a_restart_starts_an_unfinished_survey_again(app: BotHarness) -> None:
    """In memory mode (documented) a restart loses unfinished drafts: the worker is offered to
    continue, and starts from the first question; nothing of the draft was in the database."""
    await make_worker(app.sessions, 7005, locale="en")
    worker = app.user(7005)
    await make_wave(app.sessions)
    await app.deliver()
    await worker.tap(t("▶️ Start", "en"))
    await worker.wait_reply()
    await worker.tap("😄 5")
    await worker.wait_reply(contains="Do you feel safe?")
    await worker.tap(t("⏸ Later", "en"))
    await worker.wait_reply()
    await app.restart(survey_store=MemorySurveyStore())
    await worker.send("/surveys")
    listing = await worker.wait_reply()
    assert listing.buttons()[0].startswith("↩️")
    await worker.tap(listing.buttons()[0])
    again = await worker.wait_reply()
    assert "How do you feel?" in again.plain_text() and "question 1 of 6" in again.plain_text()


def resumed_wave(listing) -> int:  # type: ignore[no-untyped-def]
    data = listing.reply_markup["inline_keyboard"][0][0]["callback_data"]
    return int(data.split(":")[2])


async def test_reminder_only_for_those_who_have_not_finished_and_closed_waves(
    app: BotHarness,
) -> None:
    await make_worker(app.sessions, 7003, locale="en")
    await make_worker(app.sessions, 7004, locale="en")
    finished, waiting = app.user(7003), app.user(7004)
    wave = await make_wave(app.sessions, days=7)
    assert await app.deliver() == 2
    await answer_through_the_bot(app, 7003, "en")
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=73)):
        await app.deliver()
    assert not any("A reminder" in m.plain_text() for m in finished.messages)
    assert any("A reminder" in m.plain_text() for m in waiting.messages)
    # The wave ends: a tap on the invitation now says so.
    async with app.sessions() as s:
        row = await s.get(SurveyWave, wave.id)
        assert row is not None
        row.ends_at = datetime.now(UTC) - timedelta(minutes=1)
        await s.commit()
    await waiting.tap(t("▶️ Start", "en"))
    await waiting.wait_reply(contains="This survey has closed")


async def test_thirty_workers_in_three_languages(app: BotHarness, console: Any) -> None:
    people = (
        [(8000 + i, "bn") for i in range(12)]
        + [(8100 + i, "km") for i in range(10)]
        + [(8200 + i, "en") for i in range(8)]
    )
    for n, (telegram_id, locale) in enumerate(people):
        await make_worker(
            app.sessions, telegram_id, locale=locale, gender="man" if n < 3 else "woman"
        )
        app.user(telegram_id, language_code=locale)
    wave = await make_wave(app.sessions)
    await app.deliver()
    for n, (telegram_id, locale) in enumerate(people):
        await answer_through_the_bot(app, telegram_id, locale, safe="No" if n < 3 else "Yes")
    console.ctx.survey_store = app.survey_store  # one process: the bot's store is the console's
    assert await publish(app.sessions, app.survey_store, secret_key=SECRET) == 30
    async with app.sessions() as s:
        fresh = await s.get(SurveyWave, wave.id)
        assert fresh is not None
        found = await results.wave_results(s, fresh, k=5)
        dump = [tuple(r) for r in (await s.execute(text("SELECT * FROM survey_answers"))).all()]
        dump += [tuple(r) for r in (await s.execute(text("SELECT * FROM survey_responses"))).all()]
    assert found.respondents == 30 and found.invited == 30
    assert found.respondents_by["language"] == {"bn": 12, "en": 8, "km": 10}
    # 3 men, 27 women: the 27 is hidden too, else 30 − 27 gives the men back.
    assert found.respondents_by["gender"] == {"man": None, "woman": HIDDEN}
    safe = next(q for q in found.questions if q.question.key == "safe")
    assert safe.counts["no"] is None and not isinstance(safe.counts["yes"], int)
    # The console shows the same counts; the three men appear only as "fewer than 5".
    analyst = await console.staff("analyst", ["BD"])
    page = await console.client_for(analyst).get(f"/surveys/waves/{wave.id}/results")
    assert page.status_code == 200
    assert "Respondents: <strong>30</strong>" in page.text
    # Nothing waits, but no count below k is printed, zero included (issue 14, H5).
    assert "Results last updated on" in page.text
    assert 'Waiting: <span class="hidden-n">fewer than 5</span>.' in page.text
    assert "fewer than 5" in page.text
    csv_text = (await console.client_for(analyst).get(f"/surveys/waves/{wave.id}/results.csv")).text
    table = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))
    men = [r for r in table if r["Breakdown"] == "gender" and r["Group"] == "men"]
    assert men and all(not r["Count"] and r["Not shown"] in ("fewer than 5", "hidden") for r in men)
    # A dump of the answer tables holds no Telegram id.
    ids = {str(telegram_id) for telegram_id, _locale in people}
    assert dump and not any(str(v) in ids for row in dump for v in row)


async def test_closing_the_loop_reaches_respondents_in_their_language(app: BotHarness) -> None:
    await make_worker(app.sessions, 7011, locale="bn")
    await make_worker(app.sessions, 7012, locale="km")
    answered, silent = app.user(7011, language_code="bn"), app.user(7012, language_code="km")
    wave = await make_wave(app.sessions)
    await app.deliver()
    await answer_through_the_bot(app, 7011, "bn")
    async with transaction(app.sessions) as s:
        row = await s.get(SurveyWave, wave.id)
        assert row is not None
        queued = await do_close_the_loop(
            s,
            row,
            {"en": "Canteen water will be fixed.", "bn": "ক্যান্টিনের পানি ঠিক করা হবে।"},
            secret_key=app.settings.effective_secret_key,
            actor=None,
        )
    assert queued == 1
    await app.deliver()
    message = await answered.wait_reply(contains="ক্যান্টিনের পানি ঠিক করা হবে।")
    assert "নমুনা জরিপ" in message.plain_text()
    assert not any("Canteen" in m.plain_text() for m in silent.messages)


async def test_logs_never_say_who_answered(
    app: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    """L8: no line per completion (its timestamp would date one person's answers); only batches."""
    workers = [await make_worker(app.sessions, 7021 + i, locale="en") for i in range(5)]
    for i in range(5):
        app.user(7021 + i)
    await make_wave(app.sessions)
    await app.deliver()
    with caplog.at_level("INFO"):  # the product's level (workvoice.kernel.logs)
        await answer_through_the_bot(app, 7021, "en")
        assert "survey" not in caplog.text
        for i in range(1, 5):
            await answer_through_the_bot(app, 7021 + i, "en")
        assert await publish(app.sessions, app.survey_store, secret_key=SECRET) == 5
    text = caplog.text
    assert "survey.batch wave=" in text and "n=5" in text
    for worker in workers:
        for forbidden in (str(worker.telegram_id), f"u{worker.id}", "Worker"):
            assert forbidden not in text, forbidden
