"""The time zone a staff member reads console times in: deadlines are shown at her own wall-clock
time (Dhaka, Phnom Penh, Amman), never in UTC (review m1)."""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import Country, Staff, StaffCountry

UTC_ZONE = "UTC"
# Where the programme's country staff work (DESIGN §2), offered first in the list.
PROGRAMME_ZONES = (
    "Asia/Dhaka",
    "Asia/Phnom_Penh",
    "Africa/Addis_Ababa",
    "America/Port-au-Prince",
    "Asia/Jakarta",
    "Asia/Makassar",
    "Asia/Jayapura",
    "Asia/Amman",
    "America/Managua",
    "Asia/Ho_Chi_Minh",
)


@cache
def known_zones() -> frozenset[str]:
    return frozenset(available_timezones()) | {UTC_ZONE}


def is_zone(name: str) -> bool:
    return name in known_zones()


def zone_choices() -> list[str]:
    """The programme's zones first, then UTC, then every other IANA zone by name."""
    rest = sorted(known_zones() - {*PROGRAMME_ZONES, UTC_ZONE})
    return [*PROGRAMME_ZONES, UTC_ZONE, *rest]


async def staff_zone(session: AsyncSession, staff: Staff) -> ZoneInfo:
    """Her chosen zone; else the zone of her first country (by code); else UTC (administrators
    who cover every country and chose none)."""
    if staff.timezone and is_zone(staff.timezone):
        return ZoneInfo(staff.timezone)
    first = await session.scalar(
        select(Country.timezone)
        .join(StaffCountry, StaffCountry.country_code == Country.code)
        .where(StaffCountry.staff_id == staff.id)
        .order_by(Country.code)
        .limit(1)
    )
    return ZoneInfo(first if first and is_zone(first) else UTC_ZONE)


async def do_set_timezone(session: AsyncSession, staff: Staff, zone: str | None) -> None:
    """Choose a zone, or None for the first country's."""
    if zone is not None and not is_zone(zone):
        raise ValueError("not an IANA time zone")
    staff.timezone = zone
    await session.flush()
