"""Onboarding: language, privacy and consent, factory, optional demographics, then the menu.

Also the commands a worker can use anywhere: /menu, /language, /help, /privacy, /delete, /stop.
This router is the first one, so it can gate: until a worker has chosen a language and agreed to
the privacy notice, anything they send re-shows the step they are on.
"""

from __future__ import annotations

import html
import logging
from enum import StrEnum

from aiogram import Bot, F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import BaseFilter, Command, CommandObject, CommandStart, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardMarkup,
    Message,
    TelegramObject,
)
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import _, bidi, set_locale, use_locale
from bot.i18n.languages import LANGUAGES
from bot.storage.models import Gender, User
from bot.widgets import (
    MenuAction,
    MenuCallback,
    main_menu_keyboard,
    main_menu_text,
    remove_buttons,
)
from services import onboarding
from services.onboarding import AgeBand, UnknownFactory

log = logging.getLogger(__name__)
router = Router(name=__name__)

FACTORY_PAYLOAD = "f_"


class Onboarding(StatesGroup):
    factory = State()
    gender = State()
    age = State()


class LanguageCallback(CallbackData, prefix="lang"):
    code: str


class ConsentCallback(CallbackData, prefix="ok"):
    agree: bool


class FactoryCallback(CallbackData, prefix="fac"):
    skip: bool


class AboutField(StrEnum):
    """Which question an ``AboutCallback`` answers."""

    GENDER = "g"
    AGE = "a"


class AboutCallback(CallbackData, prefix="me"):
    field: AboutField
    value: str


class DeleteCallback(CallbackData, prefix="del"):
    confirm: bool


class QuietCallback(CallbackData, prefix="quiet"):
    resume: bool


class NotOnboarded(BaseFilter):
    """Matches a worker who has not yet chosen a language and agreed to the notice."""

    async def __call__(self, event: TelegramObject, user: User | None = None) -> bool:
        return user is None or not user.onboarded


# --- texts and keyboards ------------------------------------------------------------------


def language_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for lang in LANGUAGES.values():
        builder.button(text=lang.native_name, callback_data=LanguageCallback(code=lang.code))
    builder.adjust(2)
    return builder.as_markup()


def language_prompt() -> str:
    # Shown before anyone chose: the prompt is in every script the picker offers, briefly.
    return _("Choose your language:")


def privacy_notice() -> str:
    return _(
        "<b>Before we start: your privacy</b>\n\n"
        "• We keep your language, your factory and, only if you choose, your gender and age group.\n"
        "• Survey answers are anonymous: nobody can see who gave them, and small groups are never shown.\n"
        "• Reports are encrypted. You get a receipt number to follow them up without giving your name.\n"
        "• Your name and phone number are never shown to your employer.\n"
        "• Send /delete at any time to remove your data.\n\n"
        "Others may see your phone: you can clear this chat at any time."
    )


def consent_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ I agree"), callback_data=ConsentCallback(agree=True))
    builder.button(text=_("✖️ No, thanks"), callback_data=ConsentCallback(agree=False))
    builder.adjust(1)
    return builder.as_markup()


def factory_prompt() -> str:
    return _(
        "Which factory do you work in? Type the factory code from the poster (for example DK-01)."
    )


def factory_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("I don't know the code"), callback_data=FactoryCallback(skip=True))
    return builder.as_markup()


def gender_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    labels = {
        Gender.WOMAN: _("Woman"),
        Gender.MAN: _("Man"),
        Gender.OTHER: _("Other"),
        Gender.UNDISCLOSED: _("Prefer not to say"),
    }
    for value, label in labels.items():
        builder.button(
            text=label, callback_data=AboutCallback(field=AboutField.GENDER, value=value)
        )
    builder.adjust(2)
    return builder.as_markup()


def age_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    labels = {
        AgeBand.UNDER_18: _("Under 18"),
        AgeBand.FROM_18: bidi("18–24"),
        AgeBand.FROM_25: bidi("25–34"),
        AgeBand.FROM_35: bidi("35–44"),
        AgeBand.FROM_45: _("45 or older"),
        AgeBand.UNDISCLOSED: _("Prefer not to say"),
    }
    for value, label in labels.items():
        builder.button(text=label, callback_data=AboutCallback(field=AboutField.AGE, value=value))
    builder.adjust(3, 2, 1)
    return builder.as_markup()


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


