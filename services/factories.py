"""Countries and factories: the places workers belong to and whose clocks schedules follow."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import available_timezones

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_, gettext
from bot.i18n.languages import LANGUAGES
from bot.storage.models import Country, Factory
from services.errors import DomainError, NotFound
from services.scope import Scope

# Deep-link payloads allow A-Z a-z 0-9 _ - up to 64 chars; "f_" takes two of them.
FACTORY_CODE = re.compile(r"^[A-Za-z0-9-]{2,32}$")
CSV_COLUMNS = ("code", "name", "country", "timezone")
T = TypeVar("T")


class InvalidFactory(DomainError):
    """One or more refused fields. Each problem names its form field (``field``) so the console
    marks every one beside its input at once (m6); ``details`` fill the reason's placeholders."""

    code = "invalid_factory"
    message = N_("Invalid factory: {reason}")

    def __init__(self, *, reason: str, field: str = "", **details: Any) -> None:
        super().__init__(reason=reason)
        self.field, self.details = field, details
        self.problems: list[InvalidFactory] = [self]

    @classmethod
    def of(cls, problems: list[InvalidFactory]) -> InvalidFactory:
        if len(problems) == 1:
            return problems[0]
        error = cls(reason=problems[0].params["reason"], field=problems[0].field)
        error.details, error.problems = problems[0].details, list(problems)
        return error

    def reason(self, locale: str | None = None) -> str:
        """This problem's reason alone, in ``locale``."""
        return gettext(self.params["reason"], locale=locale, **self.details)

    def reasons(self, locale: str | None = None) -> dict[str, str]:
        """Every problem's reason by form field (the first one for a field wins)."""
        found: dict[str, str] = {}
        for problem in self.problems:
            found.setdefault(problem.field, problem.reason(locale))
        return found

    def translated(self, locale: str | None = None) -> str:
        joined = "; ".join(p.reason(locale) for p in self.problems)
        return gettext(self.message, locale=locale, reason=joined)

    def __str__(self) -> str:
        return self.translated("en")


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


@cache
def _country_zone_table() -> dict[str, tuple[str, ...]]:
    """Country code → its IANA time zones, from the tz database's own tables (``zone.tab`` and
    ``zone1970.tab``, shipped in the tzdata package and on most systems)."""
    zones: dict[str, list[str]] = {}
    for name in ("zone.tab", "zone1970.tab"):
        text = _tz_table(name)
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) < 3:
                continue
            for country in parts[0].split(","):
                listed = zones.setdefault(country.strip().upper(), [])
                if parts[2] not in listed:
                    listed.append(parts[2])
    return {code: tuple(names) for code, names in zones.items()}


def _tz_table(name: str) -> str:
    try:
        return resources.files("tzdata").joinpath("zoneinfo", name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        path = Path("/usr/share/zoneinfo") / name
        return path.read_text(encoding="utf-8") if path.exists() else ""


def country_zones(country: Country) -> tuple[str, ...]:
    """The time zones a factory in ``country`` may use: the tz database's zones for the country,
    with the country's own default first."""
    listed = _country_zone_table().get(country.code, ())
    return tuple(dict.fromkeys([country.timezone, *listed]))


def check_timezone(name: str, country: Country | None = None) -> str:
    """An IANA time zone name; with ``country``, one of that country's (a Bangladesh factory on
    New York time would get every meeting reminder at the wrong hour)."""
    name = name.strip()
    if name not in _zones():
        raise InvalidFactory(
            reason=N_("unknown time zone {zone} (use an IANA name like Asia/Dhaka)"),
            field="timezone",
            zone=repr(name),
        )
    if country is not None and name not in country_zones(country):
        raise InvalidFactory(
            reason=N_("{zone} is not a time zone of {country}; use {zones}"),
            field="timezone",
            zone=name,
            country=country.name,
            zones=", ".join(country_zones(country)),
        )
    return name


# Digits may come grouped the way people write them: "1,200", "1 200", "1.200", "1'200".
_GROUPED = re.compile(r"^\d{1,3}([,.'\u2019\u066c _\u00a0\u202f]\d{3})+$")


def parse_size(text: str) -> int | None:
    """The number of workers as typed: empty is None; "1,200" and Bangla or Arabic digits are
    understood; anything else is refused plainly, never silently dropped."""
    text = text.strip()
    if not text:
        return None
    digits = "".join(
        str(unicodedata.decimal(ch)) if unicodedata.decimal(ch, None) is not None else ch
        for ch in text
    )
    if _GROUPED.match(digits):
        digits = re.sub(r"\D", "", digits)
    if not digits.isascii() or not digits.isdigit():
        raise InvalidFactory(
            reason=N_("write the number of workers in digits, such as 1200"), field="size"
        )
    return int(digits)


def normalise_code(code: str) -> str:
    code = code.strip().upper()
    if not FACTORY_CODE.match(code):
        raise InvalidFactory(
            reason=N_("the code must be 2-32 letters, digits or '-'"), field="code"
        )
    return code


async def list_countries(session: AsyncSession) -> Sequence[Country]:
    return (await session.scalars(select(Country).order_by(Country.name))).all()


async def get_country(session: AsyncSession, code: str) -> Country:
    country = await session.get(Country, code.strip().upper()) if code.strip() else None
    if country is None:
        raise InvalidFactory(reason=N_("unknown country {code}"), field="country", code=repr(code))
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
    # A number, or the text as typed in a form or a CSV cell ("1,200"): checked with the rest.
    size: int | str | None = None
    languages: tuple[str, ...] = ()


async def check_factory(
    session: AsyncSession, data: FactoryInput, *, existing: Factory | None = None
) -> FactoryInput:
    """The factory as it will be stored, or ``InvalidFactory`` naming every problem at once."""
    problems: list[InvalidFactory] = []

    def attempt(check: Callable[[], T]) -> T | None:
        try:
            return check()
        except InvalidFactory as exc:
            problems.extend(exc.problems)
            return None

    code = attempt(lambda: normalise_code(data.code))
    name = data.name.strip()
    if not name or len(name) > 200:
        problems.append(
            InvalidFactory(reason=N_("the name must be 1-200 characters"), field="name")
        )
    try:
        country: Country | None = await get_country(session, data.country)
    except InvalidFactory as exc:
        country = None
        problems.extend(exc.problems)
    timezone: str | None = None
    if data.timezone and data.timezone.strip():
        timezone = attempt(lambda: check_timezone(data.timezone or "", country))
    elif country is not None:
        timezone = country.timezone
    size = (
        data.size if not isinstance(data.size, str) else attempt(lambda: parse_size(str(data.size)))
    )
    if isinstance(size, int) and not 0 < size < 1_000_000:
        problems.append(
            InvalidFactory(reason=N_("the size must be a positive number of workers"), field="size")
        )
    unknown = [lang for lang in data.languages if lang not in LANGUAGES]
    if unknown:
        problems.append(
            InvalidFactory(
                reason=N_("unknown language {language}"),
                field="languages",
                language=repr(unknown[0]),
            )
        )
    if code is not None:
        clash = await get_factory_by_code(session, code)
        if clash is not None and clash is not existing:
            problems.append(
                InvalidFactory(
                    reason=N_("the code {code} is already used"), field="code", code=code
                )
            )
    if problems:
        raise InvalidFactory.of(problems)
    assert code is not None and country is not None and timezone is not None
    return FactoryInput(code, name, country.code, timezone, size, tuple(data.languages))


async def do_add_factory(session: AsyncSession, data: FactoryInput) -> Factory:
    data = await check_factory(session, data)
    factory = Factory(
        code=data.code,
        name=data.name,
        country_code=data.country,
        timezone=data.timezone,
        size=data.size if isinstance(data.size, int) else None,
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
        data.size if isinstance(data.size, int) else None,
        list(data.languages),
    )
    await session.flush()
    return factory


@dataclass(frozen=True, slots=True)
class CsvProblem:
    """What is wrong on one line of an import: ``reason`` is a msgid, ``details`` its values."""

    line: int
    message: str
    details: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, line: int, message: str, **details: Any) -> CsvProblem:
        return cls(line, message, tuple(details.items()))

    def translated(self, locale: str | None = None) -> str:
        return gettext(self.message, locale=locale, **dict(self.details))

    @property
    def reason(self) -> str:
        return self.translated("en")

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class FactoryImportError(DomainError):
    code = "factory_import"
    message = N_("The file was not imported: {count} problem(s).")

    def __init__(self, problems: list[CsvProblem]) -> None:
        super().__init__(count=len(problems))
        self.problems = problems

    def __str__(self) -> str:
        return f"The file was not imported: {len(self.problems)} problem(s)."


