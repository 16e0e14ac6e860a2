"""Console sign-in helpers shared by the accounts tests."""

from __future__ import annotations

from sqlalchemy import select

from bot.storage.models import AuditEvent, Staff
from services.accounts import open_totp
from tests.console import PASSWORD, ConsoleHarness, csrf_of


async def sign_in(client, email: str, password: str = PASSWORD, next: str = "/"):  # type: ignore[no-untyped-def]
    page = await client.get("/login")
    return await client.post(
        "/login",
        data={"email": email, "password": password, "next": next, "csrf_token": csrf_of(page.text)},
    )


async def audit_actions(console: ConsoleHarness) -> list[str]:
    async with console.sessions() as s:
        return [
            e.action for e in (await s.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
        ]


def totp_secret(console: ConsoleHarness, staff: Staff) -> str:
    assert staff.totp_sealed
    return open_totp(console.ctx.settings.effective_secret_key, staff.totp_sealed)


async def staff_row(console: ConsoleHarness, staff_id: int) -> Staff:
    async with console.sessions() as s:
        row = await s.get(Staff, staff_id)
        assert row is not None
        return row
