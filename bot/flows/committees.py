"""Committee members in the bot: join with an invitation, see the next meeting, answer whether
they will come, add agenda items, see and close their action items, leave.

Reminders, quorum warnings, changes, minutes and action items arrive from the outbox; the
renderers below write them in each member's own language with the factory's local time.
"""

from __future__ import annotations

import html
import logging
from datetime import date, datetime, timedelta

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import RenderContext, Rendered, renderer
from bot.i18n import _, bidi, format_date, format_time, use_locale
from bot.storage.committees import ActionItem, Committee, CommitteeMember, CommitteeNotice, Meeting
from bot.storage.models import User
from bot.widgets import (
    MenuAction,
    MenuCallback,
    home_button,
    main_menu_keyboard,
    remove_buttons,
    split_text,
)
from services.committees import core, meetings
from services.committees.core import MeetingStatus, MemberStatus, Rsvp
from services.errors import DomainError, NotFound

log = logging.getLogger(__name__)
router = Router(name=__name__)

INVITE_PAYLOAD = "c_"
ACTION_TEXT_LIMIT = 500  # as the service keeps it


class Join(StatesGroup):
    code = State()
    name = State()


class Agenda(StatesGroup):
    text = State()


class Minutes(StatesGroup):
    text = State()


class NewAction(StatesGroup):
    """The secretary adds an action item: what, then who (a tap), then by when."""

    text = State()
    owner = State()
    due = State()


class Answer(CallbackData, prefix="cr"):
    """An RSVP: ``answer`` is yes / no / maybe."""

    meeting_id: int
    answer: Rsvp


class Open(CallbackData, prefix="co"):
    """Something about one seat: ``what`` is agenda / actions / leave / leave_ok / show."""

    member_id: int
    what: str


class Done(CallbackData, prefix="cd"):
    action_id: int


class ActionPick(CallbackData, prefix="ca"):
    """A step of a new action item: ``step`` owner (``value`` a member id) or due (days ahead)."""

    member_id: int
    step: str
    value: int


class Decide(CallbackData, prefix="cj"):
    """The chair approves or refuses a request to join."""

    member_id: int
    approve: bool


# --- texts ---------------------------------------------------------------------------------


def when_text(moment: datetime, committee: Committee) -> str:
    """Date and time in the reader's language, on the factory's clock."""
    tz = committee.factory.timezone
    return bidi(f"{format_date(moment, tz=tz, format='full')}, {format_time(moment, tz=tz)}")


def rsvp_label(answer: str) -> str:
    return {
        Rsvp.YES: _("✅ I will come"),
        Rsvp.NO: _("❌ I cannot come"),
        Rsvp.MAYBE: _("🤔 Maybe"),
    }[Rsvp(answer)]


def rsvp_keyboard(meeting: Meeting, member: CommitteeMember) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for answer in Rsvp:
        builder.button(
            text=rsvp_label(answer), callback_data=Answer(meeting_id=meeting.id, answer=answer)
        )
    builder.button(
        text=_("📝 Add to the agenda"), callback_data=Open(member_id=member.id, what="agenda")
    )
    builder.adjust(3, 1)
    return builder.as_markup()


async def meeting_text(session: AsyncSession, meeting: Meeting) -> str:
    committee = meeting.committee
    lines = [
        f"<b>{html.escape(committee.name)}</b>",
        _("Meeting: {when}", when=when_text(meeting.starts_at, committee)),
    ]
    if meeting.location:
        lines.append(_("Place: {place}", place=html.escape(meeting.location)))
    agenda = await meetings.agenda_of(session, meeting.id)
    if agenda:
        lines.append("")
        lines.append(_("<b>Agenda so far:</b>"))
        lines.extend(f"• {html.escape(item.text)}" for item in agenda)
    return "\n".join(lines)


# --- joining -------------------------------------------------------------------------------


