"""The secretary's work in the bot, on the wizard (``bot.wizard``): the minutes of the last meeting
(typed, or sent as a file) and new action items (what, then who with a tap, then by when: a tap
or a date typed the way the worker's language writes dates, on the factory's calendar)."""

from __future__ import annotations

import html
import logging
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from bot.flows.committees.dates import Due, due_from, example, parse_due
from bot.flows.committees.texts import Open, SeatAction, local_when
from bot.i18n import N_, _, format_date
from bot.storage.committees import CommitteeMember, Meeting
from bot.storage.models import User
from bot.widgets import home_markup
from bot.wizard import Option, Step, Turn, Wizard
from services.clock import local_today
from services.committees import actions, meetings, members, participation
from services.committees.members import ACTION_LIMIT, MeetingStatus, Role, zone
from services.errors import DomainError, NotFound

log = logging.getLogger(__name__)
router = Router(name=__name__)

OWNER_BUTTON_LIMIT = 40  # characters of a member's name on an owner button


async def _secretary_seat(
    session: AsyncSession, user: User | None, member_id: int
) -> CommitteeMember:
    seat = await members.access_seat(session, user, member_id)
    if seat.role != Role.SECRETARY:
        raise NotFound()
    return seat


# --- minutes ---------------------------------------------------------------------------------


class MinutesDraft(BaseModel):
    meeting_id: int = 0
    member_id: int = 0
    starts_at: datetime | None = None  # for the question: which meeting
    tz: str = "UTC"


async def _minutes_sent(turn: Turn[MinutesDraft], message: Message) -> None:
    """Typed minutes or a file (Telegram file id and name, the caption as a note) go straight to
    the meeting: they never wait in the conversation state."""
    document = (
        (message.document.file_id, message.document.file_name or "minutes")
        if message.document
        else None
    )
    text = message.text or message.caption or ""
    if document is None and not message.text:
        await message.answer(_("Please type the minutes as text, or send them as a file."))
        await turn.ask()
        return
    session: AsyncSession = turn.data["session"]
    seat = await members.access_seat(session, turn.data.get("user"), turn.draft.member_id)
    meeting = await session.get(Meeting, turn.draft.meeting_id)
    if meeting is None or meeting.committee_id != seat.committee_id:
        raise NotFound()
    try:
        await participation.do_post_minutes(session, meeting, text, document=document, actor=None)
    except DomainError as exc:  # the meeting was cancelled in the meantime
        await turn.end()
        await message.answer(exc.translated(), reply_markup=home_markup())
        return
    log.info("committee.minutes_posted meeting=%s file=%d", meeting.id, document is not None)
    await turn.end()
    await message.answer(
        _("Thank you. The minutes were sent to all members."), reply_markup=home_markup()
    )


MINUTES: Wizard[MinutesDraft] = Wizard(
    "minutes",
    [
        Step(
            name="minutes",
            prompt=lambda d: _(
                "Type the minutes of the meeting on {when} in one message, or send them as a "
                "file (PDF, photo or document). They will be sent to all members.",
                when=local_when(d.starts_at, d.tz) if d.starts_at else "",
            ),
            on_message=_minutes_sent,
        )
    ],
    draft=MinutesDraft,
    finish=lambda turn: turn.end(),
    cancelled=lambda: _("The minutes were not sent. Nothing was kept."),
    title="Write the minutes (secretary)",
    sample=MinutesDraft(
        meeting_id=1, member_id=1, starts_at=datetime(2027, 1, 5, 7, 0, tzinfo=UTC)
    ),
)


@router.callback_query(Open.filter(F.what == SeatAction.MINUTES))
async def minutes_start(
    query: CallbackQuery, callback_data: Open, state: FSMContext, **data: Any
) -> None:
    session: AsyncSession = data["session"]
    seat = await _secretary_seat(session, data.get("user"), callback_data.member_id)
    await query.answer()
    if not isinstance(query.message, Message):
        return
    held = [
        m
        for m in await meetings.past(session, seat.committee_id, limit=3)
        if m.status != MeetingStatus.CANCELLED
    ]
    if not held:
        await query.message.answer(
            _("There is no past meeting to write minutes for yet."), reply_markup=home_markup()
        )
        return
    meeting = held[0]
    draft = MinutesDraft(
        meeting_id=meeting.id,
        member_id=seat.id,
        starts_at=meeting.starts_at,
        tz=meeting.committee.factory.timezone,
    )
    await MINUTES.start(query.message, state, data, draft)


# --- new action items --------------------------------------------------------------------------


class ActionField(StrEnum):
    TEXT = "text"
    OWNER = "owner"
    DUE = "due"


