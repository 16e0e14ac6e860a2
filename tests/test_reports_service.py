"""Reports as a domain service: encryption, receipts, the protocol, four eyes, deadlines, retention."""

from __future__ import annotations

import asyncio
import base64
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage.db import create_engine, create_sessionmaker, transaction
from bot.storage.models import AuditEvent, OutboxMessage, Staff
from bot.storage.reports import Case, CaseTask, ClosedCaseCount
from services.accounts import do_create_staff
from services.errors import Forbidden, NotFound
from services.reports import receipts
from services.reports.cases import (
    SecondPersonNeeded,
    TextTooLong,
    TransitionRefused,
    access_case,
    do_close,
    do_confirm_close,
    do_refer,
    do_reject_close,
    do_transition,
    opened_events,
)
from services.reports.conversation import (
    do_message_reporter,
    do_reporter_message,
    messages_for_reporter,
)
from services.reports.crypto import CannotDecrypt, KeyRing, generate_pair, keyring
from services.reports.jobs import purge_closed_cases, run_case_tasks
from services.reports.protocol import (
    TRANSITIONS,
    Category,
    Harm,
    Outcome,
    Referral,
    Severity,
    State,
    severity_for,
)
from services.reports.queue import case_deadline
from services.reports.submission import (
    NARRATIVE_LIMIT,
    Intake,
    do_reopen_as_retaliation,
    do_submit_report,
)
from tests.conftest import Database
from tests.console import make_context
from tests.factories import make_worker
from workvoice.kernel.settings import load_settings

SECRET = "server-secret-for-tests"
STORY = "মালিক আমাকে বারবার অশালীন কথা বলে"  # "the owner keeps saying indecent things to me"


@pytest.fixture
def keys(tmp_path: Path) -> KeyRing:
    return keyring(load_settings(data_dir=tmp_path))


def intake(**overrides: object) -> Intake:
    values: dict[str, object] = dict(
        category=Category.HARASSMENT,
        harm=Harm.SEXUAL_HARASSMENT,
        narrative=STORY,
        danger=False,
        affects_others=True,
        follow_up_in_chat=False,
        consent_to_share=False,
        consent_to_name=False,
        language="bn",
        submission_token=secrets.token_hex(16),
    )
    values.update(overrides)
    return Intake(**values)  # type: ignore[arg-type]


async def submit(
    sessions: async_sessionmaker[AsyncSession],
    keys: KeyRing,
    *,
    telegram_id: int = 501,
    **overrides: object,
) -> tuple[Case, str | None]:
    worker = await make_worker(sessions, telegram_id, locale="bn")
    async with transaction(sessions) as s:
        return await do_submit_report(
            s,
            intake(**overrides),
            keys=keys,
            secret_key=SECRET,
            reporter_user_id=worker.id,
            factory=None,
            country_code="BD",
        )


async def staff(
    sessions: async_sessionmaker[AsyncSession],
    role: str,
    countries: tuple[str, ...] = ("BD",),
    *,
    telegram_id: int | None = None,
) -> Staff:
    async with transaction(sessions) as s:
        member = await do_create_staff(
            s,
            email=f"{role}-{secrets.token_hex(3)}@example.org",
            role=role,
            countries=() if role == "admin" else countries,
            password="correct horse battery staple",
        )
        member.telegram_id = telegram_id
        return member


@pytest.mark.parametrize(
    ("category", "harm", "danger", "expected"),
    [
        (Category.HARASSMENT, Harm.SEXUAL_HARASSMENT, False, Severity.HIGH),
        (Category.HARASSMENT, Harm.PHYSICAL_VIOLENCE, False, Severity.CRITICAL),
        (Category.CHILD_LABOUR, Harm.OTHER, False, Severity.CRITICAL),
        (Category.FORCED_LABOUR, Harm.DEBT, False, Severity.CRITICAL),
        (Category.COMPENSATION, Harm.UNPAID_WAGES, False, Severity.HIGH),
        (Category.WORKING_TIME, Harm.OTHER, False, Severity.NORMAL),
        (Category.WORKING_TIME, Harm.OTHER, True, Severity.CRITICAL),
        (Category.SAFETY, Harm.PUNISHED_FOR_LEAVING_DANGER, False, Severity.CRITICAL),
    ],
)
def test_severity_follows_the_protocol(
    category: Category, harm: Harm, danger: bool, expected: Severity
) -> None:
    assert severity_for(category, harm, danger=danger) == expected