@router.message(CommandStart(deep_link=True, magic=F.args.startswith(INVITE_PAYLOAD)))
async def invite_link(
    message: Message,
    command: CommandObject,
    state: FSMContext,
    session: AsyncSession,
    user: User | None,
) -> None:
    # Onboarding takes the link first for workers who have not finished; it sends them back here.
    code = (command.args or "").strip()[len(INVITE_PAYLOAD) :]
    await check_code(message, state, session, user, code)


async def check_code(
    message: Message, state: FSMContext, session: AsyncSession, user: User | None, code: str
) -> None:
    if user is None:
        return
    try:
        _invite, committee = await core.check_join(session, user, code)
    except DomainError as exc:
        await state.clear()
        await message.answer(exc.translated(), reply_markup=main_menu_keyboard())
        return
    await state.set_state(Join.name)
    await state.set_data({"code": code})
    await message.answer(
        _(
            "You are invited to join <b>{committee}</b>. "
            "Please type your name as the committee knows you.",
            committee=html.escape(committee.name),
        )
    )


@router.message(StateFilter(Join.code), F.text, ~F.text.startswith("/"))
async def code_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User | None
) -> None:
    await check_code(message, state, session, user, (message.text or "").strip())


@router.message(StateFilter(Join.name), F.text, ~F.text.startswith("/"))
async def name_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User | None
) -> None:
    if user is None:
        return
    data = await state.get_data()
    await state.clear()
    # No log line naming the seat or the worker: the service logs the request for the committee.
    await core.do_request_join(
        session, user, data.get("code", ""), display_name=(message.text or "")[:120]
    )
    await message.answer(
        _("Thank you. The committee chair will confirm you soon. We will tell you here."),
        reply_markup=main_menu_keyboard(),
    )


@router.message(StateFilter(Join))
async def join_other_input(message: Message, state: FSMContext) -> None:
    if await state.get_state() == Join.code.state:
        await message.answer(_("Please type the invitation code, for example K7M2Q9XA."))
    else:
        await message.answer(_("Please type your name."))


@router.callback_query(Decide.filter())
async def chair_decides(
    query: CallbackQuery, callback_data: Decide, session: AsyncSession, user: User | None
) -> None:
    member = await session.get(CommitteeMember, callback_data.member_id)
    if member is None:
        raise NotFound()
    await core.check_chair(session, user, member.committee_id)
    await core.do_approve_member(session, member, approve=callback_data.approve, acting=None)
    await query.answer(_("Saved."))
    if isinstance(query.message, Message):
        await remove_buttons(query.message)


# --- the committee page ------------------------------------------------------------------


@router.message(Command("committee"))
async def committee_command(
    message: Message, state: FSMContext, session: AsyncSession, user: User | None
) -> None:
    await show_committees(message, state, session, user)


@router.callback_query(MenuCallback.filter(F.action == MenuAction.COMMITTEE))
async def committee_menu(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, user: User | None
) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await show_committees(query.message, state, session, user)


async def show_committees(
    message: Message, state: FSMContext, session: AsyncSession, user: User | None
) -> None:
    seats = await core.memberships(session, user) if user is not None else []
    if not seats:
        await state.set_state(Join.code)
        await message.answer(
            _("You are not on a committee yet. If you have an invitation code, type it here."),
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[[home_button()]]),
        )
        return
    for seat in seats:
        await show_seat(message, session, seat)


