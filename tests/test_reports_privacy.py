"""Issue 14, reports: each audit finding's attack replayed, getting nothing (DESIGN §4 rules 3-5).

H1 drafts sealed and expiring, H2 no user row in report logs, H3 reporter messages not readable
by the bot host, L5 odd digits, L8 non-sequential references, M8 argon2 off the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dispatcher import ExpiringMemoryStorage, create_fsm_storage
from bot.i18n import gettext
from bot.storage.db import transaction
from bot.storage.models import User
from bot.storage.reports import Case, CaseEvent, DraftFile, ReporterMessage
from services.accounts import do_create_staff
from services.reports import receipts
from services.reports.cases import (
    Intake,
    access_case,
    attach_reporter_messages,
    do_message_reporter,
    do_queue_reporter_message,
    do_submit_report,
    messages_for_reporter,
    reporter_key,
    seal_case_ref,
)
from services.reports.crypto import CannotDecrypt, KeyRing, keyring, reporter_box
from services.reports.protocol import Category, Harm
from tests import journeys
from tests.conftest import Database
from tests.factories import make_worker
from tests.harness import BotHarness, running_bot
from workvoice.kernel.settings import load_settings

MARKER = "SECRET-NARRATIVE-MARKER: supervisor Rahim Uddin on line 7 touched me on 2 Dec"
VOICE = b"OggS-VOICE-MARKER"
FOLLOWUP = "REPORTER-FOLLOWUP-MARKER: he did it again today near the cutting table"
HANDLER = "HANDLER-MARKER: which line do you work on?"
SECRET = "server-secret-for-tests"


def t(message: str, **params: object) -> str:
    return gettext(message, locale="en", **params)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def start_draft(app: BotHarness, telegram_id: int) -> Any:
    """A worker goes as far as the review screen with a marked narrative and voice note."""
    await make_worker(app.sessions, telegram_id)
    worker = app.user(telegram_id)
    await journeys.start_report(worker, MARKER)
    await worker.send_voice(content=VOICE)
    await worker.wait_idle()
    review = await journeys.report_to_review(worker)
    return worker, review


async def raw_tables(sessions: async_sessionmaker[AsyncSession], *tables: str) -> str:
    async with sessions() as s:
        return repr([(await s.execute(text(f"SELECT * FROM {name}"))).all() for name in tables])


# --- H1: the draft ---------------------------------------------------------------------------


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
        assert t("Files: {value}", value="1") in review.plain_text()
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
        sealed, kid = record.data["story"]
        assert keyring(app.settings).open_text(base64.b64decode(sealed), kid) == MARKER

        clock.now += timedelta(hours=2).total_seconds()  # the worker walked away
        assert repr(storage.storage).count("story") == 1  # still there until touched...
        await worker.tap(t("✅ Send report"))  # ...and gone the moment anything looks
        gone = await worker.wait_reply()
        assert gone.plain_text() == t(
            "This unsent report was deleted because it was left for a long time, to keep you "
            "safe. Please start again."
        )
        await worker.wait_idle()
        assert "story" not in repr(storage.storage)
        async with sessions() as s:
            assert await s.scalar(select(func.count()).select_from(Case)) == 0


async def test_h1_report_draft_in_redis_is_sealed_and_has_a_ttl(
    sessions: async_sessionmaker[AsyncSession], redis_url: str, redis_prefix: str
) -> None:
    from redis.asyncio import Redis

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
    from aiogram.fsm.storage.base import StorageKey

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
    await worker.tap(t("Working hours and rest"))
    await worker.wait_reply()
    await worker.send_voice(content=VOICE)
    await worker.wait_idle()


async def test_h1_state_and_sealed_files_go_on_cancel_and_after_the_ttl(
    app: BotHarness, tmp_path: Path
) -> None:
    from tests.console import make_context
    from workvoice.scheduler import report_drafts

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
    from aiogram.fsm.storage.base import StorageKey

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


async def test_h1_an_error_mid_report_clears_the_draft(
    app: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.reports import cases

    await make_worker(app.sessions, 7000009)
    worker = app.user(7000009)
    await worker.send("/report")
    await worker.wait_reply()
    await worker.tap(t("Working hours and rest"))
    await worker.wait_reply()

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(cases, "add_draft_file", broken)
    await worker.send_voice(content=VOICE)
    sorry = await worker.wait_reply()
    assert "Sorry, something went wrong" in sorry.plain_text()
    await worker.wait_idle()
    storage = app.dp.fsm.storage
    assert all(r.state is None and not r.data for r in storage.storage.values())  # type: ignore[attr-defined]


# --- receipt-only follow-up: no case id under the Telegram id -------------------------------


async def file_receipt_only(app: BotHarness, telegram_id: int) -> str:
    worker, _review = await start_draft(app, telegram_id)
    return journeys.receipt_digits(await journeys.send_report(worker))


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
    assert set(record.data) == {"reply_to", "reply_nonce", "reply_until"}
    dumped = json.dumps(record.data)
    for leak in (reference, lookup, receipt, f'"case": {case_id}', "case_id"):
        assert leak not in dumped
    # What names the case is a sealed box: the bot (public key only) cannot open it.
    public_only = KeyRing(keyring(app.settings).public)
    with pytest.raises(CannotDecrypt):
        public_only.open(base64.b64decode(record.data["reply_to"]), public_only.current_id)

    await worker.tap(t("✍️ Write to the case handler"))
    await worker.wait_reply()
    await worker.send(FOLLOWUP)
    await worker.wait_reply(contains=t("Your message was sent to the case handler."))
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


async def submit(
    sessions: async_sessionmaker[AsyncSession], keys: KeyRing, *, in_chat: bool = False
) -> tuple[int, str]:
    user = await make_worker(sessions, 600 + secrets.randbelow(10_000))
    async with transaction(sessions) as s:
        data = Intake(
            category=Category.HARASSMENT,
            harm=Harm.SEXUAL_HARASSMENT,
            narrative=MARKER,
            danger=False,
            affects_others=None,
            follow_up_in_chat=in_chat,
            consent_to_share=False,
            consent_to_name=False,
            language="en",
            submission_token=secrets.token_hex(16),
        )
        case, receipt = await do_submit_report(
            s,
            data,
            keys=keys,
            secret_key=SECRET,
            reporter_user_id=user.id,
            factory=None,
            country_code="BD",
        )
        assert receipt is not None
        return case.id, receipt


async def handler_of(sessions: async_sessionmaker[AsyncSession]) -> Any:
    async with transaction(sessions) as s:
        return await do_create_staff(
            s,
            email="h@example.org",
            password="a long passphrase",
            role="case_handler",
            countries=["BD"],
        )


def decrypt_reporter_msgs(
    rows: list[tuple[str, dict[str, Any], bytes | None]], pub: KeyRing
) -> list[str]:
    """The audit's attack script: DB + SECRET_KEY + report public key, no private key, no receipt."""
    opened = []
    box = reporter_box(SECRET)
    for _kind, detail, body in rows:
        for value in detail.values():
            if isinstance(value, str):
                with contextlib.suppress(CryptoError, ValueError):
                    opened.append(box.decrypt(base64.b64decode(value)).decode())
        if body:
            with contextlib.suppress(CannotDecrypt):
                opened.append(pub.open_text(body, pub.current_id))
    return opened


