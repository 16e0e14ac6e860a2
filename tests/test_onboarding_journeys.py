"""Onboarding and the worker's everyday controls, replaying the review's transcripts (issue 16,
shared/reviews/worker-journeys/): the worker who does not know the factory code (B1,
transcript-edge §A), a committee link opened before onboarding (§1), /start and 🏠 in the middle of
a report (B2.2, transcript-bn §7), /help and /delete before onboarding (B18, transcript-edge §F)."""

from __future__ import annotations

from sqlalchemy import select

from bot.i18n import gettext
from bot.storage.db import transaction
from bot.storage.models import Factory, User
from services.committees import members
from tests import journeys
from tests.factories import make_factory, make_worker
from tests.harness import BotHarness
from tests.journeys import answer


def t(message: str, locale: str = "en", **params: object) -> str:
    return gettext(message, locale=locale, **params)


MENU_TEXT = "What would you like to do?"
GENDER = (
    "Two optional questions help us see if problems affect women and men differently. Your gender?"
)
FACTORY_PROMPT = (
    "Which factory do you work in? Type the factory code from the poster (for example DK-01)."
)
NOTHING_STORED = "There is nothing to delete: we keep nothing about you until you agree."
REFUSAL = (
    "Please link your factory first: open the link on the factory poster, "
    "or send /start and type the factory code."
)


async def _user(app: BotHarness, telegram_id: int) -> User | None:
    async with app.sessions() as s:
        return await s.scalar(select(User).where(User.telegram_id == telegram_id))


async def test_a_worker_without_the_code_links_her_factory_from_the_refusal(
    app: BotHarness,
) -> None:
    """B1, transcript-edge §A: Burmese worker, phone in English, plain /start, skips the code."""
    await make_factory(app.sessions, "DEMO-IR", country="JO", name="Irbid Apparel (demo)")
    worker = app.user(2101, language_code="en")
    await worker.send("/start")
    await worker.wait_reply(contains=t("Choose your language:"))
    await worker.tap("မြန်မာ")
    await worker.wait_reply()
    await worker.tap(t("✅ I agree", "my"))
    prompt = await worker.wait_reply(contains=t(FACTORY_PROMPT, "my"))
    assert t("I don't know the code", "my") in prompt.buttons()
    assert t("✖️ Cancel", "my") in prompt.buttons()
    await worker.wait_idle()

    await worker.send("DK01")
    await worker.wait_reply(contains="DK01")
    again = await worker.wait_reply(contains=t(FACTORY_PROMPT, "my"))  # still on the code step
    await worker.tap(t("I don't know the code", "my"), message=again)
    gender = await worker.wait_reply(contains=t(GENDER, "my"))
    assert t("⬅️ Back", "my") in gender.buttons()
    await worker.tap(t("Prefer not to say", "my"))
    await worker.wait_reply(contains=t("How old are you?", "my"))
    await worker.tap(t("Prefer not to say", "my"))
    await worker.wait_reply(contains=t(MENU_TEXT, "my"))
    await worker.wait_idle()

    # 📣 Report: the refusal now carries the way out instead of a loop back to /start.
    await worker.tap(t("📣 Report a problem", "my"))
    refusal = await worker.wait_reply(contains=t(REFUSAL, "my"))
    assert refusal.buttons() == [t("🏭 Link my factory", "my"), t("🏠 Main menu", "my")]
    await worker.tap(t("🏭 Link my factory", "my"))
    typed = await worker.wait_reply()
    assert t("✖️ Cancel", "my") in typed.buttons() and t("🏠 Main menu", "my") in typed.buttons()
    await worker.send("DEMO-IR")
    await worker.wait_reply(
        contains=t("You are now linked to {factory}.", "my", factory="Irbid Apparel (demo)")
    )
    menu = await worker.wait_reply(contains=t(MENU_TEXT, "my"))
    assert t("📣 Report a problem", "my") in menu.buttons()
    await worker.wait_idle()
    user = await _user(app, 2101)
    assert user is not None and user.factory is not None and user.factory.code == "DEMO-IR"

    await worker.tap(t("📣 Report a problem", "my"), message=menu)
    started = await worker.wait_reply()
    assert t(REFUSAL, "my") not in started.plain_text()


