"""Issue 14, reports: what a reader of the bot host, the database or the logs gets (nothing).

H3 reporter messages not readable by the bot host, H2 no user row in report logs, L5 odd digits,
M8 argon2 off the event loop, L8 non-sequential references. Drafts: ``test_reports_privacy.py``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import ltr_isolate
from bot.storage import migrate
from bot.storage.db import create_engine, transaction
from bot.storage.models import User
from bot.storage.reports import Case, CaseEvent
from services.accounts import do_create_staff
from services.reports import receipts
from services.reports.cases import access_case
from services.reports.conversation import (
    attach_reporter_messages,
    do_message_reporter,
    do_queue_reporter_message,
    messages_for_reporter,
    reporter_key,
    seal_case_ref,
)
from services.reports.crypto import CannotDecrypt, KeyRing, keyring, reporter_box, seal_for_reporter
from services.reports.protocol import Category, Harm
from services.reports.submission import Intake, do_submit_report
from tests.conftest import Database
from tests.factories import make_worker
from tests.harness import BotHarness
from tests.reports_privacy import (
    FOLLOWUP,
    HANDLER,
    MARKER,
    SECRET,
    file_receipt_only,
    t,
)
from workvoice.kernel.settings import load_settings


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


async def test_l5_a_superscript_receipt_is_no_receipt_and_no_error(app: BotHarness) -> None:
    """Fifteen digits and a superscript are not 16 digits: the worker is told what a receipt looks
    like, nothing crashes, and it is not a wrong guess (review B2.1, B18)."""
    await make_worker(app.sessions, 7000013)
    worker = app.user(7000013)
    await worker.send("/follow")
    await worker.wait_reply()
    await worker.send("1234 5678 9012 345²")
    wrong = await worker.wait_reply()
    assert wrong.plain_text() == t(
        "A receipt number has 16 digits, like {example}. Please type the number you wrote down.",
        example=ltr_isolate("1234 5678 9012 3456"),
    )
    await worker.wait_idle()
    async with app.sessions() as s:  # only 16 digits count against the chat (B2.1)
        assert await s.scalar(text("SELECT count(*) FROM receipt_attempts")) == 0


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
        t("<b>Report {number}</b> was received. We will look into it.", number=case.reference)
        .replace("<b>", "")
        .replace("</b>", "")
    )
    for message in worker.messages:
        assert f"Report {case.id}" not in message.plain_text()
        assert f":{case.id}:" not in str(message.reply_markup)
