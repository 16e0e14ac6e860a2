"""The secretary's work in the bot: the minutes of the last meeting (typed, or sent as a file) and
new action items (what, then who with a tap, then by when)."""

from __future__ import annotations

import html
import logging
from datetime import date, timedelta

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.flows.committees.texts import ActionPick, ActionStep, Open, SeatAction, when_text
from bot.i18n import _, format_date
from bot.storage.committees import Committee, CommitteeMember, Meeting
from bot.storage.models import User
from bot.widgets import main_menu_keyboard, remove_buttons
from services.clock import local_today
from services.committees import actions, meetings, members, participation
from services.committees.members import ACTION_LIMIT, MeetingStatus, Role, zone
from services.errors import NotFound

log = logging.getLogger(__name__)
router = Router(name=__name__)

DUE_CHOICES = (7, 14, 30)  # days ahead offered as buttons for an action's due date
OWNER_BUTTON_LIMIT = 40  # characters of a member's name on an owner button


class Minutes(StatesGroup):
    text = State()


class NewAction(StatesGroup):
    """The secretary adds an action item: what, then who (a tap), then by when."""

    text = State()
    owner = State()
    due = State()


async def _secretary_seat(
    session: AsyncSession, user: User | None, member_id: int
) -> CommitteeMember:
    seat = await members.access_seat(session, user, member_id)
    if seat.role != Role.SECRETARY:
        raise NotFound()
    return seat


# --- minutes ---------------------------------------------------------------------------------


@router.callback_query(Open.filter(F.what == SeatAction.MINUTES))
async def minutes_start(
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
    held = [
        m
        for m in await meetings.past(session, seat.committee_id, limit=3)
        if m.status != MeetingStatus.CANCELLED
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
    await _post_minutes(message, state, session, user, message.text or "")


@router.message(StateFilter(Minutes.text), F.document)
async def minutes_sent_as_file(
    message: Message, state: FSMContext, session: AsyncSession, user: User | None
) -> None:
    assert message.document is not None
    document = (message.document.file_id, message.document.file_name or "minutes")
    await _post_minutes(message, state, session, user, message.caption or "", document)


async def _post_minutes(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User | None,
    text: str,
    document: tuple[str, str] | None = None,
) -> None:
    """The minutes typed or sent as a file (Telegram file id and name, the caption as a note)."""
    data = await state.get_data()
    await state.clear()
    seat = await members.access_seat(session, user, int(data.get("member_id", 0)))
    meeting = await session.get(Meeting, int(data.get("meeting_id", 0)))
    if meeting is None or meeting.committee_id != seat.committee_id:
        raise NotFound()
    await participation.do_post_minutes(session, meeting, text, document=document, actor=None)
    if document is None:
        log.info("committee.minutes_posted meeting=%s", meeting.id)
    else:
        log.info("committee.minutes_posted meeting=%s file=1", meeting.id)
    await message.answer(
        _("Thank you. The minutes were sent to all members."), reply_markup=main_menu_keyboard()
    )


@router.message(StateFilter(Minutes.text))
async def minutes_other_input(message: Message) -> None:
    await message.answer(_("Please type the minutes as text, or send them as a file."))


# --- new action items --------------------------------------------------------------------------


def _example_date(committee: Committee) -> str:
    """A date two weeks ahead on the factory's calendar, written as the bot reads dates."""
    return (local_today(zone(committee)) + timedelta(days=14)).isoformat()


@router.callback_query(Open.filter(F.what == SeatAction.NEW_ACTION))
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
    if len(text) > ACTION_LIMIT:
        await message.answer(_("Please keep it under {limit} characters.", limit=ACTION_LIMIT))
        return
    await state.update_data(text=text)
    await state.set_state(NewAction.owner)
    builder = InlineKeyboardBuilder()
    for member in await members.members_of(session, seat.committee_id):
        builder.button(
            text=member.display_name[:OWNER_BUTTON_LIMIT],
            callback_data=ActionPick(member_id=seat.id, step=ActionStep.OWNER, value=member.id),
        )
    builder.adjust(2)
    await message.answer(_("Who will do it?"), reply_markup=builder.as_markup())


@router.callback_query(StateFilter(NewAction.owner), ActionPick.filter(F.step == ActionStep.OWNER))
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
            text=labels[days],
            callback_data=ActionPick(member_id=seat.id, step=ActionStep.DUE, value=days),
        )
    builder.adjust(3)
    committee = await members.committee_of(session, seat.committee_id)
    await query.message.answer(
        _("By when? Tap one, or type a date like {example}.", example=_example_date(committee)),
        reply_markup=builder.as_markup(),
    )


@router.callback_query(StateFilter(NewAction.due), ActionPick.filter(F.step == ActionStep.DUE))
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
    committee = await members.committee_of(session, seat.committee_id)
    today = local_today(zone(committee))
    due = today + timedelta(days=callback_data.value)
    await _save_action(query.message, state, session, seat, committee, due.isoformat())


@router.message(StateFilter(NewAction.due), F.text, ~F.text.startswith("/"))
async def action_due_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User | None
) -> None:
    data = await state.get_data()
    seat = await _secretary_seat(session, user, int(data.get("member_id", 0)))
    committee = await members.committee_of(session, seat.committee_id)
    typed = (message.text or "").strip()
    today = local_today(zone(committee))
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
    action = await actions.do_add_action(
        session,
        committee,
        text=str(data.get("text", "")),
        owner_member_id=int(data.get("owner", 0)),
        due_on=due_on,
        meeting_id=held[0].id if held else None,
        actor=None,
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
