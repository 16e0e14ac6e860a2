"""Webhook mode: secret checked, update stored before 200, handled once, payload not kept."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text

from bot import updates as raw_updates
from bot.runtime import MAX_BODY, UpdateProcessor
from bot.storage.db import transaction
from bot.storage.models import RawUpdate, UpdateStatus
from tests import journeys
from tests.conftest import Database
from tests.factories import make_factory, make_worker
from tests.harness import BotHarness
from tests.webhook_route import database_files, files_holding, route_through_webhook, webhook_client

SECRET = "s3cret-token_for-tests"


async def stored_a_while_ago(db: Database, update_id: int) -> None:
    """The process that stored it died a while ago (past ``RECEIVER_GRACE``): it is anyone's."""
    async with transaction(db.sessions) as s:
        row = await s.get(RawUpdate, update_id)
        assert row is not None
        row.received_at = row.received_at - 2 * raw_updates.RECEIVER_GRACE


async def test_wrong_secret_is_401_and_stores_nothing(
    app: BotHarness, db: Database, tmp_path: Path
) -> None:
    client, _ = webhook_client(app, db, tmp_path, SECRET)
    update = app.telegram.make_message_update(601, "/start")
    for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
        r = await client.post("/telegram/webhook", json=update, headers=headers)
        assert r.status_code == 401
    async with db.sessions() as s:
        assert (await s.scalars(select(RawUpdate))).all() == []


async def test_replayed_update_is_handled_once(
    app: BotHarness, db: Database, tmp_path: Path
) -> None:
    client, processor = webhook_client(app, db, tmp_path, SECRET)
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
    client, _ = webhook_client(app, db, tmp_path, SECRET)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    assert (
        await client.post("/telegram/webhook", content=b"{not json", headers=headers)
    ).status_code == 400
    assert (
        await client.post("/telegram/webhook", json={"message": {}}, headers=headers)
    ).status_code == 400
    assert (await client.post("/telegram/webhook", json=[1, 2], headers=headers)).status_code == 400
    deep = b"[" * 500_000  # under 1 MB, but too deep for the JSON parser
    assert (
        await client.post("/telegram/webhook", content=deep, headers=headers)
    ).status_code == 400
    # Beyond the 64-bit column (review §8: a 500 on PostgreSQL, retried forever), or negative.
    for update_id in (2**70, 2**63, -1):
        response = await client.post(
            "/telegram/webhook", json={"update_id": update_id, "message": {}}, headers=headers
        )
        assert response.status_code == 400, update_id


async def test_stored_but_unhandled_updates_are_recovered(app: BotHarness, db: Database) -> None:
    """The process died after answering 200 and before handling: the next start handles it."""
    await make_worker(db.sessions, 603)
    update = app.telegram.make_message_update(603, "/frobnicate")
    payloads = raw_updates.MemoryPayloads()  # stands for Redis, which outlives the process
    await payloads.put(update["update_id"], raw_updates.encode(update))
    async with transaction(db.sessions) as s:
        assert await raw_updates.store(s, update["update_id"])
    processor = UpdateProcessor(app.bot, app.dp, app.sessions, payloads=payloads)
    assert await processor.recover() == 0  # just stored: its receiver's to handle
    await stored_a_while_ago(db, update["update_id"])
    assert await processor.recover() == 1
    assert await processor.recover() == 0
    await asyncio.sleep(0)
    assert len(app.user(603).messages) == 1


async def test_healthz_and_metrics(
    app: BotHarness, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKVOICE_METRICS_TOKEN", "scrape-me")  # /metrics needs it (L8)
    client, processor = webhook_client(app, db, tmp_path, SECRET)
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    update = app.telegram.make_message_update(604, "/frobnicate")
    await client.post(
        "/telegram/webhook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
    )
    await processor.drain()
    metrics = (await client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})).text
    assert 'workvoice_updates_total{type="message"}' in metrics
    assert "workvoice_update_seconds_bucket" in metrics


# --- H6 / L6 (DESIGN §4.7: incoming webhook payloads never reach the database in plaintext) ---


