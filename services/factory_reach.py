"""The factory list and a factory's reach (M15): joined workers, open cases, survey reach and
committees, for staff. Every number about people is suppressed below k like every other count
about workers (DESIGN §4.2). Sorting by a count sorts by what is shown ("fewer than k" sorts as
one value, then by name), so the order of the rows cannot tell two hidden counts apart.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case as sql_case
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.committees import Committee
from bot.storage.models import Factory, User
from bot.storage.reports import Case
from bot.storage.surveys import SurveyResponse, SurveyWave
from services.reports.protocol import State
from services.scope import Scope
from services.suppression import HIDDEN, Shown, shown, suppress_line

SORTS = ("name", "code", "country", "workers", "cases")
CLOSED = State.CLOSED.value
PER_PAGE = 50


@dataclass(frozen=True, slots=True)
class FactoryRow:
    factory: Factory
    workers: int | None  # joined workers; None: fewer than k
    open_cases: int | None


@dataclass(frozen=True, slots=True)
class FactoryPage:
    rows: list[FactoryRow]
    total: int  # factories matching the search (factories are not people: never suppressed)
    page: int
    pages: int
    per_page: int

    @property
    def first(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.rows else 0


def _joined_workers() -> Any:
    """Workers who finished joining (language and consent) and still use the bot, per factory."""
    return (
        select(User.factory_id.label("factory_id"), func.count().label("n"))
        .where(User.factory_id.is_not(None), User.consent_at.is_not(None), User.active.is_(True))
        .group_by(User.factory_id)
        .subquery()
    )


def _open_cases() -> Any:
    return (
        select(Case.factory_id.label("factory_id"), func.count().label("n"))
        .where(Case.factory_id.is_not(None), Case.state != CLOSED)
        .group_by(Case.factory_id)
        .subquery()
    )


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_factory_page(
    session: AsyncSession,
    scope: Scope,
    *,
    k: int,
    search: str = "",
    country: str | None = None,
    sort: str = "name",
    descending: bool = False,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> FactoryPage:
    """One page of factories in ``scope`` with their joined workers and open cases: one grouped
    query for the page and one count, however many factories there are."""
    where = [scope.where(Factory.country_code)]
    if country:
        where.append(Factory.country_code == country.strip().upper())
    text = search.strip()
    if text:
        pattern = _like(text.lower())
        where.append(
            func.lower(Factory.code).like(pattern, escape="\\")
            | func.lower(Factory.name).like(pattern, escape="\\")
        )
    total = int(await session.scalar(select(func.count()).select_from(Factory).where(*where)) or 0)
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    workers, cases = _joined_workers(), _open_cases()
    n_workers = func.coalesce(workers.c.n, 0)
    n_cases = func.coalesce(cases.c.n, 0)

    def as_shown(n: Any) -> Any:
        return sql_case((n < k, 0), else_=n)

    keys: dict[str, Any] = {
        "name": func.lower(Factory.name),
        "code": Factory.code,
        "country": Factory.country_code,
        "workers": as_shown(n_workers),
        "cases": as_shown(n_cases),
    }
    key = keys[sort if sort in SORTS else "name"]
    order = [key.desc() if descending else key.asc()]
    query = (
        select(Factory, n_workers, n_cases)
        .outerjoin(workers, workers.c.factory_id == Factory.id)
        .outerjoin(cases, cases.c.factory_id == Factory.id)
        .where(*where)
        .order_by(*order, func.lower(Factory.name), Factory.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    rows = [
        FactoryRow(factory, shown(int(w), k), shown(int(c), k))
        for factory, w, c in (await session.execute(query)).all()
    ]
    return FactoryPage(rows, total, page, pages, per_page)


@dataclass(frozen=True, slots=True)
class WaveReach:
    wave: SurveyWave
    respondents: Shown  # from this factory, as the wave's results page shows it


@dataclass(frozen=True, slots=True)
class FactoryReach:
    workers: Shown
    by_language: dict[Hashable, Shown]  # empty when the breakdown cannot be shown safely
    open_cases: Shown
    waves: list[WaveReach]
    committees: list[Committee]


LATEST_WAVES = 5


async def factory_reach(
    session: AsyncSession, factory: Factory, scope: Scope, *, k: int
) -> FactoryReach:
    """Who the programme reaches at one factory, every number about people suppressed."""
    joined = (
        select(User.locale, func.count())
        .where(User.factory_id == factory.id, User.consent_at.is_not(None), User.active.is_(True))
        .group_by(User.locale)
    )
    counts: dict[Hashable, int] = {
        locale or "-": int(n) for locale, n in (await session.execute(joined)).all()
    }
    total = sum(counts.values())
    by_language, line_total = suppress_line(counts, k=k) if counts else ({}, None)
    if line_total is HIDDEN:  # the total the list shows cannot sit beside this breakdown
        by_language = {}
    open_cases = await session.scalar(
        select(func.count())
        .select_from(Case)
        .where(Case.factory_id == factory.id, Case.state != CLOSED)
    )

    # The latest waves this factory answered, each with its respondents here, suppressed exactly
    # as the wave's results page suppresses respondents by factory (the same numbers, the same
    # complements), so the two pages cannot be set against each other.
    latest = (
        select(SurveyWave)
        .where(
            SurveyWave.id.in_(
                select(SurveyResponse.wave_id).where(SurveyResponse.factory_id == factory.id)
            )
        )
        .order_by(SurveyWave.starts_at.desc())
        .limit(LATEST_WAVES * 4)
    )
    waves = [w for w in (await session.scalars(latest)).all() if scope.allows_all(w.countries)]
    waves = waves[:LATEST_WAVES]
    per_wave: dict[int, dict[Hashable, int]] = {w.id: {} for w in waves}
    if waves:
        grouped = (
            select(SurveyResponse.wave_id, SurveyResponse.factory_id, func.count())
            .where(SurveyResponse.wave_id.in_(list(per_wave)))
            .group_by(SurveyResponse.wave_id, SurveyResponse.factory_id)
        )
        for wave_id, factory_id, n in (await session.execute(grouped)).all():
            per_wave[wave_id]["-" if factory_id is None else factory_id] = int(n)
    reach = [WaveReach(w, suppress_line(per_wave[w.id], k=k)[0].get(factory.id)) for w in waves]
    committees = (
        await session.scalars(
            select(Committee)
            .where(Committee.factory_id == factory.id)
            .order_by(Committee.active.desc(), Committee.name)
        )
    ).all()
    return FactoryReach(
        workers=shown(total, k),
        by_language=by_language,
        open_cases=shown(int(open_cases or 0), k),
        waves=reach,
        committees=list(committees),
    )
