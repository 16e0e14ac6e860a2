"""Urgent broadcasts through Telegram's paid broadcasts (issue 18): an opt-in of the installation,
chosen per message by a country manager, sent day or night in a lane and a budget of their own
(``allow_paid_broadcast``), each message once, and back to the free pace when Telegram refuses
to take payment."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select

from bot.delivery import Deliverer, RenderContext, Rendered, renderer
from bot.paid_delivery import PaidDeliverer
from bot.ratelimit import RateLimiter
from bot.storage.broadcasts import Broadcast
from bot.storage.db import transaction
from bot.storage.models import AuditEvent, OutboxMessage, OutboxStatus, Staff, StaffRole, User
from services import outbox
from services.broadcasts import messages, topics
from services.scope import Scope
from tests.console import ConsoleHarness
from tests.factories import make_factory, make_worker
from tests.harness import BotHarness
from tests.test_console_broadcasts import form, make_draft, make_topic, subscribers, text_of

# 23:00 in Dhaka: ordinary news waits for the morning there; urgent news does not.
NIGHT = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
FAST: dict[str, Any] = dict(per_second=10_000, per_chat_interval=0)


@renderer("test.paid_neighbour")  # type: ignore[arg-type]
async def _neighbour(ctx: RenderContext) -> Rendered:
    return Rendered("an ordinary message")


async def urgent_audit(console: ConsoleHarness) -> list[dict[str, Any]]:
    async with console.sessions() as s:
        events = await s.scalars(
            select(AuditEvent).where(AuditEvent.action == "broadcast.schedule")
        )
        return [e.detail for e in events]


@time_machine.travel(NIGHT, tick=False)
async def test_urgent_is_offered_when_switched_on_to_country_managers_and_sent_at_night(
    console: ConsoleHarness,
) -> None:
    await make_factory(console.sessions, "DK-01")
    topic = await make_topic(console)
    await subscribers(console, topic.id, ["bn"] * 12 + ["en"] * 8, first_id=8100)
    manager = console.client_for(await console.staff("country_manager", ["BD"]))
    organiser = console.client_for(await console.staff("organiser", ["BD"]))
    draft = await make_draft(console, topic)
    url = f"/broadcasts/{draft.id}"

    # Switched off (the default): nobody is offered it, and a forged field is refused.
    assert 'name="urgent"' not in (await manager.get(url)).text
    r = await manager.post(f"{url}/send", data=form(manager, confirm_action="1", urgent="on"))
    assert r.status_code == 400
    assert "urgent sending is not switched on for this installation" in r.text
    async with console.sessions() as s:
        assert (await s.get(Broadcast, draft.id)).status == "draft"  # type: ignore[union-attr]

    console.ctx.settings.paid_broadcasts = True
    page = await organiser.get(url)
    assert 'name="urgent"' not in page.text
    assert "A country manager can send a message as urgent" in text_of(page.text)
    r = await organiser.post(f"{url}/send", data=form(organiser, confirm_action="1", urgent="on"))
    assert r.status_code == 400 and "only a country manager can send a message as urgent" in r.text

    page = await manager.get(url)
    assert 'name="urgent"' in page.text
    # 20 workers get a version: 20 × 0.1 Star.
    assert "about 2 Stars for this audience" in text_of(page.text)
    r = await manager.post(f"{url}/send", data=form(manager, confirm_action="1", urgent="on"))
    assert r.status_code == 303, r.text
    assert [d.get("urgent") for d in await urgent_audit(console)] == [True]
    assert "urgent: sent day or night, through Telegram" in text_of((await manager.get(url)).text)

    # An ordinary one sent at the same hour waits for 08:00 in Dhaka; the urgent one is due now,
    # before everything else, in the paid lane.
    ordinary = await make_draft(console, topic, title="Picnic")
    r = await manager.post(
        f"/broadcasts/{ordinary.id}/send", data=form(manager, confirm_action="1")
    )
    assert r.status_code == 303
    await messages.fan_out_due(console.sessions, worker="test", paid=True)
    async with console.sessions() as s:
        rows = (await s.scalars(select(OutboxMessage))).all()
    urgent_rows = [m for m in rows if m.params["broadcast_id"] == draft.id]
    ordinary_rows = [m for m in rows if m.params["broadcast_id"] == ordinary.id]
    assert len(urgent_rows) == len(ordinary_rows) == 20
    assert all(m.paid and m.priority == messages.URGENT_PRIORITY for m in urgent_rows)
    assert {m.due_at.replace(tzinfo=UTC) for m in urgent_rows} == {NIGHT}
    assert not any(m.paid for m in ordinary_rows)
    assert {m.due_at.replace(tzinfo=UTC).hour for m in ordinary_rows} == {2}  # 08:00 in Dhaka


async def _urgent_broadcast(app: BotHarness, people: range, *, paid: bool = True) -> int:
    """An urgent broadcast to ``people`` (Telegram ids), queued; returns its id."""
    from tests.test_broadcasts_flow import make_topic as flow_topic

    topic_id = await flow_topic(app)
    for telegram_id in people:
        worker = await make_worker(app.sessions, telegram_id, locale="en")
        app.user(telegram_id)
        async with transaction(app.sessions) as s:
            user = await s.get(User, worker.id)
            assert user is not None
            await topics.do_subscribe(s, user, topic_id)
    async with transaction(app.sessions) as s:
        manager = Staff(email="manager@example.org", name="Manager", role=StaffRole.COUNTRY_MANAGER)
        s.add(manager)
        await s.flush()
        broadcast = await messages.do_create(
            s,
            messages.BroadcastInput(
                topic_id=topic_id,
                title="Fire exit blocked",
                countries=["BD"],
                texts={"en": "Do not use the east stairs today."},
                default_locale="en",
            ),
            scope=Scope.everywhere(),
            actor=None,
        )
        await messages.do_schedule(
            s, broadcast, scope=Scope.everywhere(), actor=manager, urgent=True, paid_broadcasts=True
        )
        broadcast_id = broadcast.id
    await messages.fan_out_due(app.sessions, worker="test", at_night=True, paid=paid)
    return broadcast_id


def sends(app: BotHarness) -> list[tuple[int, bool]]:
    """(chat, paid) of every sendMessage the fake Telegram accepted or refused."""
    return [
        (int(p["chat_id"]), str(p.get("allow_paid_broadcast")).lower() == "true")
        for method, p in app.telegram.calls
        if method == "sendMessage"
    ]


async def counts(app: BotHarness, broadcast_id: int) -> tuple[int, int]:
    async with app.sessions() as s:
        b = await s.get(Broadcast, broadcast_id)
        assert b is not None
        return b.queued_count, b.sent_count


async def test_urgent_messages_go_paid_in_their_own_lane_and_others_stay_free(
    app: BotHarness,
) -> None:
    people = range(9100, 9140)
    broadcast_id = await _urgent_broadcast(app, people)
    free = Deliverer(app.bot, app.sessions, limiter=RateLimiter(**FAST), only_free=True)
    paid = PaidDeliverer(app.bot, app.sessions, limiter=RateLimiter(**FAST), batch=15)
    # An ordinary message waiting beside them: the free lane's, never paid.
    async with transaction(app.sessions) as s:
        first = await s.scalar(select(OutboxMessage.user_id).limit(1))
        await outbox.enqueue(s, "test.paid_neighbour", user_id=first)

    assert await free.run_once() == 1  # the ordinary message only: urgent ones are not its own
    while await paid.run_once():
        pass
    calls = sends(app)
    assert calls[0] == (9100, False)
    assert sorted(calls[1:]) == [(p, True) for p in people]  # each once, each paid
    assert await counts(app, broadcast_id) == (40, 40)
    assert await free.run_once() == 0


async def test_when_telegram_refuses_payment_the_rest_go_free_each_once(app: BotHarness) -> None:
    people = range(9200, 9230)
    broadcast_id = await _urgent_broadcast(app, people)
    app.telegram.paid_messages_left = 7  # the bot's Stars pay for seven
    paid = PaidDeliverer(app.bot, app.sessions, limiter=RateLimiter(**FAST), batch=10)
    free = Deliverer(app.bot, app.sessions, limiter=RateLimiter(**FAST), only_free=True)
    while await paid.run_once():
        pass
    while await free.run_once():
        pass
    received = [m.chat_id for m in app.telegram.sent]
    assert sorted(received) == list(people)  # everyone, once
    paid_sent = [chat for chat, was_paid in sends(app) if was_paid]
    assert len(paid_sent) == 7 + 3  # seven paid, and three refused in the first batch of ten
    async with app.sessions() as s:
        left_paid = await s.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.paid.is_(True))
        )
        statuses = set((await s.scalars(select(OutboxMessage.status))).all())
    assert left_paid == 7 and statuses == {OutboxStatus.SENT}
    assert await counts(app, broadcast_id) == (30, 30)


async def test_two_replicas_paid_lanes_send_each_message_once(app: BotHarness) -> None:
    people = range(9300, 9360)
    broadcast_id = await _urgent_broadcast(app, people)
    lanes = [
        PaidDeliverer(app.bot, app.sessions, limiter=RateLimiter(**FAST), batch=7) for _ in range(2)
    ]

    async def drain(lane: PaidDeliverer) -> None:
        while await lane.run_once():
            await asyncio.sleep(0)

    await asyncio.gather(*(drain(lane) for lane in lanes))
    assert sorted(chat for chat, _paid in sends(app)) == list(people)
    assert await counts(app, broadcast_id) == (60, 60)


async def test_a_paid_lane_whose_claims_went_stale_sends_nothing(
    app: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _urgent_broadcast(app, range(9400, 9405))
    # As if the claim keeper had not renewed for longer than SEND_WITHIN (an outage, a pause):
    # another replica may take these over, so this one must not send them.
    monkeypatch.setattr(outbox, "SEND_WITHIN", outbox.SEND_WITHIN * 0)
    paid = PaidDeliverer(app.bot, app.sessions, limiter=RateLimiter(**FAST))
    assert await paid.run_once() == 5
    assert sends(app) == []
    async with app.sessions() as s:
        rows = (await s.scalars(select(OutboxMessage))).all()
    assert {(m.status, m.claimed_by) for m in rows} == {(OutboxStatus.PENDING, paid.worker)}


async def test_with_paid_broadcasts_off_an_urgent_message_goes_free(app: BotHarness) -> None:
    # Queued while the setting was on, delivered after it was switched off (one lane for all).
    broadcast_id = await _urgent_broadcast(app, range(9500, 9504), paid=False)
    assert await app.deliver() == 4
    assert sorted(sends(app)) == [(p, False) for p in range(9500, 9504)]
    assert await counts(app, broadcast_id) == (4, 4)


# --- the paid budget ----------------------------------------------------------------------


class StillClock:
    """Time stands still; each sleep is recorded, so a sleep is the slot's distance from now."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))


