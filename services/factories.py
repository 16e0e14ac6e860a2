"""Countries and factories: the places workers belong to and whose clocks schedules follow."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from zoneinfo import available_timezones

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.i18n.languages import LANGUAGES
from bot.storage.models import Country, Factory
from services.errors import DomainError, NotFound
from services.scope import Scope

# Deep-link payloads allow A-Z a-z 0-9 _ - up to 64 chars; "f_" takes two of them.
FACTORY_CODE = re.compile(r"^[A-Za-z0-9-]{2,32}$")
CSV_COLUMNS = ("code", "name", "country", "timezone")


class InvalidFactory(DomainError):
    code = "invalid_factory"
    message = N_("Invalid factory: {reason}")


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_timezone(name: str) -> str:
    name = name.strip()
    if name not in _zones():
        raise InvalidFactory(
            reason=f"unknown time zone {name!r} (use an IANA name like Asia/Dhaka)"
        )
    return name


def normalise_code(code: str) -> str:
    code = code.strip().upper()
    if not FACTORY_CODE.match(code):
        raise InvalidFactory(reason=N_("the code must be 2-32 letters, digits or '-'"))
    return code


async def list_countries(session: AsyncSession) -> Sequence[Country]:
    return (await session.scalars(select(Country).order_by(Country.name))).all()


async def get_country(session: AsyncSession, code: str) -> Country:
    country = await session.get(Country, code.strip().upper())
    if country is None:
        raise InvalidFactory(reason=f"unknown country {code!r}")
    return country


async def get_factory_by_code(session: AsyncSession, code: str) -> Factory | None:
    try:
        code = normalise_code(code)
    except InvalidFactory:
        return None
    return await session.scalar(select(Factory).where(Factory.code == code))


async def access_factory(session: AsyncSession, factory_id: int, scope: Scope) -> Factory:
    """The factory, if it exists inside ``scope``; else ``NotFound`` (no hint that it exists)."""
    factory = await session.get(Factory, factory_id)
    if factory is None:
        raise NotFound()
    scope.check(factory.country_code)
    return factory


async def list_factories(session: AsyncSession, scope: Scope) -> Sequence[Factory]:
    """The factories in ``scope`` (a staff member's countries, or everywhere)."""
    query = select(Factory).where(scope.where(Factory.country_code))
    return (await session.scalars(query.order_by(Factory.country_code, Factory.name))).all()


@dataclass(frozen=True, slots=True)
class FactoryInput:
    code: str
    name: str
    country: str
    timezone: str | None = None
    size: int | None = None
    languages: tuple[str, ...] = ()


async def check_factory(
    session: AsyncSession, data: FactoryInput, *, existing: Factory | None = None
) -> FactoryInput:
    code = normalise_code(data.code)
    name = data.name.strip()
    if not name or len(name) > 200:
        raise InvalidFactory(reason=N_("the name must be 1-200 characters"))
    country = await get_country(session, data.country)
    timezone = check_timezone(data.timezone) if data.timezone else country.timezone
    if data.size is not None and not 0 < data.size < 1_000_000:
        raise InvalidFactory(reason=N_("the size must be a positive number of workers"))
    unknown = [lang for lang in data.languages if lang not in LANGUAGES]
    if unknown:
        raise InvalidFactory(reason=f"unknown language {unknown[0]!r}")
    clash = await get_factory_by_code(session, code)
    if clash is not None and clash is not existing:
        raise InvalidFactory(reason=f"the code {code} is already used")
    return FactoryInput(code, name, country.code, timezone, data.size, tuple(data.languages))


async def do_add_factory(session: AsyncSession, data: FactoryInput) -> Factory:
    data = await check_factory(session, data)
    factory = Factory(
        code=data.code,
        name=data.name,
        country_code=data.country,
        timezone=data.timezone,
        size=data.size,
        languages=list(data.languages),
    )
    session.add(factory)
    await session.flush()
    return factory


async def do_update_factory(session: AsyncSession, factory: Factory, data: FactoryInput) -> Factory:
    data = await check_factory(session, data, existing=factory)
    factory.code, factory.name, factory.country_code = data.code, data.name, data.country
    factory.timezone, factory.size, factory.languages = (
        data.timezone or factory.timezone,
        data.size,
        list(data.languages),
    )
    await session.flush()
    return factory


@dataclass(frozen=True, slots=True)
class CsvProblem:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class FactoryImportError(DomainError):
    code = "factory_import"
    message = N_("The file was not imported: {count} problem(s).")

    def __init__(self, problems: list[CsvProblem]) -> None:
        super().__init__(count=len(problems))
        self.problems = problems


async def do_import_factories(session: AsyncSession, text: str) -> list[Factory]:
    """Import a CSV with ``code,name,country,timezone``: all rows or none.

    Every bad row is reported by its line number, so a country office can fix the sheet in one go.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise FactoryImportError([CsvProblem(1, f"missing column(s): {', '.join(missing)}")])
    reader.fieldnames = header
    problems: list[CsvProblem] = []
    rows: list[FactoryInput] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        try:
            data = await check_factory(
                session,
                FactoryInput(
                    code=row.get("code") or "",
                    name=row.get("name") or "",
                    country=row.get("country") or "",
                    timezone=(row.get("timezone") or "").strip() or None,
                ),
            )
        except InvalidFactory as exc:
            problems.append(CsvProblem(line, exc.params["reason"]))
            continue
        if data.code in seen:
            problems.append(
                CsvProblem(line, f"the code {data.code} is also on line {seen[data.code]}")
            )
            continue
        seen[data.code] = line
        rows.append(data)
    if not rows and not problems:
        problems.append(CsvProblem(2, "no factories in the file"))
    if problems:
        raise FactoryImportError(problems)
    created = [
        Factory(code=d.code, name=d.name, country_code=d.country, timezone=d.timezone, languages=[])
        for d in rows
    ]
    session.add_all(created)
    await session.flush()
    return created
