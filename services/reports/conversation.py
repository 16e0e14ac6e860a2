"""The conversation between a case handler and the reporter, who stays anonymous.

A handler's message is sealed for the console and for the reporter (to her receipt's key, and for a
chat follower also to a key the bot holds); the reporter's answer is sealed for the console only.
A receipt-only reporter's answer waits in ``ReporterMessage`` with a sealed case reference until a
console holding the private key files it with its case.
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import datetime
from typing import Any

from nacl.public import PrivateKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import Staff
from bot.storage.reports import Case, CaseEvent, ReporterMessage, ReportNotice
from services.clock import utcnow
from services.reports import receipts
from services.reports.cases import audit_case, clean_text, notify_reporter, record_event
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
from services.reports.protocol import Actor, EventKind


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