class ActionDraft(BaseModel):
    member_id: int = 0
    tz: str = "UTC"
    started: date | None = None  # the factory's day when she began: the example date's base
    text: str = ""  # committee business the secretary writes; stored as typed in the action
    people: dict[str, str] = {}  # seat id → name, for the owner buttons
    owner: str = ""
    due: str = ""  # a ``Due`` button or an ISO date typed


class TooLong(DomainError):
    code = "too_long"
    message = N_("Please keep it under {limit} characters.")


async def _action_typed(turn: Turn[ActionDraft], text: str) -> str:
    text = text.strip()
    if not text:
        raise members.InvalidInput()
    if len(text) > ACTION_LIMIT:
        raise TooLong(limit=ACTION_LIMIT)
    return text


def _today(draft: ActionDraft) -> date:
    return local_today(ZoneInfo(draft.tz))  # the factory's calendar, not the server's


async def _due_typed(turn: Turn[ActionDraft], text: str) -> str:
    return parse_due(text, _today(turn.draft)).isoformat()


def _due_on(draft: ActionDraft) -> date:
    if draft.due in set(Due):
        return due_from(Due(draft.due), _today(draft))
    return date.fromisoformat(draft.due)


def _due_options(draft: ActionDraft) -> list[Option]:
    labels = {
        Due.WEEK: _("In 1 week"),
        Due.TWO_WEEKS: _("In 2 weeks"),
        Due.MONTH_END: _("End of this month"),
        Due.MONTH: _("In 1 month"),
    }
    return [Option(choice.value, labels[choice]) for choice in Due]


async def _save_action(turn: Turn[ActionDraft]) -> None:
    session: AsyncSession = turn.data["session"]
    draft = turn.draft
    seat = await _secretary_seat(session, turn.data.get("user"), draft.member_id)
    committee = await members.committee_of(session, seat.committee_id)
    held = await meetings.past(session, committee.id, limit=1)
    due = _due_on(draft)
    action = await actions.do_add_action(
        session,
        committee,
        text=draft.text,
        owner_member_id=int(draft.owner),
        due_on=due.isoformat(),
        meeting_id=held[0].id if held else None,
        actor=None,
    )
    await turn.end()
    owner = await session.get(CommitteeMember, action.owner_member_id)
    log.info("committee.action_added action=%s committee=%s", action.id, committee.id)
    await turn.message.answer(
        _(
            "Saved: {owner} will do it by {day}, and will be reminded the day before.",
            owner=html.escape(owner.display_name if owner else ""),
            day=format_date(due),
        ),
        reply_markup=home_markup(),
    )


NEW_ACTION: Wizard[ActionDraft] = Wizard(
    "action",
    [
        Step(
            name=ActionField.TEXT,
            prompt=lambda d: _("What needs to be done? Type it in one short message."),
            parse=_action_typed,
            next=ActionField.OWNER,
        ),
        Step(
            name=ActionField.OWNER,
            prompt=lambda d: _("Who will do it?"),
            options=lambda d: [
                Option(key, name[:OWNER_BUTTON_LIMIT]) for key, name in d.people.items()
            ],
            per_row=2,
            next=ActionField.DUE,
        ),
        Step(
            name=ActionField.DUE,
            prompt=lambda d: _(
                "By when? Tap one, or type a date like {example}.",
                example=example(due_from(Due.TWO_WEEKS, d.started or _today(d))),
            ),
            options=_due_options,
            per_row=2,
            parse=_due_typed,
        ),
    ],
    draft=ActionDraft,
    finish=_save_action,
    cancelled=lambda: _("The action item was not saved. Nothing was kept."),
    title="Add an action item (secretary)",
    sample=ActionDraft(
        member_id=1,
        started=date(2027, 1, 5),
        text="Fix the fire exit lock",
        people={"1": "Sokha", "2": "Dara"},
        owner="1",
    ),
)


@router.callback_query(Open.filter(F.what == SeatAction.NEW_ACTION))
async def action_start(
    query: CallbackQuery, callback_data: Open, state: FSMContext, **data: Any
) -> None:
    session: AsyncSession = data["session"]
    seat = await _secretary_seat(session, data.get("user"), callback_data.member_id)
    await query.answer()
    if not isinstance(query.message, Message):
        return
    committee = await members.committee_of(session, seat.committee_id)
    people = {
        str(member.id): member.display_name
        for member in await members.members_of(session, seat.committee_id)
    }
    tz = zone(committee)
    draft = ActionDraft(member_id=seat.id, tz=tz.key, started=local_today(tz), people=people)
    await NEW_ACTION.start(query.message, state, data, draft)


router.include_routers(MINUTES.router, NEW_ACTION.router)
