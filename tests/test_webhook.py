"""Webhook mode: secret checked, update stored before 200, handled once, payload not kept."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from sqlalchemy import select

from bot import updates as raw_updates
from bot.runtime import UpdateProcessor, webhook_endpoint
from bot.storage.db import transaction
from bot.storage.models import RawUpdate, UpdateStatus
from tests.conftest import Database
from tests.console import make_context
from tests.factories import make_worker
from tests.harness import BotHarness
from workvoice.web import create_web_app

SECRET = "s3cret-token_for-tests"


def _client(
    app: BotHarness, db: Database, tmp_path: Path
) -> tuple[httpx.AsyncClient, UpdateProcessor]:
    processor = UpdateProcessor(app.bot, app.dp, app.sessions)
    web = create_web_app(
        make_context(db.sessions, db.engine, tmp_path),
        console=False,
        webhook=webhook_endpoint(processor, SECRET),
    )
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web), base_url="http://bot.test"
    ), processor


async def test_wrong_secret_is_401_and_stores_nothing(
    app: BotHarness, db: Database, tmp_path: Path
) -> None:
    client, _ = _client(app, db, tmp_path)
    update = app.telegram.make_message_update(601, "/start")
    for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
        r = await client.post("/telegram/webhook", json=update, headers=headers)
        assert r.status_code == 401
    async with db.sessions() as s:
        assert (await s.scalars(select(RawUpdate))).all() == []


async def test_replayed_update_is_handled_once(
    app: BotHarness, db: Database, tmp_path: Path
) -> None:
    client, processor = _client(app, db, tmp_path)
    await make_worker(db.sessions, 602)
    update = app.telegram.make_message_update(602, "/frobnicate")
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    first = await client.post("/telegram/webhook", json=update, headers=headers)
    assert first.status_code == 200
    second = await client.post("/telegram/webhook", json=update, headers=headers)
    assert second.status_code == 200
    await processor.drain()
    worker = app.user(602)
    assert (
        len(worker.messages) == 1 and "don't know that command" in worker.messages[0].plain_text()
    )
    async with db.sessions() as s:
        row = await s.get(RawUpdate, update["update_id"])
        assert row is not None and row.status == UpdateStatus.DONE
    assert await processor.payloads.get(update["update_id"]) is None


async def test_bad_bodies_are_refused(app: BotHarness, db: Database, tmp_path: Path) -> None:
    client, _ = _client(app, db, tmp_path)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    assert (
        await client.post("/telegram/webhook", content=b"{not json", headers=headers)
    ).status_code == 400
    assert (
        await client.post("/telegram/webhook", json={"message": {}}, headers=headers)
    ).status_code == 400
    assert (await client.post("/telegram/webhook", json=[1, 2], headers=headers)).status_code == 400


async def test_stored_but_unhandled_updates_are_recovered(app: BotHarness, db: Database) -> None:
    """The process died after answering 200 and before handling: the next start handles it."""
    await make_worker(db.sessions, 603)
    update = app.telegram.make_message_update(603, "/frobnicate")
    payloads = raw_updates.MemoryPayloads()  # stands for Redis, which outlives the process
    await payloads.put(update["update_id"], raw_updates.encode(update))
    async with transaction(db.sessions) as s:
        assert await raw_updates.store(s, update["update_id"])
    processor = UpdateProcessor(app.bot, app.dp, app.sessions, payloads=payloads)
    assert await processor.recover() == 1
    assert await processor.recover() == 0
    await asyncio.sleep(0)
    assert len(app.user(603).messages) == 1


async def test_healthz_and_metrics(app: BotHarness, db: Database, tmp_path: Path) -> None:
    client, processor = _client(app, db, tmp_path)
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    update = app.telegram.make_message_update(604, "/frobnicate")
    await client.post(
        "/telegram/webhook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
    )
    await processor.drain()
    metrics = (await client.get("/metrics")).text
    assert 'workvoice_updates_total{type="message"}' in metrics
    assert "workvoice_update_seconds_bucket" in metrics
