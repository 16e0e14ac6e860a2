"""Answering anonymous pulse surveys: one question per message, with buttons.

A worker starts from an invitation or the menu, sees "Question 3 of 8", can go back, skip where
allowed, pause and come back later exactly where they were (the place is kept by the survey
service, not only in this conversation's state), and gets a thank-you at the end. Numbers and short
text are typed; everything else is a tap. Nothing here logs what a worker answered.
"""

from __future__ import annotations

import html
import logging

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import RenderContext, Rendered, renderer
from bot.i18n import _, current_locale, format_date
from bot.storage.models import User
from bot.storage.surveys import SurveyNotice, SurveyVersion, SurveyWave
from bot.widgets import (
    MenuAction,
    MenuCallback,
    home_button,
    main_menu_keyboard,
    remove_buttons,
)
from services.errors import DomainError
from services.surveys import answering
from services.surveys.answering import InvalidAnswer, StaleQuestion, Step
from services.surveys.builder import definition_of
from services.surveys.definition import SCALE_FACES, QuestionType, SurveyDefinition, plain_number
from services.surveys.store import SurveyStore
from workvoice.kernel.settings import Settings

log = logging.getLogger(__name__)
router = Router(name=__name__)


class Answering(StatesGroup):
    typing = State()  # a number or a short text is expected; data: wave, q


class SurveyTap(CallbackData, prefix="sv"):
    """``action``: go (start or resume), a (answer), t (tick), d (done ticking), s (skip), b (back),
    p (pause). ``q`` is the question's index, so a tap on an old message is recognised."""

    action: str
    wave: int
    q: int = -1
    o: int = -1


# --- rendering --------------------------------------------------------------------------------


def question_text(step: Step, locale: str) -> str:
    d, q = step.definition, step.question
    assert q is not None
    lines = [
        _(
            "<b>{title}</b> · question {number} of {total}",
            title=html.escape(d.text(d.title, locale)),
            number=step.number,
            total=step.total,
        ),
        "",
        html.escape(d.text(q.text, locale)),
    ]
    hint = {
        QuestionType.MULTI: _("Tick all that apply, then tap Done."),
        QuestionType.NUMBER: _(
            "Send a number from {min} to {max}.", min=plain_number(q.min), max=plain_number(q.max)
        ),
        QuestionType.TEXT: _("Type your answer (up to {limit} characters).", limit=q.max_length),
    }.get(q.type)
    if hint:
        lines += ["", f"<i>{hint}</i>"]
    return "\n".join(lines)


def question_keyboard(step: Step, locale: str) -> InlineKeyboardMarkup:
    d, q = step.definition, step.question
    assert q is not None
    wave, index = step.wave.id, step.index
    builder = InlineKeyboardBuilder()
    widths: list[int] = []
    if q.type == QuestionType.SCALE:
        for i, face in enumerate(SCALE_FACES):
            builder.button(
                text=f"{face} {i + 1}", callback_data=SurveyTap(action="a", wave=wave, q=index, o=i)
            )
        widths.append(len(SCALE_FACES))
    elif q.type == QuestionType.YESNO:
        builder.button(text=_("Yes"), callback_data=SurveyTap(action="a", wave=wave, q=index, o=0))
        builder.button(text=_("No"), callback_data=SurveyTap(action="a", wave=wave, q=index, o=1))
        widths.append(2)
    elif q.type in (QuestionType.SINGLE, QuestionType.MULTI):
        ticked = set(step.selected)
        action = "t" if q.type == QuestionType.MULTI else "a"
        for i, option in enumerate(q.options):
            mark = "✅ " if option.key in ticked else ""
            builder.button(
                text=mark + d.text(option.text, locale),
                callback_data=SurveyTap(action=action, wave=wave, q=index, o=i),
            )
            widths.append(1)
        if q.type == QuestionType.MULTI:
            builder.button(
                text=_("Done ➡️"), callback_data=SurveyTap(action="d", wave=wave, q=index)
            )
            widths.append(1)
    nav = 0
    if step.path:
        builder.button(text=_("⬅️ Back"), callback_data=SurveyTap(action="b", wave=wave, q=index))
        nav += 1
    if not q.required:
        builder.button(text=_("Skip"), callback_data=SurveyTap(action="s", wave=wave, q=index))
        nav += 1
    builder.button(text=_("⏸ Later"), callback_data=SurveyTap(action="p", wave=wave, q=index))
    widths.append(nav + 1)
    builder.adjust(*widths)
    return builder.as_markup()


def _value_of(step: Step, option: int) -> str:
    values = step.question.values() if step.question else []
    if not 0 <= option < len(values):
        raise InvalidAnswer()
    return values[option]