async def test_help_and_privacy_offer_the_factory_link_only_without_a_factory(
    app: BotHarness,
) -> None:
    await make_worker(app.sessions, 2102, locale="bn", factory_code=None)
    worker = app.user(2102, language_code="bn")
    for command in ("/help", "/privacy"):
        await worker.send(command)
        shown = await worker.wait_reply()
        assert t("🏭 Link my factory", "bn") in shown.buttons()
        assert shown.buttons()[-1] == t("🏠 Main menu", "bn")
    await make_worker(app.sessions, 2103, locale="bn")
    linked = app.user(2103, language_code="bn")
    await linked.send("/help")
    assert t("🏭 Link my factory", "bn") not in (await linked.wait_reply()).buttons()


async def test_link_my_factory_keeps_the_step_after_a_wrong_code_and_cancels(
    app: BotHarness,
) -> None:
    await make_worker(app.sessions, 2104, locale="en", factory_code=None)
    worker = app.user(2104)
    await worker.send("/help")
    await worker.wait_reply()
    await worker.tap("🏭 Link my factory")
    await worker.wait_reply(contains="Type the factory code")
    await worker.send("<b>nope")
    await worker.wait_reply(contains="No factory has the code <b>nope")
    await worker.wait_reply(contains="Type the factory code")
    await worker.tap("🏠 Main menu")
    await worker.wait_reply(contains=MENU_TEXT)
    await worker.wait_idle()
    await worker.send("DK-01")  # after 🏠 a code is just chat
    reply = await worker.wait_reply()
    assert "linked" not in reply.plain_text()

    await worker.tap("🏠 Main menu", message=reply)
    await worker.wait_reply(contains=MENU_TEXT)
    await worker.send("/help")
    await worker.wait_reply()
    await worker.tap("🏭 Link my factory")
    await worker.wait_reply(contains="Type the factory code")
    await worker.tap("✖️ Cancel")
    assert (await worker.wait_reply()).plain_text() == "No factory was linked."


async def test_onboarding_steps_have_back_and_cancel(app: BotHarness) -> None:
    await make_factory(app.sessions, "DK-01")
    worker = app.user(2105, language_code="bn")
    await journeys.join_in_bangla(worker)
    await worker.wait_reply(contains=t(GENDER, "bn"))
    await worker.tap(t("⬅️ Back", "bn"))
    await worker.wait_reply(contains=t(FACTORY_PROMPT, "bn"))
    await worker.tap(t("I don't know the code", "bn"))
    await worker.wait_reply(contains=t(GENDER, "bn"))
    await worker.tap(t("Woman", "bn"))
    ages = await worker.wait_reply(contains=t("How old are you?", "bn"))
    assert [len(row) for row in (ages.reply_markup or {})["inline_keyboard"]] == [3, 2, 1, 1, 1]
    await worker.tap(t("✖️ Cancel", "bn"))
    done = await worker.wait_reply()
    assert done.plain_text() == t(
        "That is fine: these questions are optional. The menu is ready for you.", "bn"
    )
    assert done.buttons() == [t("🏠 Main menu", "bn")]
    await worker.wait_idle()
    user = await _user(app, 2105)
    assert user is not None and user.onboarded and user.gender == "woman"
    assert user.factory_id is not None  # linked before Back: going back does not unlink


async def _committee_invite(app: BotHarness) -> str:
    factory = await make_factory(app.sessions, "KH-01", country="KH", timezone="Asia/Phnom_Penh")
    async with transaction(app.sessions) as session:
        here = await session.get(Factory, factory.id)
        assert here is not None
        committee = await members.do_create_committee(
            session, here, kind="picc", name="PICC Phnom Penh", actor=None
        )
        invite = await members.do_create_invite(session, committee, side="worker", actor=None)
        return invite.code


