"""The committee review findings replayed through the fake Telegram API (transcript-km.txt §8): the
RSVP marks the reminder in place on one answer a row (B16, B11), the agenda item, the minutes and
the action item are wizards with Cancel, /cancel and re-asked steps and end on 🏠 only (B2, B15),
an invitation of another factory is refused (B16), and due dates are buttons or typed the local
way on the factory's calendar (B16)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.flows.committees import dates
from bot.i18n import gettext
from bot.i18n.languages import LANGUAGES
from bot.storage.committees import ActionItem, AgendaItem, CommitteeMember, Meeting
from bot.storage.db import transaction
from bot.storage.models import Factory
from services.committees import members
from tests.factories import make_factory, make_worker
from tests.harness import BotHarness
from tests.telegram_fake import FakeUser
from tests.test_committees_flow import FIRST, START, make_picc, run_job


def t(message: str, locale: str = "en", **params: object) -> str:
    return gettext(message, locale=locale, **params)


HOME = "🏠 Main menu"
CLOSED = (
    "This conversation was closed: it ended, or it was left for a long time and deleted to keep "
    "you safe. Please start again from the menu."
)


async def test_rsvp_marks_the_reminder_instead_of_piling_up_messages(app: BotHarness) -> None:
    with time_machine.travel(START, tick=False):
        await make_picc(app)
    worker = app.user(7001, language_code="km")
    await run_job(app, FIRST - timedelta(days=3))
    reminder = worker.last
    yes, no = t("✅ I will come", "km"), t("❌ I cannot come", "km")
    # B11: one answer a row, so "❌ I cannot come" is never cut on a 360 dp phone.
    rows = reminder.reply_markup["inline_keyboard"]
    assert [len(row) for row in rows] == [1, 1, 1, 1]

    # km §8: she taps yes, then changes to no. Before, each tap added a message and a toast.
    sent_before = sum(m.method == "sendMessage" for m in worker.messages)
    await worker.tap(yes)
    await worker.wait_button(yes + " ✓")
    await worker.tap(no, message=worker.last)
    shown = await worker.wait_button(no + " ✓")
    assert shown.message_id == reminder.message_id  # the reminder itself, edited
    assert yes in shown.buttons() and yes + " ✓" not in shown.buttons()  # one answer marked
    await worker.wait_idle()
    assert sum(m.method == "sendMessage" for m in worker.messages) == sent_before  # no pile-up

    # The committee page and the next reminder show the answer she gave.
    await worker.send("/committee")
    page = await worker.wait_reply()
    assert no + " ✓" in page.buttons()
    await run_job(app, FIRST - timedelta(days=1))
    assert no + " ✓" in worker.last.buttons()


async def test_the_agenda_item_is_a_wizard_with_cancel_and_ends_on_home(app: BotHarness) -> None:
    with time_machine.travel(START, tick=False):
        await make_picc(app)
    worker = app.user(7001, language_code="km")
    await run_job(app, FIRST - timedelta(days=3))
    add, cancel = t("📝 Add to the agenda", "km"), t("✖️ Cancel", "km")
    prompt_text = t("What should the committee talk about? Type it in one message.", "km")

    await worker.tap(add)
    prompt = await worker.wait_reply(contains=prompt_text)
    assert prompt.buttons() == [cancel]  # B2: a way out of a "type …" prompt
    await worker.send_sticker()  # not an agenda item: said so, the step is asked again
    await worker.wait_reply(contains=t("Please type the agenda item as text.", "km"))
    await worker.wait_reply(contains=prompt_text)
    await worker.send("/cancel")
    await worker.wait_reply(contains=t("Nothing was added to the agenda.", "km"))

    await worker.tap(add, message=next(m for m in worker.messages if add in m.buttons()))
    await worker.wait_reply(contains=prompt_text)
    await worker.send("Drinking water on 3rd floor")
    done = await worker.wait_reply(contains=t("Added to the agenda. Thank you.", "km"))
    assert done.buttons() == [t(HOME, "km")]  # B15: just 🏠, not the whole menu
    await worker.wait_idle()
    await worker.send("Drinking water on 3rd floor")  # the step is over: chat, not a second item
    await worker.wait_idle()
    async with app.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(AgendaItem)) == 1

    # A button of the agenda step after it ended: the conversation is said to be closed.
    await worker.tap(cancel, message=prompt)
    await worker.wait_reply(contains=t(CLOSED, "km"))


async def _bd_invite(app: BotHarness) -> str:
    """The Dhaka factory's committee and an invitation to it (km §8 used this code)."""
    factory = await make_factory(app.sessions, "DK-01", country="BD", timezone="Asia/Dhaka")
    async with transaction(app.sessions) as session:
        here = await session.get(Factory, factory.id)
        assert here is not None
        committee = await members.do_create_committee(
            session, here, kind="pc", name="Participation Committee", actor=None
        )
        invite = await members.do_create_invite(session, committee, side="worker", actor=None)
        return invite.code


