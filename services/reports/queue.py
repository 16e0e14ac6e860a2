"""What the console lists about cases: the triage queue. The counts analysts see (numbers
without cases, small groups hidden) are in ``services.reports.stats``.

The queue puts danger reported and critical cases first, then high and normal, each by its next
deadline; it pages (50 a page) and says how many match. Whether a case is late is read from the
deadline of the state it is in now, never stored: a flag set by a job and cleared by nobody kept
acknowledged cases red and above new critical ones (review M1), and a flag that every transition
must remember to reset can drift the same way the first time someone adds a transition.

Both keep to the staff member's ``Scope``: nobody lists a case outside her countries.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import ColumnElement, String, cast, delete, func, select, type_coerce
from sqlalchemy import case as sql_case
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import lazyload

from bot.storage.db import UTCDateTime
from bot.storage.models import Factory, Staff
from bot.storage.reports import Case, CaseEvent, CaseTask, SavedFilter
from services import audit
from services.clock import utcnow
from services.factories import list_countries
from services.reports.cases import CASE_ROLES
from services.reports.conversation import typed_digits
from services.reports.protocol import SEVERITY_ORDER, Category, EventKind, Severity, State, TaskKind
from services.scope import Scope

PAGE_SIZE = 50  # cases on one queue page; the page says how many match in all
COUNTRY_CODE_LENGTH = 2  # Country.code is String(2)
FACTORY_CODE_LENGTH = 32  # Factory.code is String(32)
SAVED_FILTERS_MAX = 20  # per staff member: a list above the queue, not an archive
OPEN_STATES = [s.value for s in State if s != State.CLOSED]
ALL_STATES = "all"
OPEN = "open"
FLAGS = ("mine", "unassigned", "overdue", "second")


@dataclass(frozen=True)
class QueueFilters:
    """What the queue is narrowed to; unknown values are dropped, never an error (a link or a
    saved filter from before a change still opens)."""

    country: str = ""
    factory: str = ""
    category: str = ""
    state: str = OPEN
    mine: bool = False
    unassigned: bool = False
    overdue: bool = False
    second: bool = False  # a proposed closing waits for a second person

    @classmethod
    def parse(cls, params: dict[str, str]) -> QueueFilters:
        state = params.get("state", OPEN) or OPEN
        if state not in {OPEN, ALL_STATES, *(s.value for s in State)}:
            state = OPEN
        category = params.get("category", "")
        return cls(
            country=params.get("country", "").strip().upper()[:COUNTRY_CODE_LENGTH],
            factory=params.get("factory", "").strip().upper()[:FACTORY_CODE_LENGTH],
            category=category if category in {c.value for c in Category} else "",
            state=state,
            **{flag: params.get(flag, "") in {"1", "on", "true"} for flag in FLAGS},
        )

    def query_string(self) -> str:
        """The filters as the queue's URL query (defaults left out), for links and saving."""
        pairs: list[tuple[str, str]] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in FLAGS:
                if value:
                    pairs.append((f.name, "1"))
            elif value and not (f.name == "state" and value == OPEN):
                pairs.append((f.name, value))
        return urlencode(pairs)

    @property
    def active(self) -> bool:
        return self != QueueFilters()


@dataclass
class QueueRow:
    case: Case
    factory_code: str | None
    assignee: str | None  # the assigned staff member's name (or e-mail when she gave none)
    next_deadline: datetime | None  # of the current state; None once every deadline is met
    overdue: bool
    unread: int  # worker messages since the case's handler last opened it


@dataclass
class QueuePage:
    rows: list[QueueRow]
    total: int
    page: int
    pages: int

    @property
    def first(self) -> int:
        return (self.page - 1) * PAGE_SIZE + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return (self.page - 1) * PAGE_SIZE + len(self.rows)


