"""What the console's landing page shows each role: what needs them now (M14).

- Case handlers (and managers, who handle cases too): their cases whose next deadline is within
  24 hours or has passed, and cases with worker replies they have not read. Cases shown are
  theirs or no one's, in their countries: a list of cases like the queue, not counts.
- Country managers and administrators: deadlines met, ageing and cases per month per country
  (``services.reports.stats``, suppressed there).
- Analysts: the latest survey waves with respondents and response rates (suppressed, the rate
  from the rounded audience as on the results page).
- Organisers: followers per topic (suppressed).

Nothing here writes; reading the page is not audited (no case is opened from it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import AuditEvent, Factory, Staff
from bot.storage.reports import Case, CaseEvent
from bot.storage.surveys import SurveyResponse, SurveyWave
from services.broadcasts import topics
from services.previews import rounded
from services.reports.protocol import EventKind, State
from services.scope import Scope
from services.suppression import Shown, shown
from services.surveys.waves import WaveStatus, list_waves

DUE_WITHIN = timedelta(hours=24)
LIST_LIMIT = 20  # cases listed per section; the queue has the rest
LATEST_WAVES = 6


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _mine_or_no_ones(staff: Staff) -> ColumnElement[bool]:
    return or_(Case.assigned_staff_id == staff.id, Case.assigned_staff_id.is_(None))


@dataclass(frozen=True)
class DueCase:
    case_id: int
    severity: str
    state: str
    factory: str | None
    step: str  # "acknowledge" or "triage": what the deadline is for
    due_at: datetime
    overdue: bool
    yours: bool  # assigned to the viewer (else to no one)


async def cases_due(
    session: AsyncSession, staff: Staff, *, now: datetime, limit: int = LIST_LIMIT
) -> list[DueCase]:
    """Open cases (the viewer's or no one's) whose next deadline (acknowledge while new, triage
    until triaged) is within ``DUE_WITHIN`` or passed, the earliest first."""
    soon = now + DUE_WITHIN
    ack_due = Case.acknowledged_at.is_(None) & (Case.ack_due_at <= soon)
    triage_due = (
        Case.acknowledged_at.is_not(None) & Case.triaged_at.is_(None) & (Case.triage_due_at <= soon)
    )
    query = (
        select(
            Case.id,
            Case.severity,
            Case.state,
            Factory.code,
            Case.acknowledged_at,
            Case.ack_due_at,
            Case.triage_due_at,
            Case.assigned_staff_id,
        )
        .outerjoin(Factory, Factory.id == Case.factory_id)
        .where(
            Scope.of(staff).where(Case.country_code),
            Case.state != State.CLOSED.value,
            _mine_or_no_ones(staff),
            ack_due | triage_due,
        )
    )
    found = []
    for case_id, severity, state, code, acked, ack_at, triage_at, assignee in (
        await session.execute(query)
    ).all():
        step, due = ("acknowledge", ack_at) if acked is None else ("triage", triage_at)
        due = _aware(due)
        found.append(
            DueCase(case_id, severity, state, code, step, due, due < now, assignee == staff.id)
        )
    found.sort(key=lambda c: (c.due_at, c.case_id))
    return found[:limit]


@dataclass(frozen=True)
class Unread:
    case_id: int
    severity: str
    count: int  # worker messages since the viewer last opened the case
    last_at: datetime
    yours: bool


async def unread_replies(
    session: AsyncSession, staff: Staff, *, limit: int = LIST_LIMIT
) -> list[Unread]:
    """Open cases (the viewer's or no one's) with worker messages newer than the viewer's last
    view of the case (its ``case.view`` audit event). The one place that decides "unread": an
    unread marker on cases can replace this function without touching the page."""
    replies = (
        select(
            CaseEvent.case_id,
            CaseEvent.at,
            Case.severity,
            Case.assigned_staff_id,
        )
        .join(Case, Case.id == CaseEvent.case_id)
        .where(
            CaseEvent.kind == EventKind.MESSAGE_FROM_REPORTER.value,
            Scope.of(staff).where(Case.country_code),
            Case.state != State.CLOSED.value,
            _mine_or_no_ones(staff),
        )
    )
    messages: dict[int, list[datetime]] = defaultdict(list)
    about: dict[int, tuple[str, bool]] = {}
    for case_id, at, severity, assignee in (await session.execute(replies)).all():
        messages[case_id].append(_aware(at))
        about[case_id] = (severity, assignee == staff.id)
    if not messages:
        return []
    views = select(AuditEvent.object_id, func.max(AuditEvent.at)).where(
        AuditEvent.action == "case.view",
        AuditEvent.actor_staff_id == staff.id,
        AuditEvent.object_type == "case",
        AuditEvent.object_id.in_([str(i) for i in messages]),
    )
    seen = {
        int(str(object_id)): _aware(at)
        for object_id, at in (await session.execute(views.group_by(AuditEvent.object_id))).all()
    }
    found = []
    for case_id, times in messages.items():
        last_view = seen.get(case_id)
        new = [t for t in times if last_view is None or t > last_view]
        if new:
            severity, yours = about[case_id]
            found.append(Unread(case_id, severity, len(new), max(new), yours))
    found.sort(key=lambda u: (-u.last_at.timestamp(), u.case_id))
    return found[:limit]


@dataclass(frozen=True)
class WaveRate:
    wave: SurveyWave
    respondents: Shown
    invited: int | None  # rounded to tens, as on the results page

    @property
    def rate(self) -> float | None:
        if isinstance(self.respondents, int) and self.invited:
            return min(1.0, self.respondents / self.invited)
        return None


async def latest_waves(
    session: AsyncSession, scope: Scope, *, k: int, limit: int = LATEST_WAVES
) -> list[WaveRate]:
    """The waves that ran most recently (open or closed) with respondents (below k: "fewer than
    k") and the response rate from the rounded audience (``WaveResults.response_rate``)."""
    ran = [
        w
        for w in await list_waves(session, scope)
        if w.status in (WaveStatus.OPEN, WaveStatus.CLOSED)
    ][:limit]
    counts: dict[int, int] = {}
    if ran:
        counts = {
            wave_id: int(n)
            for wave_id, n in (
                await session.execute(
                    select(SurveyResponse.wave_id, func.count())
                    .where(SurveyResponse.wave_id.in_([w.id for w in ran]))
                    .group_by(SurveyResponse.wave_id)
                )
            ).all()
        }
    return [WaveRate(w, shown(counts.get(w.id, 0), k), rounded(w.invited_count, k)) for w in ran]


@dataclass(frozen=True)
class TopicReach:
    topic_id: int
    name: str
    country: str | None
    followers: Shown


async def topic_reach(
    session: AsyncSession, scope: Scope, *, k: int, locale: str | None
) -> list[TopicReach]:
    """Followers per active topic, counted in the viewer's countries only, each below k hidden.
    No total is printed, so no complement is needed."""
    found = await topics.list_topics(session, scope, active_only=True)
    counts = await topics.subscriber_counts(session, [t.id for t in found], scope)
    return [
        TopicReach(
            t.id, topics.topic_name(t, locale), t.country_code, shown(counts.get(t.id, 0), k)
        )
        for t in found
    ]


def roles_sections(role: str) -> Sequence[str]:
    """Which sections the landing page shows a role, in order."""
    return {
        "admin": ("deadlines",),
        "country_manager": ("cases", "deadlines"),
        "case_handler": ("cases",),
        "analyst": ("waves",),
        "organiser": ("topics",),
    }.get(role, ())
