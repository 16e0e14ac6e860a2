"""DESIGN §4, one test per privacy rule and per party of the threat model, each named after it.

Each is a small end-to-end check of its own, through the real bot on the fake Telegram Bot API and
the console over HTTP, on SQLite (the rules do not depend on the database; the PostgreSQL files,
dead tuples and WAL are read by ``test_privacy_database_reader``). Each plays the attacker the rule
is about, as the audit (`privacy-security.md`) did, and shows that the attacker gets nothing.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import event, func, inspect, select, text

from bot import updates as raw_updates
from bot.storage.db import transaction
from bot.storage.models import AuditEvent, OutboxMessage, OutboxStatus, RawUpdate, User
from bot.storage.reports import Case, ClosedCaseCount
from services.reports.cases import access_case, do_close, do_confirm_close
from services.reports.crypto import keyring
from services.reports.jobs import purge_closed_cases
from services.reports.protocol import Outcome
from tests import journeys
from tests.console import PASSWORD, csrf_of
from tests.factories import make_worker
from tests.harness import BotHarness
from tests.privacy_rules import (  # noqa: F401 (backend, _daytime: fixtures)
    FIRST_NAME,
    RUN,
    STORY,
    SURVEY,
    _daytime,
    all_rows,
    answer_survey,
    backend,
    console_of,
    conversation_data,
    conversation_state,
    file_report,
    follow_with_receipt,
    start_report,
    t,
    the_case,
)
from tests.surveys_data import make_wave
from tests.webhook_route import webhook_client
from workvoice.scheduler import purge_outbox, purge_raw_updates

# --- rule 3 --------------------------------------------------------------------------------------


async def test_rule_3_report_words_are_sealed_from_the_first_keystroke(app: BotHarness) -> None:
    """H1: a worker types her story and closes Telegram. The conversation state under her Telegram
    id must hold no readable word of it."""
    await make_worker(app.sessions, 8_700_401)
    await start_report(app, 8_700_401)
    await app.user(8_700_401).wait_idle()
    state = conversation_state(app)
    assert STORY not in state and "touched me" not in state, state


# --- rule 4 and the bot-host party ---------------------------------------------------------------


async def test_rule_4_a_receipt_follow_up_leaves_no_link_to_the_phone(app: BotHarness) -> None:
    """A receipt-only report followed up from the same phone: the case names no user, the receipt
    is stored only as an HMAC and a hash, and no receipt-derived case id stays under the Telegram
    id (H1)."""
    await make_worker(app.sessions, 8_700_501)
    receipt = await file_report(app, 8_700_501)
    assert len(receipt) == 16
    shown = await follow_with_receipt(app, 8_700_501, receipt)
    assert t("✍️ Write to the case handler") in shown.buttons()
    await app.user(8_700_501).tap(t("🏠 Main menu"))
    await app.user(8_700_501).wait_idle()
    case = await the_case(app)
    assert case.reporter_user_id is None
    rows = await all_rows(app)
    assert receipt not in rows and f"{receipt[:4]} {receipt[4:8]}" not in rows
    kept = [
        (key, value)
        for data in conversation_data(app)
        for key, value in data.items()
        if "case" in key.lower() and str(value) == str(case.id)
    ]
    assert kept == [], f"a receipt-derived case id under the Telegram id: {kept}"


async def test_threat_bot_host_compromised_reads_no_reporter_words(app: BotHarness) -> None:
    """H3: with the database, ``SECRET_KEY`` and the public key (all a bot host has), open every
    stored value with every key that host can derive: no later message of the reporter, and no
    word of the handler's reply, comes out."""
    await make_worker(app.sessions, 8_700_601)
    receipt = await file_report(app, 8_700_601)
    later = f"LATER-{RUN} he did it again today near the cutting table"
    await follow_with_receipt(app, 8_700_601, receipt, write=later)
    secret = app.settings.effective_secret_key
    boxes = []
    from nacl.secret import SecretBox

    # The audit's key (services/reports/crypto.py reporter_box at the audited commit), and the
    # product's own, if it still derives one from the secret alone.
    boxes.append(
        SecretBox(hashlib.sha256(f"workvoice:reporter-messages:{secret}".encode()).digest())
    )
    from services.reports import crypto

    own = getattr(crypto, "reporter_box", None)
    try:
        if own is not None:
            boxes.append(own(secret))
    except TypeError:
        pass  # it needs more than the secret now (a receipt): nothing to try
    opened = []
    for value in await stored_values(app):
        for raw in candidates(value):
            for box in boxes:
                try:
                    opened.append(box.decrypt(raw).decode("utf-8", "replace"))
                except Exception:  # wrong key or not a box: the attack moves on
                    continue
    assert not [o for o in opened if "LATER-" in o or "touched" in o], opened