async def show_seat(message: Message, session: AsyncSession, seat: CommitteeMember) -> None:
    committee = await core.access_committee(session, seat.committee_id)
    meeting = await meetings.next_meeting(session, committee.id)
    builder = InlineKeyboardBuilder()
    if meeting is None:
        text = f"<b>{html.escape(committee.name)}</b>\n" + _("No meeting is planned yet.")
    else:
        text = await meeting_text(session, meeting)
        for answer in Rsvp:
            builder.button(
                text=rsvp_label(answer), callback_data=Answer(meeting_id=meeting.id, answer=answer)
            )
        builder.button(
            text=_("📝 Add to the agenda"), callback_data=Open(member_id=seat.id, what="agenda")
        )
    builder.button(text=_("📌 Open actions"), callback_data=Open(member_id=seat.id, what="actions"))
    builder.button(text=_("🚪 Leave"), callback_data=Open(member_id=seat.id, what="leave"))
    rows = [*([3, 1] if meeting else []), 2]
    if seat.role == core.Role.SECRETARY:
        builder.button(
            text=_("📄 Write minutes"), callback_data=Open(member_id=seat.id, what="minutes")
        )
        builder.button(
            text=_("➕ Action item"), callback_data=Open(member_id=seat.id, what="new_action")
        )
        rows.append(2)
    builder.adjust(*rows)
    await message.answer(text, reply_markup=builder.as_markup())


@router.callback_query(Answer.filter())
async def rsvp(
    query: CallbackQuery, callback_data: Answer, session: AsyncSession, user: User | None
) -> None:
    meeting = await session.get(Meeting, callback_data.meeting_id)
    if meeting is None:
        raise NotFound()
    seat = await core.seat_in(session, user, meeting.committee_id)
    await meetings.do_rsvp(session, meeting, seat, callback_data.answer)
    saved = _("Your answer is saved: {answer}", answer=rsvp_label(callback_data.answer))
    await query.answer(saved)
    if isinstance(query.message, Message):
        await query.message.answer(saved)


@router.callback_query(Open.filter(F.what == "agenda"))
async def agenda_start(
    query: CallbackQuery,
    callback_data: Open,
    state: FSMContext,
    session: AsyncSession,
    user: User | None,
) -> None:
    seat = await core.access_seat(session, user, callback_data.member_id)
    meeting = await meetings.next_meeting(session, seat.committee_id)
    if meeting is None:
        raise core.MeetingClosed()
    await query.answer()
    await state.set_state(Agenda.text)
    await state.set_data({"meeting_id": meeting.id, "member_id": seat.id})
    if isinstance(query.message, Message):
        await query.message.answer(
            _("What should the committee talk about? Type it in one message.")
        )


@router.message(StateFilter(Agenda.text), F.text, ~F.text.startswith("/"))
async def agenda_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User | None
) -> None:
    data = await state.get_data()
    await state.clear()
    seat = await core.access_seat(session, user, int(data.get("member_id", 0)))
    meeting = await session.get(Meeting, int(data.get("meeting_id", 0)))
    if meeting is None:
        raise NotFound()
    await meetings.do_add_agenda_item(session, meeting, seat, message.text or "")
    await message.answer(_("Added to the agenda. Thank you."), reply_markup=main_menu_keyboard())


@router.message(StateFilter(Agenda.text))
async def agenda_other_input(message: Message) -> None:
    await message.answer(_("Please type the agenda item as text."))


@router.callback_query(Open.filter(F.what == "minutes"))
async def minutes_start(
    query: CallbackQuery,
    callback_data: Open,
    state: FSMContext,
    session: AsyncSession,
    user: User | None,
) -> None:
    seat = await core.access_seat(session, user, callback_data.member_id)
    if seat.role != core.Role.SECRETARY:
        raise NotFound()
    await query.answer()
    if not isinstance(query.message, Message):
        return
    held = [
        m
        for m in await meetings.past(session, seat.committee_id, limit=3)
        if m.status != "cancelled"
    ]
    if not held:
        await query.message.answer(_("There is no past meeting to write minutes for yet."))
        return
    meeting = held[0]
    await state.set_state(Minutes.text)
    await state.set_data({"meeting_id": meeting.id, "member_id": seat.id})
    await query.message.answer(
        _(
            "Type the minutes of the meeting on {when} in one message, or send them as a "
            "file (PDF, photo or document). They will be sent to all members.",
            when=when_text(meeting.starts_at, meeting.committee),
        )
    )


