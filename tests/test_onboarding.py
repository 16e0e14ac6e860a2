"""Onboarding as a new worker meets it, through the fake Telegram API, in their own language."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select, text

from bot.i18n import gettext
from bot.storage.db import transaction
from bot.storage.models import User
from bot.wizard import StepTap
from services import onboarding, outbox
from tests import journeys
from tests.factories import make_factory, make_worker
from tests.harness import BotHarness


def t(message: str, locale: str, **params: object) -> str:
    return gettext(message, locale=locale, **params)


async def _user(app: BotHarness, telegram_id: int) -> User | None:
    async with app.sessions() as s:
        return await s.scalar(select(User).where(User.telegram_id == telegram_id))


@pytest.mark.parametrize(("locale", "native"), [("bn", "বাংলা"), ("ar", "العربية"), ("my", "မြန်မာ")])
async def test_whole_onboarding_in_the_workers_language(
    app: BotHarness, locale: str, native: str
) -> None:
    await make_factory(app.sessions, "DK-01")
    worker = app.user(1100, language_code=locale)
    await worker.send("/start")
    picker = await worker.wait_reply()
    assert picker.plain_text() == t("Choose your language:", locale)  # from the phone's language
    assert {"বাংলা", "ខ្មែរ", "አማርኛ", "العربية", "မြန်မာ", "English"} <= set(picker.buttons())

    await worker.tap(native)
    notice = await worker.wait_reply()
    assert notice.text == t(notice_msgid(), locale) and notice.text != notice_msgid()
    await worker.tap(t("✅ I agree", locale))
    await worker.wait_reply(contains="DK-01")
    await worker.wait_idle()

    await worker.send("NOPE-9")
    error = await worker.wait_reply()
    assert error.plain_text() == t(
        "No factory has the code {code}. Please check the poster and try again.",
        locale,
        code="NOPE-9",
    )
    await worker.wait_reply(contains="DK-01")  # the step is asked again (bot.wizard)
    await worker.send("dk-01")
    linked = await worker.wait_idle()
    assert linked[0].plain_text() == t(
        "You are now linked to {factory}.", locale, factory="Factory DK-01"
    )
    await worker.tap(t("Woman", locale))
    await worker.wait_idle()
    await worker.tap(t("Prefer not to say", locale))
    done = await worker.wait_idle()
    assert done[0].plain_text() == t("Thank you. You are all set.", locale)
    assert done[-1].plain_text() == t("What would you like to do?", locale)
    assert t("🌐 Language", locale) in done[-1].buttons()

    user = await _user(app, 1100)
    assert user is not None and user.locale == locale and user.consent_at is not None
    assert user.factory is not None and user.factory.code == "DK-01"
    assert (user.gender, user.age_band) == ("woman", "undisclosed")


def notice_msgid() -> str:
    from bot.flows.onboarding import privacy_notice
    from bot.i18n import use_locale

    with use_locale("en"):
        return privacy_notice()


async def test_factory_deep_link_skips_typing_the_code(app: BotHarness) -> None:
    await make_factory(app.sessions, "PP-07", country="KH")
    worker = app.user(1101, language_code="km")
    await worker.send("/start f_PP-07")
    await worker.wait_reply()
    await worker.tap("ខ្មែរ")
    await worker.wait_reply()
    await worker.tap(t("✅ I agree", "km"))
    linked = await worker.wait_idle()
    assert linked[0].plain_text() == t(
        "You are now linked to {factory}.", "km", factory="Factory PP-07"
    )
    assert t("Woman", "km") in linked[-1].buttons()  # straight on to the optional questions
    user = await _user(app, 1101)
    assert user is not None and user.factory is not None and user.factory.code == "PP-07"


async def test_anything_before_consent_reshows_the_step(app: BotHarness) -> None:
    worker = app.user(1102, language_code="en")
    await worker.send("hello?")
    assert (await worker.wait_reply()).plain_text() == "Choose your language:"
    await worker.tap("English")
    await worker.wait_reply()
    await worker.send_sticker()
    again = await worker.wait_reply()
    assert again.plain_text().startswith("Before we start: your privacy")
    await worker.send("/frobnicate")
    assert (await worker.wait_reply()).plain_text().startswith("Before we start")


async def test_declining_consent_keeps_nothing(app: BotHarness) -> None:
    worker = app.user(1103)
    await worker.send("/start")
    await worker.wait_reply()
    await worker.tap("English")
    await worker.wait_reply()
    await worker.tap("✖️ No, thanks")
    await worker.wait_reply(contains="kept nothing")
    await worker.wait_idle()
    assert await _user(app, 1103) is None


async def test_language_switches_at_once(app: BotHarness) -> None:
    await make_worker(app.sessions, 1104, locale="en")
    worker = app.user(1104)
    await worker.send("/language")
    await worker.wait_reply()
    await worker.tap("မြန်မာ")
    replies = await worker.wait_idle()
    assert replies[-1].plain_text() == t("Language changed.", "my")
    assert replies[-1].buttons() == [t("🏠 Main menu", "my")]  # just 🏠 under it (B15)
    user = await _user(app, 1104)
    assert user is not None and user.locale == "my"


async def test_forged_and_stale_buttons_do_not_crash(app: BotHarness) -> None:
    await make_worker(app.sessions, 1105, locale="bn")
    worker = app.user(1105)
    await worker.send("/language")
    await worker.wait_reply()
    await worker.tap_data("lang:xx")
    await worker.wait_idle()
    assert worker.answered_callbacks[-1]["text"] == t("This language is not available.", "bn")
    await worker.tap_data("me:g:robot")  # a demographics answer nobody asked for
    reply = await worker.wait_reply()
    assert reply.plain_text() == t("What would you like to do?", "bn")
    await worker.tap_data("ok:1")  # consent again from an old notice
    assert (await worker.wait_reply()).plain_text() == t("What would you like to do?", "bn")


async def test_forged_demographics_are_refused_and_lose_nothing(app: BotHarness) -> None:
    await make_factory(app.sessions, "DK-01")
    worker = app.user(1106, language_code="bn")
    await journeys.join_in_bangla(worker)
    await worker.wait_idle()
    gender_question = t(
        "Two optional questions help us see if problems affect women and men differently. "
        "Your gender?",
        "bn",
    )
    refusal = t("This button is no longer active.", "bn")
    # A value no button carries, then an age answer while the gender is asked: both refused.
    forgeries = [
        StepTap(flow="onboarding", step="gender", value="robot").pack(),
        StepTap(flow="onboarding", step="age", value="25-34").pack(),
    ]
    for forged in forgeries:
        await worker.tap_data(forged)
        again = await worker.wait_reply()
        assert worker.answered_callbacks[-1]["text"] == refusal
        assert again.plain_text() == gender_question
    user = await _user(app, 1106)
    assert user is not None and (user.gender, user.age_band) == (None, None)
    assert user.factory is not None and user.factory.code == "DK-01"  # nothing lost

    await worker.tap(t("Woman", "bn"), message=again)
    await worker.wait_reply()
    await worker.wait_idle()  # the update's transaction commits after the reply
    user = await _user(app, 1106)
    assert user is not None and user.gender == "woman"


async def test_do_set_demographics_refuses_unknown_values(app: BotHarness) -> None:
    await make_worker(app.sessions, 1107)
    async with transaction(app.sessions) as s:
        user = await s.scalar(select(User).where(User.telegram_id == 1107))
        assert user is not None
        await onboarding.do_set_demographics(s, user, gender="woman", age_band="25-34")
        with pytest.raises(onboarding.NotOffered):
            await onboarding.do_set_demographics(s, user, gender="robot", age_band="18-24")
        with pytest.raises(onboarding.NotOffered):
            await onboarding.do_set_demographics(s, user, age_band="old")
        assert (user.gender, user.age_band) == ("woman", "25-34")


async def test_delete_leaves_no_row_that_names_the_worker(app: BotHarness) -> None:
    user = await make_worker(app.sessions, 7777001, locale="ar")
    async with transaction(app.sessions) as s:
        await outbox.enqueue(s, "test.pending", user_id=user.id)
    worker = app.user(7777001)
    await worker.send("/delete")
    confirm = await worker.wait_reply()
    assert t("🗑 Yes, delete my data", "ar") in confirm.buttons()
    await worker.tap(t("🗑 Yes, delete my data", "ar"))
    gone = await worker.wait_reply()
    assert gone.plain_text() == t(
        "Your data has been deleted. To remove the messages of this chat too, tap 🧹 below. "
        "Send /start to begin again.",
        "ar",
    )
    await worker.wait_idle()
    async with app.sessions() as s:
        conn = await s.connection()
        tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        for table in tables:
            rows = (await s.execute(text(f'SELECT * FROM "{table}"'))).all()
            for row in rows:
                assert "7777001" not in repr(tuple(row)), f"{table} still names the worker"
                assert str(user.id) not in [str(v) for v in row] or table != "outbox"


async def test_stop_and_resume_optional_messages(app: BotHarness) -> None:
    await make_worker(app.sessions, 1106, locale="es")
    worker = app.user(1106)
    await worker.send("/stop")
    reply = await worker.wait_reply()
    await worker.wait_idle()
    assert reply.plain_text().startswith("Ya no recibirá")
    user = await _user(app, 1106)
    assert user is not None and user.quiet_since is not None
    await worker.tap(t("Turn them back on", "es"))
    await worker.wait_reply()
    await worker.wait_idle()
    user = await _user(app, 1106)
    assert user is not None and user.quiet_since is None


async def test_commands_are_registered_in_every_language(app: BotHarness) -> None:
    import asyncio

    commands = app.telegram.commands
    for _ in range(100):  # registered by the startup hook while polling begins
        if len(commands) == 17:
            break
        await asyncio.sleep(0.05)
    assert set(commands) == {
        "",
        "en",
        "bn",
        "km",
        "am",
        "ht",
        "fr",
        "id",
        "ar",
        "es",
        "vi",
        "ur",
        "si",
        "ta",
        "hi",
        "ne",
        "my",
    }
    names = [c["command"] for c in commands["bn"]]
    assert names == ["start", "menu", "language", "help", "privacy", "stop", "delete"]
    assert commands["bn"][6]["description"] == t("Delete my data", "bn")


async def test_rtl_age_buttons_keep_numbers_in_place(app: BotHarness) -> None:
    await make_factory(app.sessions, "IR-1", country="JO")
    worker = app.user(1107, language_code="ar")
    await worker.send("/start f_IR-1")
    await worker.wait_reply()
    await worker.tap("العربية")
    await worker.wait_reply()
    await worker.tap(t("✅ I agree", "ar"))
    await worker.wait_idle()
    await worker.tap(t("Woman", "ar"))
    ages = await worker.wait_reply()
    numeric = [b for b in ages.buttons() if "–" in b]
    assert numeric and all(b.startswith("\u200f") for b in numeric)


async def test_blocking_the_bot_marks_the_worker_inactive(app: BotHarness) -> None:
    await make_worker(app.sessions, 1108)
    app.telegram.push_update(
        {
            "my_chat_member": {
                "chat": {"id": 1108, "type": "private"},
                "from": {"id": 1108, "is_bot": False, "first_name": "W"},
                "date": 0,
                "old_chat_member": {
                    "status": "member",
                    "user": {"id": 1, "is_bot": True, "first_name": "b"},
                },
                "new_chat_member": {
                    "status": "kicked",
                    "until_date": 0,
                    "user": {"id": 1, "is_bot": True, "first_name": "b"},
                },
            }
        }
    )
    for _ in range(50):
        user = await _user(app, 1108)
        if user is not None and not user.active:
            break
        import asyncio

        await asyncio.sleep(0.1)
    assert user is not None and not user.active
