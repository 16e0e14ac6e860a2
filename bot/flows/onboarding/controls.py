"""What a worker can do anywhere: /menu and 🏠 (they end the step she was in), /help, /privacy,
/language, /delete, /stop, "🏭 Link my factory", "🧹 Remove my messages here", and the same as
words in her language (``keywords``)."""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot import chat_trail, wizard
from bot.flows.onboarding.keywords import Keyword, TypedKeyword
from bot.flows.onboarding.setup import LINK, ask_language, show_step
from bot.flows.onboarding.texts import (
    NotOnboarded,
    help_text,
    listen_button,
    privacy_screen,
    with_home,
)
from bot.i18n import _
from bot.storage.models import User
from bot.widgets import (
    MenuAction,
    MenuCallback,
    home_markup,
    remove_buttons,
)
from services import onboarding

log = logging.getLogger(__name__)
router = Router(name=__name__)


class Privacy(StrEnum):
    DELETE = "delete"
    STOP = "stop"
    CLEAN = "clean"


class PrivacyTap(CallbackData, prefix="priv"):
    action: Privacy


class DeleteCallback(CallbackData, prefix="del"):
    confirm: bool


class QuietCallback(CallbackData, prefix="quiet"):
    resume: bool


def _button(label: str, action: Privacy) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(text=label, callback_data=PrivacyTap(action=action).pack())]


def clean_button() -> list[InlineKeyboardButton]:
    return _button(_("🧹 Remove my messages here"), Privacy.CLEAN)


def _onboarded(user: User | None) -> bool:
    return user is not None and user.onboarded


# --- the menu, 🏠 ----------------------------------------------------------------------------


async def menu(message: Message, state: FSMContext, data: dict[str, Any]) -> None:
    """The full menu, after ending whatever the worker was in (its draft and files go, B2.2)."""
    user: User | None = data["user"]
    if _onboarded(user):
        await wizard.leave(state, data)
    await show_step(message, user, state, data)


@router.message(Command("menu"))
async def menu_command(message: Message, state: FSMContext, **data: Any) -> None:
    await menu(message, state, data)


@router.callback_query(MenuCallback.filter(F.action == MenuAction.HOME))
async def home(query: CallbackQuery, state: FSMContext, **data: Any) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await menu(query.message, state, data)


# --- help, privacy, language -----------------------------------------------------------------


async def show_help(message: Message, state: FSMContext, data: dict[str, Any]) -> None:
    user: User | None = data["user"]
    if not _onboarded(user):  # B18: the first step is the help she needs
        await show_step(message, user, state, data)
        return
    assert user is not None
    markup = with_home(listen_button(user.listen), no_factory=user.factory_id is None)
    await message.answer(help_text(), reply_markup=markup)


@router.message(Command("help"))
async def help_command(message: Message, state: FSMContext, **data: Any) -> None:
    await show_help(message, state, data)


@router.callback_query(MenuCallback.filter(F.action == MenuAction.HELP))
async def help_menu(query: CallbackQuery, state: FSMContext, **data: Any) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await show_help(query.message, state, data)


async def show_privacy(message: Message, state: FSMContext, data: dict[str, Any]) -> None:
    user: User | None = data["user"]
    if not _onboarded(user):
        await show_step(message, user, state, data)
        return
    assert user is not None
    markup = with_home(
        _button(_("🗑 Delete my data"), Privacy.DELETE),
        _button(_("🔕 Stop news"), Privacy.STOP),
        clean_button(),
        no_factory=user.factory_id is None,
    )
    await message.answer(privacy_screen(), reply_markup=markup)


@router.message(Command("privacy"))
async def privacy_command(message: Message, state: FSMContext, **data: Any) -> None:
    await show_privacy(message, state, data)


@router.callback_query(MenuCallback.filter(F.action == MenuAction.PRIVACY))
async def privacy_menu(query: CallbackQuery, state: FSMContext, **data: Any) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await show_privacy(query.message, state, data)


@router.message(Command("language"))
async def language_command(message: Message, **data: Any) -> None:
    await ask_language(message, data)


@router.callback_query(MenuCallback.filter(F.action == MenuAction.LANGUAGE))
async def language_menu(query: CallbackQuery, **data: Any) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await ask_language(query.message, data)


# --- 🏭 Link my factory (B1) ----------------------------------------------------------------


@router.callback_query(MenuCallback.filter(F.action == MenuAction.LINK_FACTORY), ~NotOnboarded())
async def link_factory(query: CallbackQuery, state: FSMContext, **data: Any) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await remove_buttons(query.message)
        await LINK.start(query.message, state, data)


# --- delete, remove messages, stop ---------------------------------------------------------