async def stored_values(app: BotHarness) -> list[Any]:
    values: list[Any] = []
    async with app.sessions() as s:
        conn = await s.connection()
        tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        for table in tables:
            for row in (await s.execute(text(f'SELECT * FROM "{table}"'))).all():
                values.extend(row)
    return values


def candidates(value: Any) -> Iterator[bytes]:
    """Every bytes or base64 text inside a stored value (JSON included)."""
    if isinstance(value, bytes | memoryview):
        yield bytes(value)
    elif isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict | list):
            yield from candidates(parsed)
            return
        with contextlib.suppress(ValueError):
            yield base64.b64decode(value, validate=True)
    elif isinstance(value, dict):
        for v in value.values():
            yield from candidates(v)
    elif isinstance(value, list):
        for v in value:
            yield from candidates(v)


# --- rule 5 --------------------------------------------------------------------------------------


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The product's logging at DEBUG (workvoice.kernel.logs), captured."""
    from workvoice.kernel.logs import configure_logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("DEBUG")
    root.addHandler(caplog.handler)
    caplog.handler.setLevel(logging.DEBUG)
    try:
        yield caplog
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


async def test_rule_5_no_pii_in_logs(app: BotHarness, debug_logs: pytest.LogCaptureFixture) -> None:
    """H2, M7: a receipt-only report, a survey with free text and a committee agenda item, logged
    at DEBUG: no Telegram id, name, text, or user-row pseudonym (``u<id>``) that joins to them."""
    reporter, respondent, member = 8_700_701, 8_700_702, 8_700_703
    users = [await make_worker(app.sessions, tid) for tid in (reporter, respondent, member)]
    for tid in (reporter, respondent, member):
        app.user(tid, first_name=FIRST_NAME)
    await file_report(app, reporter)
    await make_wave(app.sessions, definition=SURVEY)
    await app.deliver()
    answer = f"ANSWER-{RUN} Mr Hossain shouts at pregnant workers"
    await answer_survey(app, respondent, answer + "\x00")
    agenda = f"AGENDA-{RUN} water on floor 3"
    await journeys.add_agenda_item(app, member, agenda, first_name=FIRST_NAME)
    logged = debug_logs.text
    forbidden = [STORY, answer, agenda, FIRST_NAME, *(str(u.telegram_id) for u in users)]
    found = [f for f in forbidden if f in logged]
    found += [
        line for u in users for line in logged.splitlines() if re.search(rf"\bu{u.id}\b", line)
    ]
    assert found == [], f"the log names or quotes workers: {found}"


# --- rule 6 and the console-host party -----------------------------------------------------------


async def test_rule_6_every_staff_view_of_a_case_is_audited(app: BotHarness) -> None:
    """A view and each change (a note, a step of the case) leave who, when and what."""
    await make_worker(app.sessions, 8_700_801)
    await file_report(app, 8_700_801)
    case = await the_case(app)
    console = console_of(app)
    try:
        handler = await console.staff("case_handler", ["BD"])
        client = console.client_for(handler)
        page = await client.get(f"/reports/{case.id}")
        token = {"csrf_token": client.csrf}  # type: ignore[attr-defined]
        changes = [
            await client.post(f"/reports/{case.id}/note", data={**token, "text": "called"}),
            await client.post(
                f"/reports/{case.id}/transition", data={**token, "to": "acknowledged"}
            ),
        ]
    finally:
        await console.close()
    assert page.status_code == 200 and STORY in page.text
    assert [r.status_code for r in changes] == [303, 303]
    async with app.sessions() as s:
        views = (
            await s.scalars(
                select(AuditEvent).where(
                    AuditEvent.actor_staff_id == handler.id, AuditEvent.object_id == str(case.id)
                )
            )
        ).all()
    assert [v.action for v in views if v.action == "case.view"], "the view was not audited"
    changed = [(v.action, v.detail) for v in views if v.action != "case.view"]
    assert [a for a, _ in changed] == ["case.note", "case.transition"], changed
    assert changed[1][1].get("to") == "acknowledged"
    assert all(v.at is not None for v in views)


