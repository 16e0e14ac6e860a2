"""The outbound port: what services enqueue is rendered in the reader's language and sent once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.delivery import Deliverer, RenderContext, Rendered, renderer
from bot.i18n import current_locale
from bot.ratelimit import RateLimiter
from bot.storage.db import transaction
from bot.storage.models import OutboxMessage, OutboxStatus, User
from services import outbox
from services.clock import utcnow
from tests.factories import make_worker
from tests.harness import BotHarness


@renderer("test.hello")
async def _hello(ctx: RenderContext) -> Rendered:
    return Rendered(f"hello {ctx.params['n']} in {current_locale()}")


@renderer("test.drop")
async def _drop(ctx: RenderContext) -> None:
    return None


async def _enqueue(app: BotHarness, user: User, kind: str = "test.hello", **kw: object) -> None:
    async with transaction(app.sessions) as s:
        await outbox.enqueue(s, kind, user_id=user.id, params={"n": 1}, **kw)  # type: ignore[arg-type]


async def _statuses(app: BotHarness) -> list[str]:
    async with app.sessions() as s:
        return [
            m.status
            for m in (await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        ]


async def test_message_is_rendered_in_the_readers_language(app: BotHarness) -> None:
    user = await make_worker(app.sessions, 701, locale="km")
    app.user(701, language_code="en")
    await _enqueue(app, user)
    assert await app.deliver() == 1
    assert app.user(701).messages[-1].text == "hello 1 in km"
    assert await _statuses(app) == ["sent"]
    assert await app.deliver() == 0  # nothing sent twice


async def test_429_puts_the_message_back_and_pauses(app: BotHarness) -> None:
    user = await make_worker(app.sessions, 702)
    app.user(702)
    await _enqueue(app, user)
    app.telegram.fail_next("sendMessage", retry_after=3)
    await app.deliver()
    async with app.sessions() as s:
        row = await s.scalar(select(OutboxMessage))
        assert row is not None and row.status == OutboxStatus.PENDING and row.error == "retry_after"
        assert row.due_at > utcnow() + timedelta(seconds=2)
    limiter = app.deliverer.limiter
    assert limiter._next_global > limiter.clock() + 2  # every chat waits, as Telegram asks


async def test_blocked_worker_is_marked_inactive(app: BotHarness) -> None:
    user = await make_worker(app.sessions, 703)
    app.user(703)
    app.telegram.block(703)
    await _enqueue(app, user)
    await app.deliver()
    assert await _statuses(app) == ["blocked"]
    async with app.sessions() as s:
        refreshed = await s.get(User, user.id)
        assert refreshed is not None and not refreshed.active and refreshed.blocked_at is not None
    await _enqueue(app, user)
    await app.deliver()
    assert (await _statuses(app))[-1] == "dropped"


@pytest.mark.parametrize(
    ("kind", "extra", "status"),
    [
        ("test.hello", {"expires_at": utcnow() - timedelta(seconds=1)}, "dropped"),
        ("test.drop", {}, "dropped"),
        ("test.nobody-renders-this", {}, "failed"),
    ],
)
async def test_messages_that_cannot_be_useful_are_not_sent(
    app: BotHarness, kind: str, extra: dict[str, object], status: str
) -> None:
    user = await make_worker(app.sessions, 704)
    app.user(704)
    await _enqueue(app, user, kind, **extra)
    await app.deliver()
    assert await _statuses(app) == [status]
    assert app.user(704).messages == []


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


async def test_rate_limiter_paces_one_chat_and_all_chats() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_second=50, per_chat_interval=1.0, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        await limiter.wait(1)
    assert clock.slept == [1.0, 1.0]  # one message a second to one chat
    clock.slept.clear()
    for chat in range(2, 7):
        await limiter.wait(chat)
    # Other chats are not held back by chat 1, only by the global 50/s pace.
    assert clock.slept == [0.02] * 4 or sum(clock.slept) <= 0.1


async def test_rate_limiter_gives_concurrent_senders_their_own_slots() -> None:
    clock = FakeClock()
    slept: list[float] = []

    async def sleep_and_let_others_in(seconds: float) -> None:
        slept.append(round(seconds, 6))
        await asyncio.sleep(0)

    limiter = RateLimiter(per_second=50, clock=clock, sleep=sleep_and_let_others_in)
    await limiter.wait(1)
    # Both ask while the clock stands still: the slot is taken when asked, not after the sleep.
    await asyncio.gather(limiter.wait(2), limiter.wait(3))
    assert slept == [0.02, 0.04]


async def test_one_chat_waiting_its_second_does_not_hold_back_the_others() -> None:
    clock = FakeClock()
    slept: dict[int, float] = {}

    limiter = RateLimiter(per_second=50, per_chat_interval=1.0, clock=clock)

    async def send(chat: int) -> None:
        now = clock()
        slept[chat] = round(limiter.reserve(chat, now) - now, 6)

    await send(1)
    # A second part to chat 1 and a message to chat 2, asked at the same moment.
    await send(1)
    await send(2)
    assert slept == {1: 1.0, 2: 0.04}


async def test_retry_after_pauses_every_chat() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_second=50, per_chat_interval=0, clock=clock, sleep=clock.sleep)
    await limiter.pause(7)
    await limiter.wait(42)
    assert clock.slept == [7.0]


async def test_handled_messages_are_purged_after_the_retention(app: BotHarness) -> None:
    import time_machine

    user = await make_worker(app.sessions, 705)
    app.user(705)
    await _enqueue(app, user)  # sent below
    await _enqueue(app, user, "test.drop")  # dropped below
    await app.deliver()
    await _enqueue(app, user, due_at=utcnow() + timedelta(days=30))  # still waiting: kept
    with time_machine.travel(utcnow() + timedelta(days=8)):
        async with transaction(app.sessions) as s:
            removed = await outbox.purge_handled(s, older_than=utcnow() - timedelta(days=7))
    assert removed == 2
    assert await _statuses(app) == ["pending"]


def test_every_outbox_kind_has_a_renderer() -> None:
    """A kind a service can queue but no flow renders would be dropped unseen: every member of every
    capability's ``OutboxKind`` has a renderer once the bot's flows are loaded."""
    import importlib

    from bot.delivery import RENDERERS
    from bot.dispatcher import FLOW_MODULES
    from bot.storage import import_all_models
    from bot.storage.models import OutboxKind

    import_all_models()
    for name in FLOW_MODULES:
        importlib.import_module(name)
    kinds = [kind for family in OutboxKind.__subclasses__() for kind in family]
    assert len(kinds) >= 15  # reports, surveys, committees, broadcasts
    assert [kind for kind in kinds if kind not in RENDERERS] == []
    families = {k.split(".")[0] for k in kinds}
    assert families == {"reports", "surveys", "committees", "broadcasts"}


async def _two_replicas_and_a_long_429(
    app: BotHarness, monkeypatch: pytest.MonkeyPatch, *, first_keeps_claims: bool
) -> None:
    """Replica A claims a batch, Telegram answers its first send with a retry_after longer than
    a claim lives (scaled down: 3 s against 1.5 s, as 130 s against 2 minutes), and replica B
    polls the outbox meanwhile."""
    monkeypatch.setattr(outbox, "CLAIM_TIMEOUT", timedelta(seconds=1.5))
    monkeypatch.setattr(outbox, "RENEW_CLAIMS_EVERY", timedelta(seconds=0.3))
    monkeypatch.setattr(outbox, "SEND_WITHIN", timedelta(seconds=0.75))
    users = [await make_worker(app.sessions, 7100 + n) for n in range(6)]
    for user in users:
        app.user(user.telegram_id)
        await _enqueue(app, user)
    replica_a = app.deliverer
    replica_b = Deliverer(
        app.bot,
        app.sessions,
        limiter=RateLimiter(per_second=10_000, per_chat_interval=0),
        settings=app.settings,
    )
    if not first_keeps_claims:  # A's renewals fail (its database link hangs, say)
        monkeypatch.setattr(replica_a, "_keep_claims", lambda waiting: asyncio.sleep(3600))
    app.telegram.fail_next("sendMessage", retry_after=3)
    a_run = asyncio.create_task(replica_a.run_once())
    for _ in range(20):  # B looks for due messages every 0.2 s while A waits
        await asyncio.sleep(0.2)
        await replica_b.run_once()
    await a_run
    await asyncio.sleep(3)  # the 429'd message is due again
    while await replica_b.run_once() or await replica_a.run_once():
        pass


@pytest.mark.parametrize("first_keeps_claims", [True, False])
async def test_a_retry_after_longer_than_a_claim_sends_nothing_twice(
    app: BotHarness, monkeypatch: pytest.MonkeyPatch, first_keeps_claims: bool
) -> None:
    """Reliability review §6: a 130 s retry_after outlived the 2-minute claim, another replica
    took the batch and sent it, then the first sent it again (6 people got a message twice). A
    replica renews its claims while it waits; if it cannot, it does not send what another may
    have taken."""
    await _two_replicas_and_a_long_429(app, monkeypatch, first_keeps_claims=first_keeps_claims)
    received = {user_id: len(app.user(user_id).messages) for user_id in range(7100, 7106)}
    assert received == dict.fromkeys(range(7100, 7106), 1)
    assert await _statuses(app) == ["sent"] * 6