async def test_h3_bot_host_reads_no_reporter_or_handler_message_without_the_receipt(
    db: Database, tmp_path: Path
) -> None:
    keys = keyring(load_settings(data_dir=tmp_path))
    case_id, receipt = await submit(db.sessions, keys)
    handler = await handler_of(db.sessions)
    async with transaction(db.sessions) as s:
        case = await access_case(s, handler, case_id)
        await do_message_reporter(s, case, HANDLER, actor=handler, keys=keys, secret_key=SECRET)
        await do_queue_reporter_message(s, seal_case_ref(case, keys), FOLLOWUP, keys=keys)
    async with transaction(db.sessions) as s:
        assert await attach_reporter_messages(s, keys) == 1
    async with db.sessions() as s:
        rows = [(e.kind, e.detail, e.body) for e in (await s.scalars(select(CaseEvent))).all()]
    assert {k for k, _, _ in rows} >= {"message_to_reporter", "message_from_reporter"}
    public_only = KeyRing(keys.public)  # what the bot host holds
    assert decrypt_reporter_msgs(rows, public_only) == []
    raw = repr(rows)
    assert "MARKER" not in raw

    # With the receipt (typed by the worker) the bot shows the handler's words, never her own.
    async with db.sessions() as s:
        case = await s.get(Case, case_id)
        assert case is not None
        digits = receipts.normalise(receipt)
        assert digits is not None
        key = await reporter_key(case, digits)
        seen = [
            (text_, by_handler) for _, text_, by_handler in messages_for_reporter(case, SECRET, key)
        ]
        assert seen == [(HANDLER, True), (None, False)]
        assert [m[1] for m in messages_for_reporter(case, SECRET)] == [None, None]  # no receipt
        wrong = PrivateKey.generate()
        with pytest.raises(CannotDecrypt):
            messages_for_reporter(case, SECRET, wrong)


