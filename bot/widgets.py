"""Pieces every flow shares: the main menu, navigation callbacks and safe long messages.

Flows never import each other; what they have in common lives here (import-linter checks it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from aiogram.exceptions import TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.i18n import _
from workvoice.capabilities import MENU
from workvoice.capabilities import MenuAction as MenuAction  # the flows import it from here

TELEGRAM_TEXT_LIMIT = 4096


class MenuCallback(CallbackData, prefix="m"):
    """A main-menu tap. Each flow handles its own action: ``MenuCallback.filter(F.action == ...)``."""

    action: MenuAction


def menu_label(action: MenuAction) -> str:
    labels = {
        MenuAction.SURVEYS: _("📋 Surveys"),
        MenuAction.REPORT: _("📣 Report a problem"),
        MenuAction.MY_REPORTS: _("🔎 Follow up a report"),
        MenuAction.COMMITTEE: _("👥 Committee"),
        MenuAction.NEWS: _("📰 News"),  # short: two buttons share a row (B11)
        MenuAction.LANGUAGE: _("🌐 Language"),
        MenuAction.HELP: _("❓ Help"),
        MenuAction.PRIVACY: _("🔒 Privacy"),
        MenuAction.HOME: _("🏠 Main menu"),
        MenuAction.HELP_NOW: _("🆘 Help now"),
        MenuAction.LINK_FACTORY: _("🏭 Link my factory"),
    }
    return labels[action]


def menu_labels(actions: Sequence[MenuAction] = MENU) -> list[tuple[MenuAction, str]]:
    """The main menu: the capabilities' actions in manifest order (``workvoice.capabilities``)."""
    return [(action, menu_label(action)) for action in actions]


def main_menu_keyboard(actions: Sequence[MenuAction] = MENU) -> InlineKeyboardMarkup:
    """Two buttons a row. Built directly: aiogram's builder deep-copies every button on export,
    a quarter of the CPU time of an update that shows the menu (benchmarks.inbound profile)."""
    buttons = [
        InlineKeyboardButton(text=label, callback_data=MenuCallback(action=action).pack())
        for action, label in menu_labels(actions)
    ]
    return InlineKeyboardMarkup(
        inline_keyboard=[buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    )


def main_menu_text() -> str:
    return _("What would you like to do?")


def home_button() -> InlineKeyboardButton:
    return action_button(MenuAction.HOME)


def action_button(action: MenuAction) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=menu_label(action), callback_data=MenuCallback(action=action).pack()
    )


def home_markup() -> InlineKeyboardMarkup:
    """Just 🏠 under a reply that ends something (saved, sent, an error): the full menu is for
    /menu and 🏠, so the chat does not fill up with walls of the same eight buttons."""
    return InlineKeyboardMarkup(inline_keyboard=[[home_button()]])


def link_factory_markup() -> InlineKeyboardMarkup:
    """Where a step needs the worker's factory and none is linked: link it now, or go home."""
    return InlineKeyboardMarkup(
        inline_keyboard=[[action_button(MenuAction.LINK_FACTORY)], [home_button()]]
    )


async def remove_buttons(message: Message) -> None:
    """Take the buttons off a message once used, so an old tap cannot repeat an answer."""
    if message.reply_markup is None:
        return
    # Too old to edit, already edited or deleted: then there is nothing to take off.
    with contextlib.suppress(TelegramBadRequest):
        await message.edit_reply_markup(reply_markup=None)


def split_text(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """Split long text at paragraph, line or word breaks so each part fits one Telegram message."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = max(
            rest.rfind("\n\n", 0, limit), rest.rfind("\n", 0, limit), rest.rfind(" ", 0, limit)
        )
        if cut <= limit // 2:
            cut = limit
        # Never cut an escaped character (&amp;) in two: Telegram refuses the half entity.
        amp = rest.rfind("&", cut - 10, cut)
        if amp > 0 and ";" not in rest[amp:cut]:
            cut = amp
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not parts:
        parts.append(rest)
    return parts
