"""Committees in the console: per factory with health figures (meetings held vs planned,
attendance, women among worker representatives), and each committee's members, invitations,
schedule, calendar, attendance, minutes and action items.

Scoped by the factory's country (``services.scope.Scope``; out of scope is a 404). Analysts see
the figures only; names of members are for country managers and case handlers (Enterprise
Advisors). Each route calls one service verb, which writes the audit row itself.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.factories import bot_username
from admin.web import DB, client_ip, render, require, verify_csrf
from bot.i18n.languages import LANGUAGES
from bot.storage.committees import Committee, Meeting
from bot.storage.models import Factory, Gender, Staff, StaffRole
from services.clock import utcnow
from services.committees import actions, meetings, members, participation
from services.committees.members import (
    ActionStatus,
    Kind,
    MeetingStatus,
    MemberStatus,
    Role,
    Rsvp,
    Side,
)
from services.committees.schedule import WEEKDAYS, friendly_rrule
from services.committees.stats import Stats, committee_stats
from services.factories import access_factory
from services.scope import Scope

router = APIRouter(prefix="/committees")
FIGURES = require(StaffRole.COUNTRY_MANAGER, StaffRole.CASE_HANDLER, StaffRole.ANALYST)
MANAGE = require(StaffRole.COUNTRY_MANAGER, StaffRole.CASE_HANDLER)
Text = Annotated[str, Form()]


async def scoped(
    committee_id: int, staff: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Committee:
    """The committee of the path, checked for scope before the form is read: another country's
    committee is a 404 even when the form is incomplete (no hint that it exists)."""
    return await members.access_committee(session, Scope.of(staff), committee_id)


def _back(committee: Committee, **query: str) -> Response:
    suffix = f"?{urlencode(query)}" if query else ""
    return RedirectResponse(f"/committees/{committee.id}{suffix}", status_code=303)


@router.get("", response_class=HTMLResponse)
async def committee_list(
    request: Request, staff: Staff = Depends(FIGURES), session: AsyncSession = DB
) -> Response:
    scope = Scope.of(staff)
    rows = (
        await session.execute(
            select(Committee, Factory)
            .join(Factory, Factory.id == Committee.factory_id)
            .where(Committee.active.is_(True), scope.where(Factory.country_code))
            .order_by(Factory.code, Committee.name)
        )
    ).all()
    factories = select(Factory).where(Factory.active.is_(True), scope.where(Factory.country_code))
    stats = await committee_stats(session, [c.id for c, _f in rows])
    per_country: dict[str, Stats] = {}
    for committee, factory in rows:
        per_country.setdefault(factory.country_code, Stats()).add(stats[committee.id])
    return render(
        request,
        "committees/list.html",
        rows=rows,
        stats=stats,
        per_country=sorted(per_country.items()),
        factories=(await session.scalars(factories.order_by(Factory.code))).all(),
        kinds=list(Kind),
        can_manage=staff.role != StaffRole.ANALYST,
    )


@router.post("", dependencies=[Depends(verify_csrf)])
async def committee_create(
    request: Request,
    factory_id: Annotated[int, Form()],
    kind: Text,
    name: Text,
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = DB,
) -> Response:
    factory = await access_factory(session, factory_id, Scope.of(staff))
    committee = await members.do_create_committee(
        session, factory, kind=kind, name=name, actor=staff, ip=client_ip(request)
    )
    return _back(committee)


@router.get("/{committee_id}", response_class=HTMLResponse)
async def committee_page(
    request: Request,
    committee_id: int,
    ambiguous: str = "",
    cancelled: str = "",
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = DB,
) -> Response:
    committee = await members.access_committee(
        session, Scope.of(staff), committee_id, actor=staff, ip=client_ip(request)
    )
    seats = await members.members_of(
        session, committee.id, statuses=(MemberStatus.PENDING, MemberStatus.ACTIVE)
    )
    active = [m for m in seats if m.status == MemberStatus.ACTIVE]
    names = {m.id: m.display_name for m in seats}
    now = utcnow()
    upcoming = await meetings.upcoming(session, committee.id, now=now)
    past = await meetings.past(session, committee.id, now=now)
    upcoming_ids = [m.id for m in upcoming]
    return render(
        request,
        "committees/detail.html",
        committee=committee,
        members=seats,
        balance={
            side.value: {
                "total": sum(1 for m in active if m.side == side),
                "women": sum(1 for m in active if m.side == side and m.gender == Gender.WOMAN),
            }
            for side in Side
        },
        names=names,
        upcoming=upcoming,
        past=past,
        counts=await participation.rsvp_counts_of(session, upcoming_ids),
        agenda=await participation.agendas_of(session, upcoming_ids),
        attendance=await participation.attendance_of(session, [m.id for m in past]),
        invites=await members.open_invites(session, committee.id, now=now),
        actions=await actions.actions_of(session, committee.id),
        stats=(await committee_stats(session, [committee.id], now=now))[committee.id],
        local=lambda moment: meetings.local_text(moment, committee),
        ambiguous=[a for a in ambiguous.split(",") if a],
        cancelled=cancelled,
        kinds=list(Kind),
        sides=list(Side),
        Side=Side,
        Rsvp=Rsvp,
        MeetingStatus=MeetingStatus,
        MemberStatus=MemberStatus,
        ActionStatus=ActionStatus,
        roles=list(Role),
        genders=list(Gender),
        languages=LANGUAGES,
        weekdays=WEEKDAYS,
        offsets_hours=", ".join(
            f"{o / 60:g}" for o in committee.reminder_offsets or members.DEFAULT_OFFSETS
        ),
        bot_username=bot_username(request) or "your_workvoice_bot",
    )


@router.post("/{committee_id}/members", dependencies=[Depends(verify_csrf)])
async def member_add(
    request: Request,
    committee: Annotated[Committee, Depends(scoped)],
    display_name: Text,
    side: Text,
    role: Text,
    gender: Annotated[str, Form()] = "",
    language: Annotated[str, Form()] = "",
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = DB,
) -> Response:
    await members.do_add_member(
        session,
        committee,
        display_name=display_name,
        side=side,
        role=role,
        gender=gender,
        language=language,
        actor=staff,
        ip=client_ip(request),
    )
    return _back(committee)


@router.post("/{committee_id}/members/change", dependencies=[Depends(verify_csrf)])
async def member_change(
    request: Request,
    committee: Annotated[Committee, Depends(scoped)],
    member_id: Annotated[int, Form()],
    op: Text,
    side: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    gender: Annotated[str, Form()] = "",
    language: Annotated[str, Form()] = "",
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = DB,
) -> Response:
    member = await members.access_member(session, committee, member_id)
    ip = client_ip(request)
    if op in {"approve", "refuse"}:
        await members.do_approve_member(
            session, member, approve=op == "approve", actor=staff, ip=ip
        )
    elif op == "remove":
        await members.do_leave(session, member, actor=staff, ip=ip)
    else:
        await members.do_update_member(
            session,
            member,
            role=role or member.role,
            side=side or member.side,
            gender=gender,
            language=language,
            actor=staff,
            ip=ip,
        )
    return _back(committee)


@router.post("/{committee_id}/invites", dependencies=[Depends(verify_csrf)])
async def invite_create(
    request: Request,
    committee: Annotated[Committee, Depends(scoped)],
    side: Text,
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = DB,
) -> Response:
    await members.do_create_invite(
        session, committee, side=side, actor=staff, ip=client_ip(request)
    )
    return _back(committee)


def _offsets(hours: str) -> list[int] | None:
    if not hours.strip():
        return None
    try:
        return [round(float(h) * 60) for h in hours.replace(";", ",").split(",") if h.strip()]
    except ValueError:
        raise members.InvalidInput() from None


@router.post("/{committee_id}/schedule", dependencies=[Depends(verify_csrf)])
async def schedule_set(
    request: Request,
    committee: Annotated[Committee, Depends(scoped)],
    first_day: Text,
    at: Text,
    mode: Annotated[str, Form()] = "simple",
    freq: Annotated[str, Form()] = "monthly",
    weekday: Annotated[str, Form()] = "TU",
    ordinal: Annotated[int, Form()] = 1,
    interval: Annotated[int, Form()] = 1,
    rrule: Annotated[str, Form()] = "",
    location: Annotated[str, Form()] = "",
    offsets: Annotated[str, Form()] = "",
    quorum: Annotated[int, Form()] = 50,
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = DB,
) -> Response:
    rule = (
        rrule
        if mode == "raw"
        else friendly_rrule(freq=freq, weekday=weekday, ordinal=ordinal, interval=interval)
    )
    result = await meetings.do_set_schedule(
        session,
        committee,
        rule=rule,
        local_start=f"{first_day.strip()}T{at.strip()}",
        location=location,
        offsets=_offsets(offsets),
        quorum=quorum / 100,
        actor=staff,
        ip=client_ip(request),
    )
    return (
        _back(committee, ambiguous=",".join(result.ambiguous))
        if result.ambiguous
        else _back(committee)
    )


@router.post("/{committee_id}/meetings", dependencies=[Depends(verify_csrf)])
async def meeting_add(
    request: Request,
    committee: Annotated[Committee, Depends(scoped)],
    starts: Text,
    location: Annotated[str, Form()] = "",
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = DB,
) -> Response:
    meeting, ambiguous = await meetings.do_add_meeting(
        session,
        committee,
        local_start=starts,
        location=location,
        actor=staff,
        ip=client_ip(request),
    )
    if ambiguous:
        return _back(committee, ambiguous=meetings.local_start_of(meeting.occurrence))
    return _back(committee)


async def _meeting(session: AsyncSession, committee: Committee, meeting_id: int) -> Meeting:
    return await meetings.access_meeting(session, committee, meeting_id)


@router.post("/{committee_id}/meetings/change", dependencies=[Depends(verify_csrf)])
async def meeting_change(
    request: Request,
    committee: Annotated[Committee, Depends(scoped)],
    meeting_id: Annotated[int, Form()],
    op: Text,
    starts: Annotated[str, Form()] = "",
    location: Annotated[str, Form()] = "",
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = DB,
) -> Response:
    meeting = await _meeting(session, committee, meeting_id)
    ip = client_ip(request)
    if op == "cancel":
        await meetings.do_cancel_meeting(session, meeting, actor=staff, ip=ip)
        return _back(committee)
    ambiguous = await meetings.do_move_meeting(
        session, meeting, local_start=starts, location=location, actor=staff, ip=ip
    )
    if ambiguous:
        return _back(committee, ambiguous=meetings.local_text(meeting.starts_at, committee))
    return _back(committee)


@router.post("/{committee_id}/holidays", dependencies=[Depends(verify_csrf)])
async def holiday_add(
    request: Request,
    committee: Annotated[Committee, Depends(scoped)],
    day: Text,
    name: Annotated[str, Form()] = "",
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = DB,
) -> Response:
    cancelled = await meetings.do_mark_holiday(
        session, committee, day=day, name=name, actor=staff, ip=client_ip(request)
    )
    return _back(committee, cancelled=str(cancelled))


@router.post("/{committee_id}/attendance", dependencies=[Depends(verify_csrf)])
async def attendance(
    request: Request,
    committee: Annotated[Committee, Depends(scoped)],
    meeting_id: Annotated[int, Form()],
    present: Annotated[list[int] | None, Form()] = None,
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = DB,
) -> Response:
    meeting = await _meeting(session, committee, meeting_id)
    await participation.do_record_attendance(
        session, meeting, set(present or []), actor=staff, ip=client_ip(request)
    )
    return _back(committee)


@router.post("/{committee_id}/minutes", dependencies=[Depends(verify_csrf)])
async def minutes(
    request: Request,
    committee: Annotated[Committee, Depends(scoped)],
    meeting_id: Annotated[int, Form()],
    text: Text,
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = DB,
) -> Response:
    meeting = await _meeting(session, committee, meeting_id)
    await participation.do_post_minutes(session, meeting, text, actor=staff, ip=client_ip(request))
    return _back(committee)


@router.post("/{committee_id}/actions", dependencies=[Depends(verify_csrf)])
async def action_add(
    request: Request,
    committee: Annotated[Committee, Depends(scoped)],
    text: Text,
    owner_member_id: Annotated[int, Form()],
    due_on: Text,
    meeting_id: Annotated[int | None, Form()] = None,
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = DB,
) -> Response:
    if meeting_id is not None:
        await _meeting(session, committee, meeting_id)
    await actions.do_add_action(
        session,
        committee,
        text=text,
        owner_member_id=owner_member_id,
        due_on=due_on,
        meeting_id=meeting_id,
        actor=staff,
        ip=client_ip(request),
    )
    return _back(committee)


@router.post("/{committee_id}/actions/done", dependencies=[Depends(verify_csrf)])
async def action_done(
    request: Request,
    committee: Annotated[Committee, Depends(scoped)],
    action_id: Annotated[int, Form()],
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = DB,
) -> Response:
    action = await actions.access_action(session, committee, action_id)
    await actions.do_complete_action(session, action, actor=staff, ip=client_ip(request))
    return _back(committee)
