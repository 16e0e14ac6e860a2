"""What the console lists about cases: the triage queue (overdue first, then by severity and
deadline). The counts analysts see (numbers without cases, small groups hidden) are in
``services.reports.stats``.

Both keep to the staff member's ``Scope``: nobody lists a case outside her countries.
"""

from __future__ import annotations

from sqlalchemy import case as sql_case
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import lazyload

from bot.storage.models import Factory, Staff
from bot.storage.reports import Case
from services import audit
from services.reports.protocol import SEVERITY_ORDER, Category, Severity, State
from services.scope import Scope

QUEUE_LIMIT = 500  # cases on one queue page; filters narrow it
COUNTRY_CODE_LENGTH = 2  # Country.code is String(2)
FACTORY_CODE_LENGTH = 32  # Factory.code is String(32)
OPEN_STATES = [s.value for s in State if s != State.CLOSED]
ALL_STATES = "all"
OPEN = "open"


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