async def show(message: Message, step: Step, state: FSMContext) -> None:
    """The current question, or the thank-you when the worker has finished."""
    locale = current_locale()
    if step.done:
        await state.set_state(None)
        thanks = answering.thank_you(step.definition, locale)
        text = _("Thank you! Your answers were saved anonymously. Nobody can see who gave them.")
        if thanks:
            text = f"{html.escape(thanks)}\n\n{text}"
        await message.answer(text, reply_markup=main_menu_keyboard())
        return
    assert step.question is not None
    typed = step.question.type in (QuestionType.NUMBER, QuestionType.TEXT)
    if typed:
        await state.set_state(Answering.typing)
        await state.update_data(survey_wave=step.wave.id, survey_q=step.index)
    else:
        await state.set_state(None)
    await message.answer(question_text(step, locale), reply_markup=question_keyboard(step, locale))


# --- the list of surveys ----------------------------------------------------------------------


async def list_surveys(
    message: Message, session: AsyncSession, user: User | None, settings: Settings
) -> None:
    if user is None or user.factory_id is None:
        await message.answer(
            _(
                "Surveys are for workers of a factory. Link your factory first: open the link on "
                "the factory poster, or send /start and type the factory code."
            ),
            reply_markup=main_menu_keyboard(),
        )
        return
    found = await answering.open_waves_for(session, user, secret_key=settings.effective_secret_key)
    if not found:
        await message.answer(
            _(
                "There is no survey for you right now. We will send you a message when there is one."
            ),
            reply_markup=main_menu_keyboard(),
        )
        return
    locale = current_locale()
    builder = InlineKeyboardBuilder()
    for wave, definition, started in found:
        title = definition.text(definition.title, locale)
        label = _("↩️ Continue: {title}", title=title) if started else f"📋 {title}"
        builder.button(text=label[:60], callback_data=SurveyTap(action="go", wave=wave.id))
    builder.row(home_button())
    builder.adjust(1)
    await message.answer(
        _("Surveys open for you. Your answers are anonymous."), reply_markup=builder.as_markup()
    )


@router.message(Command("surveys"))
async def surveys_command(
    message: Message, session: AsyncSession, user: User | None, settings: Settings
) -> None:
    await list_surveys(message, session, user, settings)


@router.callback_query(MenuCallback.filter(F.action == MenuAction.SURVEYS))
async def surveys_menu(
    query: CallbackQuery, session: AsyncSession, user: User | None, settings: Settings
) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await list_surveys(query.message, session, user, settings)


# --- answering --------------------------------------------------------------------------------


@router.callback_query(SurveyTap.filter())
async def tapped(
    query: CallbackQuery,
    callback_data: SurveyTap,
    session: AsyncSession,
    user: User | None,
    state: FSMContext,
    settings: Settings,
    survey_store: SurveyStore,
) -> None:
    if user is None or not isinstance(query.message, Message):
        await query.answer(_("This button is no longer active."))
        return
    secret = settings.effective_secret_key
    wave, index, action = callback_data.wave, callback_data.q, callback_data.action
    try:
        if action == "go":
            step = await answering.do_begin(
                session, user, wave, secret_key=secret, store=survey_store
            )
        elif action == "p":
            await query.answer()
            await remove_buttons(query.message)
            await state.set_state(None)
            await query.message.answer(
                _("Your answers so far are kept. Come back any time from 📋 Surveys in the menu."),
                reply_markup=main_menu_keyboard(),
            )
            return
        elif action == "t":
            step = await answering.do_begin(
                session, user, wave, secret_key=secret, store=survey_store
            )
            value = _value_of(step, callback_data.o) if step.index == index else ""
            step = await answering.do_toggle(
                session, user, wave, index, value, secret_key=secret, store=survey_store
            )
            await query.answer()
            # Ticks change the buttons of the same message: the question stays where it is.
            await query.message.edit_reply_markup(
                reply_markup=question_keyboard(step, current_locale())
            )
            return
        elif action == "a":
            step = await answering.do_begin(
                session, user, wave, secret_key=secret, store=survey_store
            )
            if step.index != index:
                raise StaleQuestion()
            step = await answering.do_answer(
                session,
                user,
                wave,
                index,
                _value_of(step, callback_data.o),
                secret_key=secret,
                store=survey_store,
            )
        elif action == "d":
            step = await answering.do_finish_choice(
                session, user, wave, index, secret_key=secret, store=survey_store
            )
        elif action == "s":
            step = await answering.do_skip(
                session, user, wave, index, secret_key=secret, store=survey_store
            )
        elif action == "b":
            step = await answering.do_back(
                session, user, wave, index, secret_key=secret, store=survey_store
            )
        else:
            raise InvalidAnswer()
    except StaleQuestion as exc:
        # An older message's button: show where the worker really is instead.
        await query.answer(exc.translated(), show_alert=True)
        await remove_buttons(query.message)
        await show(
            query.message,
            await answering.do_begin(session, user, wave, secret_key=secret, store=survey_store),
            state,
        )
        return
    except InvalidAnswer as exc:
        await query.answer(exc.translated(), show_alert=True)
        return
    except DomainError as exc:  # closed, already answered, not for this worker
        await query.answer()
        await remove_buttons(query.message)
        await state.set_state(None)
        await query.message.answer(exc.translated(), reply_markup=main_menu_keyboard())
        return
    await query.answer()
    await remove_buttons(query.message)
    if step.done:
        # "Thank you" only once finishing is stored. No log line: a completion's time, even
        # without a pseudonym, lines a person up with their answers (only batches are logged).
        try:
            await session.commit()
        except Exception:
            await answering.withdraw(survey_store, step)
            raise
    await show(query.message, step, state)