async def test_narrative_is_stored_only_as_ciphertext(db: Database, keys: KeyRing) -> None:
    case, receipt = await submit(db.sessions, keys)
    assert receipt is not None and len(receipt) == 19 and receipt.count(" ") == 3
    async with db.sessions() as s:
        raw = (await s.execute(text("SELECT * FROM cases"))).all()
        blobs = b"".join(v for row in raw for v in row if isinstance(v, bytes))
        assert STORY not in repr(raw) and STORY.encode() not in blobs
        assert receipt.replace(" ", "") not in repr(raw)  # nor the receipt number
        stored = await s.get(Case, case.id)
        assert stored is not None and stored.narrative is not None
        assert keys.open_text(stored.narrative, stored.key_id) == STORY
        assert (stored.severity, stored.state) == ("high", "new")


async def test_bot_with_only_the_public_key_can_seal_but_not_open(
    db: Database, tmp_path: Path
) -> None:
    public, private = generate_pair()
    bot_keys = keyring(load_settings(data_dir=tmp_path, report_public_key=public))
    console_keys = keyring(load_settings(data_dir=tmp_path, report_private_key=private))
    case, _ = await submit(db.sessions, bot_keys)
    assert not bot_keys.can_open and console_keys.can_open
    with pytest.raises(CannotDecrypt):
        bot_keys.open_text(case.narrative or b"", case.key_id)
    assert console_keys.open_text(case.narrative or b"", case.key_id) == STORY
    assert base64.b64decode(public) == bytes(console_keys.public)


async def test_resubmitting_the_same_token_creates_nothing(db: Database, keys: KeyRing) -> None:
    token = secrets.token_hex(16)
    first, receipt = await submit(db.sessions, keys, submission_token=token)
    again, second_receipt = await submit(db.sessions, keys, submission_token=token)
    assert again.id == first.id and receipt and second_receipt is None
    async with db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Case)) == 1


async def test_two_taps_at_once_make_one_case_and_one_receipt(db: Database, keys: KeyRing) -> None:
    """Two replicas handling both taps on "Send report" at the same moment (issue 18, §9): both
    find no case yet; one stores it, the other must come back with "already sent" (no receipt),
    not with a unique-key error the worker would see as "something went wrong"."""
    token = secrets.token_hex(16)
    worker = await make_worker(db.sessions, 502, locale="bn")
    both_looked = asyncio.Barrier(2)
    original = receipts.hash_receipt_async

    async def slow_hash(digits: str) -> str:
        await both_looked.wait()  # neither has inserted yet: both passed the lookup
        return await original(digits)

    async def tap() -> str | None:
        async with transaction(db.sessions) as s:
            _case, receipt = await do_submit_report(
                s,
                intake(submission_token=token),
                keys=keys,
                secret_key=SECRET,
                reporter_user_id=worker.id,
                factory=None,
                country_code="BD",
            )
            return receipt

    receipts.hash_receipt_async = slow_hash  # type: ignore[assignment]
    try:
        shown = await asyncio.gather(tap(), tap())
    finally:
        receipts.hash_receipt_async = original  # type: ignore[assignment]
    assert sorted(r is None for r in shown) == [False, True]  # one receipt, one "already sent"
    async with db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Case)) == 1


async def test_too_long_narrative_is_refused(db: Database, keys: KeyRing) -> None:
    with pytest.raises(TextTooLong):
        await submit(db.sessions, keys, narrative="x" * (NARRATIVE_LIMIT + 1))


async def test_receipt_finds_the_case_and_guessing_is_limited(db: Database, keys: KeyRing) -> None:
    case, receipt = await submit(db.sessions, keys)
    assert receipt
    async with transaction(db.sessions) as s:
        found = await receipts.access_case_by_receipt(s, receipt, secret_key=SECRET, chat_ref="a")
        assert found is not None and found.id == case.id
    bengali = receipt.translate(str.maketrans("0123456789", "০১২৩৪৫৬৭৮৯"))
    async with transaction(db.sessions) as s:
        found = await receipts.access_case_by_receipt(s, bengali, secret_key=SECRET, chat_ref="a")
        assert found is not None and found.id == case.id
    for chat in ("hi", "ok", "👍", "1" * 15, "¹²³"):  # not receipts: answered, never counted (B2.1)
        async with transaction(db.sessions) as s:
            with pytest.raises(receipts.NotAReceipt):
                await receipts.access_case_by_receipt(s, chat, secret_key=SECRET, chat_ref="g")
    for guess in ("1111 2222 3333 4444", "2" * 16, "1" * 16, "9" * 16, "0000 0000 0000 0001"):
        async with transaction(db.sessions) as s:
            assert (
                await receipts.access_case_by_receipt(s, guess, secret_key=SECRET, chat_ref="g")
                is None
            )
    with pytest.raises(receipts.TooManyGuesses):  # even the right number waits now
        async with transaction(db.sessions) as s:
            await receipts.access_case_by_receipt(s, receipt, secret_key=SECRET, chat_ref="g")
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=16)):
        async with transaction(db.sessions) as s:
            found = await receipts.access_case_by_receipt(
                s, receipt, secret_key=SECRET, chat_ref="g"
            )
            assert found is not None and found.id == case.id


