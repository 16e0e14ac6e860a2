"""Cases through the remediation protocol: submit, see, move, close with four eyes, refer, talk.

Every change appends a ``CaseEvent`` (who, when, what); every staff view or change also writes an
audit row. Text from or to the reporter is sealed before it is stored.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nacl.public import PrivateKey
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.storage.models import Factory, Staff, StaffRole
from bot.storage.reports import (
    Case,
    CaseEvent,
    CaseEvidence,
    CaseTask,
    DraftFile,
    ReporterMessage,
    ReportNotice,
)
from services import audit, outbox
from services.clock import utcnow
from services.errors import DomainError, Forbidden, NotFound
from services.reports import receipts
from services.reports.crypto import (
    CannotDecrypt,
    KeyRing,
    new_reporter_salt,
    open_for_reporter,
    open_with,
    reporter_private_key,
    seal_for_reporter,
    seal_to,
)
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
# Worker-facing case references: random, so they say nothing about how many reports there are (L8).
# No look-alikes (0/O, 1/I/L, 2/Z, 5/S, 8/B): workers read them out on the phone.
REFERENCE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"


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
    """What the worker told the bot, checked by ``check_intake``.

    The bot gives the narrative already sealed (``sealed_narrative`` with the id of the key that
    sealed it); ``narrative`` in plaintext is for callers that hold it anyway (tests, imports).
    """

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
    sealed_narrative: tuple[bytes, str] | None = None  # (sealed box, key id)


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
    draft: str | None = None,
) -> tuple[Case, str | None]:
    """Create the case and its deadlines. Returns the case and the receipt to show once.

    Submitting the same ``submission_token`` again (a replayed update, a double tap) returns the
    case already made and no receipt, so nothing is created twice. ``draft`` names evidence the
    bot sealed as it arrived (``DraftFile``); it moves to the case.
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
    narrative: bytes | None
    if data.sealed_narrative is not None:
        narrative, kid = data.sealed_narrative
    else:
        narrative = keys.seal_text(data.narrative) if data.narrative else None
        kid = keys.current_id
    salt = new_reporter_salt()
    reporter_key = await receipts.off_loop(reporter_private_key, digits, salt)
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
        receipt_hash=await receipts.hash_receipt_async(digits),
        narrative=narrative,
        key_id=kid,
        submission_token=data.submission_token,
        reference=await new_reference(session),
        reporter_salt=salt,
        reporter_public_key=bytes(reporter_key.public_key),
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
    if draft is not None:
        for file in await session.scalars(select(DraftFile).where(DraftFile.draft == draft)):
            session.add(
                CaseEvidence(
                    case_id=case.id,
                    kind=file.kind,
                    mime_type=file.mime_type,
                    size=file.size,
                    content=file.content,
                )
            )
        await discard_draft(session, draft)
    _schedule(session, case, "ack_deadline", case.ack_due_at)
    _schedule(session, case, "triage_deadline", case.triage_due_at)
    if severity == Severity.CRITICAL:
        _schedule(session, case, "critical_alert", now)  # managers hear about it at once
        _schedule(session, case, "followup_deadline", now + CRITICAL_FOLLOW_UP)
    await session.flush()
    return case, receipt


async def new_reference(session: AsyncSession) -> str:
    """A unique random reference such as ``R-7KQ4HX`` (25^6 ≈ 244 million of them)."""
    while True:
        reference = "R-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))
        if await session.scalar(select(Case.id).where(Case.reference == reference)) is None:
            return reference


async def add_draft_file(
    session: AsyncSession, draft: str, kind: str, mime: str, content: bytes, *, keys: KeyRing
) -> None:
    """Keep one piece of evidence of an unsent report, sealed before it is stored."""
    if mime not in EVIDENCE_TYPES or len(content) > EVIDENCE_LIMIT:
        raise InvalidReport(reason=N_("evidence type or size not allowed"))
    session.add(
        DraftFile(
            draft=draft,
            kind=kind,
            mime_type=mime,
            size=len(content),
            content=keys.seal(content),
            key_id=keys.current_id,
            added_at=utcnow(),
        )
    )
    await session.flush()


async def discard_draft(session: AsyncSession, draft: str) -> None:
    await session.execute(delete(DraftFile).where(DraftFile.draft == draft))