# Excel saves "CSV" with the list separator of the computer's locale: ";" across most of Europe,
# Latin America and Indonesia, "," elsewhere; some tools write tabs.
DELIMITERS = (",", ";", "\t")
OPTIONAL_COLUMNS = ("size", "languages")


def sniff_delimiter(text: str) -> str:
    """The separator of a CSV file, read from its header line (the column names hold none)."""
    header = text.lstrip("\ufeff").partition("\n")[0]
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


async def do_import_factories(session: AsyncSession, text: str) -> list[Factory]:
    """Import a CSV with ``code,name,country,timezone`` (and optional ``size``, ``languages``),
    separated by commas, semicolons or tabs: all rows or none.

    Every bad row is reported by its line number, so a country office can fix the sheet in one go.
    """
    text = text.lstrip("\ufeff")
    reader = csv.DictReader(io.StringIO(text), delimiter=sniff_delimiter(text))
    header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        found = [h for h in header if h]
        raise FactoryImportError(
            [
                CsvProblem.of(
                    1,
                    N_("columns missing: {missing}. The first line names: {found}.")
                    if found
                    else N_("columns missing: {missing}. The first line is empty."),
                    missing=", ".join(missing),
                    found=", ".join(found),
                )
            ]
        )
    reader.fieldnames = header
    problems: list[CsvProblem] = []
    rows: list[FactoryInput] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        languages = re.split(r"[\s,;]+", (row.get("languages") or "").strip())
        try:
            data = await check_factory(
                session,
                FactoryInput(
                    code=row.get("code") or "",
                    name=row.get("name") or "",
                    country=row.get("country") or "",
                    timezone=(row.get("timezone") or "").strip() or None,
                    size=(row.get("size") or "").strip() or None,
                    languages=tuple(lang for lang in languages if lang),
                ),
            )
        except InvalidFactory as exc:
            problems.extend(
                CsvProblem.of(line, p.params["reason"], **p.details) for p in exc.problems
            )
            continue
        if data.code in seen:
            problems.append(
                CsvProblem.of(
                    line,
                    N_("the code {code} is also on line {first}"),
                    code=data.code,
                    first=seen[data.code],
                )
            )
            continue
        seen[data.code] = line
        rows.append(data)
    if not rows and not problems:
        problems.append(CsvProblem.of(2, N_("no factories in the file")))
    if problems:
        raise FactoryImportError(problems)
    created = [
        Factory(
            code=d.code,
            name=d.name,
            country_code=d.country,
            timezone=d.timezone,
            size=d.size if isinstance(d.size, int) else None,
            languages=list(d.languages),
        )
        for d in rows
    ]
    session.add_all(created)
    await session.flush()
    return created