@router.message(StateFilter(Minutes.text), F.text, ~F.text.startswith("/"))
async def minutes_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User | None
) -> None:
    data = await state.get_data()
    await state.clear()
    seat = await core.access_seat(session, user, int(data.get("member_id", 0)))
    meeting = await session.get(Meeting, int(data.get("meeting_id", 0)))
    if meeting is None or meeting.committee_id != seat.committee_id:
        raise NotFound()
    await meetings.do_post_minutes(session, meeting, message.text or "", acting=None)
    log.info("committee.minutes_posted meeting=%s", meeting.id)
    await message.answer(
        _("Thank you. The minutes were sent to all members."), reply_markup=main_menu_keyboard()
    )


@router.message(StateFilter(Minutes.text), F.document)
async def minutes_sent_as_file(
    message: Message, state: FSMContext, session: AsyncSession, user: User | None
) -> None:
    assert message.document is not None
    data = await state.get_data()
    await state.clear()
    seat = await core.access_seat(session, user, int(data.get("member_id", 0)))
    meeting = await session.get(Meeting, int(data.get("meeting_id", 0)))
    if meeting is None or meeting.committee_id != seat.committee_id:
        raise NotFound()
    name = message.document.file_name or "minutes"
    await meetings.do_post_minutes(
        session,
        meeting,
        message.caption or "",
        document=(message.document.file_id, name),
        acting=None,
    )
    log.info("committee.minutes_posted meeting=%s file=1", meeting.id)
    await message.answer(
        _("Thank you. The minutes were sent to all members."), reply_markup=main_menu_keyboard()
    )


@router.message(StateFilter(Minutes.text))
async def minutes_other_input(message: Message) -> None:
    await message.answer(_("Please type the minutes as text, or send them as a file."))


# --- the secretary's action items -------------------------------------------------------------

DUE_CHOICES = (7, 14, 30)


def _example_date(committee: Committee) -> str:
    """A date two weeks ahead on the factory's calendar, written as the bot reads dates."""
    return (datetime.now(core.zone(committee)).date() + timedelta(days=14)).isoformat()


async def _secretary_seat(
    session: AsyncSession, user: User | None, member_id: int
) -> CommitteeMember:
    seat = await core.access_seat(session, user, member_id)
    if seat.role != core.Role.SECRETARY:
        raise NotFound()
    return seat


@router.callback_query(Open.filter(F.what == "new_action"))
async def action_start(
    query: CallbackQuery,
    callback_data: Open,
    state: FSMContext,
    session: AsyncSession,
    user: User | None,
) -> None:
    seat = await _secretary_seat(session, user, callback_data.member_id)
    await query.answer()
    if not isinstance(query.message, Message):
        return
    await state.set_state(NewAction.text)
    await state.set_data({"member_id": seat.id})
    await query.message.answer(_("What needs to be done? Type it in one short message."))


@router.message(StateFilter(NewAction.text), F.text, ~F.text.startswith("/"))
async def action_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User | None
) -> None:
    data = await state.get_data()
    seat = await _secretary_seat(session, user, int(data.get("member_id", 0)))
    text = (message.text or "").strip()
    if len(text) > ACTION_TEXT_LIMIT:
        await message.answer(_("Please keep it under {limit} characters.", limit=ACTION_TEXT_LIMIT))
        return
    await state.update_data(text=text)
    await state.set_state(NewAction.owner)
    builder = InlineKeyboardBuilder()
    for member in await core.members_of(session, seat.committee_id):
        builder.button(
            text=member.display_name[:40],
            callback_data=ActionPick(member_id=seat.id, step="owner", value=member.id),
        )
    builder.adjust(2)
    await message.answer(_("Who will do it?"), reply_markup=builder.as_markup())