@router.startup()
async def register_commands(bot: Bot) -> None:
    """The command menu in each of the 16 languages (Telegram picks by the app's language)."""
    for code in LANGUAGES:
        with use_locale(code):
            await bot.set_my_commands(command_list(), language_code=code)
    with use_locale("en"):
        await bot.set_my_commands(command_list())


# --- steps --------------------------------------------------------------------------------


async def show_step(message: Message, user: User | None, state: FSMContext) -> None:
    """Re-show whatever the worker still has to do; the menu once they are done."""
    current = await state.get_state()
    if user is None or user.locale is None:
        await message.answer(language_prompt(), reply_markup=language_keyboard())
    elif user.consent_at is None:
        await message.answer(privacy_notice(), reply_markup=consent_keyboard())
    elif current == Onboarding.factory.state:
        await message.answer(factory_prompt(), reply_markup=factory_keyboard())
    elif current == Onboarding.gender.state:
        await ask_gender(message)
    elif current == Onboarding.age.state:
        await message.answer(_("Your age group?"), reply_markup=age_keyboard())
    else:
        await message.answer(main_menu_text(), reply_markup=main_menu_keyboard())


async def ask_gender(message: Message) -> None:
    await message.answer(
        _(
            "Two optional questions help us see if problems affect women and men differently. "
            "Your gender?"
        ),
        reply_markup=gender_keyboard(),
    )


async def after_consent(
    message: Message, session: AsyncSession, user: User, state: FSMContext
) -> None:
    data = await state.get_data()
    code = data.get("factory_code")
    if code:
        try:
            factory = await onboarding.do_attach_factory(session, user, code)
        except UnknownFactory as exc:
            await message.answer(html.escape(exc.translated()))
        else:
            await message.answer(
                _("You are now linked to {factory}.", factory=html.escape(factory.name))
            )
    if user.factory_id is None:
        await state.set_state(Onboarding.factory)
        await message.answer(factory_prompt(), reply_markup=factory_keyboard())
        return
    await state.set_state(Onboarding.gender)
    await ask_gender(message)


async def finish(message: Message, state: FSMContext) -> None:
    data = await state.get_data()
    await state.clear()
    await message.answer(_("Thank you. You are all set."))
    if data.get("payload"):
        await message.answer(_("Please open the invitation link you used once more to continue."))
    await message.answer(main_menu_text(), reply_markup=main_menu_keyboard())


# --- handlers, in the order a worker meets them --------------------------------------------


@router.message(CommandStart())
async def start(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    user: User | None,
    state: FSMContext,
    locale: str,
) -> None:
    assert message.from_user is not None
    payload = (command.args or "").strip()
    if user is not None and user.onboarded and payload and not payload.startswith(FACTORY_PAYLOAD):
        raise SkipHandler  # committee invitations and other links belong to later routers
    if user is not None and user.onboarded:
        await state.clear()  # like /menu: leaving a step or an unsent report keeps nothing of it
    user = await onboarding.do_register(session, message.from_user.id)
    if payload.startswith(FACTORY_PAYLOAD):
        await state.update_data(factory_code=payload[len(FACTORY_PAYLOAD) :])
    elif payload:
        await state.update_data(payload=payload)
    if not user.onboarded:
        await state.set_state(None)
        await show_step(message, user, state)
        return
    if payload.startswith(FACTORY_PAYLOAD):
        try:
            factory = await onboarding.do_attach_factory(
                session, user, payload[len(FACTORY_PAYLOAD) :]
            )
        except UnknownFactory as exc:
            await message.answer(html.escape(exc.translated()))
        else:
            await message.answer(
                _("You are now linked to {factory}.", factory=html.escape(factory.name))
            )
        await state.update_data(factory_code=None)
    await message.answer(_("Welcome back."), reply_markup=None)
    await message.answer(main_menu_text(), reply_markup=main_menu_keyboard())


@router.message(Command("language"))
async def language_command(message: Message) -> None:
    await message.answer(language_prompt(), reply_markup=language_keyboard())