async def test_staff_access_is_scoped_and_audited(db: Database, keys: KeyRing) -> None:
    case, _ = await submit(db.sessions, keys)
    handler = await staff(db.sessions, "case_handler")
    elsewhere = await staff(db.sessions, "case_handler", ("KH",))
    analyst = await staff(db.sessions, "analyst")
    async with transaction(db.sessions) as s:
        assert (await access_case(s, handler, case.id)).id == case.id
        with pytest.raises(NotFound):
            await access_case(s, elsewhere, case.id)
        with pytest.raises(Forbidden):
            await access_case(s, analyst, case.id)
    async with db.sessions() as s:
        views = await s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "case.view", AuditEvent.object_id == str(case.id))
        )
        assert views == 1


async def test_protocol_refuses_skipping_steps(db: Database, keys: KeyRing) -> None:
    case, _ = await submit(db.sessions, keys)
    handler = await staff(db.sessions, "case_handler")
    async with transaction(db.sessions) as s:
        case = await access_case(s, handler, case.id)
        with pytest.raises(TransitionRefused) as err:
            await do_transition(s, case, State.INVESTIGATING, actor=handler, keys=keys)
        assert "new" in str(err.value) and "investigating" in str(err.value)
        await do_transition(
            s, case, State.ACKNOWLEDGED, actor=handler, note="We read your report.", keys=keys
        )
        assert case.acknowledged_at is not None
        history = opened_events(case, keys)
        assert [e["event"].kind for e in history] == ["submitted", "transition"]
        assert history[-1]["text"] == "We read your report."


async def test_repeating_a_transition_is_harmless(db: Database, keys: KeyRing) -> None:
    """A double-submitted "acknowledge" changes nothing the second time: no error, no event, no
    audit row, no second message to the reporter (STYLE: repeating a transition is harmless)."""
    case, _ = await submit(db.sessions, keys, follow_up_in_chat=True)
    handler = await staff(db.sessions, "case_handler")
    async with transaction(db.sessions) as s:
        case = await access_case(s, handler, case.id, audit_view=False)
        await do_transition(s, case, State.ACKNOWLEDGED, actor=handler, keys=keys)
        acknowledged_at = case.acknowledged_at
        await do_transition(s, case, State.ACKNOWLEDGED, actor=handler, keys=keys)
        assert case.state == State.ACKNOWLEDGED and case.acknowledged_at == acknowledged_at
        assert [e.kind for e in case.events] == ["submitted", "transition"]
    async with db.sessions() as s:
        audited = await s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "case.transition")
        )
        news = await s.scalar(select(func.count()).select_from(OutboxMessage))
        assert (audited, news) == (1, 1)
    async with transaction(db.sessions) as s:
        case = await access_case(s, handler, case.id, audit_view=False)
        with pytest.raises(TransitionRefused):  # closing still goes through do_close only
            await do_transition(s, case, State.CLOSED, actor=handler, keys=keys)


@given(st.lists(st.sampled_from(list(State)), max_size=12))
def test_random_walks_stay_in_the_protocol(moves: list[State]) -> None:
    """Only moves in the table happen; closed leads only back to investigating (a staff reopen)
    and every state is reachable from new."""
    state = State.NEW
    for target in moves:
        if target in TRANSITIONS[state]:
            state = target
        if state == State.CLOSED:
            assert TRANSITIONS[state] == (State.INVESTIGATING,)
    reachable, frontier = {State.NEW}, [State.NEW]
    while frontier:
        for nxt in TRANSITIONS[frontier.pop()]:
            if nxt not in reachable:
                reachable.add(nxt)
                frontier.append(nxt)
    assert reachable == set(State)


