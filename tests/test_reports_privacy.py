"""Issue 14, reports: each audit finding's attack replayed, getting nothing (DESIGN §4 rules 3-5).

H1 drafts sealed and expiring, and a receipt-only follow-up that keeps no case id under the
Telegram id. What the bot host can read, logs, receipts and references are in
``test_reports_privacy_readers.py``.
"""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from aiogram.fsm.storage.base import StorageKey
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dispatcher import ExpiringMemoryStorage, create_fsm_storage
from bot.storage.db import transaction
from bot.storage.models import User
from bot.storage.reports import Case, DraftFile, ReporterMessage
from services.reports import submission
from services.reports.conversation import (
    attach_reporter_messages,
)
from services.reports.crypto import CannotDecrypt, KeyRing, keyring
from services.reports.jobs import purge_draft_files as report_drafts
from tests import journeys
from tests.console import make_context
from tests.factories import make_worker
from tests.harness import BotHarness, running_bot
from tests.journeys import answer
from tests.reports_privacy import (
    FOLLOWUP,
    MARKER,
    VOICE,
    file_receipt_only,
    raw_tables,
    start_draft,
    t,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_h1_report_draft_in_memory_fsm_is_sealed_and_expires(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock()
    storage = ExpiringMemoryStorage(timedelta(hours=2), clock=clock)
    async with running_bot(sessions, storage=storage) as app:
        worker, review = await start_draft(app, 7000006)
        # The review screen does not echo the words (it could not: they are sealed).
        assert MARKER not in review.plain_text()
        assert t("received and sealed 🔒") in review.plain_text()
        assert t("Files: {value}", value=1) in review.plain_text()
        # The audit's attack: dump the conversation state. Abandoned here, mid-report.
        dumped = repr(storage.storage)
        assert "SECRET-NARRATIVE" not in dumped and "Rahim" not in dumped
        assert "FILE0" not in dumped  # no Telegram file id either: the file is fetched and sealed
        assert "SECRET-NARRATIVE" not in await raw_tables(sessions, "report_draft_files")
        async with sessions() as s:
            files = (await s.scalars(select(DraftFile))).all()
            assert len(files) == 1 and VOICE not in files[0].content
            assert keyring(app.settings).open(files[0].content, files[0].key_id) == VOICE
        # The story in the state is a sealed box the public key alone cannot open.
        (record,) = [r for r in storage.storage.values() if r.data]
        (part,) = record.data["wizard_draft"]["story"]
        assert keyring(app.settings).open_text(base64.b64decode(part["box"]), part["kid"]) == MARKER

        clock.now += timedelta(hours=2).total_seconds()  # the worker walked away
        assert part["box"] in repr(storage.storage)  # still there until touched...
        await worker.tap(t("✅ Send report"))  # ...and gone the moment anything looks
        gone = await worker.wait_reply()
        assert gone.plain_text() == t(
            "This conversation was closed: it ended, or it was left for a long time and deleted "
            "to keep you safe. Please start again from the menu."
        )
        await worker.wait_idle()
        assert part["box"] not in repr(storage.storage) and "story" not in repr(storage.storage)
        async with sessions() as s:
            assert await s.scalar(select(func.count()).select_from(Case)) == 0


async def test_h1_report_draft_in_redis_is_sealed_and_has_a_ttl(
    sessions: async_sessionmaker[AsyncSession], redis_url: str, redis_prefix: str
) -> None:
    storage = create_fsm_storage(redis_url, prefix=redis_prefix, ttl=timedelta(minutes=90))
    async with running_bot(sessions, storage=storage) as app:
        await start_draft(app, 7000007)
    client = Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(f"{redis_prefix}:*")]
        assert any(k.endswith(b":data") for k in keys) and any(k.endswith(b":state") for k in keys)
        for key in keys:
            value = await client.get(key)
            assert value is not None and b"SECRET-NARRATIVE" not in value and b"FILE0" not in value
            ttl = await client.ttl(key)
            assert 0 < ttl <= 90 * 60  # the audit saw ttl=-1
        await client.delete(*keys)
    finally:
        await client.aclose()


async def test_h1_redis_forgets_an_abandoned_draft_after_its_ttl(
    redis_url: str, redis_prefix: str
) -> None:
    storage = create_fsm_storage(redis_url, prefix=redis_prefix, ttl=timedelta(seconds=1))
    key = StorageKey(bot_id=1, chat_id=7000015, user_id=7000015)
    try:
        await storage.set_state(key, "Intake:story")
        await storage.set_data(key, {"story": ["sealed", "kid"]})
        assert await storage.get_state(key) == "Intake:story"
        await asyncio.sleep(2.1)  # Redis expires keys itself: there is no clock to inject
        assert await storage.get_state(key) is None and await storage.get_data(key) == {}
    finally:
        await storage.close()


async def voice_note_draft(worker: Any) -> None:
    """A working-hours report with nothing but a voice note yet (a sealed draft file)."""
    await worker.send("/report")
    await worker.wait_reply()
    await worker.tap(answer("No"))  # danger now? (the first question)
    await worker.wait_reply()
    await worker.tap(t("Working hours and rest"))
    await worker.wait_reply()
    await worker.tap(t("No weekly day off"))
    await worker.wait_reply()
    await worker.send_voice(content=VOICE)
    await worker.wait_idle()


async def test_h1_state_and_sealed_files_go_on_cancel_and_after_the_ttl(
    app: BotHarness, tmp_path: Path
) -> None:
    await make_worker(app.sessions, 7000008)
    worker = app.user(7000008)
    await voice_note_draft(worker)
    await worker.tap(t("✖️ Cancel"))
    await worker.wait_reply(contains=t("Your report was not sent. Nothing was kept."))
    await worker.wait_idle()  # the update's transaction commits after the reply
    assert await raw_tables(app.sessions, "report_draft_files") == "[[]]"
    assert "files" not in repr(app.dp.fsm.storage.storage)  # type: ignore[attr-defined]

    # Abandoned without cancelling: the purge job removes sealed files older than the draft TTL.
    await voice_note_draft(worker)
    ctx = make_context(app.sessions, None, tmp_path)
    ctx.settings = app.settings
    await report_drafts(ctx)
    assert await raw_tables(app.sessions, "report_draft_files") != "[[]]"  # still fresh
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=121)):
        await report_drafts(ctx)
    assert await raw_tables(app.sessions, "report_draft_files") == "[[]]"
    # /start leaves a report too, like /menu.
    await worker.send("/start")
    await worker.wait_idle()
    records = app.dp.fsm.storage.storage.values()  # type: ignore[attr-defined]
    assert all(r.state is None and not r.data for r in records)


