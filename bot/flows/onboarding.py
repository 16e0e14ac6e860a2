"""Onboarding: /start, /menu and /help. (Language picker, consent and factory: issue #4.)"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandStart
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import _
from bot.widgets import MenuAction, MenuCallback, main_menu_keyboard, main_menu_text
from services.onboarding import do_register

router = Router(name=__name__)


@router.message(CommandStart())
async def start(message: Message, session: AsyncSession, locale: str) -> None:
    assert message.from_user is not None
    await do_register(session, message.from_user.id, locale=locale)
    await message.answer(_("Welcome to workvoice. Your voice is safe here."))
    await message.answer(main_menu_text(), reply_markup=main_menu_keyboard())


@router.message(Command("menu"))
async def menu(message: Message) -> None:
    await message.answer(main_menu_text(), reply_markup=main_menu_keyboard())


@router.callback_query(MenuCallback.filter(F.action == MenuAction.HOME))
async def home(query: CallbackQuery) -> None:
    await query.answer()
    if query.message is not None:
        await query.message.answer(main_menu_text(), reply_markup=main_menu_keyboard())