async def test_four_eyes_on_critical_and_unsubstantiated(db: Database, keys: KeyRing) -> None:
    critical, _ = await submit(db.sessions, keys, harm=Harm.PHYSICAL_VIOLENCE, telegram_id=502)
    normal, _ = await submit(
        db.sessions, keys, category=Category.WORKING_TIME, harm=Harm.OTHER, telegram_id=503
    )
    handler = await staff(db.sessions, "case_handler")
    manager = await staff(db.sessions, "country_manager")
    other_manager = await staff(db.sessions, "country_manager")
    async with transaction(db.sessions) as s:
        case = await access_case(s, manager, critical.id)
        await do_close(s, case, Outcome.RESOLVED, actor=manager, keys=keys, note="Moved away.")
        assert case.state == "new" and case.pending_close
        for who in (manager, handler):  # not the proposer, not a handler
            with pytest.raises(SecondPersonNeeded):
                await do_confirm_close(s, case, actor=who, keys=keys)
        await do_confirm_close(s, case, actor=other_manager, keys=keys)
        assert (case.state, case.outcome) == ("closed", "resolved")
        assert [e.kind for e in case.events][-2:] == ["close_proposed", "closed"]
        ordinary = await access_case(s, handler, normal.id)
        await do_transition(s, ordinary, State.ACKNOWLEDGED, actor=handler, keys=keys)
        await do_close(
            s, ordinary, Outcome.UNSUBSTANTIATED, actor=handler, keys=keys, note="No proof."
        )
        assert ordinary.state == "acknowledged"  # waits for a second person
        await do_reject_close(s, ordinary, actor=other_manager, keys=keys)
        await do_close(s, ordinary, Outcome.RESOLVED, actor=handler, keys=keys)
        assert ordinary.state == "closed"  # resolved on a normal case needs no second person


async def test_referral_names_the_worker_only_with_consent(db: Database, keys: KeyRing) -> None:
    case, _ = await submit(db.sessions, keys)
    handler = await staff(db.sessions, "case_handler")
    async with transaction(db.sessions) as s:
        case = await access_case(s, handler, case.id)
        with pytest.raises(Forbidden):
            await do_refer(
                s, case, Referral.LABOUR_AUTHORITY, actor=handler, keys=keys, name_worker=True
            )
        await do_refer(
            s, case, Referral.UNION, actor=handler, keys=keys, note="Shared with the union."
        )
        assert (
            case.events[-1].detail["to"] == "union"
            and case.events[-1].detail["worker_named"] is False
        )


async def test_messages_reach_only_reporters_who_follow_in_their_chat(
    db: Database, keys: KeyRing
) -> None:
    in_chat, _ = await submit(db.sessions, keys, follow_up_in_chat=True, telegram_id=504)
    by_receipt, _ = await submit(db.sessions, keys, telegram_id=505)
    handler = await staff(db.sessions, "case_handler")
    async with transaction(db.sessions) as s:
        for case_id in (in_chat.id, by_receipt.id):
            case = await access_case(s, handler, case_id)
            await do_message_reporter(
                s, case, "Which line do you work on?", actor=handler, keys=keys, secret_key=SECRET
            )
    async with db.sessions() as s:
        rows = (await s.scalars(select(OutboxMessage))).all()
        assert [(r.kind, r.params["case_id"]) for r in rows] == [("reports.message", in_chat.id)]
        raw = (await s.execute(text("SELECT * FROM case_events"))).all()
        assert "Which line" not in repr(raw)
    async with db.sessions() as s:
        stored = await s.get(Case, in_chat.id)
        assert stored is not None
        await do_reporter_message(s, stored, "Line 4, the night shift.", keys=keys)
        # A chat follower's view (what the bot opens with the server secret alone): the handler's
        # words, and only the date of her own (H3: no bot-readable copy of what she wrote).
        assert [(text_, mine) for _, text_, mine in messages_for_reporter(stored, SECRET)] == [
            ("Which line do you work on?", True),
            (None, False),
        ]
        with pytest.raises(CannotDecrypt):
            messages_for_reporter(stored, "another server's secret")


