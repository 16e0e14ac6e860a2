"""Joining a committee: the invitation link or a typed code, the name the committee knows the
worker by, and the chair's decision on the request. A wizard (``bot.wizard``): a wrong code keeps
the worker on the code step, and Back, Cancel and /cancel work on both steps."""

from __future__ import annotations

import html
from enum import StrEnum
from typing import Any

from aiogram import Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from bot import deeplinks
from bot.flows.committees.texts import Decide
from bot.i18n import _, current_locale
from bot.storage.committees import CommitteeMember
from bot.storage.models import User
from bot.widgets import home_markup, link_factory_markup, remove_buttons
from bot.wizard import Step, Turn, Wizard
from services.committees import members
from services.committees.members import SEAT_NAME_LIMIT, NoFactory
from services.committees.names import committee_name
from services.errors import DomainError, NotFound

router = Router(name=__name__)


class JoinStep(StrEnum):
    CODE = "code"
    NAME = "name"


class JoinDraft(BaseModel):
    code: str = ""
    committee: str = ""  # its name, for the name step's question
    name: str = ""


async def _check(turn: Turn[JoinDraft], code: str) -> str:
    """The code, once it names an open invitation of the worker's factory; a DomainError says
    what is wrong and the worker stays on the code step."""
    _invite, committee = await members.check_join(turn.data["session"], turn.data["user"], code)
    turn.draft.committee = committee_name(committee, current_locale())
    return code


async def _code_typed(turn: Turn[JoinDraft], text: str) -> str:
    return await _check(turn, text.strip())


async def _name_typed(turn: Turn[JoinDraft], text: str) -> str:
    return text.strip()[:SEAT_NAME_LIMIT]


async def _request(turn: Turn[JoinDraft]) -> None:
    # No log line naming the seat or the worker: the service logs the request for the committee.
    await members.do_request_join(
        turn.data["session"], turn.data["user"], turn.draft.code, display_name=turn.draft.name
    )
    await turn.end()
    await turn.message.answer(
        _("Thank you. The committee chair will confirm you soon. We will tell you here."),
        reply_markup=home_markup(),
    )


JOIN: Wizard[JoinDraft] = Wizard(
    "join",
    [
        Step(
            name=JoinStep.CODE,
            prompt=lambda d: _(
                "You are not on a committee yet. If you have an invitation code, type it here."
            ),
            parse=_code_typed,
            next=JoinStep.NAME,
        ),
        Step(
            name=JoinStep.NAME,
            prompt=lambda d: _(
                "You are invited to join <b>{committee}</b>. "
                "Please type your name as the committee knows you.",
                committee=html.escape(d.committee),
            ),
            parse=_name_typed,
        ),
    ],
    draft=JoinDraft,
    finish=_request,
    cancelled=lambda: _("You did not join the committee. Nothing was kept."),
    title="Join a committee",
    sample=JoinDraft(code="K7M2Q9XA", committee="PICC"),
)
router.include_router(JOIN.router)


async def start_join(message: Message, state: FSMContext, data: dict[str, Any]) -> None:
    """Ask for the invitation code (the committee menu of a worker on no committee)."""
    await JOIN.start(message, state, data)


async def open_invitation(
    message: Message, state: FSMContext, data: dict[str, Any], code: str
) -> None:
    """An invitation link: straight to the name step when the code is good."""
    if data.get("user") is None:
        return
    code = code.strip()
    try:
        _invite, committee = await members.check_join(data["session"], data["user"], code)
    except NoFactory as exc:  # link it now, then the link again (B1)
        await message.answer(exc.translated(), reply_markup=link_factory_markup())
        return
    except DomainError as exc:
        await message.answer(exc.translated(), reply_markup=home_markup())
        return
    draft = JoinDraft(code=code, committee=committee_name(committee, current_locale()))
    await JOIN.start(message, state, data, draft, at=JoinStep.NAME)


deeplinks.register(deeplinks.LinkKind.COMMITTEE, open_invitation)


@router.callback_query(Decide.filter())
async def chair_decides(
    query: CallbackQuery, callback_data: Decide, session: AsyncSession, user: User | None
) -> None:
    member = await session.get(CommitteeMember, callback_data.member_id)
    if member is None:
        raise NotFound()
    await members.check_chair(session, user, member.committee_id)
    await members.do_approve_member(session, member, approve=callback_data.approve, actor=None)
    await query.answer(_("Saved."))
    if isinstance(query.message, Message):
        await remove_buttons(query.message)
