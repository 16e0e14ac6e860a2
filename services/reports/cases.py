"""Cases through the remediation protocol: submit, see, move, close with four eyes, refer, talk.

Every change appends a ``CaseEvent`` (who, when, what); every staff view or change also writes an
audit row. Text from or to the reporter is sealed before it is stored.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.storage.models import Factory, Staff, StaffRole
from bot.storage.reports import Case, CaseEvent, CaseEvidence, CaseTask
from services import audit, outbox
from services.clock import utcnow
from services.errors import DomainError, Forbidden, NotFound
from services.reports import receipts
from services.reports.crypto import KeyRing, open_for_reporter, seal_for_reporter
from services.reports.protocol import (
    ACK_DEADLINE,
    CHECKINS,
    CRITICAL_FOLLOW_UP,
    HARMS_BY_CATEGORY,
    TRANSITIONS,
    TRIAGE_DEADLINE,
    Category,
    Harm,
    Outcome,
    Referral,
    Severity,
    State,
    needs_second_person,
    severity_for,
)

NARRATIVE_LIMIT = 3000
MESSAGE_LIMIT = 2000
EVIDENCE_LIMIT = 10 * 1024 * 1024
EVIDENCE_TYPES = {"image/jpeg", "image/png", "application/pdf", "audio/ogg", "audio/mpeg"}
CASE_ROLES = {StaffRole.ADMIN, StaffRole.COUNTRY_MANAGER, StaffRole.CASE_HANDLER}
CONFIRMING_ROLES = {StaffRole.ADMIN, StaffRole.COUNTRY_MANAGER}


class InvalidReport(DomainError):
    code = "invalid_report"
    message = N_("This report is not complete: {reason}")


class TransitionRefused(DomainError):
    code = "transition_refused"
    status = 409
    message = N_("A case that is {current} cannot move to {target}.")


class SecondPersonNeeded(DomainError):
    code = "second_person_needed"
    status = 409
    message = N_(
        "Closing this case needs a second person: a country manager or admin other than "
        "the one who proposed it."
    )


class TextTooLong(DomainError):
    code = "text_too_long"
    message = N_("This text is too long: at most {limit} characters, please.")


@dataclass(frozen=True)
class Intake:
    """What the worker told the bot, checked by ``check_intake``."""

    category: Category
    harm: Harm | None
    narrative: str | None
    danger: bool
    affects_others: bool | None
    follow_up_in_chat: bool
    consent_to_share: bool
    consent_to_name: bool
    language: str
    submission_token: str


async def _audit(
    session: AsyncSession, case: Case, action: str, actor: Staff, **detail: Any
) -> None:
    await audit.record(
        session,
        action,
        actor=actor,
        object_type="case",
        object_id=case.id,
        country_code=case.country_code,
        **detail,
    )


def _clean_text(text: str, what: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidReport(
            reason=N_("the note is empty") if what == "note" else N_("the message is empty")
        )
    if len(text) > MESSAGE_LIMIT:
        raise TextTooLong(limit=MESSAGE_LIMIT)
    return text


def check_intake(data: Intake) -> Intake:
    if data.harm is not None and data.harm not in HARMS_BY_CATEGORY[data.category]:
        raise InvalidReport(reason=N_("the answer does not belong to this kind of problem"))
    if data.narrative is not None and len(data.narrative) > NARRATIVE_LIMIT:
        raise TextTooLong(limit=NARRATIVE_LIMIT)
    if not data.submission_token or len(data.submission_token) > 64:
        raise InvalidReport(reason=N_("no submission token"))
    return data


def record_event(
    case: Case,
    kind: str,
    *,
    actor: Staff | None = None,
    who: str = "staff",
    from_state: str | None = None,
    to_state: str | None = None,
    text: str | None = None,
    keys: KeyRing | None = None,
    **detail: Any,
) -> CaseEvent:
    """Append one history row; ``text`` is sealed, with the id of the key that sealed it."""
    body = None
    if text:
        assert keys is not None
        body, detail["kid"] = keys.seal_text(text), keys.current_id
    event = CaseEvent(
        case_id=case.id,
        at=utcnow(),
        actor_staff_id=actor.id if actor else None,
        actor=who if actor is None else "staff",
        kind=kind,
        from_state=from_state,
        to_state=to_state,
        detail=detail,
        body=body,
    )
    case.events.append(event)
    return event


def _schedule(session: AsyncSession, case: Case, kind: str, due_at: datetime) -> None:
    session.add(CaseTask(case_id=case.id, kind=kind, due_at=due_at))


async def do_submit_report(
    session: AsyncSession,
    data: Intake,
    *,
    keys: KeyRing,
    secret_key: str,
    reporter_user_id: int,
    factory: Factory | None,
    country_code: str,
    evidence: list[tuple[str, str, bytes]] = (),  # type: ignore[assignment]
) -> tuple[Case, str | None]:
    """Create the case and its deadlines. Returns the case and the receipt to show once.

    Submitting the same ``submission_token`` again (a replayed update, a double tap) returns the
    case already made and no receipt, so nothing is created twice.
    """
    data = check_intake(data)
    existing = await session.scalar(
        select(Case).where(Case.submission_token == data.submission_token)
    )
    if existing is not None:
        return existing, None
    now = utcnow()
    severity = severity_for(data.category, data.harm, danger=data.danger)
    receipt = receipts.new_receipt()
    digits = receipts.normalise(receipt)
    assert digits is not None
    case = Case(
        country_code=country_code,
        factory_id=factory.id if factory else None,
        category=data.category,
        harm=data.harm,
        severity=severity,
        state=State.NEW,
        danger=data.danger,
        affects_others=data.affects_others,
        consent_to_share=data.consent_to_share,
        consent_to_name=data.consent_to_name,
        language=data.language,
        reporter_user_id=reporter_user_id if data.follow_up_in_chat else None,
        receipt_lookup=receipts.lookup_key(secret_key, digits),
        receipt_hash=receipts.hash_receipt(digits),
        narrative=keys.seal_text(data.narrative) if data.narrative else None,
        key_id=keys.current_id,
        submission_token=data.submission_token,
        submitted_at=now,
        ack_due_at=now + ACK_DEADLINE[severity],
        triage_due_at=now + TRIAGE_DEADLINE[severity],
        events=[],
    )
    session.add(case)
    await session.flush()
    record_event(case, "submitted", who="reporter", to_state=State.NEW, severity=severity)
    for kind, mime, content in evidence:
        if mime not in EVIDENCE_TYPES or len(content) > EVIDENCE_LIMIT:
            raise InvalidReport(reason=N_("evidence type or size not allowed"))
        session.add(
            CaseEvidence(
                case_id=case.id,
                kind=kind,
                mime_type=mime,
                size=len(content),
                content=keys.seal(content),
            )
        )
    _schedule(session, case, "ack_deadline", case.ack_due_at)
    _schedule(session, case, "triage_deadline", case.triage_due_at)
    if severity == Severity.CRITICAL:
        _schedule(session, case, "critical_alert", now)  # managers hear about it at once
        _schedule(session, case, "followup_deadline", now + CRITICAL_FOLLOW_UP)
    await session.flush()
    return case, receipt


async def access_case(
    session: AsyncSession,
    staff: Staff,
    case_id: int,
    *,
    ip: str | None = None,
    audit_view: bool = True,
) -> Case:
    """Load a case for a staff member who may see it, or refuse as if it did not exist."""
    case = await session.get(Case, case_id)
    if case is None:
        raise NotFound()
    if staff.role not in CASE_ROLES:
        raise Forbidden()
    if staff.role != StaffRole.ADMIN and case.country_code not in staff.country_codes:
        raise NotFound()
    if audit_view:
        await _audit(session, case, "case.view", staff, ip=ip)
    return case


def allowed_targets(case: Case) -> tuple[State, ...]:
    return TRANSITIONS[State(case.state)]


async def do_transition(
    session: AsyncSession,
    case: Case,
    target: State,
    *,
    actor: Staff,
    note: str | None = None,
    keys: KeyRing,
) -> Case:
    """Move an open case one step along the protocol (closing goes through ``do_close``)."""
    current = State(case.state)
    if target == State.CLOSED or target not in TRANSITIONS[current]:
        raise TransitionRefused(current=current.value, target=target.value)
    if target == current:
        return case
    now = utcnow()
    case.state = target
    if target == State.ACKNOWLEDGED:
        case.acknowledged_at = now
    if target == State.TRIAGED:
        case.triaged_at = now
    record_event(
        case, "transition", actor=actor, from_state=current, to_state=target, text=note, keys=keys
    )
    await _audit(session, case, "case.transition", actor, to=target.value)
    await notify_reporter(session, case, "reports.update", state=target.value)
    await session.flush()
    return case


async def do_close(
    session: AsyncSession,
    case: Case,
    outcome: Outcome,
    *,
    actor: Staff,
    note: str | None = None,
    keys: KeyRing,
) -> Case:
    """Close, or propose closing when a second person must confirm (four eyes, DESIGN §5)."""
    current = State(case.state)
    if State.CLOSED not in TRANSITIONS[current]:
        raise TransitionRefused(current=current.value, target=State.CLOSED.value)
    if needs_second_person(Severity(case.severity), outcome):
        case.pending_close = {
            "outcome": outcome.value,
            "proposed_by": actor.id,
            "proposed_at": utcnow().isoformat(),
        }
        record_event(
            case,
            "close_proposed",
            actor=actor,
            from_state=current,
            outcome=outcome.value,
            text=note,
            keys=keys,
        )
        await _audit(session, case, "case.close_proposed", actor, outcome=outcome.value)
        await session.flush()
        return case
    return await _finish_close(session, case, outcome, actor=actor, note=note, keys=keys)


async def do_confirm_close(
    session: AsyncSession, case: Case, *, actor: Staff, keys: KeyRing, note: str | None = None
) -> Case:
    proposal = case.pending_close
    if not proposal:
        raise TransitionRefused(current=case.state, target=State.CLOSED.value)
    if actor.role not in CONFIRMING_ROLES or actor.id == proposal["proposed_by"]:
        raise SecondPersonNeeded()
    return await _finish_close(
        session,
        case,
        Outcome(proposal["outcome"]),
        actor=actor,
        note=note,
        keys=keys,
        confirmed=True,
    )


async def do_reject_close(
    session: AsyncSession, case: Case, *, actor: Staff, keys: KeyRing, note: str | None = None
) -> Case:
    if not case.pending_close:
        raise TransitionRefused(current=case.state, target=State.CLOSED.value)
    if actor.role not in CONFIRMING_ROLES or actor.id == case.pending_close["proposed_by"]:
        raise SecondPersonNeeded()
    case.pending_close = None
    record_event(case, "close_rejected", actor=actor, text=note, keys=keys)
    await _audit(session, case, "case.close_rejected", actor)
    await session.flush()
    return case


async def _finish_close(
    session: AsyncSession,
    case: Case,
    outcome: Outcome,
    *,
    actor: Staff,
    note: str | None,
    keys: KeyRing,
    confirmed: bool = False,
) -> Case:
    now = utcnow()
    current = case.state
    case.state, case.outcome, case.closed_at, case.pending_close = State.CLOSED, outcome, now, None
    record_event(
        case,
        "closed",
        actor=actor,
        from_state=current,
        to_state=State.CLOSED,
        outcome=outcome.value,
        confirmed=confirmed,
        text=note,
        keys=keys,
    )
    await _audit(session, case, "case.close", actor, outcome=outcome.value, confirmed=confirmed)
    for kind, after in CHECKINS:
        _schedule(session, case, f"checkin_{kind}", now + after)
    await notify_reporter(
        session, case, "reports.update", state=State.CLOSED.value, outcome=outcome.value
    )
    await session.flush()
    return case


async def do_reopen_as_retaliation(session: AsyncSession, case: Case, *, keys: KeyRing) -> Case:
    """A reporter says they suffered retaliation after closure: a linked case opens, high at least."""
    now = utcnow()
    severity = Severity.CRITICAL if case.severity == Severity.CRITICAL else Severity.HIGH
    new = Case(
        country_code=case.country_code,
        factory_id=case.factory_id,
        category=case.category,
        harm=Harm.RETALIATION,
        severity=severity,
        state=State.NEW,
        danger=False,
        affects_others=case.affects_others,
        consent_to_share=case.consent_to_share,
        consent_to_name=case.consent_to_name,
        language=case.language,
        reporter_user_id=case.reporter_user_id,
        receipt_lookup=f"reopen:{case.id}:{secrets.token_hex(8)}",
        receipt_hash=case.receipt_hash,
        narrative=None,
        key_id=keys.current_id,
        submission_token=f"reopen-{case.id}-{secrets.token_hex(8)}",
        submitted_at=now,
        ack_due_at=now + ACK_DEADLINE[severity],
        triage_due_at=now + TRIAGE_DEADLINE[severity],
        reopened_from_id=case.id,
        events=[],
    )
    session.add(new)
    await session.flush()
    record_event(
        new,
        "submitted",
        who="reporter",
        to_state=State.NEW,
        severity=severity,
        retaliation_after=case.id,
    )
    record_event(case, "retaliation_reported", who="reporter", linked_case=new.id)
    _schedule(session, new, "ack_deadline", new.ack_due_at)
    _schedule(session, new, "triage_deadline", new.triage_due_at)
    await session.flush()
    return new


async def do_assign(session: AsyncSession, case: Case, handler: Staff, *, actor: Staff) -> None:
    if handler.role not in CASE_ROLES or (
        handler.role != StaffRole.ADMIN and case.country_code not in handler.country_codes
    ):
        raise Forbidden()
    case.assigned_staff_id = handler.id
    record_event(case, "assigned", actor=actor, to_staff=handler.id)
    await _audit(session, case, "case.assign", actor, to_staff=handler.id)
    await session.flush()


async def do_add_note(
    session: AsyncSession, case: Case, text: str, *, actor: Staff, keys: KeyRing
) -> None:
    text = _clean_text(text, "note")
    record_event(case, "note", actor=actor, text=text, keys=keys)
    await _audit(session, case, "case.note", actor)
    await session.flush()


async def do_refer(
    session: AsyncSession,
    case: Case,
    to: Referral,
    *,
    actor: Staff,
    keys: KeyRing,
    note: str | None = None,
    name_worker: bool = False,
) -> None:
    """Record a referral; the worker is named only if they consented."""
    if name_worker and not case.consent_to_name:
        raise Forbidden()
    record_event(
        case, "referral", actor=actor, to=to.value, worker_named=name_worker, text=note, keys=keys
    )
    await _audit(session, case, "case.refer", actor, to=to.value, worker_named=name_worker)
    await session.flush()


async def do_message_reporter(
    session: AsyncSession, case: Case, text: str, *, actor: Staff, keys: KeyRing, secret_key: str
) -> CaseEvent:
    """A handler writes to the anonymous reporter.

    Two sealed copies: one for the console (the case key) and one the bot can open to show the
    reporter (``seal_for_reporter``). It is delivered in their chat if they chose that, and shown
    when they check with their receipt otherwise.
    """
    text = _clean_text(text, "message")
    event = record_event(
        case,
        "message_to_reporter",
        actor=actor,
        text=text,
        keys=keys,
        for_reporter=seal_for_reporter(secret_key, text),
    )
    await _audit(session, case, "case.message", actor)
    await session.flush()
    await notify_reporter(session, case, "reports.message", event_id=event.id)
    return event


def messages_for_reporter(case: Case, secret_key: str) -> list[tuple[datetime, str, bool]]:
    """The conversation as the reporter sees it: (when, text, from the handler?)."""
    out = []
    for event in case.events:
        if event.kind == "message_to_reporter" and "for_reporter" in event.detail:
            out.append(
                (event.at, open_for_reporter(secret_key, event.detail["for_reporter"]), True)
            )
        elif event.kind == "message_from_reporter" and "for_reporter" in event.detail:
            out.append(
                (event.at, open_for_reporter(secret_key, event.detail["for_reporter"]), False)
            )
    return out


async def do_reporter_message(
    session: AsyncSession, case: Case, text: str, *, keys: KeyRing, secret_key: str
) -> CaseEvent:
    """The reporter answers the handler (from their chat or after checking with the receipt)."""
    text = _clean_text(text, "message")
    event = record_event(
        case,
        "message_from_reporter",
        who="reporter",
        text=text,
        keys=keys,
        for_reporter=seal_for_reporter(secret_key, text),
    )
    await session.flush()
    return event


async def notify_reporter(
    session: AsyncSession, case: Case, message_kind: str, /, **params: Any
) -> None:
    """Queue a message to the reporter if they chose to follow up in their chat."""
    if case.reporter_user_id is None:
        return  # receipt-only reporters see news when they check with their number
    await outbox.enqueue(
        session,
        message_kind,
        user_id=case.reporter_user_id,
        params={"case_id": case.id, **params},
        priority=10,
    )


def opened_events(case: Case, keys: KeyRing) -> list[dict[str, Any]]:
    """The history with sealed bodies opened, for an authorised console view."""
    out = []
    for event in case.events:
        text = (
            keys.open_text(event.body, event.detail.get("kid", case.key_id)) if event.body else None
        )
        out.append({"event": event, "text": text})
    return out