async def test_a_committee_link_opened_before_onboarding_opens_after_it(app: BotHarness) -> None:
    """§1: instead of "Please open the invitation link you used once more", the name step."""
    code = await _committee_invite(app)
    worker = app.user(2106, language_code="km")
    await worker.send(f"/start c_{code}")
    await worker.wait_reply()
    await worker.tap("ខ្មែរ")
    await worker.wait_reply()
    await worker.tap(t("✅ I agree", "km"))
    await worker.wait_reply(contains="DK-01")
    await worker.wait_idle()
    await worker.send("KH-01")
    await worker.wait_reply(contains=t(GENDER, "km"))
    await worker.tap(t("Woman", "km"))
    await worker.wait_reply(contains=t("How old are you?", "km"))
    await worker.tap(t("Prefer not to say", "km"))
    await worker.wait_reply(contains=t("Thank you. You are all set.", "km"))
    name_step = await worker.wait_reply(contains="PICC Phnom Penh")
    assert t("✖️ Cancel", "km") in name_step.buttons()
    shown = [m.plain_text() for m in await worker.wait_idle()]
    assert t("Please open the invitation link you used once more to continue.", "km") not in shown
    await worker.send("Sokha")
    await worker.wait_reply(
        contains=t(
            "Thank you. The committee chair will confirm you soon. We will tell you here.", "km"
        )
    )


async def test_start_and_home_end_the_report_the_worker_was_in(app: BotHarness) -> None:
    """B2.2, transcript-bn §7: /start (or 🏠) in the middle of a report, then text: the text is
    not swallowed by the report ("Please use the buttons above, or tap Cancel.")."""
    await make_worker(app.sessions, 2107, locale="bn")
    worker = app.user(2107, language_code="bn")
    await worker.send("/frobnicate")
    hint = await worker.wait_reply()
    assert hint.buttons() == [t("🏠 Main menu", "bn")]  # B15: just 🏠 under a hint
    for leave in ("/start", "🏠"):
        await worker.send("/report")
        await worker.wait_reply()  # danger now? (the first question)
        await worker.tap(answer("No", "bn"))
        await worker.wait_reply(contains=t("What is the problem about?", "bn"))
        await worker.tap(t("Safety and health", "bn"))
        await worker.wait_reply(contains=t("What happened?", "bn"))
        await worker.wait_idle()
        if leave == "/start":
            await worker.send("/start")
        else:
            await worker.tap(t("🏠 Main menu", "bn"), message=hint)
        await worker.wait_reply(contains=t(MENU_TEXT, "bn"))
        await worker.wait_idle()
        await worker.send("the fire exit is locked")
        reply = await worker.wait_reply()
        assert reply.plain_text() == t(
            "I did not understand that. Please use the buttons below.", "bn"
        )


async def test_help_and_delete_before_onboarding(app: BotHarness) -> None:
    """B18, transcript-edge §F: no full menu, no delete confirmation for someone with no data."""
    worker = app.user(2108, language_code="am")
    await worker.send("/help")
    first = await worker.wait_reply()
    assert first.plain_text() == t("Choose your language:", "am")
    await worker.send("/delete")
    nothing = await worker.wait_reply()
    assert nothing.plain_text() == t(NOTHING_STORED, "am")
    assert t("🗑 Yes, delete my data", "am") not in nothing.buttons()
    await worker.wait_reply(contains=t("Choose your language:", "am"))
    await worker.tap("አማርኛ")
    await worker.wait_reply()
    await worker.send("/delete")  # a language chosen, no consent yet: still nothing to confirm
    await worker.wait_reply(contains=t(NOTHING_STORED, "am"))
    await worker.wait_idle()
    assert await _user(app, 2108) is None
    await worker.tap("አማርኛ")
    await worker.wait_reply()
    await worker.tap(t("✅ I agree", "am"))
    await worker.wait_reply(contains="DK-01")


async def test_a_poster_link_links_a_worker_who_is_set_up(app: BotHarness) -> None:
    """transcript-edge §A's way out before B1, now through the link registry: /start f_CODE."""
    await make_factory(app.sessions, "DEMO-IR", country="JO", name="Irbid Apparel (demo)")
    await make_worker(app.sessions, 2109, locale="ar", factory_code=None)
    worker = app.user(2109, language_code="ar")
    await worker.send("/start f_DEMO-IR")
    await worker.wait_reply(
        contains=t("You are now linked to {factory}.", "ar", factory="Irbid Apparel (demo)")
    )
    await worker.wait_reply(contains=t(MENU_TEXT, "ar"))
    await worker.wait_idle()
    user = await _user(app, 2109)
    assert user is not None and user.factory is not None and user.factory.code == "DEMO-IR"
    await worker.send("/start f_NOPE")
    error = await worker.wait_reply()
    assert "NOPE" in error.plain_text() and error.buttons() == [t("🏠 Main menu", "ar")]
    await worker.wait_idle()
