"""Following a report up: by its receipt number, or, for a reporter who chose it, from this chat;
reading the handler's messages, answering them, and the check-ins after closure.

A receipt-only reporter's case id is never kept under her Telegram id. After she types the receipt
the state holds only a box sealed to the report public key naming the case (the bot cannot open
it); her message is stored sealed together with that box, and the console attaches it.
"""

from __future__ import annotations

import asyncio
import html
import secrets
from datetime import timedelta
from enum import StrEnum
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.flows.reports.intake import leave
from bot.flows.reports.labels import status_label
from bot.i18n import _
from bot.storage.models import User
from bot.storage.reports import Case
from bot.widgets import MenuAction, MenuCallback, main_menu_keyboard, remove_buttons, split_text
from services.clock import utcnow
from services.errors import DomainError
from services.reports import receipts
from services.reports.conversation import (
    access_own_case,
    do_queue_reporter_message,
    messages_for_reporter,
    my_recent_cases,
    reporter_key,
    seal_case_ref,
)
from services.reports.crypto import keyring
from services.reports.protocol import State as CaseState
from services.reports.submission import do_reopen_as_retaliation
from workvoice.kernel.settings import Settings

router = Router(name=__name__)
# How long after typing her receipt a reporter may write to the handler without typing it again.
REPLY_WINDOW = timedelta(minutes=30)
MY_REPORTS_SHOWN = 10  # buttons for the chat's own reports, newest first
CONVERSATION_SHOWN = 10  # the latest messages of a case shown to its reporter


class FollowUp(StatesGroup):
    receipt = State()
    reply = State()


class CaseActionKind(StrEnum):
    OPEN = "open"
    REPLY = "reply"
    CHECKIN = "checkin"


class CaseAction(CallbackData, prefix="rc"):
    action: CaseActionKind
    ref: str  # the case's random reference (open, checkin) or this reply's nonce; never the id
    value: str = ""


@router.message(Command("follow"))
async def follow_command(
    message: Message, state: FSMContext, session: AsyncSession, user: User | None
) -> None:
    await show_my_reports(message, state, session, user)


@router.callback_query(MenuCallback.filter(F.action == MenuAction.MY_REPORTS))
async def follow_menu(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, user: User | None
) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await show_my_reports(query.message, state, session, user)


async def show_my_reports(
    message: Message, state: FSMContext, session: AsyncSession, user: User | None
) -> None:
    mine = await my_recent_cases(session, user.id, limit=MY_REPORTS_SHOWN) if user else []
    builder = InlineKeyboardBuilder()
    for case in mine:
        builder.button(
            text=_("Report {number}: {status}", number=case.reference, status=status_label(case)),
            callback_data=CaseAction(action=CaseActionKind.OPEN, ref=case.reference),
        )
    builder.adjust(1)
    await leave(state, session)  # an unsent draft or a case open before is forgotten
    await state.set_state(FollowUp.receipt)
    await message.answer(
        _("Type your 16-digit receipt number to see your report."),
        reply_markup=builder.as_markup() if mine else None,
    )


@router.message(StateFilter(FollowUp.receipt), F.text, ~F.text.startswith("/"))
async def receipt_typed(
    message: Message, state: FSMContext, session: AsyncSession, settings: Settings
) -> None:
    try:
        case = await receipts.access_case_by_receipt(
            session,
            message.text or "",
            secret_key=settings.effective_secret_key,
            chat_ref=str(message.chat.id),
        )
    except DomainError as exc:
        await message.answer(exc.translated())
        return
    if case is None:
        await session.commit()  # count the wrong guess even though nothing was found
        await asyncio.sleep(receipts.GUESS_DELAY_SECONDS)
        await message.answer(receipts.ReceiptNotFound().translated())
        return
    digits = receipts.normalise(message.text or "")
    assert digits is not None
    # Handler messages open with the key from the receipt, now, and the key is then forgotten.
    key = await reporter_key(case, digits)
    await show_case(
        message,
        state,
        case,
        settings,
        messages_for_reporter(case, settings.effective_secret_key, key),
    )


@router.callback_query(CaseAction.filter(F.action == CaseActionKind.OPEN))
async def open_own_case(
    query: CallbackQuery,
    callback_data: CaseAction,
    state: FSMContext,
    session: AsyncSession,
    user: User | None,
    settings: Settings,
) -> None:
    case = await _own_case(session, user, callback_data.ref)
    if case is None or not isinstance(query.message, Message):
        await query.answer(_("This button is no longer active."))
        return
    await query.answer()
    await show_case(
        query.message,
        state,
        case,
        settings,
        messages_for_reporter(case, settings.effective_secret_key),
    )


