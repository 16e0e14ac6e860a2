"""Answering anonymous pulse surveys: one question per message, with buttons.

A worker starts from an invitation or the menu, sees "Question 3 of 8", can go back, skip where
allowed, pause and come back later exactly where they were (the place is kept by the survey
service, not only in this conversation's state), and gets a thank-you at the end. Numbers and short
text are typed; everything else is a tap. Nothing here logs what a worker answered.

Each question's screen is defined once, in ``services.surveys.screens`` (the console's preview
draws the same one); this module only puts its callback data (``SurveyTap``) on the buttons. Each
``Tap`` action has its own handler.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import F, Router
from aiogram.filters import BaseFilter, Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot import voice
from bot.delivery import RenderContext, Rendered, renderer
from bot.i18n import _, current_locale, format_date
from bot.storage.audio import AudioClip
from bot.storage.models import User
from bot.storage.surveys import SurveyNotice, SurveyVersion, SurveyWave
from bot.widgets import (
    MenuAction,
    MenuCallback,
    home_button,
    home_markup,
    link_factory_markup,
    remove_buttons,
)
from bot.wizard import markup_of
from services.audio import clips
from services.errors import DomainError
from services.screens import Screen
from services.surveys import answering, numbers
from services.surveys.answering import InvalidAnswer, StaleQuestion, Step
from services.surveys.builder import definition_of
from services.surveys.definition import QuestionType, SurveyDefinition
from services.surveys.screens import Tap, minutes_for, step_screen
from services.surveys.store import SurveyStore
from workvoice.kernel.settings import Settings

log = logging.getLogger(__name__)
router = Router(name=__name__)


class Answering(StatesGroup):
    typing = State()  # a number or a short text is expected; data: wave, q


class SurveyTap(CallbackData, prefix="sv"):
    """A survey button: what it does, the wave, the question's index (so a tap on an old message
    is recognised) and the option."""

    action: Tap
    wave: int
    q: int = -1
    o: int = -1


# --- rendering --------------------------------------------------------------------------------


def question_screen(step: Step, *, audio: bool = False) -> Screen:
    """The question as ``services.surveys.screens`` defines it (the console previews the same),
    with this bot's callback data on its buttons (and 🔊 when ``audio``)."""

    def tap(action: Tap, option: int) -> str:
        return SurveyTap(action=action, wave=step.wave.id, q=step.index, o=option).pack()

    return step_screen(step, tap, audio=audio)


def question_keyboard(step: Step) -> InlineKeyboardMarkup | None:
    return markup_of(question_screen(step))


async def recordings(session: AsyncSession, step: Step) -> list[AudioClip]:
    """The question's clip and its answers' in the worker's language, in the order they are
    shown (a clip may be missing for some)."""
    assert step.question is not None
    key, question = step.definition.key, step.question.key
    targets = [
        clips.survey_target(key, question),
        *(clips.survey_target(key, question, o.key) for o in step.question.options),
    ]
    found = await clips.clips_for(session, targets, current_locale())
    return [found[t] for t in targets if t in found]


def _value_of(step: Step, option: int) -> str:
    values = step.question.values() if step.question else []
    if not 0 <= option < len(values):
        raise InvalidAnswer()
    return values[option]


async def forget_place(state: FSMContext) -> None:
    """No question waits any more: typed numbers are no longer answers."""
    await state.set_state(None)
    await state.update_data(survey_wave=None, survey_q=None)


async def stored_then_shown(
    message: Message,
    step: answering.Step,
    state: FSMContext,
    data: dict[str, Any],
    store: SurveyStore,
) -> None:
    """Show the next step; a finished survey's "Thank you" only once finishing is stored. No log
    line: a completion's time, even without a pseudonym, lines a person up with their answers
    (only batches are logged)."""
    if step.done:
        try:
            await data["session"].commit()
        except Exception:
            await answering.withdraw(store, step)
            raise
    await show(message, step, state, data)