def pending_close() -> ColumnElement[bool]:
    """A closing proposed and not yet confirmed or rejected. ``pending_close`` is JSON: a case
    whose proposal was settled holds JSON ``null``, not SQL NULL."""
    return Case.pending_close.is_not(None) & (cast(Case.pending_close, String) != "null")


def next_deadline() -> ColumnElement[datetime]:
    """The deadline of the state the case is in now (DESIGN §5), the same rule the deadline job
    escalates by (``services.reports.jobs.OPEN_BEFORE``): acknowledge while new, triage while
    acknowledged, and for a critical case the follow-up while triaged. None while a closing waits
    for a second person (the job counts that as met) and after triage."""
    followup = (
        select(CaseTask.due_at)
        .where(CaseTask.case_id == Case.id, CaseTask.kind == TaskKind.FOLLOWUP_DEADLINE)
        .scalar_subquery()
    )
    expression = sql_case(
        (pending_close(), None),
        (Case.state == State.NEW, Case.ack_due_at),
        (Case.state == State.ACKNOWLEDGED, Case.triage_due_at),
        (Case.state == State.TRIAGED, followup),
        else_=None,
    )
    return type_coerce(expression, UTCDateTime())


def unread_replies() -> ColumnElement[int]:
    """Worker messages filed after the newest history row the case's handler has seen."""
    return (
        select(func.count(CaseEvent.id))
        .where(
            CaseEvent.case_id == Case.id,
            CaseEvent.kind == EventKind.MESSAGE_FROM_REPORTER,
            CaseEvent.id > func.coalesce(Case.handler_read_event_id, 0),
        )
        .scalar_subquery()
    )


def _severity_rank() -> ColumnElement[int]:
    return sql_case(
        *[(Case.severity == s.value, rank) for s, rank in SEVERITY_ORDER.items()], else_=9
    )


async def case_queue(
    session: AsyncSession,
    actor: Staff,
    filters: QueueFilters | None = None,
    *,
    page: int = 1,
    now: datetime | None = None,
) -> QueuePage:
    """One page of the cases in scope: danger reported first, then critical, high, normal, each
    by its next deadline (late ones first), then by number. Listing is audited (``case.queue``,
    with how many were listed and matched)."""
    filters = filters or QueueFilters()
    now = now or utcnow()
    deadline = next_deadline()
    conditions: list[ColumnElement[bool]] = [Scope.of(actor).where(Case.country_code)]
    if filters.country:
        conditions.append(Case.country_code == filters.country)
    if filters.factory:
        conditions.append(Factory.code == filters.factory)
    if filters.category:
        conditions.append(Case.category == filters.category)
    if filters.state == OPEN:
        conditions.append(Case.state.in_(OPEN_STATES))
    elif filters.state != ALL_STATES:
        conditions.append(Case.state == filters.state)
    if filters.mine:
        conditions.append(Case.assigned_staff_id == actor.id)
    if filters.unassigned:
        conditions.append(Case.assigned_staff_id.is_(None))
    if filters.overdue:
        conditions.append(deadline < now)
    if filters.second:
        conditions.append(pending_close())

    counted = select(func.count(Case.id)).outerjoin(Factory, Factory.id == Case.factory_id)
    total = int(await session.scalar(counted.where(*conditions)) or 0)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    query = (
        select(
            Case,
            Factory.code,
            func.coalesce(func.nullif(Staff.name, ""), Staff.email),
            deadline,
            unread_replies(),
        )
        .outerjoin(Factory, Factory.id == Case.factory_id)
        .outerjoin(Staff, Staff.id == Case.assigned_staff_id)
        .where(*conditions)
        # The queue shows no history: don't load every case's events with it.
        .options(lazyload(Case.events))
        .order_by(Case.danger.desc(), _severity_rank(), deadline.asc().nulls_last(), Case.id)
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    )
    rows = [
        QueueRow(
            case=case,
            factory_code=code,
            assignee=assignee,
            next_deadline=due,
            overdue=due is not None and due < now,
            unread=int(unread or 0),
        )
        for case, code, assignee, due, unread in (await session.execute(query)).all()
    ]
    await audit.record(session, "case.queue", actor=actor, count=len(rows), total=total)
    return QueuePage(rows=rows, total=total, page=page, pages=pages)