async def test_h6_a_cancelled_report_sent_by_webhook_leaves_no_trace_in_database_files(
    app: BotHarness, db: Database, tmp_path: Path
) -> None:
    """The audit's attack: a narrative typed in webhook mode, then cancelled; CHECKPOINT and grep
    the data directory and WAL (or the SQLite file, -wal and -journal) for it."""
    started = time.time()
    marker = f"WEBHOOK-PLAINTEXT-{uuid.uuid4().hex}"
    control = f"CONTROL-{uuid.uuid4().hex}"  # written to the database on purpose: the scan works
    client, processor = webhook_client(app, db, tmp_path, SECRET)
    posts = route_through_webhook(app, client, SECRET)
    await make_factory(db.sessions, "WH-01", name=control)
    await make_worker(db.sessions, 605, factory_code="WH-01")
    worker = app.user(605)
    await journeys.start_report(worker, f"{marker} the night supervisor touched me in store room 3")
    await worker.tap("✖️ Cancel")
    assert (await worker.wait_reply()).plain_text() == "Your report was not sent. Nothing was kept."
    assert all(r.status_code == 200 for r in await asyncio.gather(*posts))
    await processor.drain()
    async with db.sessions() as s:
        rows = (await s.scalars(select(RawUpdate))).all()
    assert len(rows) == len(posts) and {r.status for r in rows} == {UpdateStatus.DONE}

    files = await database_files(db, started)
    assert files_holding(files, control.encode()), "the scan finds what was written"
    assert files_holding(files, marker.encode()) == []


async def test_l6_a_body_over_1_mb_is_413_and_nothing_is_stored(
    app: BotHarness, db: Database, tmp_path: Path
) -> None:
    client, processor = webhook_client(app, db, tmp_path, SECRET)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    update = app.telegram.make_message_update(606, "x" * (MAX_BODY + 1))
    body = json.dumps(update).encode()
    declared = await client.post("/telegram/webhook", content=body, headers=headers)
    assert declared.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the read itself is capped
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    streamed = await client.post("/telegram/webhook", content=chunks(), headers=headers)
    assert streamed.status_code == 413
    await processor.drain()
    async with db.sessions() as s:
        assert (await s.scalars(select(RawUpdate))).all() == []
    assert await processor.payloads.get(update["update_id"]) is None
    assert app.user(606).messages == []
    # Just under the cap is still an update.
    small = app.telegram.make_message_update(606, "/frobnicate")
    assert (await client.post("/telegram/webhook", json=small, headers=headers)).status_code == 200


async def test_a_retry_of_an_update_whose_payload_was_lost_is_handled(
    app: BotHarness, db: Database
) -> None:
    """Without Redis a crash loses what waited in memory: the next start forgets those ids, so
    Telegram's retry (it retries when the 200 never came) is handled, once."""
    await make_worker(db.sessions, 607)
    update = app.telegram.make_message_update(607, "/frobnicate")
    async with transaction(db.sessions) as s:
        assert await raw_updates.store(s, update["update_id"])  # the id, then the process died
    await stored_a_while_ago(db, update["update_id"])
    processor = UpdateProcessor(app.bot, app.dp, app.sessions)
    assert await processor.recover() == 1
    async with db.sessions() as s:
        assert await s.get(RawUpdate, update["update_id"]) is None
    await processor.receive(update["update_id"], raw_updates.encode(update))
    await processor.receive(update["update_id"], raw_updates.encode(update))
    await processor.drain()
    assert len(app.user(607).messages) == 1


async def test_with_redis_another_replica_recovers_the_payload_and_it_expires(
    app: BotHarness, db: Database, redis_url: str, redis_prefix: str
) -> None:
    await make_worker(db.sessions, 608)
    update = app.telegram.make_message_update(608, "/frobnicate")
    crashed = raw_updates.RedisPayloads.from_url(redis_url, prefix=redis_prefix)
    await crashed.put(update["update_id"], raw_updates.encode(update))
    async with transaction(db.sessions) as s:
        assert await raw_updates.store(s, update["update_id"])
    key = f"{redis_prefix}:update:{update['update_id']}"
    ttl = await crashed.redis.ttl(key)
    assert 0 < ttl <= raw_updates.PAYLOAD_TTL.total_seconds()
    await stored_a_while_ago(db, update["update_id"])
    other = UpdateProcessor(
        app.bot,
        app.dp,
        app.sessions,
        payloads=raw_updates.RedisPayloads.from_url(redis_url, prefix=redis_prefix),
    )
    assert await other.recover() == 1
    assert len(app.user(608).messages) == 1
    assert await crashed.redis.exists(key) == 0  # handled: the payload is gone at once
    await other.close()
    await crashed.close()


