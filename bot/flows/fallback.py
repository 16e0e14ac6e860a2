"""The catch-all, included last: unknown commands, unexpected message types, stale buttons, blocks.

Whatever no flow took gets a short translated hint and just 🏠 (the full menu is for /menu and 🏠,
review B15); nothing is logged with the worker's text.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatMemberStatus
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import _
from bot.storage.models import User
from bot.widgets import home_markup, main_menu_keyboard, main_menu_text
from services.onboarding import do_mark_blocked

router = Router(name=__name__)


@router.my_chat_member(F.chat.type == "private")
async def membership_changed(
    event: ChatMemberUpdated, session: AsyncSession, user: User | None
) -> None:
    if user is not None and event.new_chat_member.status == ChatMemberStatus.KICKED:
        await do_mark_blocked(session, user.id)


@router.message(F.text.startswith("/"))
async def unknown_command(message: Message) -> None:
    await message.answer(
        _("I don't know that command. Choose from the menu below, or send /help."),
        reply_markup=home_markup(),
    )


@router.message(F.text)
async def unexpected_text(message: Message) -> None:
    await message.answer(
        _("I did not understand that. Please use the buttons below."),
        reply_markup=home_markup(),
    )


@router.message()
async def unsupported_message(message: Message) -> None:
    # Stickers, voice, photos, locations... where no flow is waiting for one.
    await message.answer(
        _("I can't use this kind of message here. Please use the buttons below."),
        reply_markup=home_markup(),
    )


@router.callback_query()
async def stale_button(query: CallbackQuery) -> None:
    # A button from an old message, or data that was never ours: say so and show the menu again.
    await query.answer(_("This button is no longer active."))
    if query.message is not None:
        await query.message.answer(main_menu_text(), reply_markup=main_menu_keyboard())