@router.callback_query(MenuCallback.filter(F.action == MenuAction.LANGUAGE))
async def language_menu(query: CallbackQuery) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(language_prompt(), reply_markup=language_keyboard())


@router.callback_query(LanguageCallback.filter())
async def language_chosen(
    query: CallbackQuery,
    callback_data: LanguageCallback,
    session: AsyncSession,
    user: User | None,
    state: FSMContext,
) -> None:
    if callback_data.code not in LANGUAGES:
        await query.answer(_("This language is not available."))
        return
    user = await onboarding.do_register(session, query.from_user.id)
    await onboarding.do_choose_language(session, user, callback_data.code)
    set_locale(callback_data.code)  # from here on, this reply is in the new language
    await query.answer(LANGUAGES[callback_data.code].native_name)
    if not isinstance(query.message, Message):
        return
    await remove_buttons(query.message)
    if user.consent_at is None:
        await query.message.answer(privacy_notice(), reply_markup=consent_keyboard())
        return
    await query.message.answer(_("Language changed."))
    await show_step(query.message, user, state)


@router.callback_query(ConsentCallback.filter())
async def consent_given(
    query: CallbackQuery,
    callback_data: ConsentCallback,
    session: AsyncSession,
    user: User | None,
    state: FSMContext,
) -> None:
    await query.answer()
    if not isinstance(query.message, Message):
        return
    if user is None or user.locale is None:
        await show_step(query.message, user, state)
        return
    if user.consent_at is not None:  # a second tap on an old notice
        await show_step(query.message, user, state)
        return
    await remove_buttons(query.message)
    if not callback_data.agree:
        await onboarding.do_delete_user(session, user)
        await state.clear()
        await query.message.answer(
            _("That is fine. We kept nothing about you. Send /start if you change your mind.")
        )
        return
    await onboarding.do_consent(session, user)
    await after_consent(query.message, session, user, state)


@router.message(StateFilter(Onboarding.factory), ~NotOnboarded(), F.text, ~F.text.startswith("/"))
async def factory_typed(
    message: Message, session: AsyncSession, user: User, state: FSMContext
) -> None:
    try:
        factory = await onboarding.do_attach_factory(session, user, message.text or "")
    except UnknownFactory as exc:
        await message.answer(html.escape(exc.translated()), reply_markup=factory_keyboard())
        return
    await message.answer(_("You are now linked to {factory}.", factory=html.escape(factory.name)))
    await state.set_state(Onboarding.gender)
    await ask_gender(message)


@router.callback_query(StateFilter(Onboarding.factory), FactoryCallback.filter())
async def factory_skipped(query: CallbackQuery, state: FSMContext) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await remove_buttons(query.message)
        await query.message.answer(
            _("No problem. You can send the code later with the link on the factory poster.")
        )
        await state.set_state(Onboarding.gender)
        await ask_gender(query.message)


async def _not_offered(query: CallbackQuery, user: User, state: FSMContext) -> None:
    """A forged or stale demographics button: say so and ask the current question again."""
    await query.answer(_("This button is no longer active."))
    if isinstance(query.message, Message):
        await show_step(query.message, user, state)


@router.callback_query(StateFilter(Onboarding.gender, Onboarding.age), AboutCallback.filter())
async def about_answered(
    query: CallbackQuery,
    callback_data: AboutCallback,
    session: AsyncSession,
    user: User,
    state: FSMContext,
) -> None:
    current = await state.get_state()
    asked = {Onboarding.gender.state: AboutField.GENDER, Onboarding.age.state: AboutField.AGE}
    if asked.get(current or "") is not callback_data.field:  # a button of the other question
        await _not_offered(query, user, state)
        return
    try:
        if callback_data.field is AboutField.GENDER:
            await onboarding.do_set_demographics(session, user, gender=callback_data.value)
        else:
            await onboarding.do_set_demographics(session, user, age_band=callback_data.value)
    except onboarding.NotOffered:  # a value no button carries
        await _not_offered(query, user, state)
        return
    await query.answer()
    if not isinstance(query.message, Message):
        return
    await remove_buttons(query.message)
    if current == Onboarding.gender.state:
        await state.set_state(Onboarding.age)
        await query.message.answer(_("Your age group?"), reply_markup=age_keyboard())
    else:
        await finish(query.message, state)