async def _own_case(session: AsyncSession, user: User | None, reference: str) -> Case | None:
    """A case this chat may open without a receipt: only one its reporter chose to follow here."""
    return None if user is None else await access_own_case(session, user.id, reference)


async def show_case(
    message: Message,
    state: FSMContext,
    case: Case,
    settings: Settings,
    conversation: list[tuple[Any, str | None, bool]],
) -> None:
    lines = [
        _("<b>Report {number}</b>: {status}", number=case.reference, status=status_label(case))
    ]
    for at, text, from_handler in conversation[-CONVERSATION_SHOWN:]:
        if text is None:
            if not from_handler:  # her own words: only the case handler can open them
                lines.append(_("<b>You</b> wrote on {date}.", date=at.strftime("%Y-%m-%d")))
            continue
        who = _("Case handler") if from_handler else _("You")
        lines.append(f"<b>{who}:</b> {html.escape(text)}")
    if not conversation:
        lines.append(_("No messages yet."))
    builder = InlineKeyboardBuilder()
    await state.clear()
    if case.state != CaseState.CLOSED:
        # Only a box the bot cannot open names the case; the button carries a random nonce.
        nonce = secrets.token_hex(6)
        await state.set_data(
            {
                "reply_to": seal_case_ref(case, keyring(settings)),
                "reply_nonce": nonce,
                "reply_until": (utcnow() + REPLY_WINDOW).isoformat(),
            }
        )
        builder.button(
            text=_("✍️ Write to the case handler"),
            callback_data=CaseAction(action=CaseActionKind.REPLY, ref=nonce),
        )
    builder.button(text=_("🏠 Main menu"), callback_data=MenuCallback(action=MenuAction.HOME))
    builder.adjust(1)
    parts = split_text("\n".join(lines))  # each line is whole HTML, so splitting at lines is safe
    for part in parts[:-1]:
        await message.answer(part)
    await message.answer(parts[-1], reply_markup=builder.as_markup())


def _reply_open(data: dict[str, Any]) -> bool:
    until = data.get("reply_until")
    return bool(data.get("reply_to")) and until is not None and utcnow().isoformat() < until


@router.callback_query(CaseAction.filter(F.action == CaseActionKind.REPLY))
async def reply_start(query: CallbackQuery, callback_data: CaseAction, state: FSMContext) -> None:
    data = await state.get_data()
    if not isinstance(query.message, Message):
        await query.answer()
        return
    if data.get("reply_nonce") != callback_data.ref or not _reply_open(data):
        # Replying needs the receipt (or this chat's link) checked a short while ago.
        await query.answer()
        await state.clear()
        await query.message.answer(
            _("For your safety, please open your report again before writing."),
            reply_markup=main_menu_keyboard(),
        )
        return
    await query.answer()
    await state.set_state(FollowUp.reply)
    await query.message.answer(_("Write your message to the case handler."))


@router.message(StateFilter(FollowUp.reply), F.text, ~F.text.startswith("/"))
async def reply_written(
    message: Message, state: FSMContext, session: AsyncSession, settings: Settings
) -> None:
    data = await state.get_data()
    if not _reply_open(data):
        await state.clear()
        await message.answer(
            _("For your safety, please open your report again before writing."),
            reply_markup=main_menu_keyboard(),
        )
        return
    await do_queue_reporter_message(
        session, data["reply_to"], message.text or "", keys=keyring(settings)
    )
    await state.clear()
    await message.answer(
        _("Your message was sent to the case handler."), reply_markup=main_menu_keyboard()
    )


@router.callback_query(CaseAction.filter(F.action == CaseActionKind.CHECKIN))
async def checkin_answered(
    query: CallbackQuery,
    callback_data: CaseAction,
    session: AsyncSession,
    user: User | None,
    settings: Settings,
) -> None:
    await query.answer()
    case = await _own_case(session, user, callback_data.ref)
    if case is None or not isinstance(query.message, Message):
        return
    await remove_buttons(query.message)
    if callback_data.value == "retaliation":
        await do_reopen_as_retaliation(session, case, keys=keyring(settings))
        await query.message.answer(
            _("We are sorry. We opened a new case about this and will contact you here.")
        )
        return
    await query.message.answer(_("Thank you for telling us."))