async def test_h3_chat_follower_reads_handler_messages_and_only_those(
    db: Database, tmp_path: Path
) -> None:
    """Documented trade-off: a worker who linked her chat opens her case without the receipt, so the
    bot host can read what the handler wrote to her; never the narrative nor what she wrote."""
    keys = keyring(load_settings(data_dir=tmp_path))
    case_id, _ = await submit(db.sessions, keys, in_chat=True)
    handler = await handler_of(db.sessions)
    async with transaction(db.sessions) as s:
        case = await access_case(s, handler, case_id)
        await do_message_reporter(s, case, HANDLER, actor=handler, keys=keys, secret_key=SECRET)
        await do_queue_reporter_message(s, seal_case_ref(case, keys), FOLLOWUP, keys=keys)
        await attach_reporter_messages(s, keys)
    async with db.sessions() as s:
        rows = [(e.kind, e.detail, e.body) for e in (await s.scalars(select(CaseEvent))).all()]
    assert decrypt_reporter_msgs(rows, KeyRing(keys.public)) == [HANDLER]


async def test_h3_migration_drops_bot_readable_copies_of_reporter_messages(db: Database) -> None:
    from bot.storage import migrate
    from bot.storage.db import create_engine
    from services.reports.crypto import seal_for_reporter

    if db.backend == "sqlite":
        url = db.url.replace("test.db", "m0012.db")
    else:
        from tests.conftest import _create_pg_database, _drop_pg_database

        name = db.url.rsplit("/", 1)[1] + "_m12"
        url = await _create_pg_database(name)
    engine = create_engine(url)
    try:
        await asyncio.to_thread(migrate.upgrade, url, "0011_staff_security")
        legacy = seal_for_reporter(SECRET, FOLLOWUP)
        now = datetime.now(UTC)
        async with engine.begin() as conn:
            for n in (1, 2):
                await conn.execute(
                    text(
                        "INSERT INTO cases (id, country_code, category, severity, state, danger,"
                        " consent_to_share, consent_to_name, language, receipt_lookup,"
                        " receipt_hash, key_id, submission_token, submitted_at, ack_due_at,"
                        " triage_due_at, overdue) VALUES (:id, 'BD', 'harassment', 'high', 'new',"
                        " false, false, false, 'en', :lookup, 'h', 'k', :token, :now, :now, :now,"
                        " false)"
                    ),
                    {"id": n, "lookup": f"l{n}", "token": f"t{n}", "now": now},
                )
            for kind in ("message_from_reporter", "message_to_reporter"):
                await conn.execute(
                    text(
                        "INSERT INTO case_events (case_id, at, actor, kind, detail)"
                        " VALUES (1, :now, 'reporter', :kind, :detail)"
                    ),
                    {"now": now, "kind": kind, "detail": json.dumps({"for_reporter": legacy})},
                )
        await asyncio.to_thread(migrate.upgrade, url)
        async with engine.connect() as conn:
            details = dict((await conn.execute(text("SELECT kind, detail FROM case_events"))).all())
            refs = [r for (r,) in (await conn.execute(text("SELECT reference FROM cases"))).all()]
        parsed = {k: v if isinstance(v, dict) else json.loads(v) for k, v in details.items()}
        assert "for_reporter" not in parsed["message_from_reporter"]
        # Handler messages of older cases keep their copy (the legacy path, kept on purpose).
        assert parsed["message_to_reporter"]["for_reporter"] == legacy
        assert len(set(refs)) == 2 and all(re.fullmatch(r"R-[A-Z0-9]{6}", r) for r in refs)
        await asyncio.to_thread(migrate.downgrade, url, "0011_staff_security")
        await asyncio.to_thread(migrate.upgrade, url)
        async with engine.connect() as conn:  # no case lost its history on the way (SQLite!)
            assert (await conn.execute(text("SELECT count(*) FROM case_events"))).scalar() == 2
    finally:
        await engine.dispose()
        if db.backend == "postgres":
            await _drop_pg_database(name)


async def test_h3_an_older_case_gets_its_reporter_key_when_the_receipt_is_typed(
    db: Database, tmp_path: Path
) -> None:
    keys = keyring(load_settings(data_dir=tmp_path))
    case_id, receipt = await submit(db.sessions, keys)
    async with transaction(db.sessions) as s:
        case = await s.get(Case, case_id)
        assert case is not None
        case.reporter_salt = case.reporter_public_key = None  # as the migration leaves them
    digits = receipts.normalise(receipt)
    assert digits is not None
    async with transaction(db.sessions) as s:
        case = await s.get(Case, case_id)
        assert case is not None
        key = await reporter_key(case, digits)
        assert case.reporter_public_key == bytes(key.public_key)
    async with db.sessions() as s:
        case = await s.get(Case, case_id)
        assert case is not None and case.reporter_public_key is not None
        assert bytes((await reporter_key(case, digits)).public_key) == case.reporter_public_key


