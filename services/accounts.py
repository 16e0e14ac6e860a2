"""Staff accounts, one module: creating them, their passwords (argon2, off the event loop), signing
in with throttling and the TOTP second factor, invitations, password change, linking Telegram, and
the session version that ends every console session of an account (DESIGN §4.8)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TypeVar

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from nacl.secret import SecretBox
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.i18n.languages import LANGUAGES
from bot.storage.models import Country, Staff, StaffCountry, StaffRole
from services import audit
from services.clock import utcnow
from services.errors import DomainError, Forbidden, NotFound
from services.reports.cases import CASE_ROLES, CONFIRMING_ROLES
from services.throttle import Throttle

log = logging.getLogger(__name__)

# -- accounts and passwords ------------------------------------------------------------------
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
    languages: Iterable[str] = (),
) -> Staff:
    email = email.strip().lower()
    if not EMAIL.match(email):
        raise InvalidStaff(reason=N_("the e-mail address is not valid"))
    if role not in set(StaffRole):
        raise InvalidStaff(reason=f"the role must be one of {', '.join(StaffRole)}")
    if await get_staff_by_email(session, email) is not None:
        raise InvalidStaff(reason=N_("an account with this e-mail exists"))
    codes = sorted({c.strip().upper() for c in countries if c.strip()})
    if role not in COUNTRYLESS_ROLES and not codes:
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
        languages=sorted({code for code in languages if code in LANGUAGES and code != "en"}),
    )
    session.add(staff)
    await session.flush()
    return staff


# -- signing in ---------------------------------------------------------------------------------
# Every role that can read a narrative or confirm a close signs in with a second factor. Derived
# from the case rules themselves so the two cannot drift apart (audit M1).
MFA_ROLES: frozenset[StaffRole] = frozenset(CASE_ROLES | CONFIRMING_ROLES | {StaffRole.ADMIN})

FREE_ATTEMPTS = 5  # wrong passwords (per account and address) or codes before pausing
MAX_LOCK = timedelta(hours=1)
FAILURE_MEMORY = timedelta(hours=1)  # failures older than this are forgotten
# Sign-in requests (password or code) one client address, and everyone together, may make per
# window; beyond that the answer is a cheap 429, before any argon2 work (audit M8).
WINDOW_SECONDS = 60
PER_ADDRESS = 20
EVERYONE = 300
INVITE_VALID = timedelta(days=7)
RESET_VALID = timedelta(days=2)  # a password reset link (M16)
TOTP_ISSUER = "workvoice"
# Verifying against a real hash for unknown e-mails keeps both answers equally slow.
_DUMMY_HASH = hash_password("not-a-real-password-for-timing")
# Who may invite whom: managers build their country team, admins anyone.
# Roles that need no country: admins see every one, translators review languages and see no
# country's data.
COUNTRYLESS_ROLES = frozenset({StaffRole.ADMIN, StaffRole.TRANSLATOR})
INVITABLE = {
    StaffRole.ADMIN: set(StaffRole),
    StaffRole.COUNTRY_MANAGER: {StaffRole.CASE_HANDLER, StaffRole.ANALYST, StaffRole.ORGANISER},
}


class LoginFailed(DomainError):
    code = "login_failed"
    status = 401
    message = N_("The e-mail address or password is not right.")


class LoginPaused(DomainError):
    code = "login_paused"
    status = 429
    message = N_("Too many failed attempts. Please wait {minutes} minute(s) and try again.")


class SignInBusy(DomainError):
    code = "sign_in_busy"
    status = 429
    message = N_("Too many sign-in attempts right now. Please wait a minute and try again.")


class CodeRejected(DomainError):
    code = "totp_rejected"
    status = 401
    message = N_("That code is not right or was already used. Enter the current 6-digit code.")


class InviteInvalid(DomainError):
    code = "invite_invalid"
    status = 404
    message = N_("This invitation link is not valid or has expired. Ask for a new one.")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _lock_for(failures: int) -> timedelta:
    # 1, 2, 4 ... minutes after the free attempts, at most an hour.
    return min(MAX_LOCK, timedelta(minutes=2 ** min(10, max(0, failures - FREE_ATTEMPTS))))


def _minutes(seconds: float) -> int:
    return max(1, int(seconds // 60) + 1)


def _where(ip: str | None) -> str:
    """The client address as throttles count it: IPv6 by /64, since one host commonly holds a
    whole /64 and could otherwise step through fresh addresses."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return ip or "-"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _account_ref(email: str) -> str:
    """Throttle keys name an account by a hash, known or not (the same work either way)."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


async def admit(throttle: Throttle, endpoint: str, ip: str | None, *, hashes: bool) -> None:
    """Refuse cheaply (429) when this address, or everyone together, asks too often."""
    if hashes and hashing_busy():
        log.info("signin.throttled reason=busy endpoint=%s", endpoint)
        raise SignInBusy()
    if await throttle.hit(f"{endpoint}:ip:{_where(ip)}", WINDOW_SECONDS) > PER_ADDRESS:
        log.info("signin.throttled reason=address endpoint=%s", endpoint)
        raise SignInBusy()
    if await throttle.hit(f"{endpoint}:all", WINDOW_SECONDS) > EVERYONE:
        log.info("signin.throttled reason=everyone endpoint=%s", endpoint)
        raise SignInBusy()


async def check_login(
    session: AsyncSession,
    email: str,
    password: str,
    *,
    throttle: Throttle,
    ip: str | None = None,
    now: datetime | None = None,
) -> Staff:
    """The staff member whose password this is, or LoginFailed / LoginPaused / SignInBusy.

    Unknown and known accounts take the same path and the same time. Failures pause only the
    (account, address) pair: someone guessing elsewhere cannot lock the owner out (audit L1).
    """
    now = now or utcnow()
    await admit(throttle, "login", ip, hashes=True)
    pair = f"{_account_ref(email)}:{_where(ip)}"
    staff = await get_staff_by_email(session, email) if EMAIL.match(email.strip()) else None
    wait = await throttle.remaining(f"login:pause:{pair}")
    if wait > 0:
        await audit.record(session, "login.paused", actor=staff, ip=ip)
        raise LoginPaused(minutes=_minutes(wait))
    stored = staff.password_hash if staff is not None else None
    right = await verify_password_async(stored or _DUMMY_HASH, password)
    if staff is None or not staff.active or not stored or not right:
        failures = await throttle.hit(f"login:fail:{pair}", FAILURE_MEMORY.total_seconds())
        if failures >= FREE_ATTEMPTS:
            await throttle.hold(f"login:pause:{pair}", _lock_for(failures).total_seconds())
        await audit.record(session, "login.failed", actor=staff, ip=ip)
        raise LoginFailed()
    await throttle.clear(f"login:fail:{pair}")
    return staff


def needs_second_factor(staff: Staff) -> bool:
    return staff.role in MFA_ROLES or staff.totp_confirmed_at is not None


def revoke_sessions(staff: Staff) -> None:
    """End every console session of this account at its next request (audit M9).

    Called on sign-out, password change, invitation accepted and (de)activation; anything added
    later that changes a role or resets the second factor must call it too.
    """
    staff.session_version = (staff.session_version or 0) + 1


def totp_box(secret_key: str) -> SecretBox:
    """The key sealing TOTP seeds, derived from SECRET_KEY for this purpose only (audit L4)."""
    return SecretBox(
        hmac.new(secret_key.encode(), b"workvoice:totp-secret", hashlib.sha256).digest()
    )


def seal_totp(secret_key: str, secret: str) -> str:
    return base64.b64encode(totp_box(secret_key).encrypt(secret.encode())).decode()


def open_totp(secret_key: str, sealed: str) -> str:
    return totp_box(secret_key).decrypt(base64.b64decode(sealed)).decode()


def totp_secret(staff: Staff, secret_key: str) -> str:
    """The secret being enrolled (created on first need) or in use."""
    if not staff.totp_sealed:
        staff.totp_sealed = seal_totp(secret_key, pyotp.random_base32())
    return open_totp(secret_key, staff.totp_sealed)


def totp_uri(staff: Staff, secret_key: str) -> str:
    return pyotp.TOTP(totp_secret(staff, secret_key)).provisioning_uri(
        name=staff.email, issuer_name=TOTP_ISSUER
    )


def totp_qr_svg(staff: Staff, secret_key: str) -> str:
    return str(
        # A viewBox and no fixed size (omitsize): CSS scales the code instead of cropping it (B1).
        segno.make(totp_uri(staff, secret_key), error="m").svg_inline(
            scale=5, dark="#1d2330", light="#fff", omitsize=True, svgclass="qr-code"
        )
    )


async def check_totp(
    session: AsyncSession,
    staff: Staff,
    code: str,
    *,
    secret_key: str,
    throttle: Throttle,
    ip: str | None = None,
    now: datetime | None = None,
) -> None:
    """Accept the current (or neighbouring) 30-second code once; enrolment completes on success.

    After a few wrong codes the account's codes wait, longer each time (audit M2). Only someone who
    already has the password can get here, so pausing the account itself is safe.
    """
    now = now or utcnow()
    await admit(throttle, "totp", ip, hashes=False)
    if staff.totp_locked_until is not None and staff.totp_locked_until > now:
        await audit.record(session, "login.totp_paused", actor=staff, ip=ip)
        raise LoginPaused(minutes=_minutes((staff.totp_locked_until - now).total_seconds()))
    code = "".join(ch for ch in code if ch.isdigit())
    totp = pyotp.TOTP(totp_secret(staff, secret_key))
    step = int(now.timestamp()) // totp.interval
    for offset in (0, -1, 1):
        candidate = step + offset
        if (
            len(code) == 6
            and secrets.compare_digest(totp.at(candidate * totp.interval), code)
            and (staff.totp_last_step is None or candidate > staff.totp_last_step)
        ):
            staff.totp_last_step = candidate
            staff.totp_failures, staff.totp_locked_until = 0, None
            if staff.totp_confirmed_at is None:
                staff.totp_confirmed_at = now
                await audit.record(session, "totp.enrolled", actor=staff, ip=ip)
            await audit.record(session, "login.ok", actor=staff, ip=ip)
            return
    staff.totp_failures = (staff.totp_failures or 0) + 1
    await audit.record(session, "login.totp_failed", actor=staff, ip=ip)
    if staff.totp_failures >= FREE_ATTEMPTS:
        staff.totp_locked_until = now + _lock_for(staff.totp_failures)
        await audit.record(
            session, "login.totp_locked", actor=staff, ip=ip, failures=staff.totp_failures
        )
    raise CodeRejected()


async def do_invite_staff(
    session: AsyncSession,
    *,
    actor: Staff,
    email: str,
    role: str,
    countries: Iterable[str],
    name: str = "",
) -> tuple[Staff, str]:
    """Create an account without a password and return the one-time token for its invite link."""
    if role not in INVITABLE.get(StaffRole(actor.role), set()):
        raise Forbidden()
    codes = [c.strip().upper() for c in countries if c.strip()]
    if actor.role != StaffRole.ADMIN and not set(codes) <= actor.country_codes:
        raise Forbidden()
    staff = await do_create_staff(session, email=email, role=role, countries=codes, name=name)
    token = _new_link_token(staff, INVITE_VALID)
    await audit.record(
        session,
        "staff.invited",
        actor=actor,
        object_type="staff",
        object_id=staff.id,
        role=role,
        countries=codes,
    )
    return staff, token


async def access_invite(session: AsyncSession, token: str) -> Staff:
    staff = await session.scalar(select(Staff).where(Staff.invite_token_hash == token_hash(token)))
    if staff is None or staff.invite_expires_at is None or staff.invite_expires_at < utcnow():
        raise InviteInvalid()
    return staff


async def do_accept_invite(session: AsyncSession, token: str, password: str) -> Staff:
    staff = await access_invite(session, token)
    staff.password_hash = await hash_password_async(check_password(password))
    staff.invite_token_hash, staff.invite_expires_at = None, None
    revoke_sessions(staff)
    await audit.record(
        session, "staff.invite_accepted", actor=staff, object_type="staff", object_id=staff.id
    )
    return staff


async def do_change_password(session: AsyncSession, staff: Staff, current: str, new: str) -> None:
    if not await verify_password_async(staff.password_hash, current):
        raise InvalidStaff(reason=N_("the current password is not right"))
    staff.password_hash = await hash_password_async(check_password(new))
    revoke_sessions(staff)  # a session someone else holds ends with the old password
    await audit.record(
        session, "staff.password_changed", actor=staff, object_type="staff", object_id=staff.id
    )


async def do_set_active(session: AsyncSession, *, actor: Staff, staff: Staff, active: bool) -> None:
    if staff.id == actor.id:
        raise InvalidStaff(reason=N_("you cannot deactivate your own account"))
    if not manageable(actor, staff):
        raise Forbidden()
    staff.active = active
    revoke_sessions(staff)
    await audit.record(
        session,
        "staff.activated" if active else "staff.deactivated",
        actor=actor,
        object_type="staff",
        object_id=staff.id,
    )


# -- managing the team (M16): who may change whom follows who may invite whom ---------------------
def manageable(actor: Staff, staff: Staff) -> bool:
    """Admins manage everyone else; a country manager manages the roles below theirs in their
    countries (someone who works in one of them). Nobody manages their own account here."""
    if staff.id == actor.id:
        return False
    if actor.role == StaffRole.ADMIN:
        return True
    return staff.role in INVITABLE.get(StaffRole(actor.role), set()) and bool(
        staff.country_codes & actor.country_codes
    )


async def access_member(session: AsyncSession, actor: Staff, staff_id: int) -> Staff:
    """A staff member ``actor`` may manage, or NotFound (no hint that the account exists)."""
    staff = await session.get(Staff, staff_id)
    if staff is None or not manageable(actor, staff):
        raise NotFound()
    return staff


async def do_change_role(
    session: AsyncSession, *, actor: Staff, staff: Staff, role: str, countries: Iterable[str]
) -> None:
    """A new role and countries. A country manager changes only the countries they manage
    themselves (the member's others stay) and gives only roles below theirs."""
    if not manageable(actor, staff) or role not in INVITABLE.get(StaffRole(actor.role), set()):
        raise Forbidden()
    chosen = {c.strip().upper() for c in countries if c.strip()}
    if actor.role != StaffRole.ADMIN:
        if not chosen <= actor.country_codes:
            raise Forbidden()
        chosen |= staff.country_codes - actor.country_codes
    if role == StaffRole.ADMIN:
        chosen = set()  # admins see every country
    elif not chosen and role not in COUNTRYLESS_ROLES:
        raise InvalidStaff(reason=N_("name at least one country (admins see all)"))
    for code in chosen - staff.country_codes:
        if await session.get(Country, code) is None:
            raise InvalidStaff(reason=N_("unknown country"))
    before = (staff.role, sorted(staff.country_codes))
    staff.role = role
    staff.countries = [c for c in staff.countries if c.country_code in chosen] + [
        StaffCountry(country_code=c) for c in sorted(chosen - staff.country_codes)
    ]
    if before != (staff.role, sorted(chosen)):
        revoke_sessions(staff)  # the new rights apply from the next sign-in, everywhere
    await session.flush()
    await audit.record(
        session,
        "staff.role_changed",
        actor=actor,
        object_type="staff",
        object_id=staff.id,
        role=role,
        countries=sorted(chosen),
        was_role=before[0],
        was_countries=before[1],
    )


async def do_reset_totp(session: AsyncSession, *, actor: Staff, staff: Staff) -> None:
    """A lost phone: the old second factor and every session end; the person enrols a new
    authenticator at their next sign-in."""
    if not manageable(actor, staff):
        raise Forbidden()
    staff.totp_sealed, staff.totp_confirmed_at, staff.totp_last_step = None, None, None
    staff.totp_failures, staff.totp_locked_until = 0, None
    revoke_sessions(staff)
    await audit.record(
        session, "staff.totp_reset", actor=actor, object_type="staff", object_id=staff.id
    )


def _new_link_token(staff: Staff, valid: timedelta) -> str:
    """A one-time token for /invite/<token>; any earlier link of this account dies with it."""
    token = secrets.token_urlsafe(32)
    staff.invite_token_hash = token_hash(token)
    staff.invite_expires_at = utcnow() + valid
    return token


async def do_resend_invite(session: AsyncSession, *, actor: Staff, staff: Staff) -> str:
    """A new invitation link for someone who has not accepted theirs; the old one stops working."""
    if not manageable(actor, staff):
        raise Forbidden()
    if staff.password_hash is not None:
        raise InvalidStaff(reason=N_("this person has already accepted the invitation"))
    token = _new_link_token(staff, INVITE_VALID)
    await audit.record(
        session, "staff.invite_resent", actor=actor, object_type="staff", object_id=staff.id
    )
    return token


async def do_reset_password(session: AsyncSession, *, actor: Staff, staff: Staff) -> str:
    """A one-time link to choose a new password; the old one and every session end at once (it may
    be known to someone else). The second factor stays."""
    if not manageable(actor, staff):
        raise Forbidden()
    staff.password_hash = None
    token = _new_link_token(staff, RESET_VALID)
    revoke_sessions(staff)
    await audit.record(
        session, "staff.password_reset", actor=actor, object_type="staff", object_id=staff.id
    )
    return token


NAME_LIMIT = 120  # Staff.name


async def do_set_name(session: AsyncSession, staff: Staff, name: str) -> None:
    """The name colleagues see in case histories ("Rahima assigned it to Karim"); empty means
    the e-mail is shown. Control characters and runs of spaces are dropped."""
    cleaned = " ".join("".join(ch for ch in name if ch.isprintable()).split())
    if len(cleaned) > NAME_LIMIT:
        raise InvalidStaff(reason=N_("a name is at most 120 characters"))
    staff.name = cleaned
    await audit.record(
        session, "staff.renamed", actor=staff, object_type="staff", object_id=staff.id
    )