async def _budgets_apart_chat_shared(limiter: Any, clock: StillClock) -> None:
    for chat in range(1, 6):
        await limiter.wait(chat, paid=True)
    # Five paid sends at 500/s: 2 ms apart; they took nothing from the free 50/s budget.
    assert clock.slept == [0.002, 0.004, 0.006, 0.008]
    clock.slept.clear()
    await limiter.wait(100)
    await limiter.wait(101)
    assert clock.slept == [0.02]  # the free budget's first slot was still free
    clock.slept.clear()
    # The per-chat second is one for both: a free message to chat 1 waits out its paid one.
    await limiter.wait(1)
    assert clock.slept == [1.0]
    clock.slept.clear()
    # Telegram's 429 holds both budgets.
    await limiter.pause(7)
    await limiter.wait(200, paid=True)
    await limiter.wait(201)
    assert clock.slept == [7.0, 7.0]


async def test_paid_sends_have_their_own_budget_and_share_each_chats_second() -> None:
    clock = StillClock()
    limiter = RateLimiter(per_second=50, paid_per_second=500, clock=clock, sleep=clock.sleep)
    await _budgets_apart_chat_shared(limiter, clock)


async def test_the_paid_budget_is_shared_by_replicas_through_redis(
    redis_url: str, redis_prefix: str
) -> None:
    from redis.asyncio import Redis

    from bot.ratelimit import RedisRateLimiter

    clock = StillClock()

    def replica() -> RedisRateLimiter:
        return RedisRateLimiter.from_url(
            redis_url,
            prefix=redis_prefix,
            per_second=50,
            paid_per_second=500,
            clock=clock,
            sleep=clock.sleep,
        )

    limiter = replica()
    try:
        await _budgets_apart_chat_shared(limiter, clock)
        other = replica()  # a second replica continues the same paid schedule
        clock.slept.clear()
        await other.wait(300, paid=True)
        assert clock.slept == [7.002]
        await other.close()
    finally:
        cleaner = Redis.from_url(redis_url)
        keys = [key async for key in cleaner.scan_iter(f"{{{redis_prefix}}}*")]
        if keys:
            await cleaner.delete(*keys)
        await cleaner.aclose()
        await limiter.close()


async def test_outcomes_are_written_once_even_when_sending_ends_mid_write(
    app: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last message leaves while the writer is between its commit and its bookkeeping (a
    slow close of the session): the writer is let finish, not cancelled, or it would write the
    same outcomes again and the broadcast would count twice as many sent as queued."""
    import contextlib as ctx

    from bot import paid_delivery
    from bot.storage.db import transaction as real_transaction

    @ctx.asynccontextmanager
    async def slow_to_close(sessions: Any) -> Any:
        async with real_transaction(sessions) as session:
            yield session
        await asyncio.sleep(0.2)  # committed; the session is still closing

    broadcast_id = await _urgent_broadcast(app, range(9600, 9630))
    monkeypatch.setattr(paid_delivery, "transaction", slow_to_close)
    monkeypatch.setattr(paid_delivery, "FLUSH_EVERY", 0.005)
    paid = PaidDeliverer(app.bot, app.sessions, limiter=RateLimiter(**FAST))
    assert await paid.run_once() == 30
    assert sorted(chat for chat, _paid in sends(app)) == list(range(9600, 9630))
    assert await counts(app, broadcast_id) == (30, 30)