# --- H2: logs --------------------------------------------------------------------------------


async def test_h2_no_report_log_line_names_the_user_row(
    app: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    receipt = await file_receipt_only(app, 7000012)
    worker = app.user(7000012)
    await worker.send("/follow")
    await worker.wait_reply()
    await worker.send(receipt)
    await worker.wait_reply()
    await worker.wait_idle()
    async with app.sessions() as s:
        user = await s.scalar(select(User).where(User.telegram_id == 7000012))
        case = await s.scalar(select(Case))
        assert user is not None and case is not None
    ours = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith(("bot.flows.reports", "services.reports"))
    ]
    assert "report.submitted" in ours  # the line is still there, saying only that
    for line in ours:
        assert f"u{user.id}" not in line and "by=" not in line and "7000012" not in line
        assert f"case={case.id}" not in line and case.reference not in line


# --- L5: receipts ----------------------------------------------------------------------------


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.characters(categories=["Nd", "No", "Nl", "Zs", "Pd"]), max_size=40))
def test_l5_normalise_never_raises_on_unicode_digits(typed: str) -> None:
    digits = receipts.normalise(typed)
    assert digits is None or (len(digits) == 16 and digits.isascii() and digits.isdecimal())


def test_l5_superscripts_are_not_digits_but_other_scripts_are() -> None:
    assert receipts.normalise("1234 5678 9012 345²") is None
    assert receipts.normalise("১২৩৪ ৫৬৭৮ ৯০১২ ৩৪৫৬") == "1234567890123456"
    assert receipts.normalise("①②③④ 5678 9012 3456") is None


async def test_l5_a_superscript_receipt_is_a_counted_wrong_guess(app: BotHarness) -> None:
    await make_worker(app.sessions, 7000013)
    worker = app.user(7000013)
    await worker.send("/follow")
    await worker.wait_reply()
    await worker.send("1234 5678 9012 345²")
    wrong = await worker.wait_reply()
    assert wrong.plain_text() == t(
        "No report matches this number. Check the 16 digits and try again."
    )
    async with app.sessions() as s:
        assert await s.scalar(text("SELECT max(failures) FROM receipt_attempts")) == 1


# --- M8: argon2 off the loop -----------------------------------------------------------------


async def test_m8_receipt_argon2_does_not_block_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stored = receipts.hash_receipt("1234567890123456")
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    assert await receipts.verify(stored, "1234567890123456")
    during = ticks - before
    done.set()
    await task
    # On the loop, argon2 would have run between two ticks: the ticker would not have moved.
    assert during > 3

    # At most ARGON2_CONCURRENCY verifications run at once, whatever the flood.
    running = peak = 0
    real = receipts._verify

    def counting(h: str, d: str) -> bool:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            return real(h, d)
        finally:
            running -= 1

    monkeypatch.setattr(receipts, "_verify", counting)
    results = await asyncio.gather(*(receipts.verify(stored, "0000000000000000") for _ in range(6)))
    assert results == [False] * 6 and 1 <= peak <= receipts.ARGON2_CONCURRENCY


# --- L8: references --------------------------------------------------------------------------


async def test_l8_workers_see_random_references_not_sequential_ids(
    db: Database, tmp_path: Path
) -> None:
    keys = keyring(load_settings(data_dir=tmp_path))
    made = [await submit(db.sessions, keys) for _ in range(4)]
    async with db.sessions() as s:
        refs = [(await s.get(Case, case_id)).reference for case_id, _ in made]  # type: ignore[union-attr]
    assert len(set(refs)) == 4
    assert all(re.fullmatch(r"R-[ACDEFGHJKMNPQRTUVWXY34679]{6}", r) for r in refs)
    assert refs != sorted(refs) or len({r[2] for r in refs}) > 1  # not a counter in disguise


async def test_l8_the_chat_shows_the_reference_never_the_id(app: BotHarness) -> None:
    receipt = await file_receipt_only(app, 7000014)
    async with app.sessions() as s:
        case = await s.scalar(select(Case))
        assert case is not None
    worker = app.user(7000014)
    await worker.send("/follow")
    await worker.wait_reply()
    await worker.send(receipt)
    shown = await worker.wait_reply()
    assert shown.plain_text().startswith(
        t("<b>Report {number}</b>: {status}", number=case.reference, status=t("received"))
        .replace("<b>", "")
        .replace("</b>", "")
    )
    for message in worker.messages:
        assert f"Report {case.id}" not in message.plain_text()
        assert f":{case.id}:" not in str(message.reply_markup)