async def ask_delete(message: Message, state: FSMContext, data: dict[str, Any]) -> None:
    user: User | None = data["user"]
    if not _onboarded(user):
        # B18: before consent we keep nothing worth a confirmation; the language chosen goes too.
        if user is not None:
            await onboarding.do_delete_user(data["session"], user)
        await state.clear()
        await message.answer(
            _("There is nothing to delete: we keep nothing about you until you agree.")
        )
        await show_step(message, None, state, data)
        return
    await message.answer(
        _(
            "<b>Delete your data?</b>\n"
            "This removes your profile, your language, your factory link and anything waiting "
            "to be sent to you.\n"
            "• Survey answers you gave stay, because they were anonymous and cannot be linked to you.\n"
            "• Reports you made stay open and you can still follow them with your receipt number."
        ),
        reply_markup=with_home(
            [
                InlineKeyboardButton(
                    text=_("🗑 Yes, delete my data"),
                    callback_data=DeleteCallback(confirm=True).pack(),
                )
            ],
            [
                InlineKeyboardButton(
                    text=_("Keep my data"), callback_data=DeleteCallback(confirm=False).pack()
                )
            ],
        ),
    )


@router.message(Command("delete"))
async def delete_command(message: Message, state: FSMContext, **data: Any) -> None:
    await ask_delete(message, state, data)


@router.callback_query(DeleteCallback.filter())
async def delete_confirmed(
    query: CallbackQuery, callback_data: DeleteCallback, state: FSMContext, **data: Any
) -> None:
    await query.answer()
    if not isinstance(query.message, Message):
        return
    await remove_buttons(query.message)
    user: User | None = data["user"]
    if not callback_data.confirm:
        await query.message.answer(_("Nothing was deleted."), reply_markup=home_markup())
        return
    await wizard.leave(state, data)
    if user is not None:
        await onboarding.do_delete_user(data["session"], user)
        log.info("user.deleted_own_data")
    await state.clear()
    await query.message.answer(
        _(
            "Your data has been deleted. To remove the messages of this chat too, tap 🧹 below. "
            "Send /start to begin again."
        ),
        # No menu for someone who is gone; what the chat still shows can go too (B3).
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[clean_button()]),
    )


async def stop(message: Message, data: dict[str, Any]) -> None:
    await onboarding.do_stop_optional_messages(data["session"], data["user"])
    await message.answer(
        _(
            "You will get no more news or survey invitations. Answers about your reports and "
            "reminders for your committee still reach you."
        ),
        reply_markup=with_home(
            [
                InlineKeyboardButton(
                    text=_("Turn them back on"), callback_data=QuietCallback(resume=True).pack()
                )
            ]
        ),
    )


@router.message(Command("stop"), ~NotOnboarded())
async def stop_command(message: Message, **data: Any) -> None:
    await stop(message, data)


@router.callback_query(QuietCallback.filter(), ~NotOnboarded())
async def resume_messages(query: CallbackQuery, session: AsyncSession, user: User) -> None:
    await onboarding.do_resume_optional_messages(session, user)
    await query.answer()
    if isinstance(query.message, Message):
        await remove_buttons(query.message)
        await query.message.answer(
            _("News and survey invitations are on again."), reply_markup=home_markup()
        )


@router.callback_query(PrivacyTap.filter())
async def privacy_tapped(
    query: CallbackQuery, callback_data: PrivacyTap, bot: Bot, state: FSMContext, **data: Any
) -> None:
    await query.answer()
    if not isinstance(query.message, Message):
        return
    message = query.message
    if callback_data.action is Privacy.CLEAN:  # also for someone who just deleted their data
        await chat_trail.delete_all(bot, message.chat.id)
        markup = home_markup() if _onboarded(data["user"]) else None
        await message.answer(_("🧹 Done."), reply_markup=markup)
        return
    if not _onboarded(data["user"]):
        await show_step(message, data["user"], state, data)
    elif callback_data.action is Privacy.DELETE:
        await ask_delete(message, state, data)
    else:
        await stop(message, data)


# --- the same, as words (B12) ----------------------------------------------------------------


@router.message(TypedKeyword())
async def keyword_typed(message: Message, keyword: Keyword, state: FSMContext, **data: Any) -> None:
    if keyword is Keyword.HELP:
        await show_help(message, state, data)
    elif keyword is Keyword.MENU:
        await menu(message, state, data)
    elif keyword is Keyword.DELETE:
        await ask_delete(message, state, data)
    elif not _onboarded(data["user"]):
        await show_step(message, data["user"], state, data)
    elif keyword is Keyword.STOP:
        await stop(message, data)
    else:
        await wizard.cancel_command(message, state, **data)
