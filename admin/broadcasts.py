"""Broadcasts in the console (DESIGN §8): an organiser writes one message with a version per
language for a topic's subscribers, sees whom it will reach, sends or plans it, and follows its
delivery. This module has the list, a broadcast's page and its actions; the form that writes one
is in ``admin.broadcast_form``, topics and their posters in ``admin.broadcast_topics``.

Country staff see only broadcasts whose countries are all theirs (others are a 404). Every count
passes through suppression: the audience preview comes suppressed from the service, and the
delivery figures are suppressed here the same way, or sending to a small audience and reading
"queued: 3" would give back what the preview hid. Saving, sending and cancelling are the
service's verbs, which audit them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.forms import FormState, submit
from admin.web import (
    DB,
    checked_id,
    context,
    render,
    require,
    staff_locale,
    suppression_threshold,
    verify_csrf,
)
from bot.i18n import N_, format_datetime, is_rtl
from bot.i18n import gettext as _
from bot.i18n.languages import LANGUAGES
from bot.storage.broadcasts import Broadcast, BroadcastTopic
from bot.storage.models import Country, Factory, Staff, StaffRole
from services.broadcasts import messages, topics
from services.broadcasts.messages import BroadcastInput, BroadcastStatus, Report
from services.clock import NonexistentTime, local_today, to_utc, utcnow
from services.errors import DomainError
from services.scope import Scope
from services.suppression import HIDDEN, Shown, shown, suppress_line

router = APIRouter(prefix="/broadcasts")
BROADCASTS = require(StaffRole.COUNTRY_MANAGER, StaffRole.ORGANISER)
STATUS_LABELS = {
    BroadcastStatus.DRAFT: N_("draft"),
    BroadcastStatus.SCHEDULED: N_("planned"),
    BroadcastStatus.SENDING: N_("sending"),
    BroadcastStatus.SENT: N_("sent"),
    BroadcastStatus.CANCELLED: N_("cancelled"),
}
OUTCOMES = {
    "sent": N_("sent"),
    "failed": N_("failed"),
    "blocked": N_("blocked the bot"),
    "skipped": N_("skipped"),
    "waiting": N_("waiting"),
}


class InvalidPlan(DomainError):
    code = "invalid_plan"
    message = N_("The message cannot be planned: {reason}")


async def scoped(
    broadcast_id: int, staff: Staff = Depends(BROADCASTS), session: AsyncSession = DB
) -> Broadcast:
    """The broadcast of the path, checked for role and scope before any form is read."""
    return await messages.access_broadcast(session, checked_id(broadcast_id), Scope.of(staff))


# --- what the pages show --------------------------------------------------------------------


@dataclass
class Figures:
    """A delivery report as staff may see it: ``None`` is "fewer than k"."""

    queued: Shown
    outcomes: list[tuple[str, str, Shown]]  # key, label, count
    # (key, share of the queued messages) for a stacked bar; "hidden" is the suppressed rest.
    bar: list[tuple[str, float]]


NOT_PEOPLE = frozenset({"failed", "waiting"})


def figures(report: Report, k: int) -> Figures:
    counts = {
        "sent": report.sent,
        "failed": report.failed,
        "blocked": report.blocked,
        "skipped": report.skipped,
        "waiting": report.waiting,
    }
    # Deliveries that failed (Telegram refused them) or still wait in the queue are not people
    # with something in common: a 0 of them tells nothing about any worker, and it is what an
    # organiser piloting in one factory needs to read (m12). They leave the line when they are 0
    # (the line's total is the same, so what protects the rest is unchanged) and show as 0.
    # Sent, blocked the bot and skipped (left or stopped) count people: always suppressed.
    people = {key: n for key, n in counts.items() if not (key in NOT_PEOPLE and n == 0)}
    # One small outcome hidden alone would come back as queued minus the others: the breakdown is
    # suppressed as a table, complementary cells included, and all of it when few were queued.
    visible, queued = suppress_line(cast("Mapping[Hashable, int]", people), k=k)
    visible.update({key: 0 for key in counts if key not in people})
    if report.queued != sum(counts.values()):  # outcomes do not add up: show the total alone
        visible = dict.fromkeys(counts, HIDDEN) if report.queued >= k else dict.fromkeys(counts)
        queued = shown(report.queued, k)
    outcomes = [(key, _(OUTCOMES[key]), visible[key]) for key in counts]
    bar: list[tuple[str, float]] = []
    if isinstance(queued, int) and queued:
        known = [(key, n) for key, _label, n in outcomes if isinstance(n, int) and n]
        bar = [(key, n / queued) for key, n in known]
        rest = queued - sum(n for _key, n in known)
        if rest > 0:
            bar.append(("hidden", rest / queued))
    return Figures(queued, outcomes, bar)


def stars_for(messages_count: int) -> int:
    """Telegram Stars an urgent broadcast to that many workers costs (0.1 a message), rounded up."""
    return -(-messages_count * messages.STAR_TENTHS_PER_MESSAGE // 10)


def status_label(broadcast: Broadcast) -> str:
    label = STATUS_LABELS.get(BroadcastStatus(broadcast.status))
    return _(label) if label else broadcast.status


def when_text(value: datetime | None, tz: str, locale: str) -> str:
    if value is None:
        return "—"
    return f"{format_datetime(value, tz=tz, locale=locale, format='medium')} ({tz})"


async def audience_zones(session: AsyncSession, data: BroadcastInput) -> list[str]:
    """The time zones of the audience's factories, most factories first, then UTC."""
    query = (
        select(Factory.timezone, func.count())
        .where(Factory.active.is_(True), Factory.country_code.in_(data.countries))
        .group_by(Factory.timezone)
        .order_by(func.count().desc(), Factory.timezone)
    )
    if data.factory_ids:
        query = query.where(Factory.id.in_(data.factory_ids))
    zones = [str(tz) for tz, _n in (await session.execute(query)).all()]
    if not zones:
        countries = (
            await session.scalars(select(Country.timezone).where(Country.code.in_(data.countries)))
        ).all()
        zones = sorted(set(countries))
    return [*zones, "UTC"] if "UTC" not in zones else zones


