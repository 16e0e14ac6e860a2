"""Joining a committee: the invitation link or a typed code, the name the committee knows the
worker by, and the chair's decision on the request."""

from __future__ import annotations

import html

from aiogram import F, Router
from aiogram.filters import CommandObject, CommandStart, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.flows.committees.texts import Decide
from bot.i18n import _
from bot.storage.committees import CommitteeMember
from bot.storage.models import User
from bot.widgets import main_menu_keyboard, remove_buttons
from services.committees import members
from services.committees.members import SEAT_NAME_LIMIT
from services.errors import DomainError, NotFound

router = Router(name=__name__)

INVITE_PAYLOAD = "c_"


class Join(StatesGroup):
    code = State()
    name = State()


@router.message(CommandStart(deep_link=True, magic=F.args.startswith(INVITE_PAYLOAD)))
async def invite_link(
    message: Message,
    command: CommandObject,
    state: FSMContext,
    session: AsyncSession,
    user: User | None,
) -> None:
    # Onboarding takes the link first for workers who have not finished; it sends them back here.
    code = (command.args or "").strip().removeprefix(INVITE_PAYLOAD)
    await check_code(message, state, session, user, code)


async def check_code(
    message: Message, state: FSMContext, session: AsyncSession, user: User | None, code: str
) -> None:
    if user is None:
        return
    try:
        _invite, committee = await members.check_join(session, user, code)
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
    await members.do_request_join(
        session, user, data.get("code", ""), display_name=(message.text or "")[:SEAT_NAME_LIMIT]
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
    await members.check_chair(session, user, member.committee_id)
    await members.do_approve_member(session, member, approve=callback_data.approve, actor=None)
    await query.answer(_("Saved."))
    if isinstance(query.message, Message):
        await remove_buttons(query.message)
