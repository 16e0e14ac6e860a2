"""Committees in the console: per factory with health figures (meetings held vs planned,
attendance, women among worker representatives), and each committee's members, invitations,
schedule, calendar, attendance, minutes and action items.

Scoped by the factory's country (``services.scope.Scope``; out of scope is a 404). Analysts see
the figures only; names of members are for country managers and case handlers (Enterprise
Advisors). Each route calls one service verb, which writes the audit row itself, through the
console's form pattern (``admin.forms``): a refused form shows the committee page again with the
reason next to the field and what was typed, a done one comes back with a confirmation. Removing
a member and cancelling a meeting need their box ticked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin import committee_forms as cf
from admin.factories import bot_username
from admin.forms import FieldRefused, FormState, flash, submit
from admin.web import DB, client_ip, render, require, verify_csrf
from bot.i18n import N_
from bot.i18n import gettext as _
from bot.i18n.languages import LANGUAGES
from bot.storage.committees import Committee, Meeting
from bot.storage.models import Factory, Gender, Staff, StaffRole
from services.clock import utcnow
from services.committees import actions, meetings, members, names, participation
from services.committees.members import (
    ActionStatus,
    Kind,
    MeetingStatus,
    MemberStatus,
    Role,
    Rsvp,
    Side,
)
from services.committees.schedule import InvalidTime, friendly_rrule
from services.committees.stats import Stats, committee_stats
from services.errors import DomainError
from services.factories import access_factory
from services.scope import Scope

router = APIRouter(prefix="/committees")
FIGURES = require(StaffRole.COUNTRY_MANAGER, StaffRole.CASE_HANDLER, StaffRole.ANALYST)
MANAGE = require(StaffRole.COUNTRY_MANAGER, StaffRole.CASE_HANDLER)
M = TypeVar("M", bound=BaseModel)
TWICE = N_(
    "These times happen twice when the clocks go back; the first of the two is used: {times}"
)


async def scoped(
    committee_id: int, staff: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Committee:
    """The committee of the path, checked for scope before the form is read: another country's
    committee is a 404 even when the form is incomplete (no hint that it exists)."""
    return await members.access_committee(session, Scope.of(staff), committee_id)


async def _list_page(
    request: Request, session: AsyncSession, staff: Staff, form: FormState | None = None
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
    factory_rows = (await session.scalars(factories.order_by(Factory.code))).all()
    stats = await committee_stats(session, [c.id for c, _f in rows])
    per_country: dict[str, Stats] = {}
    for committee, factory in rows:
        per_country.setdefault(factory.country_code, Stats()).add(stats[committee.id])
    return render(
        request,
        "committees/list.html",
        status_code=form.status if form else 200,
        rows=rows,
        stats=stats,
        per_country=sorted(per_country.items()),
        factories=factory_rows,
        factory_options=[(fa.id, f"{fa.code} · {fa.name}") for fa in factory_rows],
        kinds=cf.enum_options(Kind),
        languages=[(code, lang.native_name) for code, lang in LANGUAGES.items()],
        kind_words=lambda key: cf.words(Kind, key),
        can_manage=staff.role != StaffRole.ANALYST,
        form=form,
    )


@router.get("", response_class=HTMLResponse)
async def committee_list(
    request: Request, staff: Staff = Depends(FIGURES), session: AsyncSession = DB
) -> Response:
    return await _list_page(request, session, staff)


@router.post("", dependencies=[Depends(verify_csrf)])
async def committee_create(
    request: Request, staff: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    async def create(data: cf.CommitteeForm) -> Committee:
        try:
            factory = await access_factory(session, data.factory_id, Scope.of(staff))
        except DomainError as exc:
            raise FieldRefused.about("factory_id", exc) from None
        try:
            return await members.do_create_committee(
                session,
                factory,
                kind=data.kind,
                name=data.name,
                default_locale=data.default_locale,
                actor=staff,
                ip=client_ip(request),
            )
        except members.InvalidInput:
            raise FieldRefused("default_locale", N_("Please choose one of the options.")) from None

    async def again(form: FormState) -> Response:
        return await _list_page(request, session, staff, form)

    return await submit(
        request,
        session,
        cf.CommitteeForm,
        verb=create,
        done_url=lambda committee: f"/committees/{committee.id}",
        message=_("The committee is created. Add its members next."),
        again=again,
    )


# --- one committee ------------------------------------------------------------------------


async def _page(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    committee: Committee,
    *,
    forms: dict[str, FormState] | None = None,
    status: int = 200,
) -> Response:
    """The committee page; ``forms`` holds the form that was refused (by its name), shown again
    with its reasons and typed values."""
    await session.refresh(committee)  # a refused verb's savepoint may have expired it
    seats = await members.members_of(
        session, committee.id, statuses=(MemberStatus.PENDING, MemberStatus.ACTIVE)
    )
    active = [m for m in seats if m.status == MemberStatus.ACTIVE]
    now = utcnow()
    upcoming = await meetings.upcoming(session, committee.id, now=now)
    past = await meetings.past(session, committee.id, now=now)
    upcoming_ids = [m.id for m in upcoming]
    return render(
        request,
        "committees/detail.html",
        status_code=status,
        committee=committee,
        members=seats,
        balance=[
            (
                side,
                sum(1 for m in active if m.side == side),
                sum(1 for m in active if m.side == side and m.gender == Gender.WOMAN),
            )
            for side in Side
        ],
        names={m.id: m.display_name for m in seats},
        owners=[(m.id, m.display_name) for m in active],
        upcoming=upcoming,
        past=past,
        counts=await participation.rsvp_counts_of(session, upcoming_ids),
        agenda=await participation.agendas_of(session, upcoming_ids),
        attendance=await participation.attendance_of(session, [m.id for m in past]),
        invites=await members.open_invites(session, committee.id, now=now),
        actions=await actions.actions_of(session, committee.id),
        stats=(await committee_stats(session, [committee.id], now=now))[committee.id],
        local=lambda moment: meetings.local_text(moment, committee),
        forms=forms or {},
        schedule=cf.schedule_values(committee),
        name_languages=cf.name_languages(committee),
        names_values=cf.names_values(committee),
        schedule_words=cf.schedule_words(committee.rrule, (committee.local_start or "")[11:16])
        if committee.rrule
        else "",
        word=cf.words,
        kind=Kind,
        Side=Side,
        Role=Role,
        Gender=Gender,
        MeetingStatus=MeetingStatus,
        MemberStatus=MemberStatus,
        ActionStatus=ActionStatus,
        Rsvp=Rsvp,
        sides=cf.enum_options(Side),
        roles=cf.enum_options(Role),
        genders=cf.enum_options(Gender),
        languages=[(code, lang.native_name) for code, lang in LANGUAGES.items()],
        weekdays=cf.weekday_options(),
        ordinals=cf.ordinal_options(),
        freqs=cf.freq_options(),
        bot_username=bot_username(request) or "your_workvoice_bot",
    )


@router.get("/{committee_id}", response_class=HTMLResponse)
async def committee_page(
    request: Request,
    committee_id: int,
    staff: Staff = Depends(MANAGE),
    session: AsyncSession = DB,
) -> Response:
    committee = await members.access_committee(
        session, Scope.of(staff), committee_id, actor=staff, ip=client_ip(request)
    )
    return await _page(request, session, staff, committee)


async def _on_page(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    committee: Committee,
    name: str,
    model: type[M],
    verb: Callable[[M], Awaitable[Any]],
    message: str,
    *,
    confirm: bool = False,
) -> Response:
    """One of the committee page's forms through ``admin.forms.submit``: back to the page with
    ``message``, or the page again with the refused form ``name`` filled in."""

    async def again(form: FormState) -> Response:
        return await _page(request, session, staff, committee, forms={name: form}, status=400)

    return await submit(
        request,
        session,
        model,
        verb=verb,
        done_url=f"/committees/{committee.id}",
        message=message,
        again=again,
        confirm=confirm,
    )


Scoped = Annotated[Committee, Depends(scoped)]


@router.post("/{committee_id}/names", dependencies=[Depends(verify_csrf)])
async def names_set(
    request: Request, committee: Scoped, staff: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    async def save(data: cf.NamesForm) -> None:
        try:
            await names.do_name_committee(
                session,
                committee,
                default_locale=data.default_locale,
                names=data.names,
                places=data.places,
                actor=staff,
                ip=client_ip(request),
            )
        except names.InvalidNames as exc:
            raise FieldRefused.about(f"name:{data.default_locale}", exc) from None

    message = _("Saved. Members read the committee's name and place in their language.")
    return await _on_page(request, session, staff, committee, "names", cf.NamesForm, save, message)


@router.post("/{committee_id}/members", dependencies=[Depends(verify_csrf)])
async def member_add(
    request: Request, committee: Scoped, staff: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    async def add(data: cf.MemberForm) -> None:
        await members.do_add_member(
            session,
            committee,
            display_name=data.display_name,
            side=data.side,
            role=data.role,
            gender=data.gender,
            language=data.language,
            actor=staff,
            ip=client_ip(request),
        )

    return await _on_page(
        request, session, staff, committee, "member", cf.MemberForm, add, _("The member is added.")
    )


MEMBER_DONE = {
    "approve": N_("The member is approved."),
    "refuse": N_("The request to join is refused."),
    "remove": N_("The member is removed from the committee."),
    "update": N_("Saved."),
}


@router.post("/{committee_id}/members/change", dependencies=[Depends(verify_csrf)])
async def member_change(
    request: Request, committee: Scoped, staff: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    op = (await request.form()).get("op")

    async def change(data: cf.MemberChange) -> None:
        member = await members.access_member(session, committee, data.member_id)
        ip = client_ip(request)
        if data.op in {"approve", "refuse"}:
            await members.do_approve_member(
                session, member, approve=data.op == "approve", actor=staff, ip=ip
            )
        elif data.op == "remove":
            await members.do_leave(session, member, actor=staff, ip=ip)
        else:
            await members.do_update_member(
                session,
                member,
                role=data.role or member.role,
                side=data.side or member.side,
                gender=data.gender,
                language=data.language,
                actor=staff,
                ip=ip,
            )

    message = _(MEMBER_DONE.get(str(op), MEMBER_DONE["update"]))
    return await _on_page(
        request,
        session,
        staff,
        committee,
        "member_change",
        cf.MemberChange,
        change,
        message,
        confirm=op == "remove",  # removing a member cannot be undone from here
    )


@router.post("/{committee_id}/invites", dependencies=[Depends(verify_csrf)])
async def invite_create(
    request: Request, committee: Scoped, staff: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    async def invite(data: cf.InviteForm) -> None:
        await members.do_create_invite(
            session, committee, side=data.side, actor=staff, ip=client_ip(request)
        )

    message = _("A new invitation code is ready: it is listed under Invitations.")
    return await _on_page(
        request, session, staff, committee, "invite", cf.InviteForm, invite, message
    )


def _twice(request: Request, times: list[str]) -> None:
    """Say which local times happen twice (the first of the two is used)."""
    if times:
        shown = ", ".join(t.replace("T", " ") for t in times)
        flash(request, _(TWICE, times=shown), "warning")


@router.post("/{committee_id}/schedule", dependencies=[Depends(verify_csrf)])
async def schedule_set(
    request: Request, committee: Scoped, staff: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    async def save(data: cf.ScheduleForm) -> None:
        try:
            rule = (
                data.rrule
                if data.mode == "raw"
                else friendly_rrule(
                    freq=data.freq,
                    weekday=data.weekday,
                    ordinal=data.ordinal,
                    interval=data.interval,
                )
            )
            result = await meetings.do_set_schedule(
                session,
                committee,
                rule=rule,
                local_start=f"{data.first_day}T{data.at.zfill(5)}",
                location=data.location,
                offsets=data.reminder_minutes(),
                quorum=data.quorum / 100,
                actor=staff,
                ip=client_ip(request),
            )
        except InvalidTime as exc:
            raise FieldRefused.about("first_day", exc) from None
        except members.InvalidInput:
            raise FieldRefused(
                "offsets", N_("Give hours before the meeting, such as 72, 24, 2 (at most 720).")
            ) from None
        except DomainError as exc:
            raise FieldRefused.about("rrule" if data.mode == "raw" else "at", exc) from None
        _twice(request, result.ambiguous)

    message = _("The schedule is saved; members are reminded before each meeting.")
    return await _on_page(
        request, session, staff, committee, "schedule", cf.ScheduleForm, save, message
    )


@router.post("/{committee_id}/meetings", dependencies=[Depends(verify_csrf)])
async def meeting_add(
    request: Request, committee: Scoped, staff: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    async def add(data: cf.MeetingForm) -> None:
        meeting, ambiguous = await meetings.do_add_meeting(
            session,
            committee,
            local_start=cf.future_start(committee, data.starts),
            location=data.location,
            actor=staff,
            ip=client_ip(request),
        )
        if ambiguous:
            _twice(request, [meetings.local_start_of(meeting.occurrence)])

    message = _("The meeting is added; members will be reminded.")
    return await _on_page(
        request, session, staff, committee, "meeting", cf.MeetingForm, add, message
    )


async def _meeting(session: AsyncSession, committee: Committee, meeting_id: int) -> Meeting:
    return await meetings.access_meeting(session, committee, meeting_id)


@router.post("/{committee_id}/meetings/change", dependencies=[Depends(verify_csrf)])
async def meeting_change(
    request: Request, committee: Scoped, staff: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    op = (await request.form()).get("op")

    async def change(data: cf.MeetingChange) -> None:
        meeting = await _meeting(session, committee, data.meeting_id)
        ip = client_ip(request)
        if data.op == "cancel":
            await meetings.do_cancel_meeting(session, meeting, actor=staff, ip=ip)
            return
        meetings.check_open(meeting)  # a cancelled or past meeting cannot move
        ambiguous = await meetings.do_move_meeting(
            session,
            meeting,
            local_start=cf.future_start(committee, data.starts),
            location=data.location,
            actor=staff,
            ip=ip,
        )
        if ambiguous:
            _twice(request, [meetings.local_text(meeting.starts_at, committee)])

    message = (
        _("The meeting is cancelled; members are told.")
        if op == "cancel"
        else _("The meeting is moved; members are told.")
    )
    return await _on_page(
        request,
        session,
        staff,
        committee,
        "meeting_change",
        cf.MeetingChange,
        change,
        message,
        confirm=op == "cancel",  # members are told at once: it cannot be taken back
    )


@router.post("/{committee_id}/holidays", dependencies=[Depends(verify_csrf)])
async def holiday_add(
    request: Request, committee: Scoped, staff: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    async def mark(data: cf.HolidayForm) -> None:
        try:
            cancelled = await meetings.do_mark_holiday(
                session, committee, day=data.day, name=data.name, actor=staff, ip=client_ip(request)
            )
        except members.InvalidInput:
            raise FieldRefused("day", N_("Please enter a date, such as 2026-12-31.")) from None
        flash(request, _("Holiday saved. Meetings cancelled on that day: {n}", n=cancelled))

    return await _on_page(
        request, session, staff, committee, "holiday", cf.HolidayForm, mark, message=""
    )


@router.post("/{committee_id}/attendance", dependencies=[Depends(verify_csrf)])
async def attendance(
    request: Request, committee: Scoped, staff: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    async def record(data: cf.AttendanceForm) -> None:
        meeting = await _meeting(session, committee, data.meeting_id)
        await participation.do_record_attendance(
            session, meeting, set(data.present), actor=staff, ip=client_ip(request)
        )

    return await _on_page(
        request,
        session,
        staff,
        committee,
        "attendance",
        cf.AttendanceForm,
        record,
        _("Attendance saved."),
    )


@router.post("/{committee_id}/minutes", dependencies=[Depends(verify_csrf)])
async def minutes(
    request: Request, committee: Scoped, staff: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    async def post(data: cf.MinutesForm) -> None:
        meeting = await _meeting(session, committee, data.meeting_id)
        await participation.do_post_minutes(
            session, meeting, data.text, actor=staff, ip=client_ip(request)
        )

    message = _("The minutes are posted; members receive them in Telegram.")
    return await _on_page(
        request, session, staff, committee, "minutes", cf.MinutesForm, post, message
    )


@router.post("/{committee_id}/actions", dependencies=[Depends(verify_csrf)])
async def action_add(
    request: Request, committee: Scoped, staff: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    async def add(data: cf.ActionForm) -> None:
        if data.meeting_id is not None:
            await _meeting(session, committee, data.meeting_id)
        try:
            await actions.do_add_action(
                session,
                committee,
                text=data.text,
                owner_member_id=data.owner_member_id,
                due_on=data.due_on,
                meeting_id=data.meeting_id,
                actor=staff,
                ip=client_ip(request),
            )
        except members.InvalidInput:
            raise FieldRefused("due_on", N_("Please choose who does it and a due date.")) from None

    return await _on_page(
        request,
        session,
        staff,
        committee,
        "action",
        cf.ActionForm,
        add,
        _("The action item is added."),
    )


@router.post("/{committee_id}/actions/done", dependencies=[Depends(verify_csrf)])
async def action_done(
    request: Request, committee: Scoped, staff: Staff = Depends(MANAGE), session: AsyncSession = DB
) -> Response:
    async def complete(data: cf.ActionDone) -> None:
        action = await actions.access_action(session, committee, data.action_id)
        await actions.do_complete_action(session, action, actor=staff, ip=client_ip(request))

    return await _on_page(
        request,
        session,
        staff,
        committee,
        "action_done",
        cf.ActionDone,
        complete,
        _("The action item is marked as done."),
    )
