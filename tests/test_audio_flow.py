"""A worker who does not read, through the fake Telegram Bot API (issue 19, part 3): she chooses
"🔊 Listen" at onboarding, then hears the key screens and a survey's questions as voice messages
beside the text, and answers by typing numbers in her own script and words."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from bot.flows.onboarding.texts import privacy_notice
from bot.i18n import gettext, use_locale
from bot.storage.audio import AudioClip
from bot.storage.models import User
from services.audio.clips import KeyScreen, screen_target, survey_target
from tests.audio import needs_ffmpeg, store_clip
from tests.factories import make_factory, make_worker
from tests.harness import BotHarness
from tests.surveys_data import make_wave
from workvoice.demo.simulator.entities import SentMessage

pytestmark = needs_ffmpeg
OFF = "🔇 Off: no more voice messages. You can turn them on again in ❓ Help."
DELETED = (
    "Your data has been deleted. To remove the messages of this chat too, tap 🧹 below. "
    "Send /start to begin again."
)


@pytest.fixture(autouse=True)
def _working_hours() -> Iterator[None]:
    """13:00 in Dhaka: invitations go out at once."""
    now = datetime.now(UTC)
    with time_machine.travel(now.replace(hour=7, minute=0) + timedelta(days=1), tick=True):
        yield


def t(message: str, **params: object) -> str:
    return gettext(message, locale="bn", **params)


def notice_title() -> str:
    """The privacy notice's first line in Bangla, as the phone shows it."""
    with use_locale("bn"):
        return re.sub(r"<[^>]+>", "", privacy_notice()).split("\n", 1)[0]


def voices(messages: list[SentMessage]) -> list[SentMessage]:
    return [m for m in messages if m.method == "sendVoice"]


def heard_before(messages: list[SentMessage], contains: str) -> list[SentMessage]:
    """The voice messages sent since the last action, before the text ``contains``."""
    for index, message in enumerate(messages):
        if message.method != "sendVoice" and contains in message.plain_text():
            return voices(messages[:index])
    raise AssertionError(f"no message containing {contains!r}")


async def test_a_worker_who_listens_hears_onboarding_and_a_survey(app: BotHarness) -> None:
    await make_factory(app.sessions, "DK-01")
    language = await store_clip(app.sessions, screen_target(KeyScreen.LANGUAGE), "bn", hz=300)
    consent = await store_clip(app.sessions, screen_target(KeyScreen.CONSENT), "bn", hz=400)
    menu = await store_clip(app.sessions, screen_target(KeyScreen.MENU), "bn", hz=500)
    worker = app.user(8101, language_code="bn")

    # The language picker: 🔊 plays the picker's clips ("for Bangla, tap বাংলা").
    await worker.send("/start")
    picker = await worker.wait_reply()
    assert picker.buttons()[0] == "🔊"
    await worker.tap("🔊")
    played = await worker.wait_reply()
    assert played.method == "sendVoice" and played.document == language.content
    await worker.tap("বাংলা", message=picker)
    notice = await worker.wait_reply(contains=notice_title())
    assert t("🔊 Listen") in notice.buttons()

    # "🔊 Listen": from now on the screens that have a clip come as voice messages too.
    await worker.tap(t("🔊 Listen"))
    await worker.wait_reply(contains=notice_title())
    said = await worker.wait_idle()
    assert [v.document for v in heard_before(said, notice_title())] == [consent.content]
    assert t("🔊 Listen") not in worker.last.buttons()  # the answer buttons stay the same
    assert worker.last.buttons() == [t("✅ I agree"), t("✖️ No, thanks")]
    async with app.sessions() as s:
        assert (await s.scalar(select(User.listen).where(User.telegram_id == 8101))) is True

    await worker.tap(t("✅ I agree"))
    await worker.wait_reply(contains="DK-01")
    await worker.send("DK-01")
    await worker.wait_button(t("Woman"))
    await worker.tap(t("Woman"))
    ages = await worker.wait_reply(contains=t("How old are you?"))
    await worker.tap(ages.buttons()[1])
    await worker.wait_reply(contains=t("What would you like to do?"))
    said = await worker.wait_idle()
    assert [v.document for v in heard_before(said, t("What would you like to do?"))] == [
        menu.content
    ]
    assert "🔊" not in worker.last.buttons()  # she hears it already: no button for it

    # The survey: each question with a clip is heard first; she answers by typing.
    wave = await make_wave(app.sessions)  # the sample survey, in Bangladesh
    mood = await store_clip(app.sessions, survey_target("sample", "mood"), "bn", hz=600)
    shift = await store_clip(app.sessions, survey_target("sample", "shift"), "bn", hz=700)
    day = await store_clip(app.sessions, survey_target("sample", "shift", "day"), "bn", hz=800)
    night = await store_clip(app.sessions, survey_target("sample", "shift", "night"), "bn", hz=900)
    await store_clip(app.sessions, survey_target("sample", "mood"), "km")  # not her language
    assert await app.deliver() == 1
    await worker.wait_reply(contains="নমুনা জরিপ")
    await worker.tap(t("▶️ Start"))
    await worker.wait_reply(contains="আপনি কেমন আছেন?")
    said = await worker.wait_idle()
    assert [v.document for v in heard_before(said, "আপনি কেমন আছেন?")] == [mood.content]
    await worker.send("৩")  # 3 in Bangla digits: 😐
    await worker.wait_reply(contains="আপনি কি নিরাপদ বোধ করেন?")
    assert voices(await worker.wait_idle()) == []  # no clip for this question: text only
    await worker.send("এক")  # "one", as a word in Bangla: the first button, Yes
    await worker.wait_reply(contains="কোন শিফট?")
    said = await worker.wait_idle()
    heard = [v.document for v in heard_before(said, "কোন শিফট?")]
    assert heard == [shift.content, day.content, night.content]  # the question, then its answers
    await worker.send("দুই")  # "two": night
    await worker.wait_reply(contains="গত সপ্তাহে কত ঘণ্টা?")
    await worker.send("৪৫")
    await worker.wait_reply(contains="আর কিছু?")
    await worker.tap(t("Skip"))
    await worker.wait_reply(
        contains=t("Your answers were saved anonymously. Nobody can see who gave them.")
    )
    assert await app.survey_store.pending_count(wave.id) == 1

    # Telegram's file id was kept at the first send: the menu again is not uploaded again.
    async with app.sessions() as s:
        cached = await s.get(AudioClip, menu.id)
        assert cached is not None and cached.telegram_file_id
    uploads = app.telegram.voice_uploads
    await worker.send("/menu")
    await worker.wait_reply(contains=t("What would you like to do?"))
    again = heard_before(await worker.wait_idle(), t("What would you like to do?"))
    assert [v.document for v in again] == [menu.content]
    assert app.telegram.voice_uploads == uploads


