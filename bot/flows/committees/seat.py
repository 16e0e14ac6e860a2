"""A member's seat: the committee page with the next meeting, the RSVP, adding to the agenda, the
committee's open action items (closing one's own), and leaving."""

from __future__ import annotations

import contextlib
from typing import Any

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from bot.flows.committees.join import start_join
from bot.flows.committees.texts import (
    RSVP_ROWS,
    Answer,
    Done,
    Open,
    SeatAction,
    action_text,
    add_rsvp_buttons,
    done_keyboard,
    mark_rsvp,
    meeting_text,
    name_text,
    rsvp_label,
)
from bot.i18n import _
from bot.storage.committees import CommitteeMember, Meeting
from bot.storage.models import User
from bot.widgets import (
    MenuAction,
    MenuCallback,
    home_button,
    home_markup,
    link_factory_markup,
    remove_buttons,
)
from bot.wizard import Step, Turn, Wizard
from services.committees import actions, meetings, members, participation
from services.committees.members import InvalidInput, MeetingClosed, NoFactory, Role
from services.errors import DomainError, NotFound

router = Router(name=__name__)


# --- the committee page ------------------------------------------------------------------


@router.message(Command("committee"))
async def committee_command(message: Message, state: FSMContext, **data: Any) -> None:
    await show_committees(message, state, data)


@router.callback_query(MenuCallback.filter(F.action == MenuAction.COMMITTEE))
async def committee_menu(query: CallbackQuery, state: FSMContext, **data: Any) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await show_committees(query.message, state, data)


async def show_committees(message: Message, state: FSMContext, data: dict[str, Any]) -> None:
    session: AsyncSession = data["session"]
    user: User | None = data.get("user")
    seats = await members.memberships(session, user) if user is not None else []
    if not seats and user is not None and user.factory_id is None:
        # Committees belong to a factory: link it first (B1), then the invitation code.
        await message.answer(NoFactory().translated(), reply_markup=link_factory_markup())
        return
    if not seats:
        await start_join(message, state, data)  # the invitation code, if the worker has one
        return
    for seat in seats:
        await show_seat(message, session, seat)


async def show_seat(message: Message, session: AsyncSession, seat: CommitteeMember) -> None:
    committee = await members.committee_of(session, seat.committee_id)
    meeting = await meetings.next_meeting(session, committee.id)
    builder = InlineKeyboardBuilder()
    if meeting is None:
        text = f"<b>{name_text(committee)}</b>\n" + _("No meeting is planned yet.")
    else:
        text = await meeting_text(session, meeting)
        chosen = await participation.rsvp_of(session, meeting.id, seat.id)
        add_rsvp_buttons(builder, meeting, seat.id, chosen)
    builder.button(
        text=_("📌 Open actions"), callback_data=Open(member_id=seat.id, what=SeatAction.ACTIONS)
    )
    builder.button(text=_("🚪 Leave"), callback_data=Open(member_id=seat.id, what=SeatAction.LEAVE))
    rows = [*(RSVP_ROWS if meeting else ()), 2]
    if seat.role == Role.SECRETARY:
        builder.button(
            text=_("📄 Write minutes"),
            callback_data=Open(member_id=seat.id, what=SeatAction.MINUTES),
        )
        builder.button(
            text=_("➕ Action item"),
            callback_data=Open(member_id=seat.id, what=SeatAction.NEW_ACTION),
        )
        rows.append(2)
    builder.adjust(*rows)
    await message.answer(text, reply_markup=builder.as_markup())


# --- before the meeting: RSVP and agenda -------------------------------------------------------


@router.callback_query(Answer.filter())
async def rsvp(
    query: CallbackQuery, callback_data: Answer, session: AsyncSession, user: User | None
) -> None:
    meeting = await session.get(Meeting, callback_data.meeting_id)
    if meeting is None:
        raise NotFound()
    seat = await members.seat_in(session, user, meeting.committee_id)
    await participation.do_rsvp(session, meeting, seat, callback_data.answer)
    # The reminder itself shows the answer (✓): no new message each time she changes it (B16).
    await query.answer(_("Your answer is saved: {answer}", answer=rsvp_label(callback_data.answer)))
    message = query.message
    if isinstance(message, Message) and message.reply_markup is not None:
        marked = mark_rsvp(message.reply_markup, meeting.id, callback_data.answer)
        if marked != message.reply_markup:
            with contextlib.suppress(TelegramBadRequest):  # too old to edit: the answer is saved
                await message.edit_reply_markup(reply_markup=marked)


