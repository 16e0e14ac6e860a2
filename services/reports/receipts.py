"""Receipts: 16 digits shown once, stored as an HMAC lookup key plus an argon2 hash.

The HMAC (keyed with the server secret) finds the case without storing anything guessable: a copy
of the database alone does not let anyone test receipt numbers. argon2 then verifies. Guessing is
limited per chat; a wrong and an unknown number get the same answer after the same short delay.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import unicodedata
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_, bidi_number
from bot.storage.reports import Case, ReceiptAttempt
from services.clock import utcnow
from services.errors import DomainError

T = TypeVar("T")
_hasher = PasswordHasher(time_cost=3, memory_cost=32 * 1024)
MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
GUESS_DELAY_SECONDS = 1.0
# argon2 runs in worker threads, at most this many at once per event loop, so a flood of receipt
# guesses neither blocks the loop (M8) nor takes every thread of the default pool.
ARGON2_CONCURRENCY = 2
_limits: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


class ReceiptNotFound(DomainError):
    code = "receipt_not_found"
    status = 404
    message = N_("No report matches this number. Check the 16 digits and try again.")


class TooManyGuesses(DomainError):
    code = "receipt_rate_limited"
    status = 429
    message = N_("Too many tries. Please wait 15 minutes and try again.")


class NotAReceipt(DomainError):
    """The text is not 16 digits: ordinary chat ("hi", "ok", 👍), not a guess. Never counted."""

    code = "not_a_receipt"
    status = 400
    message = N_("A receipt number has 16 digits. Type all 16, or send /menu to leave.")


class ReceiptOutcome(StrEnum):
    FOUND = "found"
    NOT_A_RECEIPT = "not_a_receipt"  # nothing counted
    NO_MATCH = "no_match"  # 16 digits that open no report: counted against the chat


@dataclass(frozen=True)
class ReceiptCheck:
    outcome: ReceiptOutcome
    case: Case | None = None
    digits: str | None = None  # the 16 digits when found (the reporter key derives from them)


def new_receipt() -> str:
    """Sixteen random digits in groups of four, easy to write down or read aloud."""
    digits = "".join(str(secrets.randbelow(10)) for _ in range(16))
    return format_receipt(digits)


def normalise(text: str) -> str | None:
    """The 16 digits of a typed receipt, or None. Never raises, whatever the text.

    Workers may type with their own digits (০১২, ០១২, ٠١٢...): any decimal digit (category Nd) of
    any script maps to 0-9 through ``unicodedata.decimal``. Other "digits" (superscripts "¹²³",
    circled numbers) are not decimal: text holding one is not a receipt, never an error (B18).
    """
    digits: list[str] = []
    for ch in text:
        value = unicodedata.decimal(ch, None)
        if value is not None:
            digits.append(str(value))
        elif unicodedata.digit(ch, None) is not None or unicodedata.numeric(ch, None) is not None:
            return None
    return "".join(digits) if len(digits) == 16 else None


def format_receipt(digits: str) -> str:
    """Four groups of four. For display in a message use ``display_receipt`` (ar/ur order)."""
    return " ".join(digits[i : i + 4] for i in range(0, 16, 4))


def display_receipt(receipt: str, *, locale: str | None = None) -> str:
    """A receipt as a worker reads it: in ar/ur isolated left to right, so the four groups are
    not drawn from the right (review B6). ``locale`` defaults to the current one."""
    return bidi_number(receipt, locale=locale)


def lookup_key(secret_key: str, digits: str) -> str:
    return hmac.new(secret_key.encode(), f"receipt:{digits}".encode(), hashlib.sha256).hexdigest()


def hash_receipt(digits: str) -> str:
    return _hasher.hash(digits)


def _verify(stored: str, digits: str) -> bool:
    try:
        return _hasher.verify(stored, digits)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def off_loop(fn: Callable[..., T], *args: object) -> T:
    """Run CPU-bound argon2 work in a thread behind the per-loop semaphore."""
    loop = asyncio.get_running_loop()
    limit = _limits.get(loop)
    if limit is None:
        limit = _limits[loop] = asyncio.Semaphore(ARGON2_CONCURRENCY)
    async with limit:
        return await asyncio.to_thread(fn, *args)


async def verify(stored: str, digits: str) -> bool:
    return await off_loop(_verify, stored, digits)


async def hash_receipt_async(digits: str) -> str:
    return await off_loop(hash_receipt, digits)


def attempt_key(secret_key: str, chat_ref: str) -> str:
    return hmac.new(
        secret_key.encode(), f"attempts:{chat_ref}".encode(), hashlib.sha256
    ).hexdigest()


async def check_attempts(
    session: AsyncSession, key: str, *, now: datetime | None = None
) -> ReceiptAttempt | None:
    """This chat's recent wrong guesses, or None if it has none; raises when there were too many.

    No row is written for a chat until it guesses wrong: a row made at a successful check would
    say, to anyone holding SECRET_KEY (who can compute the key of every chat), which chat checked a
    receipt when, and so which chat wrote a reporter message at that time (DESIGN §4 rule 4).
    """
    now = now or utcnow()
    row = await session.get(ReceiptAttempt, key, with_for_update=True)
    if row is not None and row.window_start < now - WINDOW:
        row.window_start, row.failures = now, 0
    if row is not None and row.failures >= MAX_FAILURES:
        raise TooManyGuesses()
    return row


async def check_receipt(
    session: AsyncSession, text: str, *, secret_key: str, chat_ref: str, now: datetime | None = None
) -> ReceiptCheck:
    """What a worker's typed text opens: a case, nothing (a counted guess), or it is not a receipt.

    Only text that normalises to exactly 16 digits is a guess and counts against this chat (B2.1:
    "hi", "ok" or 👍 typed after "Follow up" must never lock a worker out). A counted miss returns
    rather than raises, so the caller's transaction commits the count (an exception would roll it
    back and make guessing free). Too many guesses raise ``TooManyGuesses`` at once, even for text
    that is not a receipt, so the answer does not tell a locked chat which texts would count.
    """
    key = attempt_key(secret_key, chat_ref)
    attempts = await check_attempts(session, key, now=now)
    digits = normalise(text)
    if digits is None:
        return ReceiptCheck(ReceiptOutcome.NOT_A_RECEIPT)
    case = await session.scalar(
        select(Case).where(Case.receipt_lookup == lookup_key(secret_key, digits))
    )
    if case is None or not await verify(case.receipt_hash, digits):
        if attempts is None:
            attempts = ReceiptAttempt(key=key, window_start=now or utcnow(), failures=0)
            session.add(attempts)
        attempts.failures += 1
        await session.flush()
        return ReceiptCheck(ReceiptOutcome.NO_MATCH)
    if attempts is not None:  # a right number clears the count, as before, and leaves no row
        await session.delete(attempts)
    return ReceiptCheck(ReceiptOutcome.FOUND, case, digits)


async def access_case_by_receipt(
    session: AsyncSession, text: str, *, secret_key: str, chat_ref: str, now: datetime | None = None
) -> Case | None:
    """The case for a receipt typed by a worker, or None for a counted wrong number.

    Text that is not 16 digits raises ``NotAReceipt`` (nothing counted, nothing written), so a
    caller that answers every ``DomainError`` with its message tells the worker what a receipt
    looks like instead of "No report matches". See ``check_receipt`` for the three outcomes.
    """
    found = await check_receipt(session, text, secret_key=secret_key, chat_ref=chat_ref, now=now)
    if found.outcome is ReceiptOutcome.NOT_A_RECEIPT:
        raise NotAReceipt()
    return found.case
