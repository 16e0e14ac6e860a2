"""New cases: what the worker told the bot (``Intake``), the sealed draft files of a report not yet
sent, submitting it with its deadlines, and the linked case a retaliation check-in opens.

Text and files are sealed before they are stored; the receipt is returned once and never kept.

A story told in several messages arrives as several sealed parts, each sealed by the bot the moment
it came (the bot cannot open them to join them). ``Case.narrative`` then holds them together:
``PARTS_MAGIC`` followed by JSON ``[[key id, base64 sealed box], ...]`` in the order they were sent.
A story of one part stays a plain sealed box, as before. ``open_narrative`` reads either and joins
the parts for the handler; every reader of ``Case.narrative`` goes through it.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.storage.models import Factory
from bot.storage.reports import Case, CaseEvidence, DraftFile
from services.clock import utcnow
from services.reports import receipts
from services.reports.cases import (
    InvalidReport,
    TextTooLong,
    pin_hash,
    record_event,
    schedule_task,
)
from services.reports.crypto import (
    CannotDecrypt,
    KeyRing,
    new_reporter_salt,
    reporter_private_key,
)
from services.reports.protocol import (
    ACK_DEADLINE,
    CRITICAL_FOLLOW_UP,
    HARMS_BY_CATEGORY,
    TRIAGE_DEADLINE,
    Actor,
    Category,
    EventKind,
    Harm,
    Severity,
    State,
    TaskKind,
    severity_for,
)

# A whole story, all its parts: long enough for anything a worker tells in a chat (Telegram splits a
# long text into 4,096-character messages; each is kept), short enough to bound the draft.
NARRATIVE_LIMIT = 20_000
NARRATIVE_PARTS_LIMIT = 60  # messages in one story
PARTS_MAGIC = b"WVN1"
PART_SEPARATOR = "\n\n"  # between the parts the handler reads
EVIDENCE_LIMIT = 10 * 1024 * 1024
EVIDENCE_TYPES = {"image/jpeg", "image/png", "application/pdf", "audio/ogg", "audio/mpeg"}
SUBMISSION_TOKEN_LIMIT = 64  # Case.submission_token is String(64)
# Worker-facing case references: random, so they say nothing about how many reports there are (L8).
# No look-alikes (0/O, 1/I/L, 2/Z, 5/S, 8/B): workers read them out on the phone.
REFERENCE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
REFERENCE_LENGTH = 6  # after "R-"; Case.reference is String(12)


@dataclass(frozen=True)
class Intake:
    """What the worker told the bot, checked by ``check_intake``.

    The bot gives the narrative already sealed, as the parts it arrived in (``sealed_parts``: each
    a sealed box with the id of the key that sealed it); ``narrative`` in plaintext is for callers
    that hold it anyway (tests, imports).
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
    sealed_parts: tuple[tuple[bytes, str], ...] = ()  # (sealed box, key id) per message


def check_intake(data: Intake) -> Intake:
    if data.harm is not None and data.harm not in HARMS_BY_CATEGORY[data.category]:
        raise InvalidReport(reason=N_("the answer does not belong to this kind of problem"))
    if data.narrative is not None and len(data.narrative) > NARRATIVE_LIMIT:
        raise TextTooLong(limit=NARRATIVE_LIMIT)
    if len(data.sealed_parts) > NARRATIVE_PARTS_LIMIT:
        raise InvalidReport(reason=N_("the story has too many parts"))
    if not data.submission_token or len(data.submission_token) > SUBMISSION_TOKEN_LIMIT:
        raise InvalidReport(reason=N_("no submission token"))
    return data


