"""Telegram alerts for staff: a one-time code links the Telegram account that sends it to the bot
(``/staff CODE``); the staff member can stop the alerts again."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import Staff
from services import audit
from services.accounts import token_hash
from services.clock import utcnow

TELEGRAM_LINK_VALID = timedelta(minutes=15)


async def do_start_telegram_link(session: AsyncSession, staff: Staff) -> str:
    """A one-time code the staff member sends to the bot as ``/staff CODE``."""
    code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(8))
    staff.telegram_link_hash = token_hash(code)
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
    staff = await session.scalar(select(Staff).where(Staff.telegram_link_hash == token_hash(code)))
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