# --- the list -------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
async def broadcast_list(
    request: Request,
    staff: Staff = Depends(BROADCASTS),
    session: AsyncSession = DB,
) -> Response:
    k, locale = suppression_threshold(request), staff_locale(staff)
    rows = [
        {
            "broadcast": b,
            "topic": topics.topic_name(t, locale),
            "status": status_label(b),
            "figures": figures(messages.report(b), k)
            if b.status != BroadcastStatus.DRAFT
            else None,
        }
        for b, t in await messages.list_broadcasts(session, Scope.of(staff))
    ]
    return render(
        request,
        "broadcasts/list.html",
        rows=rows,
        k=k,
        when=lambda value: format_datetime(value, tz="UTC", locale=locale, format="medium"),
    )


# --- one broadcast: versions, audience, sending, report ---------------------------------------


DONE = {
    "saved": N_("The draft is saved. Check the audience, then send it or plan it."),
    "sending": N_("The message is on its way."),
    "scheduled": N_("The message is planned."),
    "cancelled": N_("The message is cancelled: what was still waiting will not be sent."),
}


async def _detail_page(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    broadcast: Broadcast,
    *,
    error: str | None = None,
    schedule: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    k, locale = suppression_threshold(request), staff_locale(staff)
    data = messages.input_of(broadcast)
    topic = await session.get(BroadcastTopic, broadcast.topic_id)
    zones = await audience_zones(session, data)
    codes = select(Factory.code).where(Factory.id.in_(broadcast.factory_ids)).order_by(Factory.code)
    factories = (await session.scalars(codes)).all() if broadcast.factory_ids else []
    preview = None
    if broadcast.status in (BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED):
        preview = await messages.preview_audience(session, data, k=k, who=staff.id)
    report = figures(messages.report(broadcast), k)
    tomorrow = local_today(ZoneInfo(zones[0])) + timedelta(days=1)
    return render(
        request,
        "broadcasts/detail.html",
        status_code=status,
        broadcast=broadcast,
        topic_name=topics.topic_name(topic, locale) if topic else "—",
        status_label=status_label(broadcast),
        factories=factories,
        versions=[
            (code, LANGUAGES[code], is_rtl(code), broadcast.texts[code])
            for code in LANGUAGES
            if code in broadcast.texts
        ],
        languages=LANGUAGES,
        preview=preview,
        report=report,
        k=k,
        zones=zones,
        scheduling=schedule is not None,
        schedule=schedule or {"day": tomorrow.isoformat(), "at": "09:00", "timezone": zones[0]},
        when=when_text(broadcast.send_at, zones[0], locale),
        when_utc=when_text(broadcast.send_at, "UTC", locale) if zones[0] != "UTC" else "",
        is_draft=broadcast.status == BroadcastStatus.DRAFT,
        at_night=context(request).settings.news_at_night,
        # Urgent (paid) sending: offered when switched on, to those who may spend the Stars.
        paid_broadcasts=context(request).settings.paid_broadcasts,
        may_send_urgent=staff.role in messages.URGENT_ROLES,
        stars=stars_for(preview.reached) if preview and preview.reached is not None else None,
        can_cancel=broadcast.status in (BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING)
        or (broadcast.status == BroadcastStatus.SENT and messages.report(broadcast).waiting > 0),
        error=error,
    )


@router.get("/{broadcast_id:int}", response_class=HTMLResponse)
async def broadcast_page(
    request: Request,
    broadcast: Broadcast = Depends(scoped),
    staff: Staff = Depends(BROADCASTS),
    session: AsyncSession = DB,
) -> Response:
    return await _detail_page(request, session, staff, broadcast)


class SendNow(BaseModel):
    """Sending now: the ticked confirmation box (``confirm_action``), and whether it is urgent."""

    urgent: str = Field(default="", max_length=4)


class Plan(BaseModel):
    day: str = Field(default="", max_length=10)
    at: str = Field(default="", max_length=8)
    timezone: str = Field(default="", max_length=64)


class Stop(BaseModel):
    """Deleting a draft or stopping a message: only the ticked confirmation box."""


def _again(
    request: Request, session: AsyncSession, staff: Staff, broadcast: Broadcast, *, plan: bool
) -> Callable[[FormState], Awaitable[Response]]:
    async def again(form: FormState) -> Response:
        await session.refresh(broadcast)  # the refused verb's savepoint may have expired it
        return await _detail_page(
            request,
            session,
            staff,
            broadcast,
            error=form.error,
            schedule={k: str(form.value(k)) for k in ("day", "at", "timezone")} if plan else None,
            status=form.status,
        )

    return again


@router.post("/{broadcast_id:int}/send", dependencies=[Depends(verify_csrf)])
async def send_now(
    request: Request,
    broadcast: Broadcast = Depends(scoped),
    staff: Staff = Depends(BROADCASTS),
    session: AsyncSession = DB,
) -> Response:
    """Send to the whole audience at once: needs the box ticked (it cannot be called back)."""

    async def send(data: SendNow) -> None:
        await messages.do_schedule(
            session,
            broadcast,
            scope=Scope.of(staff),
            actor=staff,
            urgent=data.urgent == "on",
            paid_broadcasts=context(request).settings.paid_broadcasts,
        )

    return await submit(
        request,
        session,
        SendNow,
        verb=send,
        done_url=f"/broadcasts/{broadcast.id}",
        message=_(DONE["sending"]),
        again=_again(request, session, staff, broadcast, plan=False),
        confirm=True,
    )


def planned_at(day: str, at: str, timezone: str, *, now: datetime) -> datetime:
    """A date and a wall-clock time in ``timezone`` as an aware UTC moment, or InvalidPlan."""
    try:
        zone = ZoneInfo(timezone.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidPlan(reason=N_("unknown time zone")) from None
    try:
        wall = time.fromisoformat(at.strip()).replace(tzinfo=None)  # the zone is the form's
        local = datetime.combine(date.fromisoformat(day.strip()), wall)
    except ValueError:
        raise InvalidPlan(reason=N_("give a date and a time")) from None
    try:
        moment = to_utc(local, zone)  # the first of a repeated hour
    except NonexistentTime:
        raise InvalidPlan(
            reason=N_("this time does not exist in that time zone: the clocks go forward then")
        ) from None
    # The service sends a past time at once; a typing slip must not send to thousands.
    if moment < now - timedelta(minutes=1):
        raise InvalidPlan(reason=N_("this time has passed: choose a later one, or send now"))
    return moment


@router.post("/{broadcast_id:int}/schedule", dependencies=[Depends(verify_csrf)])
async def schedule(
    request: Request,
    broadcast: Broadcast = Depends(scoped),
    staff: Staff = Depends(BROADCASTS),
    session: AsyncSession = DB,
) -> Response:
    async def plan(data: Plan) -> None:
        send_at = planned_at(data.day, data.at, data.timezone, now=utcnow())
        await messages.do_schedule(
            session, broadcast, scope=Scope.of(staff), actor=staff, send_at=send_at
        )

    return await submit(
        request,
        session,
        Plan,
        verb=plan,
        done_url=f"/broadcasts/{broadcast.id}",
        message=_(DONE["scheduled"]),
        again=_again(request, session, staff, broadcast, plan=True),
    )


@router.post("/{broadcast_id:int}/cancel", dependencies=[Depends(verify_csrf)])
async def cancel(
    request: Request,
    broadcast: Broadcast = Depends(scoped),
    staff: Staff = Depends(BROADCASTS),
    session: AsyncSession = DB,
) -> Response:
    """Delete a draft, or stop a planned or running broadcast; both need the confirmation box."""
    was_draft = broadcast.status == BroadcastStatus.DRAFT

    async def stop(_data: Stop) -> None:
        await messages.do_cancel(session, broadcast, actor=staff)

    return await submit(
        request,
        session,
        Stop,
        verb=stop,
        done_url="/broadcasts" if was_draft else f"/broadcasts/{broadcast.id}",
        message=_("The draft was deleted.") if was_draft else _(DONE["cancelled"]),
        again=_again(request, session, staff, broadcast, plan=False),
        confirm=True,
    )
