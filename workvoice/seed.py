"""Demo data, made through the real services so it looks like a programme in use (idempotent)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.db import transaction
from services.factories import FactoryInput, do_add_factory, get_factory_by_code
from services.staff import do_create_staff, get_staff_by_email
from workvoice.context import AppContext

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 (printed at demo start; demo data only)

DEMO_FACTORIES = [
    FactoryInput(
        code="DEMO-DK", name="Dhaka Knitwear Ltd (demo)", country="BD", languages=("bn", "en")
    ),
    FactoryInput(
        code="DEMO-PP", name="Phnom Penh Garments (demo)", country="KH", languages=("km", "en")
    ),
    FactoryInput(
        code="DEMO-IR",
        name="Irbid Apparel (demo)",
        country="JO",
        languages=("ar", "bn", "hi", "si", "ne", "my", "en"),
    ),
    FactoryInput(
        code="DEMO-HC", name="Saigon Sewing Co (demo)", country="VN", languages=("vi", "en")
    ),
    FactoryInput(
        code="DEMO-PA", name="Port-au-Prince Textiles (demo)", country="HT", languages=("ht", "fr")
    ),
]

DEMO_STAFF = [
    ("admin", "admin@demo.workvoice.org", ()),
    ("country_manager", "manager@demo.workvoice.org", ("BD", "KH", "JO", "VN", "HT")),
    ("case_handler", "handler@demo.workvoice.org", ("BD", "KH", "JO", "VN", "HT")),
    ("analyst", "analyst@demo.workvoice.org", ("BD", "KH", "JO", "VN", "HT")),
    ("organiser", "organiser@demo.workvoice.org", ("BD", "JO")),
]


async def _factories(session: AsyncSession) -> None:
    for data in DEMO_FACTORIES:
        if await get_factory_by_code(session, data.code) is None:
            await do_add_factory(session, data)


async def _staff(session: AsyncSession) -> list[tuple[str, str, str]]:
    accounts = []
    for role, email, countries in DEMO_STAFF:
        if await get_staff_by_email(session, email) is None:
            await do_create_staff(
                session,
                email=email,
                role=role,
                countries=countries,
                password=DEMO_PASSWORD,
                name=role.replace("_", " ").title(),
            )
        accounts.append((role, email, DEMO_PASSWORD))
    return accounts


async def seed_demo(ctx: AppContext) -> list[tuple[str, str, str]]:
    """Seed everything; returns the demo accounts (role, email, password) to print."""
    async with transaction(ctx.sessions) as session:
        await _factories(session)
        return await _staff(session)