async def test_threat_console_host_handlers_read_only_their_country(app: BotHarness) -> None:
    """Console host (private key): a handler reads her country's reports, every view audited; a
    handler of another country gets nothing, not even that the case exists."""
    await make_worker(app.sessions, 8_700_901)
    await file_report(app, 8_700_901)
    case = await the_case(app)
    console = console_of(app)
    try:
        jordan = await console.staff("case_handler", ["JO"])
        elsewhere = await console.client_for(jordan).get(f"/reports/{case.id}")
    finally:
        await console.close()
    assert elsewhere.status_code == 404 and STORY not in elsewhere.text
    async with app.sessions() as s:
        seen = await s.scalar(
            select(AuditEvent).where(
                AuditEvent.actor_staff_id == jordan.id, AuditEvent.action == "case.view"
            )
        )
    assert seen is None


# --- rule 7 --------------------------------------------------------------------------------------


async def test_rule_7_webhook_payloads_never_reach_the_database_and_delete_removes_the_worker(
    app: BotHarness, db: Any, tmp_path: Path
) -> None:
    """H6: every statement the webhook sends to the database is read as it is sent (bound
    parameters included): no update's text or sender ever goes in, not even for a moment. Then
    ``/delete`` leaves no row that names the worker."""
    written: list[str] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        written.append(f"{statement} {parameters!r}")

    event.listen(db.engine.sync_engine, "before_cursor_execute", capture)
    try:
        client, processor = webhook_client(app, db, tmp_path, "rule-7-secret")
        worker_id = 8_701_001
        await make_worker(app.sessions, worker_id)
        app.user(worker_id, first_name=FIRST_NAME)
        secret_text = f"WEBHOOK-{RUN} the night supervisor Karim touched me"
        update = app.telegram.make_message_update(worker_id, secret_text, first_name=FIRST_NAME)
        reply = await client.post(
            "/telegram/webhook",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": "rule-7-secret"},
        )
        assert reply.status_code == 200
        await processor.drain()
        await asyncio.sleep(0.2)
        await client.aclose()
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", capture)
    leaked = [w[:200] for w in written if secret_text in w or FIRST_NAME in w]
    assert leaked == [], f"the update went to the database in plaintext: {leaked}"

    worker = app.user(worker_id)
    await worker.send("/delete")
    await worker.wait_reply()
    await worker.tap(t("🗑 Yes, delete my data"))
    await worker.wait_reply()
    await worker.wait_idle()
    async with app.sessions() as s:
        assert await s.scalar(select(User).where(User.telegram_id == worker_id)) is None
    assert str(worker_id) not in await all_rows(app)


async def test_rule_7_retention_purges_closed_cases_raw_update_ids_and_sent_messages(
    app: BotHarness,
) -> None:
    """DESIGN §4.7: what the scheduler purges, and after how long. A closed case leaves only a
    count, webhook update ids and handled outbox messages go after their retention periods; until
    then they stay (Telegram's retries need the ids)."""
    await make_worker(app.sessions, 8_701_051)
    await file_report(app, 8_701_051, follow=journeys.IN_THIS_CHAT)
    case = await the_case(app)
    keys = keyring(app.settings)
    console = console_of(app)
    try:
        handler = await console.staff("case_handler", ["BD"])
        manager = await console.staff("country_manager", ["BD"])
    finally:
        await console.close()
    async with transaction(app.sessions) as s:
        closing = await do_close(
            s,
            await access_case(s, handler, case.id),
            Outcome.RESOLVED,
            actor=handler,
            keys=keys,
            note="Settled with the worker.",
        )
        if closing.pending_close:  # four eyes on a high or critical case, or one still new
            await do_confirm_close(s, closing, actor=manager, keys=keys)
    await app.deliver()  # the closing news to the reporter's chat
    async with transaction(app.sessions) as s:
        assert await raw_updates.store(s, 9_900_001)
        await raw_updates.finish(s, 9_900_001, ok=True)
    ctx = console.ctx

    async def left() -> tuple[int, int, int]:
        async with app.sessions() as s:
            counts = [
                await s.scalar(select(func.count()).select_from(model).where(where))
                for model, where in (
                    (Case, Case.id == case.id),
                    (RawUpdate, RawUpdate.update_id == 9_900_001),
                    (OutboxMessage, OutboxMessage.status != OutboxStatus.PENDING),
                )
            ]
        return counts[0] or 0, counts[1] or 0, counts[2] or 0

    async def purge() -> None:
        await purge_raw_updates(ctx)
        await purge_outbox(ctx)
        await purge_closed_cases(ctx)

    await purge()
    kept = await left()
    assert kept[0] == 1 and kept[1] == 1 and kept[2] >= 1, kept  # within every period
    later = timedelta(days=app.settings.case_retention_days + 1)
    with time_machine.travel(datetime.now(UTC) + later):
        await purge()
    assert await left() == (0, 0, 0)
    async with app.sessions() as s:
        counted = await s.scalar(select(func.sum(ClosedCaseCount.count)))
    assert counted == 1  # the case survives only as a number