@router.message(StateFilter(Answering.typing), F.text, ~F.text.startswith("/"))
async def typed(
    message: Message,
    session: AsyncSession,
    user: User | None,
    state: FSMContext,
    settings: Settings,
    survey_store: SurveyStore,
) -> None:
    data = await state.get_data()
    wave, index = data.get("survey_wave"), data.get("survey_q")
    if user is None or not isinstance(wave, int) or not isinstance(index, int):
        await state.set_state(None)
        return
    secret = settings.effective_secret_key
    try:
        step = await answering.do_answer(
            session, user, wave, index, message.text or "", secret_key=secret, store=survey_store
        )
    except InvalidAnswer as exc:
        await message.answer(exc.translated())  # ask again; the state waits for a better answer
        return
    except StaleQuestion:
        step = await answering.do_begin(session, user, wave, secret_key=secret, store=survey_store)
    except DomainError as exc:
        await state.set_state(None)
        await message.answer(exc.translated(), reply_markup=main_menu_keyboard())
        return
    if step.done:
        # "Thank you" only once finishing is stored. No log line: a completion's time, even
        # without a pseudonym, lines a person up with their answers (only batches are logged).
        try:
            await session.commit()
        except Exception:
            await answering.withdraw(survey_store, step)
            raise
    await show(message, step, state)


@router.message(StateFilter(Answering.typing))
async def typed_other(message: Message) -> None:
    await message.answer(_("Please type your answer as text, or use the buttons above."))


# --- messages the bot is asked to deliver -----------------------------------------------------


async def _open_wave(ctx: RenderContext) -> tuple[SurveyWave, SurveyDefinition] | None:
    """The wave of an invitation or reminder, if this worker can still answer it."""
    wave = await ctx.session.get(SurveyWave, ctx.params["wave_id"])
    if ctx.user is None or wave is None or ctx.settings is None:
        return None
    can = await answering.answerable(
        ctx.session, ctx.user, wave, secret_key=ctx.settings.effective_secret_key
    )
    return (wave, can[0]) if can is not None else None


def _start_button(wave: SurveyWave, label: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=label, callback_data=SurveyTap(action="go", wave=wave.id))
    return builder.as_markup()


@renderer(SurveyNotice.INVITE)
async def render_invite(ctx: RenderContext) -> Rendered | None:
    found = await _open_wave(ctx)
    if found is None:
        return None  # closed, finished, or no longer in the audience: nothing to say
    wave, d = found
    intro = d.text(d.intro, ctx.locale) if d.intro else ""
    text = _(
        "📋 <b>{title}</b>\n{intro}\nIt takes a few minutes and is anonymous: nobody can see who "
        "answered what. Open until {date}.",
        title=html.escape(d.text(d.title, ctx.locale)),
        intro=html.escape(intro),
        date=format_date(wave.ends_at, locale=ctx.locale),
    )
    return Rendered(text, _start_button(wave, _("▶️ Start")))


@renderer(SurveyNotice.REMINDER)
async def render_reminder(ctx: RenderContext) -> Rendered | None:
    found = await _open_wave(ctx)
    if found is None:
        return None
    wave, d = found
    text = _(
        "A reminder: the survey <b>{title}</b> is open until {date}. Your answers help change "
        "things at work, and nobody can see who gave them.",
        title=html.escape(d.text(d.title, ctx.locale)),
        date=format_date(wave.ends_at, locale=ctx.locale),
    )
    return Rendered(text, _start_button(wave, _("▶️ Answer now")))


@renderer(SurveyNotice.LOOP)
async def render_loop(ctx: RenderContext) -> Rendered | None:
    wave = await ctx.session.get(SurveyWave, ctx.params["wave_id"])
    texts = wave.loop_message if wave is not None else None
    if not texts or wave is None:
        return None
    version = await ctx.session.get(SurveyVersion, wave.version_id)
    if version is None:
        return None
    d = definition_of(version)
    message = texts.get(ctx.locale) or texts.get(d.source_locale) or next(iter(texts.values()))
    return Rendered(
        _(
            "📋 <b>{title}</b>: what we learned from your answers, and what changes\n\n{message}",
            title=html.escape(d.text(d.title, ctx.locale)),
            message=html.escape(message),
        )
    )
