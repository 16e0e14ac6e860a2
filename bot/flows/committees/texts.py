"""What the committee screens are made of: the callback data, the texts (a meeting, an action
item, a time on the factory's clock) and the keyboards shared by the handlers and the renderers."""

from __future__ import annotations

import html
from datetime import datetime
from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import _, bidi, format_date, format_time
from bot.storage.committees import ActionItem, Committee, CommitteeMember, Meeting
from services.committees import participation
from services.committees.members import Rsvp


class SeatAction(StrEnum):
    """What a member opens from a seat's buttons."""

    AGENDA = "agenda"
    ACTIONS = "actions"
    LEAVE = "leave"
    LEAVE_OK = "leave_ok"
    MINUTES = "minutes"
    NEW_ACTION = "new_action"


class ActionStep(StrEnum):
    OWNER = "owner"
    DUE = "due"


class Answer(CallbackData, prefix="cr"):
    """An RSVP: ``answer`` is yes / no / maybe."""

    meeting_id: int
    answer: Rsvp


class Open(CallbackData, prefix="co"):
    """Something about one seat."""

    member_id: int
    what: SeatAction


class Done(CallbackData, prefix="cd"):
    action_id: int


class ActionPick(CallbackData, prefix="ca"):
    """A step of a new action item: the owner (``value`` a member id) or due (days ahead)."""

    member_id: int
    step: ActionStep
    value: int


class Decide(CallbackData, prefix="cj"):
    """The chair approves or refuses a request to join."""

    member_id: int
    approve: bool


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


# Two answers to a row at most: three to a row cut "❌ I cannot come" on a 360 dp phone (B11).
RSVP_ROWS = (2, 1, 1)  # ✅ and ❌, then 🤔, then "add to the agenda"


def add_rsvp_buttons(builder: InlineKeyboardBuilder, meeting: Meeting, member_id: int) -> None:
    """The answers to a meeting and "add to the agenda": one row layout, ``RSVP_ROWS``."""
    for answer in Rsvp:
        builder.button(
            text=rsvp_label(answer), callback_data=Answer(meeting_id=meeting.id, answer=answer)
        )
    builder.button(
        text=_("📝 Add to the agenda"),
        callback_data=Open(member_id=member_id, what=SeatAction.AGENDA),
    )


def rsvp_keyboard(meeting: Meeting, member: CommitteeMember) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    add_rsvp_buttons(builder, meeting, member.id)
    builder.adjust(*RSVP_ROWS)
    return builder.as_markup()


async def meeting_text(session: AsyncSession, meeting: Meeting) -> str:
    committee = meeting.committee
    lines = [
        f"<b>{html.escape(committee.name)}</b>",
        _("Meeting: {when}", when=when_text(meeting.starts_at, committee)),
    ]
    if meeting.location:
        lines.append(_("Place: {place}", place=html.escape(meeting.location)))
    agenda = await participation.agenda_of(session, meeting.id)
    if agenda:
        lines.append("")
        lines.append(_("<b>Agenda so far:</b>"))
        lines.extend(f"• {html.escape(item.text)}" for item in agenda)
    return "\n".join(lines)


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
