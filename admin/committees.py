"""Committees in the console: per factory with health figures (meetings held vs planned,
attendance, women among worker representatives), and each committee's members, invitations,
schedule, calendar, attendance, minutes and action items.

Scoped by the factory's country (out of scope is a 404). Analysts see the figures only; names of
members are for country managers and case handlers (Enterprise Advisors). Changes are audited.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.factories import bot_username
from admin.web import access_country, client_ip, countries_of, db, render, require, verify_csrf
from bot.i18n.languages import LANGUAGES
from bot.storage.committees import ActionItem, Committee, CommitteeInvite, CommitteeMember, Meeting
from bot.storage.models import Factory, Gender, Staff, StaffRole
from services import audit
from services.clock import utcnow
from services.committees import core, meetings
from services.committees.core import Kind, MemberStatus, Role, Side
from services.committees.meetings import Stats
from services.committees.schedule import WEEKDAYS, friendly_rrule
from services.errors import NotFound

router = APIRouter(prefix="/committees")
FIGURES = require(StaffRole.COUNTRY_MANAGER, StaffRole.CASE_HANDLER, StaffRole.ANALYST)
MANAGE = require(StaffRole.COUNTRY_MANAGER, StaffRole.CASE_HANDLER)
Text = Annotated[str, Form()]


async def _access(session: AsyncSession, staff: Staff, committee_id: int) -> Committee:
    committee = await session.get(Committee, committee_id)
    if committee is None:
        raise NotFound()
    access_country(staff, committee.factory.country_code)
    return committee


async def _record(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    committee: Committee,
    what: str,
    **kw: Any,
) -> None:
    await audit.record(
        session,
        f"committee.{what}",
        actor=staff,
        object_type="committee",
        object_id=committee.id,
        country_code=committee.factory.country_code,
        ip=client_ip(request),
        **kw,
    )


async def scoped(
    committee_id: int, staff: Staff = Depends(MANAGE), session: AsyncSession = Depends(db)
) -> Committee:
    """The committee of the path, checked for scope before the form is read: another country's
    committee is a 404 even when the form is incomplete (no hint that it exists)."""
    return await _access(session, staff, committee_id)


def _back(committee: Committee, **query: str) -> Response:
    suffix = f"?{urlencode(query)}" if query else ""
    return RedirectResponse(f"/committees/{committee.id}{suffix}", status_code=303)


@router.get("", response_class=HTMLResponse)
async def committee_list(
    request: Request, staff: Staff = Depends(FIGURES), session: AsyncSession = Depends(db)
) -> Response:
    query = select(Committee, Factory).join(Factory, Factory.id == Committee.factory_id)
    factories = select(Factory).where(Factory.active.is_(True))
    scope = countries_of(staff)
    if scope is not None:
        query = query.where(Factory.country_code.in_(scope))
        factories = factories.where(Factory.country_code.in_(scope))
    rows = (
        await session.execute(
            query.where(Committee.active.is_(True)).order_by(Factory.code, Committee.name)
        )
    ).all()
    stats = await meetings.committee_stats(session, [c.id for c, _f in rows])
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
    session: AsyncSession = Depends(db),
) -> Response:
    factory = await session.get(Factory, factory_id)
    if factory is None:
        raise NotFound()
    access_country(staff, factory.country_code)
    committee = await core.do_create_committee(session, factory, kind=kind, name=name, acting=staff)
    await _record(request, session, staff, committee, "create")
    return _back(committee)


@router.get("/{committee_id}", response_class=HTMLResponse)
async def committee_page(
    request: Request,
    committee: Annotated[Committee, Depends(scoped)],
    ambiguous: str = "",
    cancelled: str = "",
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = Depends(db),
) -> Response:
    members = await core.members_of(
        session, committee.id, statuses=(MemberStatus.PENDING, MemberStatus.ACTIVE)
    )
    active = [m for m in members if m.status == MemberStatus.ACTIVE]
    names = {m.id: m.display_name for m in members}
    now = utcnow()
    upcoming = await meetings.upcoming(session, committee.id, now=now)
    past = await meetings.past(session, committee.id, now=now)
    counts = {m.id: await meetings.rsvp_counts(session, m.id) for m in upcoming}
    agenda = {m.id: await meetings.agenda_of(session, m.id) for m in upcoming}
    attendance = await meetings.attendance_of(session, [m.id for m in past])
    invites = (
        await session.scalars(
            select(CommitteeInvite)
            .where(CommitteeInvite.committee_id == committee.id, CommitteeInvite.expires_at > now)
            .order_by(CommitteeInvite.id.desc())
        )
    ).all()
    actions = (
        await session.scalars(
            select(ActionItem)
            .where(ActionItem.committee_id == committee.id)
            .order_by(ActionItem.status.desc(), ActionItem.due_on)
            .limit(100)
        )
    ).all()
    stats = (await meetings.committee_stats(session, [committee.id], now=now))[committee.id]
    await _record(request, session, staff, committee, "view")
    return render(
        request,
        "committees/detail.html",
        committee=committee,
        members=members,
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
        counts=counts,
        agenda=agenda,
        attendance=attendance,
        invites=invites,
        actions=actions,
        stats=stats,
        local=lambda moment: meetings.local_text(moment, committee),
        ambiguous=[a for a in ambiguous.split(",") if a],
        cancelled=cancelled,
        kinds=list(Kind),
        sides=list(Side),
        roles=list(Role),
        genders=list(Gender),
        languages=LANGUAGES,
        weekdays=WEEKDAYS,
        offsets_hours=", ".join(
            f"{o / 60:g}" for o in committee.reminder_offsets or core.DEFAULT_OFFSETS
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
    session: AsyncSession = Depends(db),
) -> Response:
    member = await core.do_add_member(
        session,
        committee,
        display_name=display_name,
        side=side,
        role=role,
        gender=gender,
        language=language,
        acting=staff,
    )
    await _record(request, session, staff, committee, "member_add", member_id=member.id)
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
    session: AsyncSession = Depends(db),
) -> Response:
    member = await session.get(CommitteeMember, member_id)
    if member is None or member.committee_id != committee.id:
        raise NotFound()
    if op in {"approve", "refuse"}:
        await core.do_approve_member(session, member, approve=op == "approve", acting=staff)
    elif op == "remove":
        await core.do_leave(session, member)
    else:
        await core.do_update_member(
            session,
            member,
            role=role or member.role,
            side=side or member.side,
            gender=gender,
            language=language,
            acting=staff,
        )
    await _record(request, session, staff, committee, f"member_{op[:12]}", member_id=member.id)
    return _back(committee)


@router.post("/{committee_id}/invites", dependencies=[Depends(verify_csrf)])
async def invite_create(
    request: Request,
    committee: Annotated[Committee, Depends(scoped)],
    side: Text,
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = Depends(db),
) -> Response:
    invite = await core.do_create_invite(session, committee, side=side, acting=staff)
    await _record(request, session, staff, committee, "invite", invite_id=invite.id)
    return _back(committee)


def _offsets(hours: str) -> list[int] | None:
    if not hours.strip():
        return None
    try:
        return [round(float(h) * 60) for h in hours.replace(";", ",").split(",") if h.strip()]
    except ValueError:
        raise core.InvalidInput() from None


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
    session: AsyncSession = Depends(db),
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
        acting=staff,
    )
    await _record(request, session, staff, committee, "schedule", rrule=committee.rrule)
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
    session: AsyncSession = Depends(db),
) -> Response:
    meeting, ambiguous = await meetings.do_add_meeting(
        session, committee, local_start=starts, location=location, acting=staff
    )
    await _record(request, session, staff, committee, "meeting_add", meeting_id=meeting.id)
    return _back(committee, ambiguous=meeting.occurrence[2:18]) if ambiguous else _back(committee)


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
    session: AsyncSession = Depends(db),
) -> Response:
    meeting = await _meeting(session, committee, meeting_id)
    ambiguous = False
    if op == "cancel":
        await meetings.do_cancel_meeting(session, meeting, acting=staff)
    else:
        ambiguous = await meetings.do_move_meeting(
            session, meeting, local_start=starts, location=location, acting=staff
        )
    await _record(request, session, staff, committee, f"meeting_{op[:8]}", meeting_id=meeting.id)
    return _back(committee, ambiguous=starts[:16]) if ambiguous else _back(committee)


@router.post("/{committee_id}/holidays", dependencies=[Depends(verify_csrf)])
async def holiday_add(
    request: Request,
    committee: Annotated[Committee, Depends(scoped)],
    day: Text,
    name: Annotated[str, Form()] = "",
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = Depends(db),
) -> Response:
    cancelled = await meetings.do_mark_holiday(session, committee, day=day, name=name, acting=staff)
    await _record(request, session, staff, committee, "holiday", day=day[:10])
    return _back(committee, cancelled=str(cancelled))


@router.post("/{committee_id}/attendance", dependencies=[Depends(verify_csrf)])
async def attendance(
    request: Request,
    committee: Annotated[Committee, Depends(scoped)],
    meeting_id: Annotated[int, Form()],
    present: Annotated[list[int] | None, Form()] = None,
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = Depends(db),
) -> Response:
    meeting = await _meeting(session, committee, meeting_id)
    await meetings.do_record_attendance(session, meeting, set(present or []), acting=staff)
    await _record(request, session, staff, committee, "attendance", meeting_id=meeting.id)
    return _back(committee)


@router.post("/{committee_id}/minutes", dependencies=[Depends(verify_csrf)])
async def minutes(
    request: Request,
    committee: Annotated[Committee, Depends(scoped)],
    meeting_id: Annotated[int, Form()],
    text: Text,
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = Depends(db),
) -> Response:
    meeting = await _meeting(session, committee, meeting_id)
    await meetings.do_post_minutes(session, meeting, text, acting=staff)
    await _record(request, session, staff, committee, "minutes", meeting_id=meeting.id)
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
    session: AsyncSession = Depends(db),
) -> Response:
    if meeting_id is not None:
        await _meeting(session, committee, meeting_id)
    action = await meetings.do_add_action(
        session,
        committee,
        text=text,
        owner_member_id=owner_member_id,
        due_on=due_on,
        meeting_id=meeting_id,
        acting=staff,
    )
    await _record(request, session, staff, committee, "action_add", action_id=action.id)
    return _back(committee)


@router.post("/{committee_id}/actions/done", dependencies=[Depends(verify_csrf)])
async def action_done(
    request: Request,
    committee: Annotated[Committee, Depends(scoped)],
    action_id: Annotated[int, Form()],
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = Depends(db),
) -> Response:
    action = await session.get(ActionItem, action_id)
    if action is None or action.committee_id != committee.id:
        raise NotFound()
    await meetings.do_complete_action(session, action, acting=staff)
    await _record(request, session, staff, committee, "action_done", action_id=action.id)
    return _back(committee)