async def test_a_payload_redis_lost_is_put_back_by_the_replica_that_holds_it(
    app: BotHarness, db: Database, redis_url: str, redis_prefix: str
) -> None:
    """Replica A received an update and its handling was put off (an outage); Redis then
    restarted empty. B, finding no payload, gives the update back instead of dropping it (it
    did, and the worker's message was lost: the fault tests caught it); A puts the payload back
    at its next tick and the update is handled once."""
    from aiogram.types import Update

    await make_worker(db.sessions, 609)
    update = app.telegram.make_message_update(609, "/menu")
    update_id = update["update_id"]
    a, b = (
        UpdateProcessor(
            app.bot,
            app.dp,
            app.sessions,
            payloads=raw_updates.RedisPayloads.from_url(redis_url, prefix=redis_prefix),
        )
        for _ in range(2)
    )
    a.spawn = lambda _update_id: None  # type: ignore[method-assign]  # its handling was put off
    await a.receive(
        update_id,
        raw_updates.encode(update),
        Update.model_validate(update, context={"bot": app.bot}),
    )
    await a.payloads.discard(update_id)  # Redis restarted, keeping nothing
    await stored_a_while_ago(db, update_id)
    assert await b.recover() == 1
    async with db.sessions() as s:
        row = await s.get(RawUpdate, update_id)
        assert row is not None and row.status == UpdateStatus.PENDING
    assert app.user(609).messages == []
    await a._restore_held()  # A's keep-up tick
    assert await b.recover() == 1
    assert len(app.user(609).messages) == 1
    await b.recover()
    assert len(app.user(609).messages) == 1
    await a._restore_held()  # handled by B: A lets its copy go, and puts nothing back
    assert a._received == {}
    assert await a.payloads.get(update_id) is None
    await a.close()
    await b.close()


async def test_h6_webhook_process_on_postgres_keeps_no_payload_and_logs_no_text(
    tmp_path: Path,
) -> None:
    """The audit's set-up: ``workvoice run`` in webhook mode on PostgreSQL at DEBUG, a worker's
    text POSTed by "Telegram"; the database files and the process's log hold none of it."""
    import os
    import signal
    import sys

    from services.reports.crypto import generate_pair
    from tests.conftest import PG_UP, _create_pg_database, _drop_pg_database
    from tests.telegram_fake import FakeTelegram
    from tests.test_run_process import _free_port

    if not PG_UP:
        pytest.skip("PostgreSQL not reachable on 127.0.0.1:5432 (start it to run this)")
    started = time.time()
    marker = f"WEBHOOK-PROCESS-{uuid.uuid4().hex}"
    name = f"wv_wh_{uuid.uuid4().hex[:12]}"
    url = await _create_pg_database(name)
    telegram = FakeTelegram()
    await telegram.start()
    port = _free_port()
    public, private = generate_pair()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WORKVOICE_")},
        "WORKVOICE_BOT_TOKEN": telegram.token,
        "WORKVOICE_TELEGRAM_API_URL": telegram.base_url,
        "WORKVOICE_DATA_DIR": str(tmp_path),
        "WORKVOICE_DATABASE_URL": url,
        "WORKVOICE_CONSOLE_PORT": str(port),
        "WORKVOICE_WEBHOOK_URL": f"http://127.0.0.1:{port}",
        "WORKVOICE_WEBHOOK_SECRET": SECRET,
        "WORKVOICE_SECRET_KEY": uuid.uuid4().hex * 2,
        "WORKVOICE_REPORT_PUBLIC_KEY": public,
        "WORKVOICE_REPORT_PRIVATE_KEY": private,
        "WORKVOICE_LOG_LEVEL": "DEBUG",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "workvoice.cli",
        "run",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    engine = None
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(600):  # importing aiogram takes seconds
                if telegram.webhook is not None:
                    try:
                        await client.get(f"http://127.0.0.1:{port}/healthz")
                        break
                    except httpx.ConnectError:
                        pass
                assert proc.returncode is None, (await proc.stdout.read()).decode()  # type: ignore[union-attr]
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the bot never listened for its webhook")
        worker = telegram.user(8_812_399_001, first_name=f"Name{marker}")
        update = telegram.make_message_update(
            8_812_399_001, f"{marker} my supervisor", first_name=f"Name{marker}"
        )
        async with httpx.AsyncClient() as client:
            answer = await client.post(
                f"http://127.0.0.1:{port}/telegram/webhook",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
            )
        assert answer.status_code == 200
        await worker.wait_reply(timeout=30)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=30) == 0
        log = (await proc.stdout.read()).decode()  # type: ignore[union-attr]
        assert "bot.started mode=webhook" in log
        assert marker not in log and "8812399001" not in log

        from bot.storage.db import create_engine, create_sessionmaker

        engine = create_engine(url)
        control = f"CONTROL-{uuid.uuid4().hex}"  # written on purpose: the scan finds it
        await make_factory(create_sessionmaker(engine), "WH-02", name=control)
        files = await database_files(Database("postgres", url, engine), started)
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM raw_updates"))).scalar_one() == 1
        assert files_holding(files, control.encode())
        assert files_holding(files, marker.encode()) == []
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await telegram.stop()
        if engine is not None:
            await engine.dispose()
        await _drop_pg_database(name)


