"""The first steps, and the gate: ``/start`` (with a link or without), the language and the privacy
notice. Until a worker has chosen a language and agreed, anything else re-shows the step they are
on (``late``, included after the everyday controls)."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot import chat_trail, deeplinks
from bot.flows.onboarding.setup import after_consent, show_menu, show_notice, show_step
from bot.flows.onboarding.texts import (
    ConsentCallback,
    LanguageCallback,
    ListenChoice,
    NotOnboarded,
    command_list,
)
from bot.i18n import _, set_locale, use_locale
from bot.i18n.languages import LANGUAGES
from bot.storage.models import User
from bot.widgets import home_markup, remove_buttons
from bot.wizard import active, leave
from services import onboarding

router = Router(name=__name__)
late = Router(name=f"{__name__}.late")


@router.startup()
async def on_startup(bot: Bot) -> None:
    """The command menu in each of the 16 languages (Telegram picks by the app's language), and
    the chat trail of what the bot sends (``bot.chat_trail``)."""
    chat_trail.install(bot)
    for code in LANGUAGES:
        with use_locale(code):
            await bot.set_my_commands(command_list(), language_code=code)
    with use_locale("en"):
        await bot.set_my_commands(command_list())


@router.message(CommandStart())
async def start(message: Message, command: CommandObject, state: FSMContext, **data: Any) -> None:
    """``/start`` ends whatever step the worker was in (B2.2), then opens the link it carries:
    at once for a worker who is set up, after onboarding for one who is not (kept meanwhile)."""
    assert message.from_user is not None
    link = deeplinks.parse(command.args)
    kept = await deeplinks.take_remembered(state)  # a link opened before, still waiting
    await leave(state, data)
    user = await onboarding.do_register(data["session"], message.from_user.id)
    data = {**data, "user": user}
    if not user.onboarded:
        if (waiting := link or kept) is not None:
            await deeplinks.remember(state, *waiting)
        await show_step(message, user, state, data)
        return
    link = link or kept
    if link is not None:
        if await deeplinks.open_link(*link, message, state, data):
            return
        raise SkipHandler  # a kind whose flow still answers its own /start links
    await message.answer(_("Welcome back."))
    await show_menu(message, data)


@router.callback_query(LanguageCallback.filter())
async def language_chosen(
    query: CallbackQuery, callback_data: LanguageCallback, state: FSMContext, **data: Any
) -> None:
    session: AsyncSession = data["session"]
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
        await show_notice(query.message, {**data, "user": user})
        return
    if active(await state.get_state()) is not None:  # in the middle of something: ask it again
        await query.message.answer(_("Language changed."))
        await show_step(query.message, user, state, {**data, "user": user})
        return
    await query.message.answer(_("Language changed."), reply_markup=home_markup())


@router.callback_query(ConsentCallback.filter())
async def consent_given(
    query: CallbackQuery, callback_data: ConsentCallback, state: FSMContext, **data: Any
) -> None:
    await query.answer()
    user: User | None = data["user"]
    if not isinstance(query.message, Message):
        return
    if user is None or user.locale is None or user.consent_at is not None:
        await show_step(query.message, user, state, data)  # early, or an old notice tapped again
        return
    await remove_buttons(query.message)
    if not callback_data.agree:
        await onboarding.do_delete_user(data["session"], user)
        await state.clear()
        await query.message.answer(
            _("That is fine. We kept nothing about you. Send /start if you change your mind.")
        )
        return
    await onboarding.do_consent(data["session"], user)
    await after_consent(query.message, state, data)


@router.callback_query(ListenChoice.filter())
async def listen_chosen(
    query: CallbackQuery, callback_data: ListenChoice, state: FSMContext, **data: Any
) -> None:
    """ "🔊 Listen" under the privacy notice (or in ❓ Help): on, the notice again, read aloud
    where it has a recording; off from Help."""
    await query.answer()
    user: User | None = data["user"]
    if not isinstance(query.message, Message):
        return
    if user is None or user.locale is None:
        await show_step(query.message, user, state, data)
        return
    await onboarding.do_set_listen(data["session"], user, callback_data.on)
    await remove_buttons(query.message)
    if callback_data.on:
        said = _("🔊 On: screens that have a recording also come as voice messages.")
    else:
        said = _("🔇 Off: no more voice messages. You can turn them on again in ❓ Help.")
    if user.consent_at is None:  # still on the notice: it again, now read aloud
        await query.message.answer(said)
        await show_notice(query.message, data)
        return
    await query.message.answer(said, reply_markup=home_markup())


# --- the gate: whatever else a worker sends before consent re-shows their step ------------


@late.message(NotOnboarded())
async def gate_message(message: Message, state: FSMContext, **data: Any) -> None:
    await show_step(message, data["user"], state, data)


@late.callback_query(NotOnboarded())
async def gate_callback(query: CallbackQuery, state: FSMContext, **data: Any) -> None:
    # Also the old buttons of someone who deleted their data: they start again (B3).
    await query.answer(_("Please finish the first steps."))
    if isinstance(query.message, Message):
        await show_step(query.message, data["user"], state, data)