@router.callback_query(StateFilter(NewAction.owner), ActionPick.filter(F.step == "owner"))
async def action_owner(
    query: CallbackQuery,
    callback_data: ActionPick,
    state: FSMContext,
    session: AsyncSession,
    user: User | None,
) -> None:
    seat = await _secretary_seat(session, user, callback_data.member_id)
    owner = await session.get(CommitteeMember, callback_data.value)
    if owner is None or owner.committee_id != seat.committee_id:
        raise NotFound()
    await query.answer()
    if not isinstance(query.message, Message):
        return
    await remove_buttons(query.message)
    await state.update_data(owner=owner.id)
    await state.set_state(NewAction.due)
    builder = InlineKeyboardBuilder()
    labels = {7: _("In 1 week"), 14: _("In 2 weeks"), 30: _("In 1 month")}
    for days in DUE_CHOICES:
        builder.button(
            text=labels[days], callback_data=ActionPick(member_id=seat.id, step="due", value=days)
        )
    builder.adjust(3)
    committee = await core.access_committee(session, seat.committee_id)
    await query.message.answer(
        _("By when? Tap one, or type a date like {example}.", example=_example_date(committee)),
        reply_markup=builder.as_markup(),
    )


@router.callback_query(StateFilter(NewAction.due), ActionPick.filter(F.step == "due"))
async def action_due_tapped(
    query: CallbackQuery,
    callback_data: ActionPick,
    state: FSMContext,
    session: AsyncSession,
    user: User | None,
) -> None:
    seat = await _secretary_seat(session, user, callback_data.member_id)
    if callback_data.value not in DUE_CHOICES or not isinstance(query.message, Message):
        await query.answer(_("This button is no longer active."))
        return
    await query.answer()
    await remove_buttons(query.message)
    committee = await core.access_committee(session, seat.committee_id)
    today = datetime.now(core.zone(committee)).date()
    due = today + timedelta(days=callback_data.value)
    await _save_action(query.message, state, session, seat, committee, due.isoformat())


@router.message(StateFilter(NewAction.due), F.text, ~F.text.startswith("/"))
async def action_due_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User | None
) -> None:
    data = await state.get_data()
    seat = await _secretary_seat(session, user, int(data.get("member_id", 0)))
    committee = await core.access_committee(session, seat.committee_id)
    typed = (message.text or "").strip()
    today = datetime.now(core.zone(committee)).date()
    try:
        due = date.fromisoformat(typed)
    except ValueError:
        due = None
    if due is None or due < today:
        await message.answer(
            _("Please type a date from today on, like {example}.", example=_example_date(committee))
        )
        return
    await _save_action(message, state, session, seat, committee, due.isoformat())


async def _save_action(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    seat: CommitteeMember,
    committee: Committee,
    due_on: str,
) -> None:
    data = await state.get_data()
    await state.clear()
    held = await meetings.past(session, committee.id, limit=1)
    action = await meetings.do_add_action(
        session,
        committee,
        text=str(data.get("text", "")),
        owner_member_id=int(data.get("owner", 0)),
        due_on=due_on,
        meeting_id=held[0].id if held else None,
        acting=None,
    )
    owner = await session.get(CommitteeMember, action.owner_member_id)
    log.info("committee.action_added action=%s committee=%s", action.id, committee.id)
    await message.answer(
        _(
            "Saved: {owner} will do it by {day}, and will be reminded the day before.",
            owner=html.escape(owner.display_name if owner else ""),
            day=format_date(date.fromisoformat(due_on)),
        ),
        reply_markup=main_menu_keyboard(),
    )


@router.message(StateFilter(NewAction))
async def action_other_input(message: Message) -> None:
    await message.answer(_("Please answer with text or the buttons above."))


@router.callback_query(Open.filter(F.what == "actions"))
async def actions_list(
    query: CallbackQuery, callback_data: Open, session: AsyncSession, user: User | None
) -> None:
    seat = await core.access_seat(session, user, callback_data.member_id)
    await query.answer()
    if not isinstance(query.message, Message):
        return
    actions = await meetings.open_actions(session, seat.committee_id)
    if not actions:
        await query.message.answer(_("No open actions. Well done!"))
        return
    for action in actions:
        mine = action.owner_member_id == seat.id
        await query.message.answer(
            await action_text(session, action),
            reply_markup=done_keyboard(action) if mine else None,
        )