async def purge_draft_files(session: AsyncSession, *, older_than: datetime) -> int:
    """Evidence of drafts nobody sent (the conversation state expired before them)."""
    result = await session.execute(delete(DraftFile).where(DraftFile.added_at < older_than))
    return int(getattr(result, "rowcount", 0) or 0)


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
        session, case, ReportNotice.UPDATE, state=State.CLOSED.value, outcome=outcome.value
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
        reference=await new_reference(session),
        reporter_salt=case.reporter_salt,
        reporter_public_key=case.reporter_public_key,
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
    """A handler writes to the reporter.

    One copy sealed for the console (the case key) and one for the reporter, sealed to the public
    key derived from her receipt (``to_reporter``): the bot opens it only while she types the
    receipt. A reporter who chose to follow up in this chat opens her case with a button and no
    receipt, so for her the bot also keeps a copy under a key derived from SECRET_KEY
    (``for_reporter``): the bot host can read handler messages of chat-linked cases, never their
    narrative or anything the reporter wrote. Cases from before receipt-derived keys (no
    ``reporter_public_key``) keep that older copy too, until their reporter next types the receipt.
    """
    text = _clean_text(text, "message")
    detail: dict[str, Any] = {}
    if case.reporter_public_key is not None:
        detail["to_reporter"] = seal_to(case.reporter_public_key, text)
    if case.reporter_user_id is not None or case.reporter_public_key is None:
        detail["for_reporter"] = seal_for_reporter(secret_key, text)
    event = record_event(case, "message_to_reporter", actor=actor, text=text, keys=keys, **detail)
    await _audit(session, case, "case.message", actor)
    await session.flush()
    await notify_reporter(session, case, ReportNotice.MESSAGE, event_id=event.id)
    return event


async def reporter_key(case: Case, digits: str) -> PrivateKey:
    """The reporter's key for a case, from the receipt she just typed (made now for older cases)."""
    if case.reporter_salt is None or case.reporter_public_key is None:
        case.reporter_salt = new_reporter_salt()
        key = await receipts.off_loop(reporter_private_key, digits, case.reporter_salt)
        case.reporter_public_key = bytes(key.public_key)
        return key
    return await receipts.off_loop(reporter_private_key, digits, case.reporter_salt)


def messages_for_reporter(
    case: Case, secret_key: str, key: PrivateKey | None = None
) -> list[tuple[datetime, str | None, bool]]:
    """The conversation as the reporter sees it: (when, text or None, from the handler?).

    Her own messages come back without text (only the console can open them); a handler message
    has text when ``key`` (from her receipt) or the chat-follow-up copy opens it.
    """
    out: list[tuple[datetime, str | None, bool]] = []
    for event in case.events:
        if event.kind == "message_from_reporter":
            out.append((event.at, None, False))
        elif event.kind == "message_to_reporter":
            text = None
            if key is not None and "to_reporter" in event.detail:
                text = open_with(key, event.detail["to_reporter"])
            elif "for_reporter" in event.detail:
                text = open_for_reporter(secret_key, event.detail["for_reporter"])
            out.append((event.at, text, True))
    return out


async def do_reporter_message(
    session: AsyncSession, case: Case, text: str, *, keys: KeyRing
) -> CaseEvent:
    """The reporter answers the handler, sealed for the console only (no bot-readable copy)."""
    text = _clean_text(text, "message")
    event = record_event(case, "message_from_reporter", who="reporter", text=text, keys=keys)
    await session.flush()
    return event


def seal_case_ref(case: Case, keys: KeyRing) -> str:
    """Which case a reporter is answering, sealed so that the bot, which keeps it for a while in
    the conversation state, cannot read it back (a random pad makes two refs to one case differ)."""
    ref = json.dumps({"case": case.id, "pad": secrets.token_hex(8)})
    return base64.b64encode(keys.seal_text(ref)).decode()


async def do_queue_reporter_message(
    session: AsyncSession, case_ref: str, text: str, *, keys: KeyRing
) -> ReporterMessage:
    """Keep a reporter's message, sealed with its sealed case reference, for the console to attach.

    The bot never learns the case id of a receipt-only reporter, so it cannot store it anywhere.
    """
    text = _clean_text(text, "message")
    row = ReporterMessage(
        case_ref=base64.b64decode(case_ref),
        body=keys.seal_text(text),
        key_id=keys.current_id,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


async def attach_reporter_messages(session: AsyncSession, keys: KeyRing) -> int:
    """Open waiting reporter messages (console side: needs the private key) and file each with its
    case as a ``message_from_reporter`` event; the text stays in the same sealed box."""
    if not keys.private:
        return 0
    attached = 0
    rows = (
        await session.scalars(
            select(ReporterMessage).order_by(ReporterMessage.id).with_for_update(skip_locked=True)
        )
    ).all()
    for row in rows:
        try:
            case_id = int(json.loads(keys.open_text(row.case_ref, row.key_id))["case"])
        except CannotDecrypt:
            continue  # sealed with a key this server lacks: another console may hold it
        case = await session.get(Case, case_id)
        if case is not None:
            case.events.append(
                CaseEvent(
                    case_id=case.id,
                    at=row.created_at,
                    actor="reporter",
                    kind="message_from_reporter",
                    detail={"kid": row.key_id},
                    body=row.body,
                )
            )
            attached += 1
        await session.delete(row)
    await session.flush()
    return attached


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
