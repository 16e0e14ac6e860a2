"""The conversation between a case handler and the reporter, who stays anonymous.

A handler's message is sealed for the console and for the reporter (to her receipt's key, and for a
chat follower also to a key the bot holds); the reporter's answer is sealed for the console only.
A receipt-only reporter's answer waits in ``ReporterMessage`` with a sealed case reference until a
console holding the private key files it with its case.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import unicodedata
from datetime import datetime
from typing import Any

from nacl.public import PrivateKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.storage.models import Staff
from bot.storage.reports import (
    Case,
    CaseEvent,
    CaseEvidence,
    CaseTask,
    ReceiptAttempt,
    ReporterMessage,
    ReportNotice,
)
from services.clock import utcnow
from services.errors import DomainError
from services.reports import receipts
from services.reports.cases import (
    audit_case,
    clean_text,
    notify_reporter,
    pin_hash,
    record_event,
)
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
from services.reports.protocol import CHECKIN_PREFIX, Actor, EventKind
from services.reports.submission import EVIDENCE_LIMIT, EVIDENCE_TYPES

RECEIPT_DIGITS = 16
PIN_DIGITS = 4  # the last digits of the receipt, asked before an "in this chat" case opens


class NotAReceipt(DomainError):
    """Typed text that is no receipt at all ("hi", "ok", 👍): said kindly and never counted as a
    wrong guess, so chatting cannot lock a worker out of her case (review B2.1)."""

    code = "not_a_receipt"
    message = N_(
        "A receipt number has 16 digits, like {example}. Please type the number you wrote down."
    )


class FileNotKept(DomainError):
    code = "file_not_kept"
    message = N_(
        "This file is too big or of a kind we cannot keep. Please send a photo, "
        "a PDF or a voice note under 10 MB."
    )


class WrongPin(DomainError):
    code = "wrong_pin"
    message = N_("These are not the last 4 digits of your report's number. Please check them.")


def typed_digits(text: str) -> str:
    """The decimal digits in what a worker typed, as ASCII, whatever her script (০১২, ٠١٢, ０１２).

    Superscripts and circled numbers have no decimal value and are left out, so no typed text can
    raise here (review B18).
    """
    return "".join(
        str(value) for ch in text if (value := unicodedata.decimal(ch, None)) is not None
    )


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
    text = clean_text(text, "message")
    detail: dict[str, Any] = {}
    if case.reporter_public_key is not None:
        detail["to_reporter"] = seal_to(case.reporter_public_key, text)
    if case.reporter_user_id is not None or case.reporter_public_key is None:
        detail["for_reporter"] = seal_for_reporter(secret_key, text)
    event = record_event(
        case, EventKind.MESSAGE_TO_REPORTER, actor=actor, text=text, keys=keys, **detail
    )
    await audit_case(session, case, "case.message", actor)
    await session.flush()
    await notify_reporter(session, case, ReportNotice.MESSAGE, event_id=event.id)
    return event


async def my_recent_cases(session: AsyncSession, user_id: int, *, limit: int) -> list[Case]:
    """The newest cases whose reporter chose to follow them up in this chat."""
    query = (
        select(Case).where(Case.reporter_user_id == user_id).order_by(Case.id.desc()).limit(limit)
    )
    return list((await session.scalars(query)).all())


async def access_own_case(session: AsyncSession, user_id: int, reference: str) -> Case | None:
    """A case this chat may open without a receipt: only one its reporter chose to follow here."""
    return await session.scalar(
        select(Case).where(Case.reference == reference, Case.reporter_user_id == user_id)
    )


async def has_own_cases(session: AsyncSession, user_id: int) -> bool:
    """Whether this chat follows any report (said without a number or a status, review B3)."""
    own = select(Case.id).where(Case.reporter_user_id == user_id, Case.reporter_pin.is_not(None))
    return await session.scalar(own.limit(1)) is not None


async def access_own_case_by_pin(
    session: AsyncSession, user_id: int, pin: str, *, secret_key: str, chat_ref: str
) -> Case:
    """The newest case this chat follows whose receipt ends with ``pin``.

    Wrong PINs are counted per chat like wrong receipts (five in 15 minutes, then
    ``TooManyGuesses``); the caller commits before showing ``WrongPin`` so the count stays.
    """
    key = receipts.attempt_key(secret_key, f"pin:{chat_ref}")
    attempts = await receipts.check_attempts(session, key)
    own = await session.scalars(
        select(Case)
        .where(Case.reporter_user_id == user_id, Case.reporter_pin.is_not(None))
        .order_by(Case.id.desc())
    )
    for case in own:
        expected = pin_hash(secret_key, case.reporter_salt or b"", pin)
        if hmac.compare_digest(expected, case.reporter_pin or ""):
            if attempts is not None:  # as with receipts: a right PIN leaves no row behind
                await session.delete(attempts)
            return case
    if attempts is None:
        attempts = ReceiptAttempt(key=key, window_start=utcnow(), failures=0)
        session.add(attempts)
    attempts.failures += 1
    await session.flush()
    raise WrongPin()


async def pending_checkin(session: AsyncSession, case: Case) -> str | None:
    """The check-in the reporter was told about and has not answered ("outcome", "day30", ...);
    its question is asked only once she has opened the case (review B3)."""
    kind = await session.scalar(
        select(CaseTask.kind)
        .where(
            CaseTask.case_id == case.id,
            CaseTask.kind.startswith(CHECKIN_PREFIX),
            CaseTask.result == "asked",
        )
        .order_by(CaseTask.due_at.desc())
        .limit(1)
    )
    return kind.removeprefix(CHECKIN_PREFIX) if kind else None


async def do_answer_checkin(session: AsyncSession, case: Case, kind: str) -> None:
    """The check-in is answered: it is not asked again."""
    task = await session.scalar(
        select(CaseTask).where(
            CaseTask.case_id == case.id, CaseTask.kind == f"{CHECKIN_PREFIX}{kind}"
        )
    )
    if task is not None:
        task.result = "answered"
        await session.flush()


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
        if event.kind == EventKind.MESSAGE_FROM_REPORTER:
            out.append((event.at, None, False))
        elif event.kind == EventKind.MESSAGE_TO_REPORTER:
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
    text = clean_text(text, "message")
    event = record_event(
        case, EventKind.MESSAGE_FROM_REPORTER, who=Actor.REPORTER, text=text, keys=keys
    )
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
    text = clean_text(text, "message")
    row = ReporterMessage(
        case_ref=base64.b64decode(case_ref),
        body=keys.seal_text(text),
        key_id=keys.current_id,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


async def do_queue_reporter_file(
    session: AsyncSession, case_ref: str, kind: str, mime: str, content: bytes, *, keys: KeyRing
) -> ReporterMessage:
    """Keep a voice note, photo or PDF a reporter sent the handler, sealed as it arrives (like
    intake evidence), with its sealed case reference for the console to attach."""
    if mime not in EVIDENCE_TYPES or not content or len(content) > EVIDENCE_LIMIT:
        raise FileNotKept()
    row = ReporterMessage(
        case_ref=base64.b64decode(case_ref),
        body=keys.seal(content),
        key_id=keys.current_id,
        kind=kind,
        mime_type=mime,
        size=len(content),
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


async def attach_reporter_messages(session: AsyncSession, keys: KeyRing) -> int:
    """Open waiting reporter messages (console side: needs the private key) and file each with its
    case as a ``message_from_reporter`` event; the text stays in the same sealed box. A file
    becomes evidence of the case (listed and downloaded like intake evidence), still sealed."""
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
        if case is not None and row.kind:
            evidence = CaseEvidence(
                case_id=case.id,
                kind=row.kind,
                mime_type=row.mime_type or "application/octet-stream",
                size=row.size or 0,
                content=row.body,
                added_at=row.created_at,
            )
            session.add(evidence)
            await session.flush()
            case.events.append(
                CaseEvent(
                    case_id=case.id,
                    at=row.created_at,
                    actor=Actor.REPORTER,
                    kind=EventKind.MESSAGE_FROM_REPORTER,
                    detail={"file": row.kind, "evidence": evidence.id},
                )
            )
            attached += 1
        elif case is not None:
            case.events.append(
                CaseEvent(
                    case_id=case.id,
                    at=row.created_at,
                    actor=Actor.REPORTER,
                    kind=EventKind.MESSAGE_FROM_REPORTER,
                    detail={"kid": row.key_id},
                    body=row.body,
                )
            )
            attached += 1
        await session.delete(row)
    await session.flush()
    return attached