class AgendaDraft(BaseModel):
    meeting_id: int = 0
    member_id: int = 0


async def _agenda_typed(turn: Turn[AgendaDraft], message: Message) -> None:
    """The item goes straight to the meeting: the worker's words never wait in the state."""
    if not message.text:
        await message.answer(_("Please type the agenda item as text."))
        await turn.ask()
        return
    session: AsyncSession = turn.data["session"]
    seat = await members.access_seat(session, turn.data.get("user"), turn.draft.member_id)
    meeting = await session.get(Meeting, turn.draft.meeting_id)
    if meeting is None:
        raise NotFound()
    try:
        await participation.do_add_agenda_item(session, meeting, seat, message.text)
    except InvalidInput as exc:
        await message.answer(exc.translated())
        await turn.ask()
        return
    except DomainError as exc:  # the meeting was cancelled or has begun: nothing to add to
        await turn.end()
        await message.answer(exc.translated(), reply_markup=home_markup())
        return
    await turn.end()
    await message.answer(_("Added to the agenda. Thank you."), reply_markup=home_markup())


AGENDA: Wizard[AgendaDraft] = Wizard(
    "agenda",
    [
        Step(
            name="text",
            prompt=lambda d: _("What should the committee talk about? Type it in one message."),
            on_message=_agenda_typed,
        )
    ],
    draft=AgendaDraft,
    finish=lambda turn: turn.end(),
    cancelled=lambda: _("Nothing was added to the agenda."),
    title="Add to a meeting's agenda",
    sample=AgendaDraft(meeting_id=1, member_id=1),
)


@router.callback_query(Open.filter(F.what == SeatAction.AGENDA))
async def agenda_start(
    query: CallbackQuery, callback_data: Open, state: FSMContext, **data: Any
) -> None:
    session: AsyncSession = data["session"]
    seat = await members.access_seat(session, data.get("user"), callback_data.member_id)
    meeting = await meetings.next_meeting(session, seat.committee_id)
    if meeting is None:
        raise MeetingClosed()
    await query.answer()
    if isinstance(query.message, Message):
        draft = AgendaDraft(meeting_id=meeting.id, member_id=seat.id)
        await AGENDA.start(query.message, state, data, draft)


# --- the committee's action items --------------------------------------------------------------


@router.callback_query(Open.filter(F.what == SeatAction.ACTIONS))
async def actions_list(
    query: CallbackQuery, callback_data: Open, session: AsyncSession, user: User | None
) -> None:
    seat = await members.access_seat(session, user, callback_data.member_id)
    await query.answer()
    if not isinstance(query.message, Message):
        return
    items = await actions.open_actions(session, seat.committee_id)
    if not items:
        await query.message.answer(_("No open actions. Well done!"))
        return
    for action in items:
        mine = action.owner_member_id == seat.id
        await query.message.answer(
            await action_text(session, action),
            reply_markup=done_keyboard(action) if mine else None,
        )


@router.callback_query(Done.filter())
async def action_done(
    query: CallbackQuery, callback_data: Done, session: AsyncSession, user: User | None
) -> None:
    action = await actions.access_own_action(session, user, callback_data.action_id)
    await actions.do_complete_action(session, action)
    await query.answer(_("Marked as done. Thank you."))
    if isinstance(query.message, Message):
        await remove_buttons(query.message)


# --- leaving -----------------------------------------------------------------------------------


@router.callback_query(Open.filter(F.what == SeatAction.LEAVE))
async def leave_ask(
    query: CallbackQuery, callback_data: Open, session: AsyncSession, user: User | None
) -> None:
    seat = await members.access_seat(session, user, callback_data.member_id)
    await query.answer()
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("Yes, leave"), callback_data=Open(member_id=seat.id, what=SeatAction.LEAVE_OK)
    )
    builder.add(home_button())
    if isinstance(query.message, Message):
        await query.message.answer(
            _("Do you want to leave this committee?"), reply_markup=builder.as_markup()
        )


@router.callback_query(Open.filter(F.what == SeatAction.LEAVE_OK))
async def leave_confirmed(
    query: CallbackQuery, callback_data: Open, session: AsyncSession, user: User | None
) -> None:
    seat = await members.access_seat(session, user, callback_data.member_id)
    await members.do_leave(session, seat)
    await query.answer()
    if isinstance(query.message, Message):
        await remove_buttons(query.message)
        await query.message.answer(_("You have left the committee."), reply_markup=home_markup())


router.include_router(AGENDA.router)  # after the handlers above: the wizard's own taps and text