async def test_a_worker_who_reads_gets_a_button_to_hear_a_question(app: BotHarness) -> None:
    await make_worker(app.sessions, 8102, locale="bn")
    await make_wave(app.sessions)
    mood = await store_clip(app.sessions, survey_target("sample", "mood"), "bn")
    worker = app.user(8102, language_code="bn")
    assert await app.deliver() == 1
    await worker.wait_reply(contains="নমুনা জরিপ")
    await worker.tap(t("▶️ Start"))
    question = await worker.wait_reply(contains="আপনি কেমন আছেন?")
    assert voices(await worker.wait_idle()) == []
    assert question.buttons()[0] == "🔊"
    # The faces carry Bangla digits (B14).
    assert question.buttons()[1:6] == ["😞 ১", "🙁 ২", "😐 ৩", "🙂 ৪", "😄 ৫"]
    await worker.tap("🔊")
    played = await worker.wait_reply()
    assert played.method == "sendVoice" and played.document == mood.content
    await worker.send("9")  # no ninth answer: asked again, nothing lost
    assert (await worker.wait_reply()).plain_text() == t(
        "Please tap one of the answers, or send its number."
    )
    await worker.send("দুই")
    await worker.wait_reply(contains="আপনি কি নিরাপদ বোধ করেন?")


async def test_listen_is_turned_off_in_help_and_goes_with_delete(app: BotHarness) -> None:
    await make_worker(app.sessions, 8103, locale="bn")
    async with app.sessions() as s:
        user = await s.scalar(select(User).where(User.telegram_id == 8103))
        assert user is not None
        user.listen = True
        await s.commit()
    await store_clip(app.sessions, screen_target(KeyScreen.MENU), "bn")
    worker = app.user(8103, language_code="bn")
    await worker.send("/help")
    help_screen = await worker.wait_reply()
    assert t("🔇 No voice messages") in help_screen.buttons()
    await worker.tap(t("🔇 No voice messages"))
    await worker.wait_reply(
        contains=t("🔇 Off: no more voice messages. You can turn them on again in ❓ Help.")
    )
    await worker.send("/menu")
    menu = await worker.wait_reply(contains=t("What would you like to do?"))
    assert voices(await worker.wait_idle()) == []
    assert menu.buttons()[0] == "🔊"  # she can still hear it when she wants
    async with app.sessions() as s:
        user = await s.scalar(select(User).where(User.telegram_id == 8103))
        assert user is not None and user.listen is False
        user.listen = True
        await s.commit()
    await worker.send("/delete")
    await worker.wait_reply()
    await worker.tap(t("🗑 Yes, delete my data"))
    await worker.wait_reply(contains=t(DELETED)[:20])
    await worker.send("/start")
    await worker.wait_reply()
    await worker.tap("বাংলা")
    notice = await worker.wait_reply(contains=notice_title())
    assert t("🔊 Listen") in notice.buttons()  # asked again: the choice went with her data
    async with app.sessions() as s:
        assert (await s.scalar(select(User.listen).where(User.telegram_id == 8103))) is False
