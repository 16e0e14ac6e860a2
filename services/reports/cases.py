"""Handling a case through the remediation protocol: see it, move it, close it with four eyes,
assign, note, refer; plus what every reports verb shares (errors, the history row, the audit row,
news to the reporter).

New cases come from ``services.reports.submission``; the conversation with the reporter is
``services.reports.conversation``. Every change appends a ``CaseEvent`` (who, when, what); every
staff view or change also writes an audit row. Text from or to the reporter is sealed before it is
stored.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.storage.models import Staff, StaffCountry, StaffRole
from bot.storage.reports import Case, CaseEvent, CaseEvidence, CaseTask, ReportNotice
from services import audit, outbox
from services.clock import utcnow
from services.errors import Conflict, DomainError, Forbidden, NotFound
from services.reports.crypto import KeyRing
from services.reports.protocol import (
    CHECKIN_PREFIX,
    CHECKINS,
    REOPEN_TO,
    TRANSITIONS,
    Actor,
    EventKind,
    Outcome,
    Referral,
    Severity,
    State,
    needs_reason,
    needs_second_person,
)
from services.scope import Scope

MESSAGE_LIMIT = 2000  # a note or a message, in characters
CASE_ROLES = {StaffRole.ADMIN, StaffRole.COUNTRY_MANAGER, StaffRole.CASE_HANDLER}
CONFIRMING_ROLES = {StaffRole.ADMIN, StaffRole.COUNTRY_MANAGER}
REPORTER_NEWS_PRIORITY = 10  # outbox priority of news to a reporter


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


class ReasonNeeded(DomainError):
    """Closing that a second person must confirm, and reopening, carry a written reason."""

    code = "reason_needed"
    message = N_("Please write the reason. It stays in the case history.")


class TextTooLong(DomainError):
    code = "text_too_long"
    message = N_("This text is too long: at most {limit} characters, please.")


async def audit_case(
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


def clean_text(text: str, what: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidReport(
            reason=N_("the note is empty") if what == "note" else N_("the message is empty")
        )
    if len(text) > MESSAGE_LIMIT:
        raise TextTooLong(limit=MESSAGE_LIMIT)
    return text


def record_event(
    case: Case,
    kind: EventKind,
    *,
    actor: Staff | None = None,
    who: Actor = Actor.STAFF,
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
        actor=who if actor is None else Actor.STAFF,
        kind=kind,
        from_state=from_state,
        to_state=to_state,
        detail=detail,
        body=body,
    )
    case.events.append(event)
    return event


def schedule_task(session: AsyncSession, case: Case, kind: str, due_at: datetime) -> None:
    session.add(CaseTask(case_id=case.id, kind=kind, due_at=due_at))


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
    Scope.of(staff).check(case.country_code)
    if audit_view:
        await audit_case(session, case, "case.view", staff, ip=ip)
    return case


async def assignable_handlers(session: AsyncSession, case: Case) -> list[Staff]:
    """Active case handlers and country managers of the case's country, by name (then e-mail);
    the current assignee too, even if no longer assignable, so the page can say who has it."""
    in_country = select(StaffCountry.staff_id).where(StaffCountry.country_code == case.country_code)
    assignable = (
        Staff.active.is_(True)
        & Staff.role.in_([StaffRole.CASE_HANDLER, StaffRole.COUNTRY_MANAGER])
        & Staff.id.in_(in_country)
    )
    if case.assigned_staff_id is not None:
        assignable = assignable | (Staff.id == case.assigned_staff_id)
    rows = (await session.scalars(select(Staff).where(assignable))).all()
    return sorted(rows, key=lambda s: (staff_name(s).casefold(), s.email))


def staff_name(staff: Staff) -> str:
    """How a staff member is named to colleagues: their chosen name, else their e-mail."""
    return staff.name.strip() or staff.email


async def staff_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    """Names of the staff a case page mentions, in one query whatever the history's length."""
    if not ids:
        return {}
    rows = await session.scalars(select(Staff).where(Staff.id.in_(ids)))
    return {s.id: staff_name(s) for s in rows}


async def access_evidence(
    session: AsyncSession, staff: Staff, case_id: int, evidence_id: int, *, ip: str | None = None
) -> tuple[Case, CaseEvidence]:
    """Load one piece of a case's evidence for a staff member who may see the case (audited as a
    download), or refuse as if it did not exist."""
    case = await access_case(session, staff, case_id, audit_view=False)
    item = await session.get(CaseEvidence, evidence_id)
    if item is None or item.case_id != case.id:
        raise NotFound()
    await audit_case(session, case, "case.evidence", staff, evidence=item.id, ip=ip)
    return case, item


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
    if target == current and target != State.CLOSED:
        return case  # repeating a transition (a double-submitted form) is harmless
    # Closing goes through do_close (four eyes), reopening through do_reopen (a reason).
    if current == State.CLOSED or target == State.CLOSED or target not in TRANSITIONS[current]:
        raise TransitionRefused(current=current, target=target)
    now = utcnow()
    case.state = target
    if target == State.ACKNOWLEDGED:
        case.acknowledged_at = now
    if target == State.TRIAGED:
        case.triaged_at = now
    record_event(
        case,
        EventKind.TRANSITION,
        actor=actor,
        from_state=current,
        to_state=target,
        text=note,
        keys=keys,
    )
    await audit_case(session, case, "case.transition", actor, to=target.value)
    await notify_reporter(session, case, ReportNotice.UPDATE, state=target.value)
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
    """Close, or propose closing when a second person must confirm (four eyes, DESIGN §5):
    ``protocol.needs_second_person`` says when, and then a written reason is needed too."""
    current = State(case.state)
    if State.CLOSED not in TRANSITIONS[current]:
        raise TransitionRefused(current=current, target=State.CLOSED)
    proposal = case.pending_close
    if proposal:
        if proposal["proposed_by"] == actor.id and proposal["outcome"] == outcome.value:
            return case  # the same proposal sent twice (a double click) is harmless
        raise Conflict()  # one proposal at a time: it is confirmed or kept open first
    severity = Severity(case.severity)
    note = (note or "").strip() or None
    if note is not None and len(note) > MESSAGE_LIMIT:
        raise TextTooLong(limit=MESSAGE_LIMIT)
    if needs_reason(severity, outcome, from_state=current) and not note:
        raise ReasonNeeded()
    if needs_second_person(severity, outcome, from_state=current):
        case.pending_close = {
            "outcome": outcome.value,
            "proposed_by": actor.id,
            "proposed_at": utcnow().isoformat(),
        }
        record_event(
            case,
            EventKind.CLOSE_PROPOSED,
            actor=actor,
            from_state=current,
            outcome=outcome.value,
            text=note,
            keys=keys,
        )
        await audit_case(session, case, "case.close_proposed", actor, outcome=outcome.value)
        await session.flush()
        return case
    return await _finish_close(session, case, outcome, actor=actor, note=note, keys=keys)


