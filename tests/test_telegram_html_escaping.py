"""Issue 14, build item 8 (DESIGN §9: "use HTML parse mode and escape user text"): every place that
puts a worker's or a staff member's text into a Telegram message escapes it.

Hypothesis writes HTML-like strings (tags Telegram knows and tags it refuses, unbalanced tags,
entities known and unknown, a bare ``&`` or ``<``) into every field a worker or staff member
controls that reaches a message, drives each flow through the fake Telegram Bot API as a person
would, and then reads every ``sendMessage``/``editMessageText``/caption the bot sent: each must
parse as Telegram HTML (the fake refuses what Telegram refuses) and show the input literally.

Broadcast versions are written by organisers: the console promises "Write plain text: it is sent
exactly as typed", so they are held to the same rule as every other text.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.i18n import gettext
from bot.storage.db import transaction
from services.broadcasts import messages, topics
from services.broadcasts.messages import BroadcastInput
from services.broadcasts.topics import TopicInput
from services.committees import jobs, meetings, members
from services.scope import Scope
from tests import journeys
from tests.factories import make_factory, make_worker
from tests.harness import running_bot
from tests.surveys_data import SAMPLE, make_wave
from tests.telegram_fake import ApiError, FakeTelegram, visible_text
from workvoice.context import AppContext

# Pieces of HTML a person might type, or paste, or use to attack: tags Telegram allows (they would
# silently format the text), tags it refuses (the whole message would fail), unbalanced tags,
# known and unknown entities, and the bare characters that start them.
PIECES = [
    "<b>",
    "</b>",
    "</i>",
    "<i>x",
    '<a href="http://evil.example/?a=1&b=2">',
    "</a>",
    "<tg-spoiler>",
    "</tg-spoiler>",
    "<script>alert(1)</script>",
    "<br>",
    "<b",
    "< b>",
    "&amp;",
    "&lt;",
    "&#60;",
    "&#x3c;",
    "&nbsp;",
    "&copy",
    "&",
    "<",
    ">",
    '"',
    "'",
    "<<>>",
]
NASTY = '<b>bold</i> <a href="x">&amp; &nbsp; <tg-spoiler>&lt;<'
TEXT_METHODS = {"sendMessage", "editMessageText", "sendDocument", "sendPhoto", "sendVoice"}


def htmlish(prefix: str) -> st.SearchStrategy[str]:
    """A marker prefix (to find the field in a message) and HTML-like pieces, no edge whitespace."""
    word = st.text(alphabet="abcXYZ019", min_size=1, max_size=3)
    return st.lists(st.sampled_from(PIECES) | word, min_size=1, max_size=6).map(
        lambda parts: prefix + "".join(parts)
    )


def shown_texts(telegram: FakeTelegram) -> list[str]:
    """What readers saw: every text the bot sent, parsed as Telegram parses it.

    Fails, naming the message, when Telegram would have refused one (the fake answered 400: the
    worker got nothing) or when one was sent without HTML parse mode (then escaping would show
    ``&amp;`` to the reader instead).
    """
    seen = []
    for method, params in telegram.calls:
        if method not in TEXT_METHODS:
            continue
        text = params.get("text", params.get("caption"))
        if text is None:
            continue
        mode = params.get("parse_mode")
        assert str(mode).upper() == "HTML", f"{method} without HTML parse mode: {text!r}"
        try:
            seen.append(visible_text(str(text), mode))
        except ApiError as exc:  # pragma: no cover - this is the failure being tested for
            raise AssertionError(f"Telegram refuses {method}: {exc.description}\n{text!r}") from exc
    return seen


def assert_literal(telegram: FakeTelegram, values: dict[str, str], *, maybe: set[str]) -> None:
    """Each value is shown exactly as typed; those in ``maybe`` need not be shown at all (a flow
    may choose not to echo them), but if any part of one is shown, all of it is, literally."""
    seen = shown_texts(telegram)
    for field, value in values.items():
        prefix = value[:4]
        if any(value in text for text in seen) or value in "".join(seen):
            continue  # whole in one message, or split over consecutive ones (long texts)
        mangled = [text for text in seen if prefix in text]
        assert field in maybe and not mangled, (
            f"{field}={value!r} is not shown literally; messages with it: {mangled!r}"
        )


@pytest.fixture
async def sqlite_sessions(databases: dict[str, Any]) -> AsyncIterator[Any]:
    db = await databases["get"]("sqlite")
    yield db
    await db.clean()


@pytest.fixture
def _daytime() -> Iterator[None]:
    """13:00 in Dhaka: invitations and news go out at once (they wait for the day)."""
    now = datetime.now(UTC)
    with time_machine.travel(now.replace(hour=7, minute=0) + timedelta(days=1), tick=True):
        yield


SETTINGS = settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def t(message: str, **params: object) -> str:
    return gettext(message, locale="en", **params)


# --- onboarding: a worker's typed factory code, a factory's name from the console ---------------


@SETTINGS
@given(code=htmlish("ZqCd"), factory=htmlish("ZqFa"))
@example(code="ZqCd" + NASTY[:26], factory="ZqFa" + NASTY)
async def test_onboarding_echoes_typed_codes_and_factory_names_escaped(
    sqlite_sessions: Any, code: str, factory: str
) -> None:
    db = sqlite_sessions
    await db.clean()
    await make_factory(db.sessions, "DK-01", name=factory)
    async with running_bot(db.sessions) as app:
        worker = app.user(1100)
        await worker.send("/start")
        await worker.wait_reply()
        await worker.tap("English")
        await worker.wait_reply()
        await worker.tap(t("✅ I agree"))
        await worker.wait_idle()
        await worker.send(code)  # not a factory code: the refusal quotes it
        await worker.wait_reply()
        await worker.send("dk-01")
        await worker.wait_idle()
        # The same code in a poster link typed by hand: refused after consent, quoted back.
        linked = app.user(1101)
        await linked.send(f"/start f_{code}")
        await linked.wait_reply()
        await linked.tap("English")
        await linked.wait_reply()
        await linked.tap(t("✅ I agree"))
        await linked.wait_idle()
        assert any("ZqCd" in m.plain_text() for m in linked.messages), linked.transcript()
        assert_literal(
            app.telegram, {"typed code": code.strip()[:32], "factory": factory}, maybe=set()
        )


# --- reports: the worker's narrative and follow-up, the handler's message ------------------------


@SETTINGS
@given(story=htmlish("ZqSt"), followup=htmlish("ZqFu"), handler=htmlish("ZqHm"))
@example(story="ZqSt" + NASTY, followup="ZqFu" + NASTY, handler="ZqHm" + NASTY)
@example(story="ZqSt&", followup="ZqFu" + "&" * 1990, handler="ZqHm" + "<" * 1990)
async def test_report_words_and_handler_messages_are_shown_escaped(
    sqlite_sessions: Any, story: str, followup: str, handler: str, tmp_path: Any
) -> None:
    db = sqlite_sessions
    await db.clean()
    await make_worker(db.sessions, 4001)
    async with running_bot(db.sessions) as app:
        worker = app.user(4001)
        await journeys.start_report(worker, story)
        await journeys.report_to_review(worker, follow=journeys.IN_THIS_CHAT)
        receipt = journeys.receipt_digits(await journeys.send_report(worker))
        await journeys.handler_writes(app, handler, tmp_path)
        await app.deliver()
        await worker.tap(t("📬 Open"))  # the notice is neutral; the case opens with a PIN
        await worker.wait_reply()
        await worker.send(receipt[-4:])
        await worker.wait_reply()
        await worker.wait_idle()  # a long conversation comes in several messages
        await worker.tap(t("✍️ Write to the case handler"))
        await worker.wait_reply()
        await worker.send(followup)
        await worker.wait_reply(contains=t("Your message was sent to the case handler."))
        await worker.tap(t("🏠 Main menu"))
        await worker.wait_idle()
        await worker.send("/follow")
        await worker.wait_reply()
        await worker.send(receipt[-4:])
        await worker.wait_idle()
        # The bot may choose not to echo a reporter's own words back (issue 14: no bot-readable
        # copy), but whatever it shows of them is literal. The handler's words must be shown.
        assert_literal(
            app.telegram,
            {"narrative": story, "follow-up": followup, "handler message": handler},
            maybe={"narrative", "follow-up"},
        )


# --- committees: names, place, agenda typed by a member, minutes, actions, a joiner's name -------

TZ = "Asia/Phnom_Penh"
START = datetime(2027, 1, 1, 3, 0, tzinfo=UTC)
FIRST = datetime(2027, 1, 5, 7, 0, tzinfo=UTC)  # 14:00 in Phnom Penh


@SETTINGS
@given(
    name=htmlish("ZqCn"),
    member=htmlish("ZqMn"),
    place=htmlish("ZqPl"),
    agenda=htmlish("ZqAg"),
    minutes=htmlish("ZqMi"),
    action=htmlish("ZqAc"),
    joiner=htmlish("ZqJn"),
)
@example(
    name="ZqCn" + NASTY,
    member="ZqMn" + NASTY,
    place="ZqPl" + NASTY,
    agenda="ZqAg" + NASTY,
    minutes="ZqMi" + NASTY,
    action="ZqAc" + NASTY,
    joiner="ZqJn" + NASTY,
)
async def test_committee_texts_are_shown_escaped(
    sqlite_sessions: Any,
    name: str,
    member: str,
    place: str,
    agenda: str,
    minutes: str,
    action: str,
    joiner: str,
) -> None:
    db = sqlite_sessions
    await db.clean()
    with time_machine.travel(START, tick=False):
        factory = await make_factory(db.sessions, "KH-01", country="KH", timezone=TZ)
        seats = {}
        for telegram_id in (7001, 7002, 7005):
            await make_worker(db.sessions, telegram_id, factory_code=None)
        async with transaction(db.sessions) as session:
            from services.onboarding import get_user

            committee = await members.do_create_committee(
                session, factory, kind="picc", name=name, actor=None
            )
            for telegram_id, role, side in (
                (7001, "member", "worker"),
                (7002, "secretary", "worker"),
                (7005, "chair", "management"),
            ):
                user = await get_user(session, telegram_id)
                assert user is not None
                seat = await members.do_add_member(
                    session,
                    committee,
                    display_name=member if telegram_id == 7001 else f"Member {telegram_id}",
                    side=side,
                    role=role,
                    user_id=user.id,
                    actor=None,
                )
                seats[telegram_id] = seat.id
            await meetings.do_set_schedule(
                session,
                committee,
                rule="FREQ=MONTHLY;BYDAY=1TU",
                local_start="2027-01-05T14:00",
                location=place,
                actor=None,
                now=START,
            )
            invite = await members.do_create_invite(session, committee, side="worker", actor=None)
            committee_id, code = committee.id, invite.code
    async with running_bot(db.sessions) as app:
        ctx = AppContext(settings=app.settings, engine=None, sessions=app.sessions)  # type: ignore[arg-type]
        users = {tid: app.user(tid) for tid in (7001, 7002, 7005)}

        async def run_job(at: datetime) -> None:
            with time_machine.travel(at, tick=False):
                await jobs.run_committees(ctx, now=at)
                await app.deliver()

        await run_job(FIRST - timedelta(days=3))
        await users[7001].tap(t("📝 Add to the agenda"))
        await users[7001].wait_reply()
        await users[7001].send(agenda)
        await users[7001].wait_reply(contains=t("Added to the agenda. Thank you."))
        await run_job(FIRST - timedelta(days=1))  # the reminder with the agenda so far

        # A newcomer joins by invitation and types her name; the chair is asked.
        with time_machine.travel(FIRST - timedelta(days=1), tick=True):
            await make_worker(app.sessions, 7010, factory_code="KH-01")  # the committee's factory
            newcomer = app.user(7010)
            await newcomer.send(f"/start c_{code}")
            await newcomer.wait_reply()
            await newcomer.send(joiner)
            await newcomer.wait_reply()
            await newcomer.wait_idle()
            await app.deliver()
            chair = users[7005]
            request = next(m for m in reversed(chair.messages) if "ZqJn" in m.plain_text())
            await chair.tap(t("✅ Approve"), message=request)
            await chair.wait_idle()
            await app.deliver()  # the newcomer is told she joined the committee, by its name
            assert name in newcomer.messages[-1].plain_text(), newcomer.transcript()

        # After the meeting: minutes typed by the secretary, an action for the member.
        with time_machine.travel(FIRST + timedelta(hours=4), tick=True):
            secretary = users[7002]
            await secretary.send("/committee")
            await secretary.wait_reply()
            await secretary.tap(t("📄 Write minutes"))
            await secretary.wait_reply()
            await secretary.send(minutes)
            await secretary.wait_reply(
                contains=t("Thank you. The minutes were sent to all members.")
            )
            await secretary.tap(t("➕ Action item"))
            await secretary.wait_reply()
            await secretary.send(action)
            await secretary.wait_reply(contains=t("Who will do it?"))
            await secretary.tap(next(b for b in secretary.last.buttons() if b.startswith("ZqMn")))
            await secretary.wait_reply()
            await secretary.tap(t("In 1 week"))
            await secretary.wait_reply()
            await secretary.wait_idle()
            await app.deliver()
            await users[7001].send("/committee")
            await users[7001].wait_idle()
            await users[7001].tap(t("📌 Open actions"))  # the action and its owner, by name
            await users[7001].wait_idle()
        await run_job(datetime(2027, 1, 11, 2, 0, tzinfo=UTC))  # the action's reminder
        # The next meeting is cancelled: everyone is told, with the committee's name.
        with time_machine.travel(FIRST + timedelta(days=5), tick=True):
            async with transaction(app.sessions) as session:
                upcoming = await meetings.next_meeting(session, committee_id)
                assert upcoming is not None
                await meetings.do_cancel_meeting(session, upcoming, actor=None)
            await app.deliver()
            assert "cancelled" in users[7001].messages[-1].plain_text(), users[7001].transcript()
        del seats
        assert_literal(
            app.telegram,
            {
                "committee": name,
                "member": member,
                "place": place,
                "agenda item": agenda,
                "minutes": minutes,
                "action item": action,
                "joiner's name": joiner,
            },
            maybe=set(),
        )


# --- news: topic names and broadcast versions --------------------------------------------------


@SETTINGS
@given(topic=htmlish("ZqTp"), text=htmlish("ZqBc"))
@example(topic="ZqTp" + NASTY, text="ZqBc" + NASTY)
async def test_topic_names_and_broadcasts_are_shown_as_typed(
    sqlite_sessions: Any, _daytime: None, topic: str, text: str
) -> None:
    db = sqlite_sessions
    await db.clean()
    await make_worker(db.sessions, 501)
    async with transaction(db.sessions) as session:
        created = await topics.do_create_topic(
            session,
            TopicInput("union-news", "BD", "en", {"en": topic}),
            scope=Scope.everywhere(),
            actor=None,
        )
        topic_id = created.id
    async with running_bot(db.sessions) as app:
        worker = app.user(501)
        await worker.send("/news")
        await worker.wait_reply()
        label = next(b for b in worker.last.buttons() if b.startswith("➕"))
        await worker.tap(label)
        await worker.wait_idle()
        async with transaction(app.sessions) as session:
            b = await messages.do_create(
                session,
                BroadcastInput(
                    topic_id=topic_id,
                    title="Friday",
                    countries=["BD"],
                    texts={"en": text},
                    default_locale="en",
                ),
                scope=Scope.everywhere(),
                actor=None,
            )
            await messages.do_schedule(session, b, scope=Scope.everywhere(), actor=None)
        await messages.fan_out_due(app.sessions, worker="test")
        await app.deliver()
        stop = next(
            (b for m in reversed(worker.messages) for b in m.buttons() if b.startswith("🔕")), None
        )
        assert stop is not None, worker.transcript()
        await worker.tap(stop)
        await worker.wait_idle()
        assert_literal(app.telegram, {"topic": topic, "broadcast": text}, maybe=set())


# --- surveys: texts from the survey's author, the loop message --------------------------------


@SETTINGS
@given(
    title=htmlish("ZqTi"), question=htmlish("ZqQu"), thanks=htmlish("ZqTh"), loop=htmlish("ZqLo")
)
@example(title="ZqTi" + NASTY, question="ZqQu" + NASTY, thanks="ZqTh" + NASTY, loop="ZqLo" + NASTY)
async def test_survey_texts_and_closing_the_loop_are_shown_escaped(
    sqlite_sessions: Any, _daytime: None, title: str, question: str, thanks: str, loop: str
) -> None:
    from services.surveys.waves import do_close_the_loop

    db = sqlite_sessions
    await db.clean()
    await make_worker(db.sessions, 7011)
    definition = {
        **SAMPLE,
        "title": {"en": title},
        "thanks": {"en": thanks},
        "questions": [
            {"key": "safe", "type": "yesno", "text": {"en": question}},
            {
                "key": "else",
                "type": "text",
                "required": False,
                "max_length": 200,
                "text": {"en": "Anything else?"},
            },
        ],
    }
    wave = await make_wave(db.sessions, definition=definition)
    async with running_bot(db.sessions) as app:
        worker = app.user(7011)
        await app.deliver()
        await worker.wait_reply()
        await worker.tap(t("▶️ Start"))
        await worker.wait_reply()
        await worker.tap(t("Yes"))
        await worker.wait_reply()
        await worker.send("ZqFt" + NASTY)  # free text: stored, never shown back
        await worker.wait_reply()
        await worker.wait_idle()
        async with transaction(app.sessions) as s:
            from bot.storage.surveys import SurveyWave

            row = await s.get(SurveyWave, wave.id)
            assert row is not None
            await do_close_the_loop(
                s, row, {"en": loop}, secret_key=app.settings.effective_secret_key, actor=None
            )
        await app.deliver()
        await worker.wait_idle()
        assert_literal(
            app.telegram,
            {
                "title": title,
                "question": question,
                "thanks": thanks,
                "loop message": loop,
                "free text": "ZqFt" + NASTY,
            },
            maybe={"free text"},
        )


@settings(max_examples=200, deadline=None)
@given(
    body=st.lists(
        st.sampled_from(["&", "<", ">", '"', "'", "x", "yy", " ", "\n", "\n\n", "&amp;"]),
        max_size=3000,
    ).map("".join),
    limit=st.integers(min_value=20, max_value=200),
)
def test_splitting_a_long_escaped_text_keeps_every_part_valid(body: str, limit: int) -> None:
    """Long minutes and case conversations are split over several messages: no part may hold half
    an escaped character (Telegram refuses the message) or lose a character."""
    from bot.widgets import split_text

    parts = split_text("<b>Head</b>\n\n" + html.escape(body), limit=limit)
    shown = [visible_text(part, "HTML") for part in parts]  # raises on a broken entity
    assert all(len(part) <= limit for part in parts)
    squeeze = str.maketrans("", "", " \n")
    assert "".join(shown).translate(squeeze) == ("Head" + body).translate(squeeze)


def test_the_checker_itself_catches_unescaped_text() -> None:
    """The two ways an unescaped field fails: Telegram refuses the message, or formats it."""
    with pytest.raises(ApiError):
        visible_text("Report: <b>x</i>", "HTML")
    assert visible_text("<b>x</b>", "HTML") == "x" != "<b>x</b>"
    assert visible_text(html.escape("<b>x</b> &amp;"), "HTML") == "<b>x</b> &amp;"