async def show(message: Message, step: Step, state: FSMContext, data: dict[str, Any]) -> None:
    """The current question, or one thank-you when the worker has finished. A question with
    recordings is read aloud first for a worker who listens, else shown with 🔊."""
    locale = current_locale()
    if step.done:
        await forget_place(state)
        # One thank-you (the survey's own, else ours), then what became of the answers.
        thanks = answering.thank_you(step.definition, locale)
        text = (html.escape(thanks) if thanks else _("Thank you!")) + "\n\n"
        text += _("Your answers were saved anonymously. Nobody can see who gave them.")
        await message.answer(text, reply_markup=home_markup())
        return
    assert step.question is not None
    typed = step.question.type in (QuestionType.NUMBER, QuestionType.TEXT)
    # Where she is, also for a button question: she may answer it by typing its number.
    await state.update_data(survey_wave=step.wave.id, survey_q=step.index)
    await state.set_state(Answering.typing if typed else None)
    found = await recordings(data["session"], step)
    if found and voice.listening(data):
        await voice.play(message, data, found)
    screen = question_screen(step, audio=bool(found) and not voice.listening(data))
    await message.answer(screen.text, reply_markup=markup_of(screen))


# --- the list of surveys ----------------------------------------------------------------------


TITLE_IN_BUTTON = 60


def list_label(title: str, *, started: bool) -> str:
    """A wave in the list: ↩️ for one she started (the message above says what it means), 📋 for
    a new one. No "Continue:" words before the title, so it fits a phone's width."""
    if len(title) > TITLE_IN_BUTTON:  # a title written long: the button stays one line
        title = title[: TITLE_IN_BUTTON - 1].rstrip() + "…"
    return f"↩️ {title}" if started else f"📋 {title}"


