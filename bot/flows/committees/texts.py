"""What the committee screens are made of: the callback data, the texts (a meeting, an action
item, a time on the factory's clock) and the keyboards shared by the handlers and the renderers."""

from __future__ import annotations

import html
from datetime import date, datetime
from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import _, bidi, current_locale, format_date, format_datetime
from bot.storage.committees import ActionItem, Committee, CommitteeMember, Meeting
from services.committees import participation
from services.committees.members import Rsvp
from services.committees.names import committee_name, meeting_place


class SeatAction(StrEnum):
    """What a member opens from a seat's buttons."""

    AGENDA = "agenda"
    ACTIONS = "actions"
    LEAVE = "leave"
    LEAVE_OK = "leave_ok"
    MINUTES = "minutes"
    NEW_ACTION = "new_action"


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


class Decide(CallbackData, prefix="cj"):
    """The chair approves or refuses a request to join."""

    member_id: int
    approve: bool


def name_text(committee: Committee) -> str:
    """The committee's name in the reader's language (B13), escaped for HTML."""
    return html.escape(committee_name(committee, current_locale()))


def when_text(moment: datetime, committee: Committee) -> str:
    """Date and time in the reader's language, on the factory's clock."""
    return local_when(moment, committee.factory.timezone)


def local_when(moment: datetime, tz: str) -> str:
    """The full date and the short time, joined by the language's own datetime pattern: a fixed
    ", " put a Latin comma into Arabic and Burmese dates (B14)."""
    return bidi(format_datetime(moment, tz=tz, format="full", time_format="short"))


CHOSEN = " ✓"  # after the answer a member gave: the reminder shows it instead of a new message


def rsvp_label(answer: str, *, chosen: bool = False) -> str:
    label = {
        # Translators: gendered: the member speaks of herself or himself (hi, ur: आऊँगी/आऊँगा).
        Rsvp.YES: _("✅ I will come"),
        # Translators: gendered: the member speaks of herself or himself (hi, ur).
        Rsvp.NO: _("❌ I cannot come"),
        Rsvp.MAYBE: _("🤔 Maybe"),
    }[Rsvp(answer)]
    return label + CHOSEN if chosen else label


# One answer a row, then "add to the agenda": three to a row cut "❌ I cannot come" even in
# English on a 360 dp phone (B11).
RSVP_ROWS = (1, 1, 1, 1)


def add_rsvp_buttons(
    builder: InlineKeyboardBuilder, meeting: Meeting, member_id: int, chosen: str | None = None
) -> None:
    """The answers to a meeting (the member's own marked) and "add to the agenda"; ``RSVP_ROWS``."""
    for answer in Rsvp:
        builder.button(
            text=rsvp_label(answer, chosen=answer == chosen),
            callback_data=Answer(meeting_id=meeting.id, answer=answer),
        )
    builder.button(
        text=_("📝 Add to the agenda"),
        callback_data=Open(member_id=member_id, what=SeatAction.AGENDA),
    )


def rsvp_keyboard(
    meeting: Meeting, member: CommitteeMember, chosen: str | None = None
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    add_rsvp_buttons(builder, meeting, member.id, chosen)
    builder.adjust(*RSVP_ROWS)
    return builder.as_markup()


def mark_rsvp(markup: InlineKeyboardMarkup, meeting_id: int, chosen: str) -> InlineKeyboardMarkup:
    """The same buttons with ``chosen`` marked: a tap edits the message it was on (B16)."""

    def relabel(button: InlineKeyboardButton) -> InlineKeyboardButton:
        try:
            tap = Answer.unpack(button.callback_data or "")
        except (TypeError, ValueError):
            return button
        if tap.meeting_id != meeting_id:
            return button
        return button.model_copy(
            update={"text": rsvp_label(tap.answer, chosen=tap.answer == chosen)}
        )

    return InlineKeyboardMarkup(
        inline_keyboard=[[relabel(b) for b in row] for row in markup.inline_keyboard]
    )


async def meeting_text(session: AsyncSession, meeting: Meeting) -> str:
    committee = meeting.committee
    lines = [
        f"<b>{name_text(committee)}</b>",
        _("Meeting: {when}", when=when_text(meeting.starts_at, committee)),
    ]
    place = meeting_place(meeting, current_locale())
    if place:
        lines.append(_("Place: {place}", place=html.escape(place)))
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
    due = format_date(date.fromisoformat(action.due_on))
    lines = [f"📌 {html.escape(action.text)}", _("Due: {day}", day=bidi(due))]
    if owner is not None:
        lines.append(_("Who: {name}", name=html.escape(owner.display_name)))
    return "\n".join(lines)


def done_keyboard(action: ActionItem) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ Mark as done"), callback_data=Done(action_id=action.id))
    return builder.as_markup()