async def action_text(session: AsyncSession, action: ActionItem) -> str:
    owner = (
        await session.get(CommitteeMember, action.owner_member_id)
        if action.owner_member_id
        else None
    )
    lines = [f"📌 {html.escape(action.text)}", _("Due: {day}", day=bidi(action.due_on))]
    if owner is not None:
        lines.append(_("Who: {name}", name=html.escape(owner.display_name)))
    return "\n".join(lines)


def done_keyboard(action: ActionItem) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ Mark as done"), callback_data=Done(action_id=action.id))
    return builder.as_markup()


@router.callback_query(Done.filter())
async def action_done(
    query: CallbackQuery, callback_data: Done, session: AsyncSession, user: User | None
) -> None:
    action = await meetings.access_own_action(session, user, callback_data.action_id)
    await meetings.do_complete_action(session, action)
    await query.answer(_("Marked as done. Thank you."))
    if isinstance(query.message, Message):
        await remove_buttons(query.message)


@router.callback_query(Open.filter(F.what == "leave"))
async def leave_ask(
    query: CallbackQuery, callback_data: Open, session: AsyncSession, user: User | None
) -> None:
    seat = await core.access_seat(session, user, callback_data.member_id)
    await query.answer()
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Yes, leave"), callback_data=Open(member_id=seat.id, what="leave_ok"))
    builder.add(home_button())
    if isinstance(query.message, Message):
        await query.message.answer(
            _("Do you want to leave this committee?"), reply_markup=builder.as_markup()
        )


@router.callback_query(Open.filter(F.what == "leave_ok"))
async def leave_confirmed(
    query: CallbackQuery, callback_data: Open, session: AsyncSession, user: User | None
) -> None:
    seat = await core.access_seat(session, user, callback_data.member_id)
    await core.do_leave(session, seat)
    await query.answer()
    if isinstance(query.message, Message):
        await remove_buttons(query.message)
        await query.message.answer(
            _("You have left the committee."), reply_markup=main_menu_keyboard()
        )


# --- messages from the outbox -------------------------------------------------------------


async def _meeting_and_seat(
    ctx: RenderContext,
) -> tuple[Meeting, CommitteeMember] | None:
    meeting = await ctx.session.get(Meeting, ctx.params["meeting_id"])
    member = await ctx.session.get(CommitteeMember, ctx.params["member_id"])
    if meeting is None or member is None or member.status != MemberStatus.ACTIVE:
        return None
    return meeting, member


@renderer(CommitteeNotice.REMINDER)
async def render_reminder(ctx: RenderContext) -> Rendered | None:
    found = await _meeting_and_seat(ctx)
    if found is None:
        return None
    meeting, member = found
    if meeting.status != MeetingStatus.PLANNED:
        return None
    with use_locale(ctx.params.get("locale")):
        text = _("⏰ <b>Reminder</b>") + "\n" + await meeting_text(ctx.session, meeting)
        text += "\n\n" + _("Will you come?")
        return Rendered(text, rsvp_keyboard(meeting, member))


@renderer(CommitteeNotice.CHANGED)
async def render_changed(ctx: RenderContext) -> Rendered | None:
    found = await _meeting_and_seat(ctx)
    if found is None:
        return None
    meeting, member = found
    with use_locale(ctx.params.get("locale")):
        name = html.escape(meeting.committee.name)
        when = when_text(meeting.starts_at, meeting.committee)
        if ctx.params.get("change") == "cancelled":
            return Rendered(
                _(
                    "❗ <b>{committee}</b>: the meeting on {when} is cancelled.",
                    committee=name,
                    when=when,
                )
            )
        text = _("❗ <b>{committee}</b>: the meeting has moved.", committee=name)
        text += "\n" + await meeting_text(ctx.session, meeting)
        return Rendered(text, rsvp_keyboard(meeting, member))


