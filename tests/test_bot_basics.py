"""The bot end to end through the fake Telegram API: answers, hints, stale buttons, dedupe."""

from __future__ import annotations

from sqlalchemy import select

from bot.storage.models import RawUpdate, User
from tests.factories import make_worker
from tests.harness import BotHarness


async def test_start_gets_a_reply(app: BotHarness) -> None:
    worker = app.user(501)
    await worker.send("/start")
    reply = await worker.wait_reply()
    assert reply.text


async def test_unknown_command_gets_a_hint(app: BotHarness) -> None:
    await make_worker(app.sessions, 502)
    worker = app.user(502)
    await worker.send("/frobnicate")
    reply = await worker.wait_reply(contains="/help")
    assert "don't know that command" in reply.plain_text()


async def test_sticker_gets_a_hint_and_nothing_breaks(app: BotHarness) -> None:
    await make_worker(app.sessions, 503)
    worker = app.user(503)
    await worker.send_sticker()
    reply = await worker.wait_reply()
    assert "can't use this kind of message" in reply.plain_text()


async def test_forged_callback_data_is_answered_not_crashed(app: BotHarness) -> None:
    await make_worker(app.sessions, 504)
    worker = app.user(504)
    await worker.send("/menu")
    await worker.wait_idle()
    await worker.tap_data("zz:not-ours:1")
    reply = await worker.wait_reply()
    assert reply.text
    assert worker.answered_callbacks and "no longer active" in worker.answered_callbacks[-1]["text"]


async def test_a_repeated_update_id_is_handled_once(app: BotHarness) -> None:
    await make_worker(app.sessions, 505)
    update = app.telegram.make_message_update(505, "/frobnicate")
    app.telegram.push_update(dict(update))
    worker = app.user(505)
    await worker.wait_reply()
    app.telegram.push_update(dict(update))  # Telegram retrying, or a second replica seeing it
    await worker.wait_idle(quiet=0.5, timeout=2)
    assert len(worker.messages) == 1
    async with app.sessions() as s:
        rows = (await s.scalars(select(RawUpdate))).all()
        assert [r.update_id for r in rows] == [update["update_id"]]
        # The text is not kept: the table has no column for it (bot.updates).
        assert set(RawUpdate.__table__.columns.keys()) == {
            "update_id",
            "received_at",
            "status",
            "claimed_at",
        }


async def test_worker_row_holds_no_name(app: BotHarness) -> None:
    worker = app.user(506, first_name="Rahima")
    await worker.send("/start")
    await worker.wait_idle()  # the reply leaves before the update's transaction commits
    async with app.sessions() as s:
        user = await s.scalar(select(User).where(User.telegram_id == 506))
        assert user is not None
        assert "Rahima" not in repr([getattr(user, c.key) for c in User.__table__.columns])
