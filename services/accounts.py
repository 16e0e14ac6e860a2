"""Signing staff in: passwords with throttling, TOTP second factor, invitations, password change."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

import pyotp
import segno
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.storage.models import Staff, StaffRole
from services import audit
from services.clock import utcnow
from services.errors import DomainError, Forbidden
from services.staff import (
    EMAIL,
    InvalidStaff,
    check_password,
    get_staff_by_email,
    hash_password,
    verify_password,
)

FREE_ATTEMPTS = 5  # wrong passwords before the account is paused
MAX_LOCK = timedelta(hours=1)
INVITE_VALID = timedelta(days=7)
TOTP_ISSUER = "workvoice"
# Verifying against a real hash for unknown e-mails keeps both answers equally slow.
_DUMMY_HASH = hash_password("not-a-real-password-for-timing")
# Who may invite whom: managers build their country team, admins anyone.
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


class CodeRejected(DomainError):
    code = "totp_rejected"
    status = 401
    message = N_("That code is not right or was already used. Enter the current 6-digit code.")


class InviteInvalid(DomainError):
    code = "invite_invalid"
    status = 404
    message = N_("This invitation link is not valid or has expired. Ask for a new one.")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _lock_for(failures: int) -> timedelta:
    # 1, 2, 4 ... minutes after the free attempts, at most an hour.
    return min(MAX_LOCK, timedelta(minutes=2 ** max(0, failures - FREE_ATTEMPTS)))


async def check_login(
    session: AsyncSession,
    email: str,
    password: str,
    *,
    ip: str | None = None,
    now: datetime | None = None,
) -> Staff:
    """The staff member whose password this is, or LoginFailed / LoginPaused (same for unknown)."""
    now = now or utcnow()
    staff = await get_staff_by_email(session, email) if EMAIL.match(email.strip()) else None
    if staff is not None and staff.locked_until is not None and staff.locked_until > now:
        minutes = max(1, int((staff.locked_until - now).total_seconds() // 60) + 1)
        await audit.record(session, "login.paused", actor=staff, ip=ip)
        raise LoginPaused(minutes=minutes)
    if staff is None or not staff.active or not verify_password(staff.password_hash, password):
        if staff is None:
            verify_password(_DUMMY_HASH, password)
        else:
            staff.failed_logins += 1
            if staff.failed_logins >= FREE_ATTEMPTS:
                staff.locked_until = now + _lock_for(staff.failed_logins)
        await audit.record(session, "login.failed", actor=staff, ip=ip)
        raise LoginFailed()
    staff.failed_logins, staff.locked_until = 0, None
    return staff


def needs_second_factor(staff: Staff) -> bool:
    return (
        staff.role in {StaffRole.ADMIN, StaffRole.CASE_HANDLER}
        or staff.totp_confirmed_at is not None
    )


def totp_secret(staff: Staff) -> str:
    """The secret being enrolled (created on first need) or in use."""
    if not staff.totp_secret:
        staff.totp_secret = pyotp.random_base32()
    return staff.totp_secret


def totp_uri(staff: Staff) -> str:
    return pyotp.TOTP(totp_secret(staff)).provisioning_uri(
        name=staff.email, issuer_name=TOTP_ISSUER
    )


def totp_qr_svg(staff: Staff) -> str:
    return str(segno.make(totp_uri(staff), error="m").svg_inline(scale=5, dark="#1d2330"))


async def check_totp(
    session: AsyncSession,
    staff: Staff,
    code: str,
    *,
    ip: str | None = None,
    now: datetime | None = None,
) -> None:
    """Accept the current (or neighbouring) 30-second code once; enrolment completes on success."""
    now = now or utcnow()
    code = "".join(ch for ch in code if ch.isdigit())
    totp = pyotp.TOTP(totp_secret(staff))
    step = int(now.timestamp()) // totp.interval
    for offset in (0, -1, 1):
        candidate = step + offset
        if (
            len(code) == 6
            and secrets.compare_digest(totp.at(candidate * totp.interval), code)
            and (staff.totp_last_step is None or candidate > staff.totp_last_step)
        ):
            staff.totp_last_step = candidate
            if staff.totp_confirmed_at is None:
                staff.totp_confirmed_at = now
                await audit.record(session, "totp.enrolled", actor=staff, ip=ip)
            await audit.record(session, "login.ok", actor=staff, ip=ip)
            return
    await audit.record(session, "login.totp_failed", actor=staff, ip=ip)
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
    from services.staff import do_create_staff

    staff = await do_create_staff(session, email=email, role=role, countries=codes, name=name)
    token = secrets.token_urlsafe(32)
    staff.invite_token_hash = _token_hash(token)
    staff.invite_expires_at = utcnow() + INVITE_VALID
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
    staff = await session.scalar(select(Staff).where(Staff.invite_token_hash == _token_hash(token)))
    if staff is None or staff.invite_expires_at is None or staff.invite_expires_at < utcnow():
        raise InviteInvalid()
    return staff


async def do_accept_invite(session: AsyncSession, token: str, password: str) -> Staff:
    staff = await access_invite(session, token)
    staff.password_hash = hash_password(check_password(password))
    staff.invite_token_hash, staff.invite_expires_at = None, None
    await audit.record(
        session, "staff.invite_accepted", actor=staff, object_type="staff", object_id=staff.id
    )
    return staff


async def do_change_password(session: AsyncSession, staff: Staff, current: str, new: str) -> None:
    if not verify_password(staff.password_hash, current):
        raise InvalidStaff(reason=N_("the current password is not right"))
    staff.password_hash = hash_password(check_password(new))
    await audit.record(
        session, "staff.password_changed", actor=staff, object_type="staff", object_id=staff.id
    )


async def do_set_active(session: AsyncSession, *, actor: Staff, staff: Staff, active: bool) -> None:
    if staff.id == actor.id:
        raise InvalidStaff(reason=N_("you cannot deactivate your own account"))
    staff.active = active
    await audit.record(
        session,
        "staff.activated" if active else "staff.deactivated",
        actor=actor,
        object_type="staff",
        object_id=staff.id,
    )


TELEGRAM_LINK_VALID = timedelta(minutes=15)


async def do_start_telegram_link(session: AsyncSession, staff: Staff) -> str:
    """A one-time code the staff member sends to the bot as ``/staff CODE``."""
    code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(8))
    staff.telegram_link_hash = _token_hash(code)
    staff.telegram_link_expires_at = utcnow() + TELEGRAM_LINK_VALID
    await audit.record(
        session, "staff.telegram_link_started", actor=staff, object_type="staff", object_id=staff.id
    )
    return code


async def do_link_telegram(session: AsyncSession, code: str, telegram_id: int) -> Staff | None:
    """Link the Telegram account that sent a valid code; None if the code is wrong or expired."""
    code = code.strip().upper()
    if not code:
        return None
    staff = await session.scalar(select(Staff).where(Staff.telegram_link_hash == _token_hash(code)))
    if (
        staff is None
        or staff.telegram_link_expires_at is None
        or staff.telegram_link_expires_at < utcnow()
    ):
        return None
    previous = await session.scalar(select(Staff).where(Staff.telegram_id == telegram_id))
    if previous is not None and previous.id != staff.id:
        previous.telegram_id = None  # one Telegram account alerts one staff member
        await session.flush()
    staff.telegram_id = telegram_id
    staff.telegram_link_hash, staff.telegram_link_expires_at = None, None
    await audit.record(
        session, "staff.telegram_linked", actor=staff, object_type="staff", object_id=staff.id
    )
    return staff


async def do_unlink_telegram(session: AsyncSession, staff: Staff) -> None:
    staff.telegram_id = None
    await audit.record(
        session, "staff.telegram_unlinked", actor=staff, object_type="staff", object_id=staff.id
    )
