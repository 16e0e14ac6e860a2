"""Staff accounts: creation and password hashing (the console builds sign-in on top)."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.storage.models import Country, Staff, StaffCountry, StaffRole
from services.clock import utcnow
from services.errors import DomainError

_hasher = PasswordHasher()
# argon2 takes ~100-200 ms of CPU and must never run on the event loop the bot and console share
# (DESIGN §4.8). Two worker threads bound how much CPU sign-in can take however many requests
# arrive; argon2-cffi releases the GIL while hashing. A pool (not an asyncio.Semaphore) so the
# bound holds across event loops (tests run one loop per test).
HASH_THREADS = 2
# Requests allowed to wait for a hashing thread; beyond that callers refuse cheaply (see busy()).
HASH_QUEUE = 16
_pool = ThreadPoolExecutor(max_workers=HASH_THREADS, thread_name_prefix="argon2")
_waiting = 0
_waiting_lock = threading.Lock()
T = TypeVar("T")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 12


class InvalidStaff(DomainError):
    code = "invalid_staff"
    message = N_("Invalid staff account: {reason}")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def hashing_busy() -> bool:
    """True when enough argon2 work is already queued: the caller should answer 429 instead."""
    return _waiting >= HASH_QUEUE


async def _off_loop(fn: Callable[..., T], *args: object) -> T:
    global _waiting
    with _waiting_lock:
        _waiting += 1
    try:
        return await asyncio.get_running_loop().run_in_executor(_pool, fn, *args)
    finally:
        with _waiting_lock:
            _waiting -= 1


async def hash_password_async(password: str) -> str:
    return await _off_loop(hash_password, password)


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    return await _off_loop(verify_password, password_hash, password)


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidStaff(reason=f"the password needs at least {MIN_PASSWORD} characters")
    return password


async def get_staff_by_email(session: AsyncSession, email: str) -> Staff | None:
    return await session.scalar(select(Staff).where(Staff.email == email.strip().lower()))


async def do_create_staff(
    session: AsyncSession,
    *,
    email: str,
    role: str,
    countries: Iterable[str] = (),
    password: str | None = None,
    name: str = "",
) -> Staff:
    email = email.strip().lower()
    if not EMAIL.match(email):
        raise InvalidStaff(reason=N_("the e-mail address is not valid"))
    if role not in set(StaffRole):
        raise InvalidStaff(reason=f"the role must be one of {', '.join(StaffRole)}")
    if await get_staff_by_email(session, email) is not None:
        raise InvalidStaff(reason=N_("an account with this e-mail exists"))
    codes = sorted({c.strip().upper() for c in countries if c.strip()})
    if role != StaffRole.ADMIN and not codes:
        raise InvalidStaff(reason=N_("name at least one country (admins see all)"))
    for code in codes:
        if await session.get(Country, code) is None:
            raise InvalidStaff(reason=f"unknown country {code}")
    staff = Staff(
        email=email,
        name=name.strip(),
        role=role,
        locale="en",
        active=True,
        session_version=0,
        totp_failures=0,
        password_hash=await hash_password_async(check_password(password)) if password else None,
        created_at=utcnow(),
        countries=[StaffCountry(country_code=c) for c in codes],
    )
    session.add(staff)
    await session.flush()
    return staff
