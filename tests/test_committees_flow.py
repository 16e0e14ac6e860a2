"""A PICC in Cambodia through the fake Telegram API: monthly reminders in Khmer, Vietnamese and
English at the factory's local time, RSVPs, the chair's quorum warning, minutes and an action item
with its reminder, joining with an invitation link, and two replicas sending each reminder once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import func, select

from bot.i18n import format_time, gettext
from bot.storage.committees import ActionItem, Committee, CommitteeMember, Meeting, MeetingResponse
from bot.storage.db import transaction
from bot.storage.models import OutboxMessage
from services.committees import actions, jobs, meetings, members, participation, stats
from tests.factories import make_factory, make_worker
from tests.harness import BotHarness
from workvoice.context import AppContext

TZ = "Asia/Phnom_Penh"  # UTC+7, no daylight-saving time
START = datetime(2027, 1, 1, 3, 0, tzinfo=UTC)  # before the first meeting: Tue 5 Jan 2027, 14:00
FIRST = datetime(2027, 1, 5, 7, 0, tzinfo=UTC)  # 14:00 in Phnom Penh
# (telegram id, locale, side, role, gender)
PEOPLE = [
    (7001, "km", "worker", "member", "woman"),
    (7002, "km", "worker", "secretary", "woman"),
    (7003, "vi", "worker", "member", "man"),
    (7004, "vi", "management", "member", "woman"),
    (7005, "en", "management", "chair", "man"),
    (7006, "en", "management", "member", "man"),
]


def ctx_of(app: BotHarness) -> AppContext:
    return AppContext(settings=app.settings, engine=None, sessions=app.sessions)  # type: ignore[arg-type]


async def make_picc(app: BotHarness) -> tuple[int, dict[int, int]]:
    """The committee, its six seats (telegram id → seat id) and a monthly schedule."""
    factory = await make_factory(app.sessions, "KH-01", country="KH", timezone=TZ)
    seats = {}
    for telegram_id, locale, *_ in PEOPLE:
        await make_worker(app.sessions, telegram_id, locale=locale, factory_code="KH-01")
    async with transaction(app.sessions) as session:
        committee = await members.do_create_committee(
            session, factory, kind="picc", name="PICC Phnom Penh", actor=None
        )
        for telegram_id, _locale, side, role, gender in PEOPLE:
            from services.onboarding import get_user

            user = await get_user(session, telegram_id)
            assert user is not None
            member = await members.do_add_member(
                session,
                committee,
                display_name=f"Member {telegram_id}",
                side=side,
                role=role,
                gender=gender,
                user_id=user.id,
                actor=None,
            )
            seats[telegram_id] = member.id
        result = await meetings.do_set_schedule(
            session,
            committee,
            rule="FREQ=MONTHLY;BYDAY=1TU",
            local_start="2027-01-05T14:00",
            location="Meeting room 2",
            actor=None,
            now=START,
        )
        assert result.meetings == 2 and result.ambiguous == []  # 5 Jan and 2 Feb within 60 days
        return committee.id, seats


async def run_job(app: BotHarness, at: datetime) -> int:
    """The scheduler job at ``at``, then the delivery loop at the same moment: messages sent."""
    with time_machine.travel(at, tick=False):
        await jobs.run_committees(ctx_of(app), now=at)
        return await app.deliver()


async def test_picc_reminders_rsvp_quorum_minutes_and_actions(app: BotHarness) -> None:
    with time_machine.travel(START, tick=False):
        committee_id, seats = await make_picc(app)
    users = {tid: app.user(tid, language_code=loc) for tid, loc, *_ in PEOPLE}

    # Three days before, every member gets the reminder in their language at 14:00 local time.
    assert await run_job(app, FIRST - timedelta(days=3)) == 6
    for telegram_id, locale, *_ in PEOPLE:
        message = users[telegram_id].messages[-1]
        text = message.plain_text()
        assert gettext("Will you come?", locale=locale) in text, text
        assert format_time(FIRST, tz=TZ, locale=locale) in text, text
        assert "Meeting room 2" in text
        assert gettext("✅ I will come", locale=locale) in message.buttons()
    assert gettext("Will you come?", locale="km") != "Will you come?"  # really translated

    # Running again (or late) sends nothing more.
    assert await run_job(app, FIRST - timedelta(days=3) + timedelta(minutes=5)) == 0

    # Two members say yes, one no; a worker adds an agenda item.
    # Each answer marks its button on the reminder itself (B16): see test_committees_wizards_flow.
    await users[7001].tap(gettext("✅ I will come", locale="km"))
    await users[7001].wait_button(gettext("✅ I will come", locale="km") + " ✓")
    await users[7005].tap("✅ I will come")
    await users[7005].wait_button("✅ I will come ✓")
    await users[7003].tap(gettext("❌ I cannot come", locale="vi"))
    await users[7003].wait_button(gettext("❌ I cannot come", locale="vi") + " ✓")
    await users[7001].tap(gettext("📝 Add to the agenda", locale="km"))
    await users[7001].wait_reply()
    await users[7001].send("Drinking water on floor 3")
    await users[7001].wait_reply(contains=gettext("Added to the agenda. Thank you.", locale="km"))
    async with app.sessions() as s:
        answers = dict(
            (
                await s.execute(
                    select(MeetingResponse.rsvp, func.count()).group_by(MeetingResponse.rsvp)
                )
            ).all()
        )
        assert answers == {"yes": 2, "no": 1}

    # One day before: the 1-day reminder (with the agenda so far) and the chair's quorum warning.
    assert await run_job(app, FIRST - timedelta(days=1)) == 7  # six reminders, one warning
    assert "Drinking water on floor 3" in users[7004].messages[-1].plain_text()
    chair_texts = [m.plain_text() for m in users[7005].messages]
    assert any("too few members have confirmed" in t for t in chair_texts), chair_texts
    warning = next(t for t in chair_texts if "too few members" in t)
    assert "Workers: 1 of 2 needed" in warning and "Management: 1 of 2 needed" in warning
    assert not any("too few" in m.plain_text() for m in users[7006].messages)  # chair only

    # After the meeting: the secretary's minutes and an action item (console or service).
    after = FIRST + timedelta(hours=3)
    with time_machine.travel(after, tick=False):
        async with transaction(app.sessions) as session:
            meeting = await session.scalar(select(Meeting).where(Meeting.starts_at == FIRST))
            assert meeting is not None
            await participation.do_record_attendance(
                session, meeting, {seats[7001], seats[7002], seats[7005], seats[7006]}, actor=None
            )
            await participation.do_post_minutes(
                session, meeting, "Water fixed by Friday.", actor=None
            )
            committee = await session.get(Committee, committee_id)
            assert committee is not None
            action = await actions.do_add_action(
                session,
                committee,
                text="Install a water filter on floor 3",
                owner_member_id=seats[7002],
                due_on="2027-01-12",
                meeting_id=meeting.id,
                actor=None,
                now=after,
            )
        await app.deliver()
    assert "Water fixed by Friday." in users[7003].messages[-1].plain_text()
    owner_last = users[7002].messages[-1]
    assert "Install a water filter" in owner_last.plain_text()

    # The owner is reminded the day before it is due, at 09:00 factory time, and marks it done.
    assert await run_job(app, datetime(2027, 1, 11, 2, 0, tzinfo=UTC)) == 1
    reminder = users[7002].messages[-1]
    assert (
        gettext(
            "⏰ <b>{committee}</b>: your action is due soon.",
            locale="km",
            committee="PICC Phnom Penh",
        )
        .replace("<b>", "")
        .replace("</b>", "")
        in reminder.plain_text()
    )
    await users[7002].tap(gettext("✅ Mark as done", locale="km"), message=reminder)
    await users[7002].wait_idle()
    async with app.sessions() as s:
        assert await actions.open_actions(s, committee_id) == []
        figures = (await stats.committee_stats(s, [committee_id], now=after))[committee_id]
        assert (figures.planned, figures.held, figures.attended, figures.expected) == (1, 1, 4, 6)
        assert figures.women_share == 2 / 3
        del action


async def test_two_replicas_send_each_reminder_once(app: BotHarness) -> None:
    with time_machine.travel(START, tick=False):
        await make_picc(app)
    users = [app.user(tid, language_code=loc) for tid, loc, *_ in PEOPLE]
    due = FIRST - timedelta(days=3)
    ctx = ctx_of(app)
    with time_machine.travel(due, tick=False):
        handled = await asyncio.gather(
            jobs.run_due(ctx, now=due, worker="replica-a"),
            jobs.run_due(ctx, now=due, worker="replica-b"),
        )
        assert sum(handled) == 1  # one due reminder task, claimed by exactly one replica
        assert await app.deliver() == 6
    for user in users:
        assert len(user.messages) == 1


async def test_late_restart_drops_reminders_for_meetings_that_began(app: BotHarness) -> None:
    with time_machine.travel(START, tick=False):
        await make_picc(app)
    # The scheduler was down for the whole week: nothing for the first meeting is sent late.
    late = FIRST + timedelta(minutes=1)
    assert await run_job(app, late) == 0
    async with app.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(OutboxMessage)) == 0


async def test_join_by_invite_link_and_the_chair_approves(app: BotHarness) -> None:
    with time_machine.travel(START, tick=False):
        committee_id, _seats = await make_picc(app)
    chair = app.user(7005)
    async with transaction(app.sessions) as session:
        committee = await session.get(Committee, committee_id)
        assert committee is not None
        invite = await members.do_create_invite(session, committee, side="worker", actor=None)
        code = invite.code
    await make_worker(app.sessions, 7010, locale="km", factory_code="KH-01", gender="woman")
    newcomer = app.user(7010, language_code="km")
    await newcomer.send(f"/start c_{code}")
    await newcomer.wait_reply(contains="PICC Phnom Penh")
    await newcomer.send("Sokha")
    await newcomer.wait_reply()
    await newcomer.wait_idle()  # the reply leaves before the update's transaction commits
    await app.deliver()
    request = chair.messages[-1]
    assert "Sokha asks to join" in request.plain_text()
    await chair.tap("✅ Approve", message=request)
    await chair.wait_idle()
    await app.deliver()
    assert "PICC Phnom Penh" in newcomer.messages[-1].plain_text()
    async with app.sessions() as s:
        seat = await s.scalar(
            select(CommitteeMember).where(CommitteeMember.display_name == "Sokha")
        )
        assert seat is not None and (seat.status, seat.side, seat.gender) == (
            "active",
            "worker",
            "woman",
        )


async def test_bad_input_gets_clear_messages(app: BotHarness) -> None:
    with time_machine.travel(START, tick=False):
        committee_id, _seats = await make_picc(app)
    member = app.user(7003, language_code="vi")
    async with transaction(app.sessions) as session:
        committee = await session.get(Committee, committee_id)
        assert committee is not None
        invite = await members.do_create_invite(session, committee, side="worker", actor=None)
        invite.expires_at = datetime.now(UTC) - timedelta(minutes=1)
        code = invite.code
    await make_worker(app.sessions, 7020, locale="vi", factory_code="KH-01")
    worker = app.user(7020, language_code="vi")
    await worker.send(f"/start c_{code}")
    await worker.wait_reply(contains=gettext(members.InviteExpired.message, locale="vi"))
    await worker.send("/start c_NOSUCH")
    await worker.wait_reply(contains=gettext(members.UnknownInvite.message, locale="vi"))

    # An RSVP button on a cancelled meeting answers clearly instead of failing.
    await run_job(app, FIRST - timedelta(days=3))
    reminder = member.messages[-1]
    async with transaction(app.sessions) as session:
        meeting = await session.scalar(select(Meeting).where(Meeting.starts_at == FIRST))
        assert meeting is not None
        await meetings.do_cancel_meeting(session, meeting, actor=None)
    await app.deliver()
    cancelled = (
        gettext(
            "❗ <b>{committee}</b>: the meeting on {when} is cancelled.",
            locale="vi",
            committee="X",
            when="Y",
        )
        .split("X")[0]
        .replace("<b>", "")
    )
    assert cancelled in member.messages[-1].plain_text()
    await member.tap(gettext("✅ I will come", locale="vi"), message=reminder)
    await member.wait_idle()
    closed = gettext(members.MeetingClosed.message, locale="vi")
    for _ in range(20):
        if member.answered_callbacks:
            break
        await asyncio.sleep(0.05)
    assert member.answered_callbacks[-1]["text"] == closed


async def test_the_secretary_writes_minutes_in_the_bot(app: BotHarness) -> None:
    with time_machine.travel(START, tick=False):
        await make_picc(app)
    secretary = app.user(7002, language_code="km")
    member = app.user(7006)
    after = FIRST + timedelta(hours=4)
    with time_machine.travel(after, tick=True):
        await secretary.send("/committee")
        await secretary.wait_reply()
        await secretary.tap(gettext("📄 Write minutes", locale="km"))
        await secretary.wait_reply()
        await secretary.send("Water filter agreed. Next: canteen.")
        await secretary.wait_reply(
            contains=gettext("Thank you. The minutes were sent to all members.", locale="km")
        )
        await secretary.wait_idle()
        assert await app.deliver() == 6
    assert "Water filter agreed. Next: canteen." in member.messages[-1].plain_text()
    # Other members have no such button.
    await member.send("/committee")
    page = await member.wait_reply()
    assert "📄 Write minutes" not in page.buttons()


async def test_the_secretary_sends_the_minutes_as_a_file(app: BotHarness) -> None:
    with time_machine.travel(START, tick=False):
        await make_picc(app)
    secretary = app.user(7002, language_code="km")
    member = app.user(7006)
    with time_machine.travel(FIRST + timedelta(hours=4), tick=True):
        await secretary.send("/committee")
        await secretary.wait_reply()
        await secretary.tap(gettext("📄 Write minutes", locale="km"))
        await secretary.wait_reply()
        await secretary.send_sticker()  # not minutes: asked again, nothing lost
        await secretary.wait_reply(
            contains=gettext(
                "Please type the minutes as text, or send them as a file.", locale="km"
            )
        )
        await secretary.send_document(file_name="minutes-jan.pdf", content=b"%PDF-1.4 minutes")
        await secretary.wait_reply(
            contains=gettext("Thank you. The minutes were sent to all members.", locale="km")
        )
        await secretary.wait_idle()
        assert await app.deliver() == 6
    async with app.sessions() as s:
        meeting = await s.scalar(select(Meeting).where(Meeting.minutes_document.is_not(None)))
    assert meeting is not None and meeting.minutes_document_name == "minutes-jan.pdf"
    # Members get the very file the secretary sent (by Telegram's file id), with a heading.
    sent = [m for m in member.messages if m.method == "sendDocument"]
    assert len(sent) == 1 and sent[0].document == meeting.minutes_document.encode()
    assert "minutes of the meeting" in (sent[0].text or "")


async def test_the_secretary_adds_an_action_item_in_the_bot(app: BotHarness) -> None:
    with time_machine.travel(START, tick=False):
        _committee_id, seats = await make_picc(app)
    secretary = app.user(7002, language_code="km")
    owner = app.user(7005)
    km = lambda message, **kw: gettext(message, locale="km", **kw)  # noqa: E731
    with time_machine.travel(FIRST + timedelta(hours=4), tick=True):
        await secretary.send("/committee")
        await secretary.wait_reply()
        await secretary.tap(km("➕ Action item"))
        await secretary.wait_reply(
            contains=km("What needs to be done? Type it in one short message.")
        )
        await secretary.send("x" * 501)  # too long: asked again, nothing saved
        await secretary.wait_reply(
            contains=km("Please keep it under {limit} characters.", limit=500)
        )
        await secretary.wait_reply(
            contains=km("What needs to be done? Type it in one short message.")
        )
        await secretary.send("Fix the fire exit lock on floor 2")
        await secretary.wait_reply(contains=km("Who will do it?"))
        await secretary.tap("Member 7005")
        await secretary.wait_reply(  # two weeks ahead on Phnom Penh's calendar
            contains=km("By when? Tap one, or type a date like {example}.", example="19/1/2027")
        )
        await secretary.send("2026-01-01")  # in the past
        await secretary.wait_reply(
            contains=km("Please type a date from today on, like {example}.", example="19/1/2027")
        )
        await secretary.wait_reply(
            contains=km("By when? Tap one, or type a date like {example}.", example="19/1/2027")
        )
        await secretary.tap(km("In 1 week"))
        done = await secretary.wait_reply()
        assert "Member 7005" in done.plain_text()
        await secretary.wait_idle()
        await app.deliver()
    async with app.sessions() as s:
        action = (await s.scalars(select(ActionItem))).one()
    assert action.owner_member_id == seats[7005] and action.due_on == "2027-01-12"
    assert "Fix the fire exit lock on floor 2" in owner.messages[-1].plain_text()


async def test_reminders_are_queued_a_minute_ahead_and_leave_at_their_time(
    app: BotHarness,
) -> None:
    with time_machine.travel(START, tick=False):
        await make_picc(app)
    for telegram_id, locale, *_ in PEOPLE:
        app.user(telegram_id, language_code=locale)
    due = FIRST - timedelta(days=3)
    # Half a minute early: the six reminders wait in the outbox, none is sent yet.
    assert await run_job(app, due - timedelta(seconds=30)) == 0
    async with app.sessions() as s:
        queued = (
            await s.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == "committees.reminder")
            )
        ).all()
    assert len(queued) == 6 and {m.due_at for m in queued} == {due}
    assert all(m.status == "pending" for m in queued)
    # At their time they leave, once.
    assert await run_job(app, due) == 6
    assert await run_job(app, due + timedelta(seconds=5)) == 0
