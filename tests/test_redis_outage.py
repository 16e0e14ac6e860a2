"""Redis hung or down (issue 18 §4): no update is lost and the bot does not look healthy.

Each test runs its own Redis server so it can freeze it (SIGSTOP: connections stay open, nothing
answers) or kill it. Before the fix, a hung Redis held every handler forever, a stopped one made
every update end in "Sorry" and marked done, and the webhook and /healthz answered 200 throughout.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from aiogram.fsm.storage.base import DefaultKeyBuilder
from aiogram.fsm.storage.redis import RedisStorage
from sqlalchemy import select

from bot.runtime import UpdateProcessor, webhook_endpoint
from bot.storage.models import RawUpdate, UpdateStatus
from bot.updates import RedisPayloads
from tests.conftest import Database
from tests.console import TEST_SECRET
from tests.factories import make_worker
from tests.faults import ThrowawayRedis
from tests.harness import BotHarness, running_bot
from workvoice.context import AppContext
from workvoice.kernel.redis import connect as connect_redis
from workvoice.kernel.settings import load_settings
from workvoice.server import create_web_app

SECRET = "redis-outage-secret"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
SORRY = "Sorry, something went wrong"


def fsm_on(url: str) -> RedisStorage:
    # Short timeouts keep the test quick; production uses the same code with 3 s.
    return RedisStorage(
        connect_redis(url, timeout=1.0, connect_timeout=1.0),
        key_builder=DefaultKeyBuilder(prefix="wv", with_destiny=True),
    )


def webhook_app(
    app: BotHarness, db: Database, tmp_path: Path, *, payloads_url: str, health_url: str
) -> tuple[httpx.AsyncClient, UpdateProcessor]:
    payloads = RedisPayloads(connect_redis(payloads_url, timeout=1.0, connect_timeout=1.0))
    processor = UpdateProcessor(app.bot, app.dp, app.sessions, payloads=payloads)
    settings = load_settings(data_dir=tmp_path, secret_key=TEST_SECRET, redis_url=health_url)
    ctx = AppContext(settings=settings, engine=db.engine, sessions=db.sessions)
    web = create_web_app(ctx, console=False, webhook=webhook_endpoint(processor, SECRET))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://bot.test")
    return client, processor


async def post(client: httpx.AsyncClient, update: dict[str, Any]) -> int:
    return (await client.post("/telegram/webhook", json=update, headers=HEADERS)).status_code


async def test_webhook_refuses_updates_while_redis_is_hung_or_down_and_handles_each_once_after(
    app: BotHarness, db: Database, tmp_path: Path, redis_server: ThrowawayRedis
) -> None:
    app.dp.fsm.storage = fsm_on(redis_server.url)
    client, processor = webhook_app(
        app, db, tmp_path, payloads_url=redis_server.url, health_url=redis_server.url
    )
    await make_worker(db.sessions, 701)
    worker = app.user(701)
    updates = [app.telegram.make_message_update(701, "/menu") for _ in range(3)]

    assert await post(client, updates[0]) == 200
    await processor.drain()
    assert len(worker.messages) == 1
    assert (await client.get("/healthz")).json() == {"status": "ok"}

    redis_server.hang()
    # Not stored, so Telegram must hear an error and send it again (it retries for a day).
    assert await post(client, updates[1]) == 503
    health = await client.get("/healthz")
    assert health.status_code == 503 and health.json()["unreachable"] == ["redis"]
    redis_server.resume()
    assert await post(client, updates[1]) == 200  # Telegram's retry
    await processor.drain()
    assert len(worker.messages) == 2

    redis_server.kill()
    assert await post(client, updates[2]) == 503
    assert (await client.get("/healthz")).status_code == 503
    redis_server.start()  # same port, empty: nothing of this update was kept there
    assert await post(client, updates[2]) == 200
    await processor.drain()
    assert (await client.get("/healthz")).json() == {"status": "ok"}

    assert len(worker.messages) == 3  # each update answered once, none with "sorry"
    assert all(SORRY not in m.plain_text() for m in worker.messages)
    async with db.sessions() as s:
        statuses = (await s.scalars(select(RawUpdate.status))).all()
    assert statuses == [UpdateStatus.DONE] * 3
    await client.aclose()
    await processor.close()


async def test_an_update_stored_before_redis_hung_waits_and_is_handled_once(
    app: BotHarness, db: Database, tmp_path: Path, redis_server: ThrowawayRedis
) -> None:
    """The payload is kept in one Redis and the conversation in another: whichever hangs after
    the 200, the update is neither answered "sorry" nor dropped, and is handled once it is back.
    (Before, a conversation store that failed marked the update failed and threw its payload
    away.)"""
    conversations = ThrowawayRedis(tmp_path)
    conversations.start()
    try:
        app.dp.fsm.storage = fsm_on(conversations.url)
        client, processor = webhook_app(
            app, db, tmp_path, payloads_url=redis_server.url, health_url=conversations.url
        )
        waiting: list[int] = []
        processor.spawn = waiting.append  # type: ignore[method-assign]  # handled below, by hand
        await make_worker(db.sessions, 702)
        worker = app.user(702)
        first, second = (app.telegram.make_message_update(702, "/menu") for _ in range(2))
        assert await post(client, first) == 200
        assert await post(client, second) == 200

        for server, update in ((redis_server, first), (conversations, second)):
            server.hang()
            # As another replica would take it up (after this one died): only Redis has it.
            processor._received.clear()
            await processor.process(update["update_id"])
            async with db.sessions() as s:
                row = await s.get(RawUpdate, update["update_id"])
                assert row is not None and row.status == UpdateStatus.PENDING
            assert worker.messages == []
            server.resume()

        await processor.process(first["update_id"])
        await processor.process(second["update_id"])
        await asyncio.sleep(0)
        assert len(worker.messages) == 2
        # The replica that received an update keeps it in hand until handled: with the payloads'
        # Redis hung it still answers (and the copy left in Redis expires by itself).
        third = app.telegram.make_message_update(702, "/menu")
        assert await post(client, third) == 200
        redis_server.hang()
        try:
            await processor.process(third["update_id"])
        finally:
            redis_server.resume()
        await asyncio.sleep(0)
        assert len(worker.messages) == 3
        assert all(SORRY not in m.plain_text() for m in worker.messages)
        await client.aclose()
        await processor.close()
    finally:
        conversations.kill()


async def test_polling_keeps_a_message_sent_while_redis_is_hung_and_answers_it_after(
    db: Database, redis_server: ThrowawayRedis
) -> None:
    await make_worker(db.sessions, 703)
    async with running_bot(db.sessions, storage=fsm_on(redis_server.url)) as app:
        worker = app.user(703)
        await worker.send("/menu")
        await worker.wait_reply()
        redis_server.hang()
        await worker.send("/menu")
        await asyncio.sleep(3)  # a few tries, each ending in a timeout
        assert len(worker.messages) == 1  # neither an answer nor "sorry" while it is out
        redis_server.resume()
        answer = await worker.wait_reply(timeout=40)
        assert SORRY not in answer.plain_text()
        await worker.wait_idle()
        assert len(worker.messages) == 2