def test_h1_memory_storage_ttl_is_per_key_and_refreshed_on_change() -> None:
    clock = Clock()
    storage = ExpiringMemoryStorage(timedelta(minutes=10), clock=clock)
    a, b = StorageKey(1, 1, 1), StorageKey(1, 2, 2)

    async def run() -> None:
        await storage.set_state(a, "Intake:story")
        await storage.set_data(a, {"x": 1})
        clock.now += 300
        await storage.set_data(b, {"y": 2})
        clock.now += 300  # a: 10 minutes since its last change; b: 5
        assert await storage.get_state(a) is None and await storage.get_data(a) == {}
        assert await storage.get_data(b) == {"y": 2}
        await storage.set_data(b, {"y": 3})  # a change refreshes
        clock.now += 599
        assert await storage.get_value(b, "y") == 3
        await storage.set_data(b, {})
        assert b not in storage.storage and a not in storage.storage  # nothing lingers

    asyncio.run(run())


def test_conversations_abandoned_in_memory_are_dropped_without_being_touched_again() -> None:
    """Reliability review §10: memory grew by each person who ever wrote, forever. A worker who
    leaves a conversation half-way and never returns is forgotten after the TTL too."""
    clock = Clock()
    storage = ExpiringMemoryStorage(timedelta(minutes=10), clock=clock)

    async def run() -> None:
        for user in range(1000):
            key = StorageKey(1, user, user)
            await storage.get_state(key)  # reading creates nothing
            await storage.set_state(key, "Intake:story")
            await storage.set_data(key, {"draft": "x"})
        assert len(storage.storage) == 1000
        clock.now += 601
        await storage.set_state(StorageKey(1, 5000, 5000), "Intake:story")  # someone new
        assert len(storage.storage) == len(storage._changed) == 1

    asyncio.run(run())