async def do_confirm_close(
    session: AsyncSession, case: Case, *, actor: Staff, keys: KeyRing, note: str | None = None
) -> Case:
    proposal = case.pending_close
    if not proposal:
        raise TransitionRefused(current=State(case.state), target=State.CLOSED)
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
        raise TransitionRefused(current=State(case.state), target=State.CLOSED)
    if actor.role not in CONFIRMING_ROLES or actor.id == case.pending_close["proposed_by"]:
        raise SecondPersonNeeded()
    case.pending_close = None
    record_event(case, EventKind.CLOSE_REJECTED, actor=actor, text=note, keys=keys)
    await audit_case(session, case, "case.close_rejected", actor)
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
        EventKind.CLOSED,
        actor=actor,
        from_state=current,
        to_state=State.CLOSED,
        outcome=outcome.value,
        confirmed=confirmed,
        text=note,
        keys=keys,
    )
    await audit_case(session, case, "case.close", actor, outcome=outcome.value, confirmed=confirmed)
    for kind, after in CHECKINS:
        schedule_task(session, case, f"{CHECKIN_PREFIX}{kind}", now + after)
    await notify_reporter(
        session, case, ReportNotice.UPDATE, state=State.CLOSED.value, outcome=outcome.value
    )
    await session.flush()
    return case


async def do_assign(
    session: AsyncSession, case: Case, handler: Staff | None, *, actor: Staff
) -> None:
    """Give the case to a handler, or to nobody (``None``); the same choice again is harmless."""
    if handler is not None and (
        handler.role not in CASE_ROLES
        or not handler.active
        or not Scope.of(handler).allows(case.country_code)
    ):
        raise Forbidden()
    to_staff = handler.id if handler is not None else None
    if case.assigned_staff_id == to_staff:
        return
    case.assigned_staff_id = to_staff
    record_event(case, EventKind.ASSIGNED, actor=actor, to_staff=to_staff)
    await audit_case(session, case, "case.assign", actor, to_staff=to_staff)
    await session.flush()


async def do_reopen(
    session: AsyncSession, case: Case, *, actor: Staff, note: str | None, keys: KeyRing
) -> Case:
    """A staff decision to take a closed case up again (new facts, a closing in error): back to
    investigating, with a written reason. The outcome and closing time are cleared, the check-ins
    planned for the closed case are dropped (a new closing plans them again) and the reporter
    hears there is news."""
    current = State(case.state)
    if current != State.CLOSED:
        raise TransitionRefused(current=current, target=REOPEN_TO)
    note = (note or "").strip()
    if not note:
        raise ReasonNeeded()
    if len(note) > MESSAGE_LIMIT:
        raise TextTooLong(limit=MESSAGE_LIMIT)
    previous = case.outcome
    case.state, case.outcome, case.closed_at, case.pending_close = REOPEN_TO, None, None, None
    await session.execute(
        delete(CaseTask).where(
            CaseTask.case_id == case.id, CaseTask.kind.startswith(CHECKIN_PREFIX)
        )
    )
    record_event(
        case,
        EventKind.REOPENED,
        actor=actor,
        from_state=current,
        to_state=REOPEN_TO,
        outcome=previous,
        text=note,
        keys=keys,
    )
    await audit_case(session, case, "case.reopen", actor)
    await notify_reporter(session, case, ReportNotice.UPDATE, state=REOPEN_TO.value)
    await session.flush()
    return case


async def do_add_note(
    session: AsyncSession, case: Case, text: str, *, actor: Staff, keys: KeyRing
) -> None:
    text = clean_text(text, "note")
    record_event(case, EventKind.NOTE, actor=actor, text=text, keys=keys)
    await audit_case(session, case, "case.note", actor)
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
        case,
        EventKind.REFERRAL,
        actor=actor,
        to=to.value,
        worker_named=name_worker,
        text=note,
        keys=keys,
    )
    await audit_case(session, case, "case.refer", actor, to=to.value, worker_named=name_worker)
    await session.flush()


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
        priority=REPORTER_NEWS_PRIORITY,
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


def pin_hash(secret_key: str, salt: bytes, pin: str) -> str:
    """A keyed hash of the receipt's last 4 digits for one case (its reporter salt keeps two cases
    with the same digits apart). Only "in this chat" cases carry one: for a receipt-only case it
    would narrow down, for whoever holds SECRET_KEY and the database, the receipt to guess."""
    message = b"pin:" + salt + pin.encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()