async def test_missed_acknowledgement_escalates_once_with_two_replicas(
    db: Database, keys: KeyRing, tmp_path: Path
) -> None:
    await staff(db.sessions, "country_manager", telegram_id=9001)
    await staff(
        db.sessions, "country_manager", ("KH",), telegram_id=9002
    )  # another country: not told
    late, _ = await submit(db.sessions, keys, telegram_id=506)
    done, _ = await submit(db.sessions, keys, telegram_id=507)
    handler = await staff(db.sessions, "case_handler")
    async with transaction(db.sessions) as s:
        await do_transition(
            s, await access_case(s, handler, done.id), State.ACKNOWLEDGED, actor=handler, keys=keys
        )
    engines = [create_engine(db.url) for _ in range(2)]
    contexts = [make_context(create_sessionmaker(e), e, tmp_path) for e in engines]
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=49)):  # high: ack within 48 h
        counts = await asyncio.gather(*(run_case_tasks(ctx) for ctx in contexts))
    for engine in engines:
        await engine.dispose()
    assert sum(counts) == 2  # the two acknowledgement deadlines, each handled by one replica
    async with db.sessions() as s:
        tasks = (await s.scalars(select(CaseTask).where(CaseTask.done_at.is_not(None)))).all()
        assert sorted(t.result or "" for t in tasks) == ["escalated", "met"]
        late_case = await s.get(Case, late.id)
        # Late is read from the current deadline (review M1): still the acknowledgement's.
        assert late_case is not None
        assert await case_deadline(s, late_case) == late_case.ack_due_at
        alerts = (
            await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reports.alert"))
        ).all()
        assert len(alerts) == 1 and alerts[0].params["case_id"] == late.id


async def test_critical_report_alerts_managers_at_once(
    db: Database, keys: KeyRing, tmp_path: Path
) -> None:
    manager = await staff(db.sessions, "country_manager", telegram_id=9003)
    case, _ = await submit(
        db.sessions, keys, harm=Harm.PHYSICAL_VIOLENCE, danger=True, telegram_id=508
    )
    await run_case_tasks(make_context(db.sessions, db.engine, tmp_path))
    async with db.sessions() as s:
        alert = await s.scalar(select(OutboxMessage).where(OutboxMessage.kind == "reports.alert"))
        assert (
            alert is not None
            and alert.staff_id == manager.id
            and alert.params["reason"] == "critical"
        )
        stored = await s.get(Case, case.id)
        assert stored is not None and stored.severity == "critical"


async def test_checkins_after_closure_and_retaliation_reopens(
    db: Database, keys: KeyRing, tmp_path: Path
) -> None:
    case, _ = await submit(
        db.sessions,
        keys,
        follow_up_in_chat=True,
        telegram_id=509,
        category=Category.WORKING_TIME,
        harm=Harm.OTHER,
    )
    handler = await staff(db.sessions, "case_handler")
    async with transaction(db.sessions) as s:
        opened = await access_case(s, handler, case.id)
        # Closing straight from New needs a second person: acknowledged first.
        await do_transition(s, opened, State.ACKNOWLEDGED, actor=handler, keys=keys)
        await do_close(s, opened, Outcome.RESOLVED, actor=handler, keys=keys)
    ctx = make_context(db.sessions, db.engine, tmp_path)
    for days in (2, 31, 91):
        with time_machine.travel(datetime.now(UTC) + timedelta(days=days)):
            await run_case_tasks(ctx)
    async with db.sessions() as s:
        checkins = (
            await s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind == "reports.checkin")
                .order_by(OutboxMessage.id)
            )
        ).all()
        assert [c.params["kind"] for c in checkins] == ["outcome", "day30", "day90"]
    async with transaction(db.sessions) as s:
        closed = await s.get(Case, case.id)
        assert closed is not None
        reopened = await do_reopen_as_retaliation(s, closed, keys=keys)
        assert (reopened.severity, reopened.harm, reopened.reopened_from_id) == (
            "high",
            "retaliation",
            case.id,
        )


async def test_closed_cases_are_purged_leaving_counts(
    db: Database, keys: KeyRing, tmp_path: Path
) -> None:
    case, _ = await submit(
        db.sessions, keys, category=Category.WORKING_TIME, harm=Harm.OTHER, telegram_id=510
    )
    handler = await staff(db.sessions, "case_handler")
    async with transaction(db.sessions) as s:
        opened = await access_case(s, handler, case.id)
        # Closing straight from New needs a second person: acknowledged first.
        await do_transition(s, opened, State.ACKNOWLEDGED, actor=handler, keys=keys)
        await do_close(s, opened, Outcome.RESOLVED, actor=handler, keys=keys)
    ctx = make_context(db.sessions, db.engine, tmp_path)
    assert await purge_closed_cases(ctx) == 0
    with time_machine.travel(datetime.now(UTC) + timedelta(days=731)):
        assert await purge_closed_cases(ctx) == 1
    async with db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Case)) == 0
        counts = (await s.scalars(select(ClosedCaseCount))).all()
        assert [(c.country_code, c.category, c.outcome, c.count) for c in counts] == [
            ("BD", "working_time", "resolved", 1)
        ]