def _check_evidence(mime: str, content: bytes) -> None:
    if mime not in EVIDENCE_TYPES or len(content) > EVIDENCE_LIMIT:
        raise InvalidReport(reason=N_("evidence type or size not allowed"))


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
    if data.sealed_parts:
        narrative, kid = pack_parts(data.sealed_parts)
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
        reporter_pin=pin_hash(secret_key, salt, digits[-4:]) if data.follow_up_in_chat else None,
        submitted_at=now,
        ack_due_at=now + ACK_DEADLINE[severity],
        triage_due_at=now + TRIAGE_DEADLINE[severity],
        events=[],
    )
    try:
        async with session.begin_nested():
            session.add(case)
            await session.flush()
    except IntegrityError:
        # Two taps handled at the same moment (two replicas): the other stored it first. The
        # unique token decides; this one is the repeat and shows "already sent".
        existing = await session.scalar(
            select(Case).where(Case.submission_token == data.submission_token)
        )
        if existing is None:
            raise
        return existing, None
    record_event(
        case, EventKind.SUBMITTED, who=Actor.REPORTER, to_state=State.NEW, severity=severity
    )
    for kind, mime, content in evidence:
        _check_evidence(mime, content)
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
    schedule_task(session, case, TaskKind.ACK_DEADLINE, case.ack_due_at)
    schedule_task(session, case, TaskKind.TRIAGE_DEADLINE, case.triage_due_at)
    if severity == Severity.CRITICAL:
        # managers hear about it at once
        schedule_task(session, case, TaskKind.CRITICAL_ALERT, now)
        schedule_task(session, case, TaskKind.FOLLOWUP_DEADLINE, now + CRITICAL_FOLLOW_UP)
    await session.flush()
    return case, receipt


def pack_parts(parts: Sequence[tuple[bytes, str]]) -> tuple[bytes, str]:
    """The sealed parts of one story as one ``Case.narrative`` and its key id (the first part's;
    each part keeps its own, so a key rotated while she was writing still opens)."""
    if len(parts) == 1:
        return parts[0]
    body = json.dumps([[kid, base64.b64encode(box).decode()] for box, kid in parts])
    return PARTS_MAGIC + body.encode(), parts[0][1]


def _unpack(blob: bytes) -> list[tuple[bytes, str]] | None:
    if not blob.startswith(PARTS_MAGIC):
        return None
    try:
        rows = json.loads(blob[len(PARTS_MAGIC) :])
        return [(base64.b64decode(box, validate=True), str(kid)) for kid, box in rows]
    except (ValueError, TypeError, binascii.Error):
        return None  # a plain sealed box that happens to start like the marker


def open_narrative(keys: KeyRing, blob: bytes, kid: str) -> str:
    """What the worker wrote, for a handler holding the private key: the parts joined in order."""
    parts = _unpack(blob)
    if parts is not None:
        try:
            return PART_SEPARATOR.join(keys.open_text(box, part_kid) for box, part_kid in parts)
        except CannotDecrypt:
            pass  # read it as one box below; a real CannotDecrypt comes back from there
    return keys.open_text(blob, kid)


async def new_reference(session: AsyncSession) -> str:
    """A unique random reference such as ``R-7KQ4HX`` (25^6 ≈ 244 million of them)."""
    while True:
        reference = "R-" + "".join(
            secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH)
        )
        if await session.scalar(select(Case.id).where(Case.reference == reference)) is None:
            return reference


async def add_draft_file(
    session: AsyncSession, draft: str, kind: str, mime: str, content: bytes, *, keys: KeyRing
) -> None:
    """Keep one piece of evidence of an unsent report, sealed before it is stored."""
    _check_evidence(mime, content)
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
    """The sealed files of a report that will not be sent (cancelled, left, sent: moved)."""
    await session.execute(delete(DraftFile).where(DraftFile.draft == draft))


async def purge_draft_files(session: AsyncSession, *, older_than: datetime) -> int:
    """Evidence of drafts nobody sent (the conversation state expired before them)."""
    result = await session.execute(delete(DraftFile).where(DraftFile.added_at < older_than))
    return int(getattr(result, "rowcount", 0) or 0)


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
        reporter_pin=case.reporter_pin,
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
        EventKind.SUBMITTED,
        who=Actor.REPORTER,
        to_state=State.NEW,
        severity=severity,
        retaliation_after=case.id,
    )
    record_event(case, EventKind.RETALIATION_REPORTED, who=Actor.REPORTER, linked_case=new.id)
    schedule_task(session, new, TaskKind.ACK_DEADLINE, new.ack_due_at)
    schedule_task(session, new, TaskKind.TRIAGE_DEADLINE, new.triage_due_at)
    await session.flush()
    return new