async def case_deadline(session: AsyncSession, case: Case) -> datetime | None:
    """The next deadline of one case (the case page shows it, and whether it has passed)."""
    return await session.scalar(select(next_deadline()).where(Case.id == case.id))


async def do_mark_read(session: AsyncSession, case: Case, staff: Staff) -> None:
    """The case's handler opened it: every worker message so far counts as read. Only the
    assignee moves the marker (a manager looking in leaves it unread for her), or anyone who may
    handle the case while nobody is assigned."""
    if staff.role not in CASE_ROLES or case.assigned_staff_id not in (None, staff.id):
        return
    latest = await session.scalar(
        select(func.max(CaseEvent.id)).where(CaseEvent.case_id == case.id)
    )
    if latest is not None and (case.handler_read_event_id or 0) < latest:
        case.handler_read_event_id = latest
        await session.flush()


async def find_case_number(session: AsyncSession, actor: Staff, typed: str) -> int | None:
    """The case with the number typed ("23", "#23", "২৩"), if the staff member may see it; None
    for a number that does not exist and for one in another country alike."""
    digits = typed_digits(typed)
    if not digits or len(digits) > 18:
        return None
    case_id = await session.scalar(
        select(Case.id).where(Case.id == int(digits), Scope.of(actor).where(Case.country_code))
    )
    return int(case_id) if case_id is not None else None


async def country_choices(session: AsyncSession, actor: Staff) -> list[tuple[str, str]]:
    """The countries a staff member may filter by, as (code, name)."""
    scope = Scope.of(actor)
    return [(c.code, c.name) for c in await list_countries(session) if scope.allows(c.code)]


async def saved_filters(session: AsyncSession, staff: Staff) -> list[SavedFilter]:
    query = select(SavedFilter).where(SavedFilter.staff_id == staff.id).order_by(SavedFilter.name)
    return list((await session.scalars(query)).all())


def clean_query(query: str) -> str:
    """A saved query keeps only what the queue understands, in its own spelling."""
    return QueueFilters.parse(dict(parse_qsl(query.lstrip("?")))).query_string()


async def do_save_filter(session: AsyncSession, staff: Staff, name: str, query: str) -> SavedFilter:
    """Keep the queue's filters under a name; the same name again replaces what it held."""
    name = " ".join(name.split())[:80]
    existing = await session.scalar(
        select(SavedFilter).where(SavedFilter.staff_id == staff.id, SavedFilter.name == name)
    )
    if existing is None:
        kept = await session.scalar(
            select(func.count(SavedFilter.id)).where(SavedFilter.staff_id == staff.id)
        )
        if int(kept or 0) >= SAVED_FILTERS_MAX:
            oldest = await session.scalar(
                select(SavedFilter.id)
                .where(SavedFilter.staff_id == staff.id)
                .order_by(SavedFilter.created_at, SavedFilter.id)
                .limit(1)
            )
            await session.execute(delete(SavedFilter).where(SavedFilter.id == oldest))
        existing = SavedFilter(staff_id=staff.id, name=name, query="", created_at=utcnow())
        session.add(existing)
    existing.query = clean_query(query)
    await session.flush()
    return existing


async def do_delete_filter(session: AsyncSession, staff: Staff, filter_id: int) -> bool:
    """Forget one of one's own saved filters (someone else's is left alone)."""
    result: Any = await session.execute(
        delete(SavedFilter).where(SavedFilter.id == filter_id, SavedFilter.staff_id == staff.id)
    )
    return bool(result.rowcount)


def severities_in_order() -> list[Severity]:
    return sorted(SEVERITY_ORDER, key=lambda s: SEVERITY_ORDER[s])
