"""What onboarding says and shows: the language picker, the privacy notice, help, the command list,
and the filter that tells a worker who has not finished the first steps."""

from __future__ import annotations

from aiogram.filters import BaseFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.types import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, TelegramObject
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import _
from bot.i18n.languages import LANGUAGES
from bot.storage.models import User
from bot.widgets import MenuAction, action_button, home_button


class LanguageCallback(CallbackData, prefix="lang"):
    code: str


class ConsentCallback(CallbackData, prefix="ok"):
    agree: bool


class ListenChoice(CallbackData, prefix="hear"):
    """ "🔊 Listen" on (or off): screens that have a recording come as voice messages too."""

    on: bool


class NotOnboarded(BaseFilter):
    """Matches a worker who has not yet chosen a language and agreed to the notice."""

    async def __call__(self, event: TelegramObject, user: User | None = None) -> bool:
        return user is None or not user.onboarded


def language_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for lang in LANGUAGES.values():
        builder.button(text=lang.native_name, callback_data=LanguageCallback(code=lang.code))
    builder.adjust(2)
    return builder.as_markup()


def language_prompt() -> str:
    return _("Choose your language:")


def privacy_notice() -> str:
    return _(
        "<b>Before we start: your privacy</b>\n\n"
        "• We keep your language, your factory and, only if you choose, your gender and age.\n"
        "• Survey answers are anonymous: nobody can see who gave them, and small groups are never shown.\n"
        "• Reports are kept locked: only the case handler can read them. "
        "You get a receipt number to follow them up without giving your name.\n"
        "• Your name and phone number are never shown to your employer.\n"
        "• Send /delete at any time to remove your data.\n\n"
        "Others may see your phone: you can clear this chat at any time."
    )


def privacy_screen() -> str:
    """The notice again, from the menu or /privacy, with what a shared phone can do about it."""
    return (
        privacy_notice()
        + "\n\n"
        + _(
            "In Telegram you can also set this chat to delete messages automatically: "
            "open the chat's menu → Auto-delete."
        )
    )


def consent_keyboard(*, listening: bool = False) -> InlineKeyboardMarkup:
    """I agree, No thanks, and "🔊 Listen" for a worker who would rather hear the screens."""
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ I agree"), callback_data=ConsentCallback(agree=True))
    builder.button(text=_("✖️ No, thanks"), callback_data=ConsentCallback(agree=False))
    if not listening:
        builder.button(text=listen_label(), callback_data=ListenChoice(on=True))
    builder.adjust(1)
    return builder.as_markup()


def listen_label() -> str:
    return _("🔊 Listen")


def listen_button(listening: bool) -> list[InlineKeyboardButton]:
    """The help screen's switch: "🔊 Listen", or its opposite for a worker who listens."""
    label = _("🔇 No voice messages") if listening else listen_label()
    return [InlineKeyboardButton(text=label, callback_data=ListenChoice(on=not listening).pack())]


def factory_prompt() -> str:
    return _(
        "Which factory do you work in? Type the factory code from the poster (for example DK-01)."
    )


def help_text() -> str:
    return _(
        "<b>How workvoice helps</b>\n"
        "Use the buttons of the menu. You can also send:\n"
        "/menu – the main menu\n"
        "/language – change the language\n"
        "/privacy – what we keep and how to delete it\n"
        "/stop – no more news or survey invitations\n"
        "/delete – remove your data"
    )


def with_home(*rows: list[InlineKeyboardButton], no_factory: bool = False) -> InlineKeyboardMarkup:
    """Some rows, 🏭 Link my factory when the worker has none (B1), and 🏠 last."""
    factory = [[action_button(MenuAction.LINK_FACTORY)]] if no_factory else []
    return InlineKeyboardMarkup(inline_keyboard=[*rows, *factory, [home_button()]])


def command_list() -> list[BotCommand]:
    return [
        BotCommand(command="start", description=_("Start or restart")),
        BotCommand(command="menu", description=_("Main menu")),
        BotCommand(command="language", description=_("Change the language")),
        BotCommand(command="help", description=_("Help")),
        BotCommand(command="privacy", description=_("Privacy")),
        BotCommand(command="stop", description=_("No more news or invitations")),
        BotCommand(command="delete", description=_("Delete my data")),
    ]