# --- rule 8 --------------------------------------------------------------------------------------


async def test_rule_8_narratives_need_a_second_factor_and_logout_ends_the_session(
    app: BotHarness,
) -> None:
    """M1: a country manager signs in with a password only and must not read a narrative.
    M9: a session cookie replayed after logout opens nothing."""
    await make_worker(app.sessions, 8_701_101)
    await file_report(app, 8_701_101)
    case = await the_case(app)
    console = console_of(app)
    try:
        manager = await console.staff("country_manager", ["BD"], email="manager@example.org")
        browser = console.anonymous()
        form = await browser.get("/login")
        await browser.post(
            "/login",
            data={
                "email": "manager@example.org",
                "password": PASSWORD,
                "csrf_token": csrf_of(form.text),
            },
        )
        page = await browser.get(f"/reports/{case.id}")
        assert STORY not in page.text, "a password alone opened a narrative (M1)"
        del manager

        handler = await console.staff("case_handler", ["BD"])
        signed_in = console.client_for(handler)
        assert STORY in (await signed_in.get(f"/reports/{case.id}")).text
        cookie = signed_in.cookies.get("wv_session")
        home = await signed_in.get("/")
        token = csrf_of(home.text) if "csrf_token" in home.text else signed_in.csrf  # type: ignore[attr-defined]
        out = await signed_in.post("/logout", data={"csrf_token": token})
        assert out.status_code == 303 and out.headers["location"].startswith("/login")
        thief = console.anonymous()
        thief.cookies.set("wv_session", cookie or "", domain="console.test")
        replayed = await thief.get(f"/reports/{case.id}")
        assert STORY not in replayed.text, "a cookie from before logout still opens the case (M9)"
    finally:
        await console.close()


# --- the remaining parties -----------------------------------------------------------------------


async def test_threat_database_reader_sees_no_worker_words(app: BotHarness) -> None:
    """Every row of every table after a report with a follow-up and a cancelled report: no word a
    worker wrote to a case handler is readable (the files themselves: test_privacy_database_reader)."""
    await make_worker(app.sessions, 8_701_201)
    await make_worker(app.sessions, 8_701_202)
    receipt = await file_report(app, 8_701_201)
    later = f"LATER-{RUN} near the cutting table"
    await follow_with_receipt(app, 8_701_201, receipt, write=later)
    cancelled = f"CANCELLED-{RUN} Karim hit me"
    worker = await start_report(app, 8_701_202, cancelled)
    await journeys.cancel_report(worker)
    rows = await all_rows(app)
    for words in (STORY, later, cancelled, FIRST_NAME):
        assert words not in rows, words


async def test_threat_anyone_on_the_internet_cannot_guess_receipts_or_flood_the_webhook(
    app: BotHarness, db: Any, tmp_path: Path
) -> None:
    """Receipts: after five wrong numbers from one chat, even the right one is refused for a while.
    Webhook (L6): a body over 1 MB is refused with 413 before it is stored."""
    await make_worker(app.sessions, 8_701_301)
    await make_worker(app.sessions, 8_701_302)
    receipt = await file_report(app, 8_701_301)
    guesser = app.user(8_701_302)
    await guesser.send("/follow")
    await guesser.wait_reply()
    for guess in range(5):
        await guesser.send(f"{guess:016d}")
        await guesser.wait_reply(timeout=15)
    await guesser.send(receipt)
    refused = await guesser.wait_reply(timeout=15)
    assert (
        STORY not in refused.plain_text()
        and t("✍️ Write to the case handler") not in refused.buttons()
    )

    client, processor = webhook_client(app, db, tmp_path, "internet-secret")
    async with client:
        big = app.telegram.make_message_update(8_701_302, "x" * (1024 * 1024 + 10))
        answer = await client.post(
            "/telegram/webhook",
            json=big,
            headers={"X-Telegram-Bot-Api-Secret-Token": "internet-secret"},
        )
    await processor.drain()
    assert answer.status_code == 413