@router.message(Command("help"))
async def help_command(message: Message) -> None:
    await message.answer(help_text(), reply_markup=main_menu_keyboard())


@router.callback_query(MenuCallback.filter(F.action == MenuAction.HELP))
async def help_menu(query: CallbackQuery) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(help_text(), reply_markup=main_menu_keyboard())


@router.message(Command("privacy"))
async def privacy_command(message: Message) -> None:
    await message.answer(privacy_notice())


@router.callback_query(MenuCallback.filter(F.action == MenuAction.PRIVACY))
async def privacy_menu(query: CallbackQuery) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(privacy_notice(), reply_markup=main_menu_keyboard())


@router.message(Command("delete"))
async def delete_command(message: Message) -> None:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("🗑 Yes, delete my data"), callback_data=DeleteCallback(confirm=True))
    builder.button(text=_("Keep my data"), callback_data=DeleteCallback(confirm=False))
    builder.adjust(1)
    await message.answer(
        _(
            "<b>Delete your data?</b>\n"
            "This removes your profile, your language, your factory link and anything waiting "
            "to be sent to you.\n"
            "• Survey answers you gave stay, because they were anonymous and cannot be linked to you.\n"
            "• Reports you made stay open and you can still follow them with your receipt number."
        ),
        reply_markup=builder.as_markup(),
    )


@router.callback_query(DeleteCallback.filter())
async def delete_confirmed(
    query: CallbackQuery,
    callback_data: DeleteCallback,
    session: AsyncSession,
    user: User | None,
    state: FSMContext,
) -> None:
    await query.answer()
    if not isinstance(query.message, Message):
        return
    await remove_buttons(query.message)
    if not callback_data.confirm:
        await query.message.answer(_("Nothing was deleted."), reply_markup=main_menu_keyboard())
        return
    if user is not None:
        await onboarding.do_delete_user(session, user)
        log.info("user.deleted_own_data")
    await state.clear()
    await query.message.answer(
        _("Your data has been deleted. You can also clear this chat. Send /start to begin again.")
    )


@router.message(Command("stop"), ~NotOnboarded())
async def stop_command(message: Message, session: AsyncSession, user: User) -> None:
    await onboarding.do_stop_optional_messages(session, user)
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Turn them back on"), callback_data=QuietCallback(resume=True))
    await message.answer(
        _(
            "You will get no more news or survey invitations. Answers about your reports and "
            "reminders for your committee still reach you."
        ),
        reply_markup=builder.as_markup(),
    )


@router.callback_query(QuietCallback.filter(), ~NotOnboarded())
async def resume_messages(query: CallbackQuery, session: AsyncSession, user: User) -> None:
    await onboarding.do_resume_optional_messages(session, user)
    await query.answer()
    if isinstance(query.message, Message):
        await remove_buttons(query.message)
        await query.message.answer(_("News and survey invitations are on again."))


@router.message(Command("menu"))
async def menu(message: Message, user: User | None, state: FSMContext) -> None:
    if user is not None and user.onboarded:
        await state.clear()  # leaving a step or an unsent report keeps nothing of it
    await show_step(message, user, state)


@router.callback_query(MenuCallback.filter(F.action == MenuAction.HOME))
async def home(query: CallbackQuery, user: User | None, state: FSMContext) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await show_step(query.message, user, state)


# --- the gate: whatever else a worker sends before consent re-shows their step ------------


@router.message(NotOnboarded())
async def gate_message(message: Message, user: User | None, state: FSMContext) -> None:
    await show_step(message, user, state)


@router.callback_query(NotOnboarded())
async def gate_callback(query: CallbackQuery, user: User | None, state: FSMContext) -> None:
    await query.answer(_("Please finish the first steps."))
    if isinstance(query.message, Message):
        await show_step(query.message, user, state)


@router.message(StateFilter(Onboarding.factory, Onboarding.gender, Onboarding.age))
async def unexpected_during_steps(message: Message, user: User, state: FSMContext) -> None:
    await message.answer(_("Please use the buttons, or type the factory code."))
    await show_step(message, user, state)