async def test_an_invitation_of_another_factory_is_refused(app: BotHarness) -> None:
    code = await _bd_invite(app)
    await make_factory(app.sessions, "KH-01", country="KH", timezone="Asia/Phnom_Penh")
    await make_worker(app.sessions, 7101, locale="km", factory_code="KH-01", country="KH")
    worker = app.user(7101, language_code="km")
    code_prompt = t(
        "You are not on a committee yet. If you have an invitation code, type it here.", "km"
    )

    # km §8: a Phnom Penh worker types the Dhaka committee's code. It used to work.
    await worker.send("/committee")
    await worker.wait_reply(contains=code_prompt)
    await worker.send(code.lower())
    await worker.wait_reply(contains=t(members.OtherFactory.message, "km"))
    await worker.wait_reply(contains=code_prompt)  # still on the code step
    await worker.send("/cancel")
    await worker.wait_reply()
    await worker.send(f"/start c_{code}")
    refused = await worker.wait_reply(contains=t(members.OtherFactory.message, "km"))
    assert refused.buttons() == [t(HOME, "km")]
    await worker.wait_idle()
    async with app.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(CommitteeMember)) == 0

    # A worker with no factory is asked to link it first, with the button to do it (B1).
    await make_worker(app.sessions, 7102, locale="km", factory_code=None)
    lone = app.user(7102, language_code="km")
    link = t("🏭 Link my factory", "km")
    for ask in ("/committee", f"/start c_{code}"):
        await lone.send(ask)
        shown = await lone.wait_reply(contains=t(members.NoFactory.message, "km"))
        assert shown.buttons() == [link, t(HOME, "km")]


async def test_the_minutes_can_be_cancelled_and_nothing_is_sent(app: BotHarness) -> None:
    with time_machine.travel(START, tick=False):
        await make_picc(app)
    secretary = app.user(7002, language_code="km")
    with time_machine.travel(FIRST + timedelta(hours=4), tick=True):
        await secretary.send("/committee")
        await secretary.wait_reply()
        await secretary.tap(t("📄 Write minutes", "km"))
        prompt = await secretary.wait_reply()
        assert t("✖️ Cancel", "km") in prompt.buttons()
        await secretary.tap(t("✖️ Cancel", "km"))
        await secretary.wait_reply(contains=t("The minutes were not sent. Nothing was kept.", "km"))
        await secretary.send("These are not minutes any more.")
        await secretary.wait_idle()
        assert await app.deliver() == 0
    async with app.sessions() as s:
        assert await s.scalar(select(Meeting).where(Meeting.minutes.is_not(None))) is None


async def _open_action(secretary: FakeUser, what: str) -> None:
    await secretary.send("/committee")
    await secretary.wait_reply()
    await secretary.tap(t("➕ Action item", "km"))
    await secretary.wait_reply()
    await secretary.send(what)
    await secretary.wait_reply(contains=t("Who will do it?", "km"))
    await secretary.tap("Member 7005")


async def test_due_dates_by_buttons_or_typed_the_local_way(app: BotHarness) -> None:
    with time_machine.travel(START, tick=False):
        await make_picc(app)
    secretary = app.user(7002, language_code="km")
    # 23:30 UTC on 5 Jan is already 6 Jan in Phnom Penh: the factory's calendar counts.
    late = datetime(2027, 1, 5, 23, 30, tzinfo=UTC)
    example = dates.example(date(2027, 1, 20), "km")
    by_when = t("By when? Tap one, or type a date like {example}.", "km", example=example)
    with time_machine.travel(late, tick=True):
        # B16: ISO only was hard; a button for the end of the month (on Phnom Penh's calendar).
        await _open_action(secretary, "Fix the fire exit lock")
        due = await secretary.wait_reply(contains=by_when)
        assert t("End of this month", "km") in due.buttons()
        assert t("⬅️ Back", "km") in due.buttons()
        await secretary.tap(t("⬅️ Back", "km"))
        await secretary.wait_reply(contains=t("Who will do it?", "km"))
        await secretary.tap("Member 7005")
        await secretary.wait_reply(contains=by_when)
        await secretary.tap(t("End of this month", "km"))
        saved = await secretary.wait_reply()
        assert saved.buttons() == [t(HOME, "km")]
        await secretary.wait_idle()

        # Typed the Khmer way (day/month/year, Khmer digits), and words it cannot read.
        await _open_action(secretary, "Order a water filter")
        await secretary.wait_reply(contains=by_when)
        await secretary.send("next friday")
        await secretary.wait_reply(
            contains=t("Please type a date from today on, like {example}.", "km", example=example)
        )
        await secretary.wait_reply(contains=by_when)
        await secretary.send("១៩/១/២០២៧")
        await secretary.wait_reply(contains="Member 7005")
        await secretary.wait_idle()
    async with app.sessions() as s:
        due_dates = [
            a.due_on for a in (await s.scalars(select(ActionItem).order_by(ActionItem.id)))
        ]
    assert due_dates == ["2027-01-31", "2027-01-19"]


TODAY = date(2027, 1, 6)


@settings(max_examples=200, deadline=None)
@given(
    day=st.dates(min_value=TODAY, max_value=date(2099, 12, 31)),
    locale=st.sampled_from(sorted(LANGUAGES)),
)
def test_a_date_written_as_the_example_shows_it_reads_back(day: date, locale: str) -> None:
    assert dates.parse_due(dates.example(day, locale), TODAY, locale) == day
    assert dates.parse_due(day.isoformat(), TODAY, locale) == day


@given(text=st.text(max_size=30))
def test_anything_typed_is_a_date_from_today_or_a_clear_error(text: str) -> None:
    try:
        found = dates.parse_due(text, TODAY, "bn")
    except dates.BadDate as exc:
        assert "{" not in exc.translated("bn")
    else:
        assert found >= TODAY