async def test_a_dead_replicas_claim_is_taken_up_within_seconds_and_a_live_one_is_kept(
    app: BotHarness, db: Database
) -> None:
    """Issue 18, §3: the review's 27 updates claimed by a replica killed mid-handling waited 81
    minutes, for the next start. A replica's keep_up loop renews its own claims and takes up
    claims nobody renewed for ``STALE_CLAIM``, while it runs."""
    await make_worker(db.sessions, 611)
    await make_worker(db.sessions, 612)
    dead = app.telegram.make_message_update(611, "/frobnicate")
    slow = app.telegram.make_message_update(612, "/frobnicate")
    payloads = raw_updates.MemoryPayloads()  # stands for Redis, shared by the replicas
    for update in (dead, slow):
        await payloads.put(update["update_id"], raw_updates.encode(update))
        async with transaction(db.sessions) as s:
            assert await raw_updates.store(s, update["update_id"])
            assert await raw_updates.claim(s, update["update_id"])
            row = await s.get(RawUpdate, update["update_id"])
            assert row is not None and row.claimed_at is not None
            row.claimed_at = row.claimed_at - 2 * raw_updates.STALE_CLAIM  # claimed long ago
    # Replica A still handles `slow` (a slow handler): its loop renews that claim.
    a = UpdateProcessor(app.bot, app.dp, app.sessions, payloads=payloads)
    a._inflight.add(slow["update_id"])
    b = UpdateProcessor(app.bot, app.dp, app.sessions, payloads=payloads)
    stop = asyncio.Event()
    async with transaction(db.sessions) as s:
        await raw_updates.renew(s, sorted(a._inflight))  # what a's keep_up does every 10 s
    loop = asyncio.create_task(b.keep_up(stop))
    try:
        for _ in range(100):
            if app.user(611).messages:
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await loop
    assert len(app.user(611).messages) == 1  # the dead replica's update: handled by b
    assert app.user(612).messages == []  # a's, renewed: left to a
    async with db.sessions() as s:
        row = await s.get(RawUpdate, slow["update_id"])
        assert row is not None and row.status == UpdateStatus.PROCESSING


async def test_a_nul_in_a_name_or_text_is_answered_once_not_refused_forever(
    app: BotHarness, db: Database, tmp_path: Path
) -> None:
    """Reliability review §8: PostgreSQL refuses a NUL, and an update holding one answered 500
    on every retry. It is cleaned, handled once, and its repeats are skipped."""
    client, processor = webhook_client(app, db, tmp_path, SECRET)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    first = app.telegram.make_message_update(611, "/start\x00", first_name="Wo\x00rker")
    worker = app.user(611)
    for _ in range(2):  # Telegram's retry of the same update
        assert (
            await client.post("/telegram/webhook", json=first, headers=headers)
        ).status_code == 200
        await processor.drain()
    assert len(worker.messages) == 1
    await make_worker(db.sessions, 612)
    narrative = app.telegram.make_message_update(612, "I was hurt\x00 at the\x00 gate")
    assert (
        await client.post("/telegram/webhook", json=narrative, headers=headers)
    ).status_code == 200
    await processor.drain()
    async with db.sessions() as s:
        statuses = (await s.scalars(select(RawUpdate.status).order_by(RawUpdate.update_id))).all()
    assert statuses == [UpdateStatus.DONE, UpdateStatus.DONE]
    assert len(app.user(612).messages) == 1