async def test_h1_an_error_mid_report_clears_the_draft(
    app: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_worker(app.sessions, 7000009)
    worker = app.user(7000009)
    await worker.send("/report")
    await worker.wait_reply()
    await worker.tap(answer("No"))  # danger now? (the first question)
    await worker.wait_reply()
    await worker.tap(t("Working hours and rest"))
    await worker.wait_reply()
    await worker.tap(t("No weekly day off"))
    await worker.wait_reply()

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(submission, "add_draft_file", broken)
    await worker.send_voice(content=VOICE)
    sorry = await worker.wait_reply()
    assert "Sorry, something went wrong" in sorry.plain_text()
    await worker.wait_idle()
    storage = app.dp.fsm.storage
    assert all(r.state is None and not r.data for r in storage.storage.values())  # type: ignore[attr-defined]


# --- receipt-only follow-up: no case id under the Telegram id -------------------------------


async def test_receipt_only_follow_up_keeps_no_case_id_under_the_telegram_id(
    app: BotHarness, tmp_path: Path
) -> None:
    receipt = await file_receipt_only(app, 7000010)
    async with app.sessions() as s:
        case = await s.scalar(select(Case))
        assert case is not None and case.reporter_user_id is None
        case_id, reference, lookup = case.id, case.reference, case.receipt_lookup
    worker = app.user(7000010)
    await worker.send("/follow")
    await worker.wait_reply()
    await worker.send(receipt)
    shown = await worker.wait_reply()
    assert reference in shown.plain_text()
    await worker.wait_idle()

    # A right receipt leaves no per-chat row whose time would match the message's (rule 4).
    assert await raw_tables(app.sessions, "receipt_attempts") == "[[]]"
    storage = app.dp.fsm.storage
    (record,) = [r for r in storage.storage.values() if r.data]  # type: ignore[attr-defined]
    draft = record.data["wizard_draft"]
    assert draft["own_ref"] == "" and draft["reply_to"]
    dumped = json.dumps(record.data)
    for leak in (reference, lookup, receipt, f'"case": {case_id}', "case_id"):
        assert leak not in dumped
    # What names the case is a sealed box: the bot (public key only) cannot open it.
    public_only = KeyRing(keyring(app.settings).public)
    with pytest.raises(CannotDecrypt):
        public_only.open(base64.b64decode(draft["reply_to"]), public_only.current_id)

    await worker.tap(t("✍️ Write to the case handler"))
    await worker.wait_reply()
    await worker.send(FOLLOWUP)
    await worker.wait_reply(contains=t("Your message was sent to the case handler."))
    assert FOLLOWUP not in json.dumps([r.data for r in storage.storage.values()])  # type: ignore[attr-defined]
    await worker.tap(t("✅ Done"))
    await worker.wait_reply()
    await worker.wait_idle()
    # Once written, nothing about the case stays in the conversation state at all.
    assert all(not r.data and r.state is None for r in storage.storage.values())  # type: ignore[attr-defined]
    # In the database the message waits sealed, with no case column and no person.
    async with app.sessions() as s:
        (waiting,) = (await s.scalars(select(ReporterMessage))).all()
        assert FOLLOWUP.encode() not in waiting.body
        user = await s.scalar(select(User).where(User.telegram_id == 7000010))
        assert user is not None
    raw = await raw_tables(app.sessions, "reporter_messages", "users", "receipt_attempts")
    assert "FOLLOWUP-MARKER" not in raw and reference not in raw
    # The console side (private key) files it with its case.
    async with transaction(app.sessions) as s:
        assert await attach_reporter_messages(s, keyring(app.settings)) == 1
    async with app.sessions() as s:
        case = await s.get(Case, case_id)
        assert case is not None
        event = case.events[-1]
        assert event.kind == "message_from_reporter" and event.actor == "reporter"
        assert keyring(app.settings).open_text(event.body or b"", event.detail["kid"]) == FOLLOWUP
        assert await s.scalar(select(func.count()).select_from(ReporterMessage)) == 0


async def test_reply_needs_a_fresh_receipt_check(app: BotHarness) -> None:
    receipt = await file_receipt_only(app, 7000011)
    worker = app.user(7000011)
    await journeys.follow_up(worker, receipt)
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=31)):
        await worker.tap(t("✍️ Write to the case handler"))
        again = await worker.wait_reply()
    assert again.plain_text() == t("For your safety, please open your report again before writing.")
    async with app.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(ReporterMessage)) == 0


# --- H3: what the bot host can read ----------------------------------------------------------