async def list_surveys(
    message: Message, session: AsyncSession, user: User | None, settings: Settings
) -> None:
    if user is None or user.factory_id is None:
        await message.answer(
            _(
                "Surveys are for workers of a factory. Link your factory first: open the link on "
                "the factory poster, or send /start and type the factory code."
            ),
            reply_markup=link_factory_markup(),
        )
        return
    found = await answering.open_waves_for(session, user, secret_key=settings.effective_secret_key)
    if not found:
        await message.answer(
            _(
                "There is no survey for you right now. We will send you a message when there is one."
            ),
            reply_markup=home_markup(),
        )
        return
    locale = current_locale()
    builder = InlineKeyboardBuilder()
    for wave, definition, started in found:
        title = definition.text(definition.title, locale)
        builder.button(
            text=list_label(title, started=started),
            callback_data=SurveyTap(action=Tap.START, wave=wave.id),
        )
    builder.row(home_button())
    builder.adjust(1)
    await message.answer(
        _("Surveys open for you. ↩️ continues one you started. Your answers are anonymous."),
        reply_markup=builder.as_markup(),
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


Verb = Callable[[AsyncSession, User, SurveyTap, str, SurveyStore], Awaitable[Step]]


async def _moved(query: CallbackQuery, tap: SurveyTap, verb: Verb, data: dict[str, Any]) -> None:
    """A tap that moves the worker (start, answer, done, skip, back): run the service's verb, then
    show where she is now. An old message's button shows where she really is instead."""
    user: User | None = data.get("user")
    message = query.message if isinstance(query.message, Message) else None
    if user is None or message is None:
        await query.answer(_("This button is no longer active."))
        return
    session: AsyncSession = data["session"]
    state: FSMContext = data["state"]
    store: SurveyStore = data["survey_store"]
    secret = data["settings"].effective_secret_key
    try:
        step = await verb(session, user, tap, secret, store)
    except StaleQuestion as exc:
        await query.answer(exc.translated(), show_alert=True)
        await remove_buttons(message)
        now = await answering.do_begin(session, user, tap.wave, secret_key=secret, store=store)
        await show(message, now, state, data)
        return
    except InvalidAnswer as exc:
        await query.answer(exc.translated(), show_alert=True)
        return
    except DomainError as exc:  # closed, already answered, not for this worker
        await query.answer()
        await remove_buttons(message)
        await forget_place(state)
        await message.answer(exc.translated(), reply_markup=home_markup())
        return
    await query.answer()
    await remove_buttons(message)
    await stored_then_shown(message, step, state, data, store)


@router.callback_query(SurveyTap.filter(F.action == Tap.START))
async def start_tapped(query: CallbackQuery, callback_data: SurveyTap, **data: Any) -> None:
    async def verb(s: AsyncSession, u: User, t: SurveyTap, key: str, st: SurveyStore) -> Step:
        return await answering.do_begin(s, u, t.wave, secret_key=key, store=st)

    await _moved(query, callback_data, verb, data)


@router.callback_query(SurveyTap.filter(F.action == Tap.ANSWER))
async def answer_tapped(query: CallbackQuery, callback_data: SurveyTap, **data: Any) -> None:
    async def verb(s: AsyncSession, u: User, t: SurveyTap, key: str, st: SurveyStore) -> Step:
        step = await answering.do_begin(s, u, t.wave, secret_key=key, store=st)
        if step.index != t.q:
            raise StaleQuestion()
        value = _value_of(step, t.o)
        return await answering.do_answer(s, u, t.wave, t.q, value, secret_key=key, store=st)

    await _moved(query, callback_data, verb, data)


@router.callback_query(SurveyTap.filter(F.action == Tap.DONE))
async def done_tapped(query: CallbackQuery, callback_data: SurveyTap, **data: Any) -> None:
    async def verb(s: AsyncSession, u: User, t: SurveyTap, key: str, st: SurveyStore) -> Step:
        return await answering.do_finish_choice(s, u, t.wave, t.q, secret_key=key, store=st)

    await _moved(query, callback_data, verb, data)


@router.callback_query(SurveyTap.filter(F.action == Tap.SKIP))
async def skip_tapped(query: CallbackQuery, callback_data: SurveyTap, **data: Any) -> None:
    async def verb(s: AsyncSession, u: User, t: SurveyTap, key: str, st: SurveyStore) -> Step:
        return await answering.do_skip(s, u, t.wave, t.q, secret_key=key, store=st)

    await _moved(query, callback_data, verb, data)


@router.callback_query(SurveyTap.filter(F.action == Tap.BACK))
async def back_tapped(query: CallbackQuery, callback_data: SurveyTap, **data: Any) -> None:
    async def verb(s: AsyncSession, u: User, t: SurveyTap, key: str, st: SurveyStore) -> Step:
        return await answering.do_back(s, u, t.wave, t.q, secret_key=key, store=st)

    await _moved(query, callback_data, verb, data)


@router.callback_query(SurveyTap.filter(F.action == Tap.TICK))
async def tick_tapped(
    query: CallbackQuery,
    callback_data: SurveyTap,
    session: AsyncSession,
    user: User | None,
    settings: Settings,
    survey_store: SurveyStore,
    **data: Any,
) -> None:
    """A tick changes the buttons of the same message: the question stays where it is."""
    secret, wave, index = settings.effective_secret_key, callback_data.wave, callback_data.q

    async def verb(s: AsyncSession, u: User, t: SurveyTap, key: str, st: SurveyStore) -> Step:
        step = await answering.do_begin(s, u, wave, secret_key=key, store=st)
        value = _value_of(step, t.o) if step.index == index else ""
        return await answering.do_toggle(s, u, wave, index, value, secret_key=key, store=st)

    if user is None or not isinstance(query.message, Message):
        await query.answer(_("This button is no longer active."))
        return
    try:
        step = await verb(session, user, callback_data, secret, survey_store)
    except (StaleQuestion, InvalidAnswer, DomainError):
        # Not for the question she is on (or closed): the moving path says so and shows where.
        data.update(session=session, user=user, settings=settings, survey_store=survey_store)
        await _moved(query, callback_data, verb, data)
        return
    await query.answer()
    await query.message.edit_reply_markup(reply_markup=question_keyboard(step))


@router.callback_query(SurveyTap.filter(F.action == Tap.LISTEN))
async def listen_tapped(query: CallbackQuery, callback_data: SurveyTap, **data: Any) -> None:
    """🔊 under a question: its recording and its answers', if she is still on it."""
    user: User | None = data.get("user")
    if user is None or not isinstance(query.message, Message):
        await query.answer(_("This button is no longer active."))
        return
    try:
        step = await answering.do_begin(
            data["session"],
            user,
            callback_data.wave,
            secret_key=data["settings"].effective_secret_key,
            store=data["survey_store"],
        )
    except DomainError as exc:
        await query.answer(exc.translated(), show_alert=True)
        return
    if step.done or step.index != callback_data.q:
        await query.answer(_("This button is no longer active."))
        return
    await query.answer()
    await voice.play(query.message, data, await recordings(data["session"], step))


@router.callback_query(SurveyTap.filter(F.action == Tap.LATER))
async def later_tapped(query: CallbackQuery, state: FSMContext) -> None:
    await query.answer()
    if not isinstance(query.message, Message):
        return
    await remove_buttons(query.message)
    await forget_place(state)
    await query.message.answer(
        _("Your answers so far are kept. Come back any time from 📋 Surveys in the menu."),
        reply_markup=home_markup(),
    )


@router.message(StateFilter(Answering.typing), F.text, ~F.text.startswith("/"))
async def typed(
    message: Message,
    session: AsyncSession,
    user: User | None,
    state: FSMContext,
    settings: Settings,
    survey_store: SurveyStore,
    **data: Any,
) -> None:
    saved = await state.get_data()
    wave, index = saved.get("survey_wave"), saved.get("survey_q")
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
        await message.answer(exc.translated(), reply_markup=home_markup())
        return
    data = {**data, "session": session, "user": user}
    await stored_then_shown(message, step, state, data, survey_store)


class TypedChoice(BaseFilter):
    """A number typed while a button question waits ("2", "২", "two", "দুই"): ``number`` for the
    handler. Only outside any conversation, and only a number: other words go their own way."""

    async def __call__(self, message: Message, state: FSMContext) -> bool | dict[str, Any]:
        number = numbers.number_of(message.text, current_locale())
        if number is None or not isinstance((await state.get_data()).get("survey_wave"), int):
            return False
        return {"number": number}


@router.message(StateFilter(None), F.text, TypedChoice())
async def typed_choice(
    message: Message,
    number: int,
    session: AsyncSession,
    user: User | None,
    state: FSMContext,
    settings: Settings,
    survey_store: SurveyStore,
    **data: Any,
) -> None:
    saved = await state.get_data()
    wave, index = saved.get("survey_wave"), saved.get("survey_q")
    if user is None or not isinstance(wave, int) or not isinstance(index, int):
        return
    secret = settings.effective_secret_key
    data = {**data, "session": session, "user": user}
    try:
        step = await answering.do_begin(session, user, wave, secret_key=secret, store=survey_store)
        if step.done or step.question is None or step.index != index:
            raise StaleQuestion()
        value = answering.value_by_number(step.question, number)
        if step.question.type == QuestionType.MULTI:
            step = await answering.do_toggle(
                session, user, wave, index, value, secret_key=secret, store=survey_store
            )
        else:
            step = await answering.do_answer(
                session, user, wave, index, value, secret_key=secret, store=survey_store
            )
    except StaleQuestion:
        step = await answering.do_begin(session, user, wave, secret_key=secret, store=survey_store)
    except InvalidAnswer:
        await message.answer(_("Please tap one of the answers, or send its number."))
        return
    except DomainError as exc:
        await forget_place(state)
        await message.answer(exc.translated(), reply_markup=home_markup())
        return
    await stored_then_shown(message, step, state, data, survey_store)


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
    builder.button(text=label, callback_data=SurveyTap(action=Tap.START, wave=wave.id))
    return builder.as_markup()


@renderer(SurveyNotice.INVITE)
async def render_invite(ctx: RenderContext) -> Rendered | None:
    found = await _open_wave(ctx)
    if found is None:
        return None  # closed, finished, or no longer in the audience: nothing to say
    wave, d = found
    intro = d.text(d.intro, ctx.locale) if d.intro else ""
    # Said once, here: how long (from the number of questions) and that it is anonymous; the
    # survey's own intro says what it is about (the shipped templates no longer repeat either).
    text = _(
        "📋 <b>{title}</b>\n{intro}\nIt takes about {minutes} minutes and is anonymous: nobody "
        "can see who answered what. Open until {date}.",
        title=html.escape(d.text(d.title, ctx.locale)),
        intro=html.escape(intro),
        minutes=minutes_for(d),
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