@renderer(CommitteeNotice.MINUTES)
async def render_minutes(ctx: RenderContext) -> list[Rendered] | None:
    found = await _meeting_and_seat(ctx)
    if found is None or not (found[0].minutes or found[0].minutes_document):
        return None
    meeting, _member = found
    with use_locale(ctx.params.get("locale")):
        head = _(
            "📄 <b>{committee}</b>: minutes of the meeting on {when}",
            committee=html.escape(meeting.committee.name),
            when=when_text(meeting.starts_at, meeting.committee),
        )
        # Minutes are written by the secretary in the committee's working language: as typed.
        body = html.escape(meeting.minutes or "")
        if meeting.minutes_document:
            parts = [Rendered(head, document=meeting.minutes_document)]
            return parts + [Rendered(text) for text in split_text(body)] if body else parts
        return [Rendered(text) for text in split_text(f"{head}\n\n{body}")]


@renderer(CommitteeNotice.QUORUM)
async def render_quorum(ctx: RenderContext) -> Rendered | None:
    meeting = await ctx.session.get(Meeting, ctx.params["meeting_id"])
    if meeting is None or meeting.status != MeetingStatus.PLANNED:
        return None
    p = ctx.params
    return Rendered(
        _(
            "⚠️ <b>{committee}</b>: too few members have confirmed the meeting on {when}.\n"
            "Workers: {workers} of {workers_needed} needed.\n"
            "Management: {managers} of {managers_needed} needed.\n"
            "Please remind them, or move the meeting.",
            committee=html.escape(meeting.committee.name),
            when=when_text(meeting.starts_at, meeting.committee),
            workers=p["workers"],
            workers_needed=p["workers_needed"],
            managers=p["managers"],
            managers_needed=p["managers_needed"],
        )
    )


@renderer(CommitteeNotice.JOIN_REQUEST)
async def render_join_request(ctx: RenderContext) -> Rendered | None:
    member = await ctx.session.get(CommitteeMember, ctx.params["member_id"])
    if member is None or member.status != MemberStatus.PENDING:
        return None
    committee = await core.access_committee(ctx.session, member.committee_id)
    side = _("workers") if member.side == core.Side.WORKER else _("management")
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ Approve"), callback_data=Decide(member_id=member.id, approve=True))
    builder.button(text=_("✖️ Refuse"), callback_data=Decide(member_id=member.id, approve=False))
    return Rendered(
        _(
            "<b>{committee}</b>: {name} asks to join (side: {side}).",
            committee=html.escape(committee.name),
            name=html.escape(member.display_name),
            side=side,
        ),
        builder.as_markup(),
    )


@renderer(CommitteeNotice.JOINED)
async def render_joined(ctx: RenderContext) -> Rendered | None:
    member = await ctx.session.get(CommitteeMember, ctx.params["member_id"])
    if member is None:
        return None
    committee = await core.access_committee(ctx.session, member.committee_id)
    name = html.escape(committee.name)
    if ctx.params.get("approved"):
        return Rendered(
            _(
                "Welcome to <b>{committee}</b>. You will get meeting reminders here.",
                committee=name,
            ),
            main_menu_keyboard(),
        )
    return Rendered(_("Your request to join <b>{committee}</b> was not accepted.", committee=name))


@renderer(CommitteeNotice.ACTION)
async def render_action(ctx: RenderContext) -> Rendered | None:
    action = await ctx.session.get(ActionItem, ctx.params["action_id"])
    if action is None or action.status != "open":
        return None
    committee = await core.access_committee(ctx.session, action.committee_id)
    head = (
        _("📌 <b>{committee}</b>: a new action for you.", committee=html.escape(committee.name))
        if ctx.params.get("new")
        else _(
            "⏰ <b>{committee}</b>: your action is due soon.", committee=html.escape(committee.name)
        )
    )
    return Rendered(f"{head}\n{await action_text(ctx.session, action)}", done_keyboard(action))
