"""Organiser news through the fake Telegram API: workers follow topics in their language, each gets
one message in their language, blocked chats and 429s are handled, and a topic stops with a tap."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import time_machine
from sqlalchemy import func, select

from bot import deeplinks
from bot.i18n import gettext, use_locale
from bot.storage.broadcasts import Broadcast, BroadcastSubscription
from bot.storage.db import transaction
from bot.storage.models import OutboxMessage, User
from services.broadcasts import messages, topics
from services.broadcasts.messages import BroadcastInput
from services.broadcasts.topics import TopicInput
from services.onboarding import get_user
from services.scope import Scope
from tests import journeys
from tests.factories import make_factory, make_worker
from tests.harness import BotHarness

DAY = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # 12:00 in Dhaka
NAMES = {"en": "Union news", "bn": "ইউনিয়নের খবর", "my": "သမဂ္ဂသတင်း"}
TEXTS = {
    "en": "Meeting on Friday at the gate. <Bring> your questions & friends.",
    "bn": "শুক্রবার গেটে সভা।",
    "my": "သောကြာနေ့ ဂိတ်မှာ အစည်းအဝေး။",
}


async def make_topic(app: BotHarness, key: str = "union-news") -> int:
    async with transaction(app.sessions) as session:
        topic = await topics.do_create_topic(
            session, TopicInput(key, "BD", "en", NAMES), scope=Scope.everywhere(), actor=None
        )
        return topic.id


async def broadcast(app: BotHarness, topic_id: int, **change: object) -> int:
    data: dict[str, object] = dict(
        topic_id=topic_id, title="Friday", countries=["BD"], texts=TEXTS, default_locale="en"
    )
    data.update(change)
    async with transaction(app.sessions) as session:
        b = await messages.do_create(
            session, BroadcastInput(**data), scope=Scope.everywhere(), actor=None
        )  # type: ignore[arg-type]
        await messages.do_schedule(session, b, scope=Scope.everywhere(), actor=None)
        broadcast_id = b.id
    await messages.fan_out_due(app.sessions, worker="test")
    return broadcast_id


async def counts(app: BotHarness, broadcast_id: int) -> messages.Report:
    async with app.sessions() as session:
        b = await session.get(Broadcast, broadcast_id, populate_existing=True)
        assert b is not None
        return messages.report(b)


@time_machine.travel(DAY, tick=False)
async def test_workers_follow_a_topic_and_get_one_message_each_in_their_language(
    app: BotHarness,
) -> None:
    topic_id = await make_topic(app)
    people = {501: "bn", 502: "my", 503: "en", 504: "bn", 505: "bn"}
    for telegram_id, locale in people.items():
        await make_worker(app.sessions, telegram_id, locale=locale)
    workers = {tid: app.user(tid, language_code=loc) for tid, loc in people.items()}

    # Each follows the topic from the menu, seeing its name in their language.
    for telegram_id in (501, 502, 503, 505):
        worker, locale = workers[telegram_id], people[telegram_id]
        await worker.send("/news")
        shown = await worker.wait_reply()
        assert f"➕ {NAMES[locale]}" in shown.buttons()
        await worker.tap(f"➕ {NAMES[locale]}")
        await worker.wait_idle()
        assert f"✅ {NAMES[locale]}" in worker.last.buttons()  # the list is redrawn in place
    assert "📰" in workers[501].last.plain_text()
    assert "Tap a topic to follow it" not in workers[501].last.plain_text()  # really in Bangla

    # 505 blocks the bot; Telegram answers the first send with 429; 504 never opted in.
    app.telegram.block(505)
    app.telegram.fail_next("sendMessage", retry_after=1)
    broadcast_id = await broadcast(app, topic_id)
    await app.deliver()
    with time_machine.travel(DAY.replace(second=5), tick=False):
        await app.deliver()  # the message held back by the 429, after retry_after

    for telegram_id in (501, 502, 503):
        got = [
            m
            for m in workers[telegram_id].messages
            if TEXTS["en"][:10] in m.plain_text() or TEXTS[people[telegram_id]] in m.plain_text()
        ]
        assert len(got) == 1, workers[telegram_id].transcript()
        text = got[0].plain_text()
        assert text.startswith(f"📰 {NAMES[people[telegram_id]]}")
        assert TEXTS[people[telegram_id]] in text
    assert "<Bring> your questions & friends." in workers[503].last.plain_text()  # escaped
    assert not any(TEXTS["bn"] in m.plain_text() for m in workers[504].messages)
    report = await counts(app, broadcast_id)
    assert (report.queued, report.sent, report.blocked, report.waiting) == (4, 3, 1, 0)
    async with app.sessions() as session:
        blocked = await get_user(session, 505)
        assert blocked is not None and blocked.blocked_at is not None

    # Never twice: the job and the delivery loop again send nothing more.
    assert await messages.fan_out_due(app.sessions, worker="again") == []
    assert await app.deliver() == 0


@time_machine.travel(DAY, tick=False)
async def test_stop_a_topic_from_the_message_undo_and_stop_all_news(app: BotHarness) -> None:
    topic_id = await make_topic(app)
    await make_worker(app.sessions, 601, locale="bn")
    await make_worker(app.sessions, 602, locale="en")
    bn, en = app.user(601, language_code="bn"), app.user(602, language_code="en")
    async with transaction(app.sessions) as session:
        for telegram_id in (601, 602):
            user = await get_user(session, telegram_id)
            assert user is not None
            await topics.do_subscribe(session, user, topic_id)
    await broadcast(app, topic_id)
    await app.deliver()
    stop = gettext("🔕 Stop “{topic}”", locale="bn", topic=NAMES["bn"])
    await bn.tap(stop)
    answer = await bn.wait_reply()
    await bn.wait_idle()
    assert gettext("You will no longer get “{topic}”.", locale="bn", topic=NAMES["bn"]) in (
        answer.plain_text()
    )
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(BroadcastSubscription)) == 1

    # The next message reaches only the worker still following; the other can undo.
    second = await broadcast(app, topic_id, title="Second")
    await app.deliver()
    assert (await counts(app, second)).queued == 1
    await bn.tap(gettext("↩️ Undo", locale="bn"))
    await bn.wait_reply()
    await bn.wait_idle()  # the reply leaves before the handler's transaction commits
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(BroadcastSubscription)) == 2

    # Queued, then /stop before it goes out: dropped at send time and counted as skipped.
    async with transaction(app.sessions) as session:
        b = await messages.do_create(
            session,
            BroadcastInput(
                topic_id=topic_id, title="Third", countries=["BD"], texts=TEXTS, default_locale="en"
            ),
            scope=Scope.everywhere(),
            actor=None,
        )
        await messages.do_schedule(session, b, scope=Scope.everywhere(), actor=None)
        third = b.id
    await messages.fan_out_due(app.sessions, worker="test")
    await en.send("/stop")
    await en.wait_reply()
    await en.wait_idle()
    await app.deliver()
    report = await counts(app, third)
    assert (report.queued, report.sent, report.skipped) == (2, 1, 1)

    # The news list says news is off and turns it back on.
    await en.send("/news")
    shown = await en.wait_reply()
    assert "/stop" in shown.plain_text()
    await en.tap("🔔 Turn news back on")
    await en.wait_idle()
    async with app.sessions() as session:
        user = await get_user(session, 602)
        assert user is not None and user.quiet_since is None
    assert "🔔 Turn news back on" not in en.last.buttons()


@time_machine.travel(DAY, tick=False)
async def test_poster_link_forged_buttons_and_workers_without_a_factory(app: BotHarness) -> None:
    topic_id = await make_topic(app)
    await make_worker(app.sessions, 701, locale="en")
    worker = app.user(701)
    await worker.send("/start t_union-news")
    followed = await worker.wait_reply()
    await worker.wait_idle()
    assert "You now follow Union news" in followed.plain_text()
    async with app.sessions() as session:
        user = await get_user(session, 701)
        assert user is not None and await topics.is_subscribed(session, user.id, topic_id)

    await worker.send("/start t_nonexistent")
    await worker.wait_reply(contains="This news link is not valid for your factory")

    # A forged topic id, and a malformed payload, lose nothing and say so.
    await worker.tap_data("bt:99999:1:l")
    await worker.wait_idle()
    assert "This topic is no longer offered." in [a.get("text") for a in worker.answered_callbacks]
    await worker.tap_data("bt:not-a-number")
    await worker.wait_idle()
    assert len(worker.answered_callbacks) == 2

    # A worker with no factory is told how to link one.
    await make_worker(app.sessions, 702, factory_code=None)
    lone = app.user(702)
    await lone.send("/news")
    await lone.wait_reply(contains="Link your factory first")

    # Another country's topic is not offered, and its link does not work.
    async with transaction(app.sessions) as session:
        await topics.do_create_topic(
            session,
            TopicInput("jordan", "JO", "en", {"en": "Jordan news"}),
            scope=Scope.everywhere(),
            actor=None,
        )
    await worker.send("/start t_jordan")
    await worker.wait_reply(contains="not valid for your factory")
    await worker.wait_idle()
    assert "➕ Jordan news" not in worker.last.buttons()
    async with app.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.user_id.is_not(None))
        )
        assert count == 0
        assert await session.scalar(select(func.count()).select_from(User)) == 2


class _Chat:
    """Where an opener answers when it is called straight from the registry (no Telegram)."""

    def __init__(self) -> None:
        self.said: list[tuple[str, Any]] = []

    async def answer(self, text: str, reply_markup: Any = None, **_: Any) -> None:
        self.said.append((text, reply_markup))


@time_machine.travel(DAY, tick=False)
async def test_topic_links_open_through_the_registry_and_no_factory_offers_to_link_it(
    app: BotHarness,
) -> None:
    topic_id = await make_topic(app)
    await make_worker(app.sessions, 711, locale="bn")

    # The t_ opener is the registry's: what onboarding calls for a link kept until she is set up.
    assert deeplinks.parse("t_union-news") == (deeplinks.LinkKind.TOPIC, "union-news")
    chat = _Chat()
    async with transaction(app.sessions) as session:
        user = await get_user(session, 711)
        assert user is not None
        with use_locale("bn"):
            opened = await deeplinks.open_link(
                deeplinks.LinkKind.TOPIC,
                "union-news",
                chat,  # type: ignore[arg-type]
                None,  # type: ignore[arg-type]
                {"session": session, "user": user},
            )
    assert opened
    assert NAMES["bn"] in chat.said[-1][0]
    async with app.sessions() as session:
        user = await get_user(session, 711)
        assert user is not None and await topics.is_subscribed(session, user.id, topic_id)

    # B1: no factory linked; /news and a poster's topic link offer to link it, not the menu.
    await make_worker(app.sessions, 712, locale="bn", factory_code=None)
    lone = app.user(712, language_code="bn")
    link = gettext("🏭 Link my factory", locale="bn")
    for ask in ("/news", "/start t_union-news"):
        await lone.send(ask)
        shown = await lone.wait_reply()
        assert shown.buttons() == [link, gettext("🏠 Main menu", locale="bn")], ask
    await lone.wait_idle()
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(BroadcastSubscription)) == 1


@time_machine.travel(DAY, tick=False)
async def test_a_topic_link_opened_before_onboarding_is_followed_after_it(app: BotHarness) -> None:
    """A poster's news link scanned by someone new: kept through onboarding, then followed,
    instead of "open the link again" (deep-link registry, issue 16 §1)."""
    topic_id = await make_topic(app)
    await make_factory(app.sessions, "DK-01", country="BD")
    worker = app.user(721, language_code="bn")
    await journeys.join_in_bangla(worker, "/start t_union-news")
    await worker.wait_reply(contains=gettext("Woman", locale="bn"))
    await worker.tap(gettext("Woman", locale="bn"))
    await worker.wait_reply(contains=gettext("How old are you?", locale="bn"))
    await worker.tap(gettext("Prefer not to say", locale="bn"))
    followed = await worker.wait_reply(contains=NAMES["bn"])
    assert gettext("🔕 Stop this topic", locale="bn") in followed.buttons()
    await worker.wait_idle()
    async with app.sessions() as session:
        user = await get_user(session, 721)
        assert user is not None and await topics.is_subscribed(session, user.id, topic_id)
