"""What the console lists about cases: the triage queue (overdue first, then by severity and
deadline) and the counts analysts see (numbers without cases, small groups hidden).

Both keep to the staff member's ``Scope``: nobody lists a case outside her countries.
"""

from __future__ import annotations

from sqlalchemy import case as sql_case
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import lazyload

from bot.storage.models import Factory, Staff
from bot.storage.reports import Case
from services import audit
from services.factories import list_countries
from services.reports.protocol import SEVERITY_ORDER, Category, Severity, State
from services.scope import Scope
from services.suppression import shown

QUEUE_LIMIT = 500  # cases on one queue page; filters narrow it
COUNTRY_CODE_LENGTH = 2  # Country.code is String(2)
FACTORY_CODE_LENGTH = 32  # Factory.code is String(32)
OPEN_STATES = [s.value for s in State if s != State.CLOSED]
ALL_STATES = "all"
OPEN = "open"

# One row of the counts page: (country, [(category, [count or None per severity])]).
CountsGrid = tuple[str, list[tuple[str, list[int | None]]]]


async def case_queue(
    session: AsyncSession,
    actor: Staff,
    *,
    country: str = "",
    factory: str = "",
    category: str = "",
    state: str = OPEN,
) -> list[tuple[Case, str | None]]:
    """Cases in scope with their factory code: overdue first, then critical, high, normal, then
    the earliest acknowledgement deadline. ``state`` is a state, ``open`` or ``all``; unknown
    filter values are ignored. Listing is audited (``case.queue``, with how many were listed)."""
    severity_rank = sql_case(
        *[(Case.severity == s.value, rank) for s, rank in SEVERITY_ORDER.items()], else_=9
    )
    query = (
        select(Case, Factory.code)
        .outerjoin(Factory, Factory.id == Case.factory_id)
        .where(Scope.of(actor).where(Case.country_code))
        # The queue shows no history: don't load every case's events with it.
        .options(lazyload(Case.events))
    )
    if country:
        query = query.where(Case.country_code == country.upper()[:COUNTRY_CODE_LENGTH])
    if factory:
        query = query.where(Factory.code == factory.upper()[:FACTORY_CODE_LENGTH])
    if category in {c.value for c in Category}:
        query = query.where(Case.category == category)
    if state == OPEN:
        query = query.where(Case.state.in_(OPEN_STATES))
    elif state in {s.value for s in State}:
        query = query.where(Case.state == state)
    query = query.order_by(Case.overdue.desc(), severity_rank, Case.ack_due_at, Case.id)
    rows = (await session.execute(query.limit(QUEUE_LIMIT))).all()
    await audit.record(session, "case.queue", actor=actor, count=len(rows))
    return [(row[0], row[1]) for row in rows]


def severities_in_order() -> list[Severity]:
    return sorted(SEVERITY_ORDER, key=lambda s: SEVERITY_ORDER[s])


async def case_counts(session: AsyncSession, scope: Scope, *, k: int) -> list[CountsGrid]:
    """Numbers without cases, for analysts (DESIGN §4.2, audit L8). Every country in scope gets
    the full grid of categories × severities, empty cells included, and every count below k (0
    too) reads "fewer than k": listing only the groups that have a case would tell that a rare
    critical case exists. No totals are given, so no hidden cell needs a complement."""
    query = (
        select(Case.country_code, Case.category, Case.severity, func.count())
        .where(scope.where(Case.country_code))
        .group_by(Case.country_code, Case.category, Case.severity)
    )
    found = {(c, cat, sev): int(n) for c, cat, sev, n in (await session.execute(query)).all()}
    countries = sorted(c.code for c in await list_countries(session) if scope.allows(c.code))
    countries += sorted({c for c, _cat, _sev in found} - set(countries))
    severities = severities_in_order()
    return [
        (
            country,
            [
                (
                    category.value,
                    [shown(found.get((country, category, s), 0), k) for s in severities],
                )
                for category in Category
            ],
        )
        for country in countries
    ]
