"""Broadcasts without Telegram: topics, opt-ins, composing, the fan-out and its report."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage.broadcasts import Broadcast, BroadcastTopic
from bot.storage.db import transaction
from bot.storage.models import OutboxMessage, OutboxStatus, User
from services.broadcasts import deliveries, messages, topics
from services.broadcasts.messages import BroadcastInput, BroadcastStatus, InvalidBroadcast
from services.broadcasts.topics import InvalidTopic, TopicInput
from services.clock import in_daytime
from services.errors import Conflict, Forbidden, NotFound
from services.onboarding import do_stop_optional_messages
from services.scope import Scope
from tests.factories import make_factory, make_worker

# 10:00 in Dhaka and Amman alike is daytime: fan-outs in these tests are due at once.
DAY = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


async def make_topic(
    sessions: async_sessionmaker[AsyncSession],
    key: str = "union-news",
    country: str | None = "BD",
    names: dict[str, str] | None = None,
) -> BroadcastTopic:
    async with transaction(sessions) as session:
        return await topics.do_create_topic(
            session,
            TopicInput(key, country, "en", names or {"en": "Union news", "bn": "ইউনিয়নের খবর"}),
            scope=Scope.everywhere(),
            actor=None,
        )


async def subscribe(sessions: async_sessionmaker[AsyncSession], user: User, topic_id: int) -> None:
    async with transaction(sessions) as session:
        worker = await session.get(User, user.id)
        assert worker is not None
        await topics.do_subscribe(session, worker, topic_id)


def message(topic_id: int, **overrides: object) -> BroadcastInput:
    data = dict(
        topic_id=topic_id,
        title="Meeting on Friday",
        countries=["BD"],
        texts={"en": "Meeting on Friday at the gate.", "bn": "শুক্রবার গেটে সভা।"},
        default_locale="en",
    )
    data.update(overrides)
    return BroadcastInput(**data)  # type: ignore[arg-type]


async def send(
    sessions: async_sessionmaker[AsyncSession], data: BroadcastInput, *, worker: str = "w1"
) -> int:
    async with transaction(sessions) as session:
        broadcast = await messages.do_create(session, data, scope=Scope.everywhere(), actor=None)
        await messages.do_schedule(session, broadcast, scope=Scope.everywhere(), actor=None)
        broadcast_id = broadcast.id
    await messages.fan_out_due(sessions, worker=worker)
    return broadcast_id


async def queued(session: AsyncSession, broadcast_id: int) -> list[OutboxMessage]:
    return list(
        (
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.dedupe_key.like(f"broadcast:{broadcast_id}:%"))
                .order_by(OutboxMessage.user_id)
            )
        ).all()
    )


# --- topics ---------------------------------------------------------------------------------


async def test_topic_rules(sessions: async_sessionmaker[AsyncSession]) -> None:
    await make_factory(sessions, "DK-01")
    await make_topic(sessions)
    async with transaction(sessions) as session:
        with pytest.raises(InvalidTopic) as dup:
            await topics.do_create_topic(
                session,
                TopicInput("union-news", "BD", "en", {"en": "X"}),
                scope=Scope.everywhere(),
                actor=None,
            )
        assert "already has this key" in str(dup.value)
        with pytest.raises(InvalidTopic) as bad_key:
            await topics.do_create_topic(
                session,
                TopicInput("Union News!", "BD", "en", {"en": "X"}),
                scope=Scope.everywhere(),
                actor=None,
            )
        assert "small letters" in str(bad_key.value)
        with pytest.raises(InvalidTopic) as unnamed:
            await topics.do_create_topic(
                session,
                TopicInput("safety", "BD", "bn", {"en": "Safety"}),
                scope=Scope.everywhere(),
                actor=None,
            )
        assert "default language" in str(unnamed.value)
        # Country staff cannot offer a topic everywhere, nor in another country.
        with pytest.raises(InvalidTopic):
            await topics.do_create_topic(
                session,
                TopicInput("everywhere", None, "en", {"en": "All"}),
                scope=Scope.only("BD"),
                actor=None,
            )
        with pytest.raises(Forbidden):
            await topics.do_create_topic(
                session,
                TopicInput("jordan", "JO", "en", {"en": "Jordan"}),
                scope=Scope.only("BD"),
                actor=None,
            )


async def test_workers_see_their_countrys_topics_and_opt_in_and_out(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    bd = await make_topic(sessions, "union-news", "BD")
    jo = await make_topic(sessions, "jordan-news", "JO", {"en": "Jordan news"})
    everywhere = await make_topic(sessions, "safety", None, {"en": "Safety tips"})
    worker = await make_worker(sessions, 501, locale="bn")
    async with transaction(sessions) as session:
        user = await session.get(User, worker.id)
        assert user is not None
        offered = await topics.topics_for(session, user)
        assert [(t.key, on) for t, on in offered] == [("union-news", False), ("safety", False)]
        assert topics.topic_name(offered[0][0], "bn") == "ইউনিয়নের খবর"
        assert topics.topic_name(offered[0][0], "my") == "Union news"  # the default's name
        await topics.do_subscribe(session, user, bd.id)
        await topics.do_subscribe(session, user, bd.id)  # a second tap changes nothing
        with pytest.raises(NotFound):  # another country's topic: a forged button
            await topics.do_subscribe(session, user, jo.id)
        assert [(t.key, on) for t, on in await topics.topics_for(session, user)] == [
            ("union-news", True),
            ("safety", False),
        ]
        await topics.do_subscribe(session, user, everywhere.id)
        await topics.do_unsubscribe(session, user, bd.id)
        assert await topics.subscriber_counts(session, [bd.id, everywhere.id]) == {everywhere.id: 1}


# --- composing ------------------------------------------------------------------------------


async def test_compose_rules(sessions: async_sessionmaker[AsyncSession]) -> None:
    await make_factory(sessions, "DK-01")
    await make_factory(sessions, "AM-01", country="JO")
    topic = await make_topic(sessions)
    cases: list[tuple[dict[str, object], str]] = [
        ({"title": "  "}, "title"),
        ({"countries": []}, "at least one country"),
        ({"countries": ["JO"]}, "one country only"),
        ({"texts": {"en": "   "}}, "at least one language"),
        ({"texts": {"bn": "x"}}, "default language"),
        ({"texts": {"en": "x" * 3501}}, "3500"),
        ({"texts": {"en": "x", "xx": "y"}}, "unknown language"),
        ({"languages": ["ne"]}, "each chosen language"),
    ]
    async with transaction(sessions) as session:
        for change, reason in cases:
            with pytest.raises(InvalidBroadcast) as err:
                await messages.do_create(
                    session, message(topic.id, **change), scope=Scope.everywhere(), actor=None
                )
            assert reason in str(err.value), change
        with pytest.raises(NotFound):  # a BD topic is not in a JO organiser's scope at all
            await messages.do_create(session, message(topic.id), scope=Scope.only("JO"), actor=None)
        # With the fallback on, a language without a version gets the default text.
        fallback = await messages.do_create(
            session,
            message(topic.id, languages=["ne"], fallback=True),
            scope=Scope.everywhere(),
            actor=None,
        )
        assert fallback.status == BroadcastStatus.DRAFT


async def test_preview_rounds_and_names_only_large_language_groups(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    topic = await make_topic(sessions)
    locales = ["bn"] * 9 + ["hi"] * 5 + ["ne"] * 2
    for i, locale in enumerate(locales):
        await subscribe(sessions, await make_worker(sessions, 600 + i, locale=locale), topic.id)
    await make_worker(sessions, 5999, locale="bn")  # not opted in
    async with sessions() as session:
        preview = await messages.preview_audience(session, message(topic.id), k=5)
        # 16 opted in, 9 get it, 7 do not: rounded to tens, no count per language (M5).
        assert (preview.opted_in, preview.reached, preview.unreached) == (20, 10, 10)
        assert preview.spoken == ["bn", "hi"]  # the two Nepali speakers are not named
        assert preview.missing == ["hi"] and preview.others_missing
        everyone = await messages.preview_audience(session, message(topic.id, fallback=True), k=5)
        assert (everyone.opted_in, everyone.reached, everyone.unreached) == (20, 20, None)
        assert everyone.missing == [] and not everyone.others_missing


# --- sending --------------------------------------------------------------------------------


@time_machine.travel(DAY, tick=False)
async def test_fan_out_reaches_only_opted_in_workers_in_their_language(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    topic = await make_topic(sessions)
    other = await make_topic(sessions, "safety", "BD", {"en": "Safety"})
    bangla = await make_worker(sessions, 901, locale="bn")
    english = await make_worker(sessions, 902, locale="en")
    nepali = await make_worker(sessions, 903, locale="ne")  # no version, no fallback
    quiet = await make_worker(sessions, 904, locale="bn")
    elsewhere = await make_worker(sessions, 905, locale="bn", factory_code="CG-01")
    await make_worker(sessions, 906, locale="bn")  # never opted in
    on_other = await make_worker(sessions, 907, locale="bn")
    for user in (bangla, english, nepali, quiet, elsewhere):
        await subscribe(sessions, user, topic.id)
    await subscribe(sessions, on_other, other.id)
    async with transaction(sessions) as session:
        user = await session.get(User, quiet.id)
        assert user is not None
        await do_stop_optional_messages(session, user)
    async with sessions() as session:
        dk = (await session.get(User, bangla.id)).factory_id  # type: ignore[union-attr]
    broadcast_id = await send(sessions, message(topic.id, factory_ids=[dk]))
    async with sessions() as session:
        rows = await queued(session, broadcast_id)
        assert [r.user_id for r in rows] == [bangla.id, english.id]
        assert {r.priority for r in rows} == {messages.PRIORITY}
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        assert broadcast.status == BroadcastStatus.SENT and broadcast.queued_count == 2
        b_user = await session.get(User, bangla.id)
        n_user = await session.get(User, nepali.id)
        assert b_user is not None and n_user is not None
        delivery = await deliveries.message_for(session, broadcast_id, b_user)
        assert delivery is not None and delivery.text == "শুক্রবার গেটে সভা।"
        assert await deliveries.message_for(session, broadcast_id, n_user) is None


@time_machine.travel(datetime(2026, 3, 2, 16, 0, tzinfo=UTC), tick=False)
async def test_messages_wait_for_daytime_at_each_factory(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # 22:00 in Dhaka, 19:00 in Amman: Dhaka's worker gets it at 8:00 tomorrow, Amman's now.
    topic = await make_topic(sessions, "news", None, {"en": "News"})
    dhaka = await make_worker(sessions, 911)
    amman = await make_worker(sessions, 912, factory_code="AM-01", country="JO")
    for user in (dhaka, amman):
        await subscribe(sessions, user, topic.id)
    broadcast_id = await send(sessions, message(topic.id, countries=["BD", "JO"]))
    async with sessions() as session:
        due = {r.user_id: r.due_at for r in await queued(session, broadcast_id)}
    assert due[amman.id] == datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
    assert due[dhaka.id] == datetime(2026, 3, 3, 2, 0, tzinfo=UTC)  # 08:00 in Dhaka
    # The demo sends at once, whatever the hour at the factory.
    async with transaction(sessions) as session:
        b = await messages.do_create(
            session, message(topic.id, countries=["BD", "JO"]), scope=Scope.everywhere(), actor=None
        )
        await messages.do_schedule(session, b, scope=Scope.everywhere(), actor=None)
    await messages.fan_out_due(sessions, worker="demo", at_night=True)
    async with sessions() as session:
        assert {r.due_at for r in await queued(session, b.id)} == {
            datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
        }


@given(
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    tz=st.sampled_from(["Asia/Dhaka", "America/Port-au-Prince", "Asia/Amman", "Asia/Jakarta"]),
)
def test_in_daytime_is_never_at_night_nor_earlier(hour: int, minute: int, tz: str) -> None:
    from zoneinfo import ZoneInfo

    at = datetime(2026, 3, 8, hour, minute, tzinfo=UTC)
    moved = in_daytime(at, tz)
    local = moved.astimezone(ZoneInfo(tz))
    assert moved >= at and moved - at < timedelta(hours=13)
    assert 8 <= local.hour < 20


@time_machine.travel(DAY, tick=False)
async def test_a_crashed_fan_out_resumes_without_doubles(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = await make_topic(sessions)
    for i in range(25):
        await subscribe(sessions, await make_worker(sessions, 1000 + i), topic.id)
    monkeypatch.setattr(messages, "BATCH", 10)
    async with transaction(sessions) as session:
        broadcast = await messages.do_create(
            session, message(topic.id), scope=Scope.everywhere(), actor=None
        )
        await messages.do_schedule(session, broadcast, scope=Scope.everywhere(), actor=None)
        broadcast_id = broadcast.id

    calls = 0
    real_enqueue = messages.outbox.enqueue_many

    async def crash_on_second_batch(session: AsyncSession, rows: list[dict[str, object]]) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("replica died")
        return await real_enqueue(session, rows)

    monkeypatch.setattr(messages.outbox, "enqueue_many", crash_on_second_batch)
    with pytest.raises(RuntimeError):
        await messages.fan_out_due(sessions, worker="dead")
    monkeypatch.setattr(messages.outbox, "enqueue_many", real_enqueue)
    # The dead replica's claim holds until it times out, within seconds (the reliability review
    # saw 115 s); then another takes over at the cursor.
    assert await messages.fan_out_due(sessions, worker="alive") == []
    with time_machine.travel(DAY + timedelta(seconds=20), tick=False):
        assert await messages.fan_out_due(sessions, worker="alive") == [broadcast_id]
    async with sessions() as session:
        rows = await queued(session, broadcast_id)
        broadcast = await session.get(Broadcast, broadcast_id)
    assert len(rows) == len({r.user_id for r in rows}) == 25
    assert broadcast is not None and broadcast.queued_count == 25
    assert broadcast.status == BroadcastStatus.SENT


@time_machine.travel(DAY, tick=False)
async def test_two_replicas_fan_out_each_worker_once(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = await make_topic(sessions)
    for i in range(30):
        await subscribe(sessions, await make_worker(sessions, 1100 + i), topic.id)
    monkeypatch.setattr(messages, "BATCH", 7)
    ids = []
    async with transaction(sessions) as session:
        for n in range(3):
            b = await messages.do_create(
                session, message(topic.id, title=f"n{n}"), scope=Scope.everywhere(), actor=None
            )
            await messages.do_schedule(session, b, scope=Scope.everywhere(), actor=None)
            ids.append(b.id)
    done = await asyncio.gather(
        messages.fan_out_due(sessions, worker="a"), messages.fan_out_due(sessions, worker="b")
    )
    assert sorted(done[0] + done[1]) == ids
    async with sessions() as session:
        for broadcast_id in ids:
            rows = await queued(session, broadcast_id)
            assert len(rows) == len({r.user_id for r in rows}) == 30


@time_machine.travel(DAY, tick=False)
async def test_cancel_withdraws_what_is_not_delivered_and_counts_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    topic = await make_topic(sessions)
    for i in range(4):
        await subscribe(sessions, await make_worker(sessions, 1200 + i), topic.id)
    broadcast_id = await send(sessions, message(topic.id))
    async with transaction(sessions) as session:
        first = (await queued(session, broadcast_id))[0]
        await deliveries.record_outcome(session, broadcast_id, OutboxStatus.SENT)
        first.status = OutboxStatus.SENT
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        assert await messages.do_cancel(session, broadcast, actor=None) == 3
    async with transaction(sessions) as session:
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        report = messages.report(broadcast)
        assert (report.queued, report.sent, report.skipped, report.waiting) == (4, 1, 3, 0)
        statuses = sorted(r.status for r in await queued(session, broadcast_id))
        assert statuses == ["dropped", "dropped", "dropped", "sent"]
        with pytest.raises(Conflict):
            await messages.do_cancel(session, broadcast, actor=None)
        with pytest.raises(Conflict):
            await messages.do_schedule(session, broadcast, scope=Scope.everywhere(), actor=None)


@time_machine.travel(DAY, tick=False)
async def test_a_planned_broadcast_waits_and_takes_the_audience_at_its_time(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    topic = await make_topic(sessions)
    early = await make_worker(sessions, 1300)
    await subscribe(sessions, early, topic.id)
    async with transaction(sessions) as session:
        b = await messages.do_create(
            session, message(topic.id), scope=Scope.everywhere(), actor=None
        )
        await messages.do_schedule(
            session, b, scope=Scope.everywhere(), actor=None, send_at=DAY + timedelta(hours=2)
        )
        broadcast_id = b.id
        with pytest.raises(InvalidBroadcast):
            other = await messages.do_create(
                session, message(topic.id), scope=Scope.everywhere(), actor=None
            )
            await messages.do_schedule(
                session,
                other,
                scope=Scope.everywhere(),
                actor=None,
                send_at=DAY + timedelta(days=91),
            )
    assert await messages.fan_out_due(sessions, worker="w") == []
    late = await make_worker(sessions, 1301)
    await subscribe(sessions, late, topic.id)
    with time_machine.travel(DAY + timedelta(hours=2), tick=False):
        assert await messages.fan_out_due(sessions, worker="w") == [broadcast_id]
    async with sessions() as session:
        assert [r.user_id for r in await queued(session, broadcast_id)] == [early.id, late.id]


@given(
    texts=st.dictionaries(
        st.sampled_from(["en", "bn", "ar", "my", "xx", ""]),
        st.text(max_size=40) | st.just("y" * 3501),
        max_size=4,
    ),
    default=st.sampled_from(["en", "bn", "zz"]),
    languages=st.lists(st.sampled_from(["en", "bn", "ne", "??"]), max_size=3),
    fallback=st.booleans(),
)
def test_any_versions_are_kept_clean_or_refused_with_a_reason(
    texts: dict[str, str], default: str, languages: list[str], fallback: bool
) -> None:
    try:
        versions, chosen = messages.check_versions(texts, default, languages, fallback=fallback)
    except InvalidBroadcast as exc:
        assert str(exc).startswith("The message cannot be saved: ")
        return
    assert default in versions and all(t == t.strip() and t for t in versions.values())
    assert all(len(t) <= messages.TEXT_LIMIT for t in versions.values())
    assert set(versions) <= {"en", "bn", "ar", "my"} and set(chosen) <= {"en", "bn", "ne"}
    # Everyone chosen is reached: in their own language or, with the fallback, the default's.
    assert fallback or set(chosen) <= set(versions)
