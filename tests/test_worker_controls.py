"""A worker's rights as buttons and as words in her language (B12), and a shared phone cleared of
the chat (B3: 🧹 Remove my messages here, from Privacy and after /delete; old buttons after
/delete start onboarding again, transcript-bn §11). The chat trail keeps message ids only."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot import chat_trail
from bot.flows.onboarding.keywords import WORDS, Keyword, keyword_of, normalise, table
from bot.flows.onboarding.texts import help_text
from bot.i18n import gettext, use_locale
from bot.i18n.languages import LANGUAGES
from bot.storage.models import User
from bot.widgets import MenuAction, MenuCallback
from tests.factories import make_worker
from tests.harness import BotHarness
from workvoice.demo.simulator.server import FakeTelegram


def t(message: str, locale: str = "en", **params: object) -> str:
    return gettext(message, locale=locale, **params)


STOPPED = (
    "You will get no more news or survey invitations. Answers about your reports and "
    "reminders for your committee still reach you."
)
AUTO_DELETE = (
    "In Telegram you can also set this chat to delete messages automatically: "
    "open the chat's menu → Auto-delete."
)


async def _user(app: BotHarness, telegram_id: int) -> User | None:
    async with app.sessions() as s:
        return await s.scalar(select(User).where(User.telegram_id == telegram_id))


# --- B12: words ---------------------------------------------------------------------------


def test_every_language_has_its_own_words_and_no_word_means_two_things() -> None:
    seen: dict[str, set[Keyword]] = {}
    for keyword, msgid in WORDS.items():
        for code in LANGUAGES:
            words = gettext(msgid, locale=code).split("|")
            if code != "en":
                assert gettext(msgid, locale=code) != msgid, (code, keyword)
            for word in words:
                seen.setdefault(normalise(word), set()).add(keyword)
    clashes = {word: kws for word, kws in seen.items() if len(kws) > 1}
    assert not clashes
    assert table()["সাহায্য"] is Keyword.HELP and table()["مساعدة"] is Keyword.HELP


@settings(max_examples=60, deadline=None)
@given(
    word=st.sampled_from(sorted(table())),
    before=st.text(alphabet=" .!?¿/", max_size=3),
    after=st.text(alphabet=" .!?؟।", max_size=3),
    upper=st.booleans(),
)
def test_a_keyword_is_found_whatever_its_case_and_punctuation(
    word: str, before: str, after: str, upper: bool
) -> None:
    typed = before + (word.upper() if upper else word) + after
    assert keyword_of(typed) is table()[word]


@given(st.text(alphabet=string.ascii_letters + " ", min_size=1, max_size=30))
def test_ordinary_sentences_are_not_keywords(text: str) -> None:
    if normalise(text) not in table():
        assert keyword_of(text) is None
    assert keyword_of("I need help with my wages") is None


@pytest.mark.parametrize(
    ("locale", "word"), [("bn", "সাহায্য"), ("ar", "مساعدة"), ("km", "ជំនួយ"), ("my", "အကူအညီ")]
)
async def test_help_typed_in_her_language_is_help(app: BotHarness, locale: str, word: str) -> None:
    await make_worker(app.sessions, 3101, locale=locale)
    worker = app.user(3101, language_code=locale)
    await worker.send(word)
    reply = await worker.wait_reply()
    with use_locale(locale):
        assert reply.text == help_text()
    # The switch to hear screens read aloud (issue 19), then home.
    assert reply.buttons() == [t("🔊 Listen", locale), t("🏠 Main menu", locale)]
    await worker.wait_idle()


async def test_menu_stop_delete_and_cancel_as_words(app: BotHarness) -> None:
    await make_worker(app.sessions, 3102, locale="bn")
    worker = app.user(3102, language_code="bn")
    await worker.send("MENU")
    assert (await worker.wait_reply()).plain_text() == t("What would you like to do?", "bn")
    await worker.send(t("stop|unsubscribe", "bn").split("|")[0])
    await worker.wait_reply(contains=t(STOPPED, "bn"))
    await worker.wait_idle()
    user = await _user(app, 3102)
    assert user is not None and user.quiet_since is not None
    await worker.send("delete")
    confirm = await worker.wait_reply()
    assert t("🗑 Yes, delete my data", "bn") in confirm.buttons()
    await worker.send("cancel")
    assert (await worker.wait_reply()).plain_text() == t("There is nothing to cancel.", "bn")


async def test_a_word_typed_where_a_step_waits_for_text_is_the_answer(app: BotHarness) -> None:
    await make_worker(app.sessions, 3103, locale="en", factory_code=None)
    worker = app.user(3103)
    await worker.send("/help")
    await worker.wait_reply()
    await worker.tap("🏭 Link my factory")
    await worker.wait_reply(contains="Type the factory code")
    await worker.send("help")  # the code step takes it as a code, it does not open Help
    reply = await worker.wait_reply()
    assert reply.plain_text().startswith("No factory has the code help")


async def test_cancel_typed_on_a_button_step_cancels_it(app: BotHarness) -> None:
    await make_worker(app.sessions, 3104, locale="en", factory_code=None)
    worker = app.user(3104)
    await worker.send("/start")
    await worker.wait_idle()
    # A worker who is set up but in the middle of the optional questions.
    from bot.flows.onboarding.setup import SETUP, SetupStep

    key = app.dp.fsm.get_context(app.bot, chat_id=3104, user_id=3104)
    await key.set_state(SETUP.state(SetupStep.GENDER))
    await key.set_data({"wizard_draft": {}, "wizard_trail": []})
    await worker.send("Cancel!")
    reply = await worker.wait_reply()
    assert reply.plain_text() == t(
        "That is fine: these questions are optional. The menu is ready for you."
    )
    assert await key.get_state() is None


# --- B3 and B12: Privacy, 🧹 --------------------------------------------------------------


async def test_privacy_has_the_rights_as_buttons_and_teaches_auto_delete(app: BotHarness) -> None:
    await make_worker(app.sessions, 3105, locale="ne")
    worker = app.user(3105, language_code="ne")
    await worker.send("/privacy")
    screen = await worker.wait_reply()
    assert t(AUTO_DELETE, "ne") in screen.plain_text()
    assert screen.buttons() == [
        t("🗑 Delete my data", "ne"),
        t("🔕 Stop news", "ne"),
        t("🧹 Remove my messages here", "ne"),
        t("🏠 Main menu", "ne"),
    ]
    await worker.tap(t("🔕 Stop news", "ne"))
    await worker.wait_reply(contains=t(STOPPED, "ne"))
    await worker.tap(t("🗑 Delete my data", "ne"), message=screen)
    confirm = await worker.wait_reply()
    assert t("🗑 Yes, delete my data", "ne") in confirm.buttons()


def _visible(telegram: FakeTelegram, chat_id: int) -> tuple[list[str], list[int]]:
    """What the phone still shows: the bot's messages and the ids of the worker's own."""
    bot = {
        m.message_id: m.plain_text()
        for m in telegram._current.values()
        if m.chat_id == chat_id and not m.deleted
    }
    mine = [mid for (chat, mid), gone in telegram.incoming.items() if chat == chat_id and not gone]
    return [bot[k] for k in sorted(bot)], mine


async def test_remove_my_messages_clears_both_sides_of_the_chat(app: BotHarness) -> None:
    await make_worker(app.sessions, 3106, locale="bn")
    worker = app.user(3106, language_code="bn")
    await worker.send("/help")
    await worker.wait_reply()
    await worker.send("hello")
    await worker.wait_reply()
    await worker.send("/privacy")
    await worker.wait_reply()
    await worker.wait_idle()
    bot_before, mine_before = _visible(app.telegram, 3106)
    assert len(bot_before) == 3 and len(mine_before) == 3

    await worker.tap(t("🧹 Remove my messages here", "bn"))
    done = await worker.wait_reply(contains=t("🧹 Done.", "bn"))
    await worker.wait_idle()
    bot_after, mine_after = _visible(app.telegram, 3106)
    assert bot_after == [done.plain_text()] and mine_after == []
    calls = [p for method, p in app.telegram.calls if method == "deleteMessages"]
    assert calls and all(len(p["message_ids"]) <= 100 for p in calls)
    assert await chat_trail.store().ids(3106) == [done.message_id]  # only the neutral line


async def test_after_delete_old_buttons_restart_onboarding_and_the_chat_can_go(
    app: BotHarness,
) -> None:
    """transcript-bn §11: /delete, then the old ❓ on the menu: no Help and menu for a deleted
    worker; "🧹 Remove my messages here" clears what the chat still shows."""
    await make_worker(app.sessions, 3107, locale="bn")
    worker = app.user(3107, language_code="bn")
    await worker.send("/menu")
    menu = await worker.wait_reply()
    await worker.send("/delete")
    await worker.wait_reply()
    await worker.tap(t("🗑 Yes, delete my data", "bn"))
    gone = await worker.wait_reply()
    assert gone.buttons() == [t("🧹 Remove my messages here", "bn")]
    await worker.wait_idle()
    assert await _user(app, 3107) is None

    await worker.tap(t("❓ Help", "bn"), message=menu)
    again = await worker.wait_reply()
    assert again.plain_text() == t("Choose your language:", "bn")
    with use_locale("bn"):
        assert help_text() not in [m.text for m in worker.messages]

    await worker.tap(t("🧹 Remove my messages here", "bn"), message=gone)
    done = await worker.wait_reply(contains=t("🧹 Done.", "bn"))
    assert done.buttons() == []
    await worker.wait_idle()
    assert _visible(app.telegram, 3107) == ([done.plain_text()], [])
    await worker.tap_data(MenuCallback(action=MenuAction.PRIVACY).pack())
    assert (await worker.wait_reply()).plain_text() == t("Choose your language:", "bn")


# --- the trail itself ------------------------------------------------------------------------


async def test_the_memory_trail_forgets_after_48_hours() -> None:
    now = [1000.0]
    trail = chat_trail.MemoryTrail(clock=lambda: now[0])
    await trail.add(1, 10)
    now[0] += 47 * 3600
    await trail.add(1, 11)
    assert await trail.ids(1) == [10, 11]
    now[0] += 2 * 3600
    assert await trail.ids(1) == [11]
    await trail.drop(1, [11])
    assert await trail.ids(1) == [] and trail.chats == 0


async def test_the_redis_trail_keeps_ids_with_a_ttl(redis_url: str, redis_prefix: str) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    trail = chat_trail.RedisTrail(redis, prefix=redis_prefix)
    try:
        await trail.add(5, 3)
        await trail.add(5, 1)
        assert await trail.ids(5) == [1, 3]
        ttl = await redis.ttl(f"{redis_prefix}:5")
        assert 0 < ttl <= chat_trail.KEEP_SECONDS
        await trail.drop(5, [1])
        assert await trail.ids(5) == [3]
        await trail.drop(5)
        assert await trail.ids(5) == []
    finally:
        await redis.aclose()


async def test_delete_all_sends_batches_of_100_and_ignores_failures(app: BotHarness) -> None:
    app.user(3108)
    for message_id in range(1, 251):
        await chat_trail.remember(3108, message_id)
    assert await chat_trail.delete_all(app.bot, 3108) == 250
    sizes = [len(p["message_ids"]) for m, p in app.telegram.calls if m == "deleteMessages"]
    assert sizes == [100, 100, 50]  # none of these ids exist: Telegram skips them, so do we
    assert await chat_trail.store().ids(3108) == []


async def test_the_simulator_page_hides_what_the_bot_deleted() -> None:
    from workvoice.demo.run import Phones

    telegram = FakeTelegram()
    phones = Phones(telegram)
    phone = phones.create(language_code="en")
    await phone.send("my secret")
    version = phone.version
    assert [e.get("text") for e in phone.transcript()] == ["my secret"]
    await telegram._m_deletemessages(
        {"chat_id": phone.id, "message_ids": [phone.user.last_message_id]}
    )
    assert phone.transcript() == [] and phone.version != version
