"""After consent: the factory code, gender and age as a wizard (``bot.wizard``), with Back and
Cancel; a link opened before onboarding (``bot.deeplinks``) is opened once it is done. Also
"🏭 Link my factory" for a worker who skipped the code (B1), and the factory poster link."""

from __future__ import annotations

import html
from enum import StrEnum
from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.types import Message
from pydantic import BaseModel

from bot import deeplinks, voice, wizard
from bot.flows.onboarding.texts import (
    consent_keyboard,
    factory_prompt,
    language_keyboard,
    language_prompt,
    privacy_notice,
)
from bot.i18n import _, bidi, set_gender
from bot.storage.models import Gender, User
from bot.widgets import MenuAction, home_markup, main_menu_keyboard, main_menu_text, menu_label
from bot.wizard import Option, Step, Turn, Wizard
from services import onboarding
from services.audio.clips import KeyScreen
from services.labels import label
from services.onboarding import AgeBand, UnknownFactory

UNKNOWN_CODE = "unknown"
HOME = "home"


class SetupStep(StrEnum):
    FACTORY = "factory"
    GENDER = "gender"
    AGE = "age"


class SetupDraft(BaseModel):
    factory: str = ""  # the factory's name once linked, or UNKNOWN_CODE
    gender: str = ""
    age: str = ""


async def link_code(data: dict[str, Any], text: str) -> str:
    """Link the worker to the factory of a typed code; its name, or UnknownFactory (escaped: the
    wizard shows the message as HTML)."""
    try:
        factory = await onboarding.do_attach_factory(data["session"], data["user"], text)
    except UnknownFactory:
        raise UnknownFactory(code=html.escape(text.strip()[:32]) or "?") from None
    return factory.name


async def show_menu(message: Message, data: dict[str, Any]) -> None:
    """The main menu, read aloud for a worker who listens (or with 🔊 when it has a clip)."""
    await voice.answer(message, data, main_menu_text(), main_menu_keyboard(), KeyScreen.MENU)


async def ask_language(message: Message, data: dict[str, Any]) -> None:
    """The language picker, with 🔊 when some language has its clip ("for Bangla, tap বাংলা")."""
    markup = language_keyboard()
    session = data.get("session")
    if session is not None and await voice.language_clips(session):
        markup = voice.with_listen_row(markup, voice.play_button(KeyScreen.LANGUAGE))
    await message.answer(language_prompt(), reply_markup=markup)


async def show_notice(message: Message, data: dict[str, Any]) -> None:
    """The privacy notice and consent, read aloud for a worker who chose "🔊 Listen"."""
    listening = voice.listening(data)
    markup = consent_keyboard(listening=listening)
    if listening:
        await voice.answer(message, data, privacy_notice(), markup, KeyScreen.CONSENT)
    else:
        await message.answer(privacy_notice(), reply_markup=markup)


def linked_text(name: str) -> str:
    return _("You are now linked to {factory}.", factory=html.escape(name))


async def _factory_typed(turn: Turn[SetupDraft], text: str) -> str:
    return await link_code(turn.data, text)


async def _factory_answered(turn: Turn[SetupDraft]) -> None:
    if turn.draft.factory == UNKNOWN_CODE:
        await turn.message.answer(
            _("No problem. You can link it later: tap “🏭 Link my factory” in ❓ Help.")
        )
    else:
        await turn.message.answer(linked_text(turn.draft.factory))


def _genders(draft: SetupDraft) -> list[Option]:
    # The same words the console shows for a committee member's or a survey group's gender.
    return [Option(g, label(g)) for g in Gender]


def _ages(draft: SetupDraft) -> list[Option]:
    # Number ranges are isolated so they read left to right in Arabic and Urdu too.
    return [
        Option(AgeBand.UNDER_18, label(AgeBand.UNDER_18)),
        Option(AgeBand.FROM_18, bidi(label(AgeBand.FROM_18))),
        Option(AgeBand.FROM_25, bidi(label(AgeBand.FROM_25))),
        Option(AgeBand.FROM_35, bidi(label(AgeBand.FROM_35))),
        Option(AgeBand.FROM_45, label(AgeBand.FROM_45)),
    ]


async def _gender_answered(turn: Turn[SetupDraft]) -> None:
    await onboarding.do_set_demographics(
        turn.data["session"], turn.data["user"], gender=turn.draft.gender
    )
    set_gender(turn.draft.gender)  # the next screens already speak to her in her own words


async def _age_answered(turn: Turn[SetupDraft]) -> None:
    await onboarding.do_set_demographics(
        turn.data["session"], turn.data["user"], age_band=turn.draft.age
    )


async def _finished(turn: Turn[SetupDraft]) -> None:
    # The link opened before onboarding: taken before the state goes with the conversation.
    pending = await deeplinks.take_remembered(turn.state)
    await turn.end()
    await turn.message.answer(_("Thank you. You are all set."))
    await open_or_menu(turn.message, turn.state, turn.data, pending)


async def open_or_menu(
    message: Message,
    state: FSMContext,
    data: dict[str, Any],
    pending: tuple[deeplinks.LinkKind, str] | None,
) -> None:
    if pending is not None:
        if await deeplinks.open_link(*pending, message, state, data):
            return
        await message.answer(_("Please open the invitation link you used once more to continue."))
    await show_menu(message, data)


SETUP: Wizard[SetupDraft] = Wizard(
    "onboarding",
    [
        Step(
            name=SetupStep.FACTORY,
            prompt=lambda d: factory_prompt(),
            options=lambda d: [Option(UNKNOWN_CODE, _("I don't know the code"))],
            parse=_factory_typed,
            on_answer=_factory_answered,
            next=SetupStep.GENDER,
        ),
        Step(
            name=SetupStep.GENDER,
            prompt=lambda d: _(
                "Two optional questions help us see if problems affect women and men differently. "
                "Your gender?"
            ),
            options=_genders,
            per_row=2,
            on_answer=_gender_answered,
            next=SetupStep.AGE,
        ),
        Step(
            name=SetupStep.AGE,
            prompt=lambda d: _("How old are you?"),
            options=_ages,
            per_row=3,
            more_rows=lambda d: [[Option(AgeBand.UNDISCLOSED, label(AgeBand.UNDISCLOSED))]],
            on_answer=_age_answered,
        ),
    ],
    draft=SetupDraft,
    finish=_finished,
    cancelled=lambda: _("That is fine: these questions are optional. The menu is ready for you."),
    title="Onboarding (after the language and the privacy notice)",
    sample=SetupDraft(factory="Dhaka Knitwear"),
)


async def after_consent(message: Message, state: FSMContext, data: dict[str, Any]) -> None:
    """The worker agreed: link the factory of a poster link opened earlier, then the questions.
    Any other link opened earlier (a committee, a topic) waits until they are done."""
    user: User = data["user"]
    pending = await deeplinks.take_remembered(state)
    if pending is not None and pending[0] is deeplinks.LinkKind.FACTORY:
        try:
            await message.answer(linked_text(await link_code(data, pending[1])))
        except UnknownFactory as exc:
            await message.answer(exc.translated())
        pending = None
    at = SetupStep.GENDER if user.factory_id is not None else None
    await SETUP.start(message, state, data, at=at)  # Wizard.start clears the state: re-keep
    if pending is not None:
        await deeplinks.remember(state, *pending)


async def show_step(
    message: Message, user: User | None, state: FSMContext, data: dict[str, Any]
) -> None:
    """Re-show whatever the worker still has to do: the language, the notice, the step of a
    conversation in progress; the menu once they are done."""
    if user is None or user.locale is None:
        await ask_language(message, data)
        return
    if user.consent_at is None:
        await show_notice(message, {**data, "user": user})
        return
    active = wizard.active(await state.get_state())
    step = await active.current(state) if active is not None else None
    if active is not None and step is not None:
        await active.ask(Turn(active, message, state, await active.load(state), data, step))
        return
    await show_menu(message, data)


# --- 🏭 Link my factory, for a worker who skipped the code ----------------------------------


class LinkDraft(BaseModel):
    code: str = ""


async def _link_typed(turn: Turn[LinkDraft], text: str) -> str:
    return await link_code(turn.data, text)


async def _link_tapped(turn: Turn[LinkDraft]) -> None:
    if turn.draft.code == HOME:  # 🏠 under the prompt
        await turn.end()
        await show_menu(turn.message, turn.data)


async def _linked(turn: Turn[LinkDraft]) -> None:
    await turn.end()
    await turn.message.answer(linked_text(turn.draft.code))
    await show_menu(turn.message, turn.data)


LINK: Wizard[LinkDraft] = Wizard(
    "factory",
    [
        Step(
            name="code",
            prompt=lambda d: _(
                "Type the factory code from the poster (for example DK-01). "
                "Ask a coworker or the committee if you do not have it."
            ),
            parse=_link_typed,
            more_rows=lambda d: [[Option(HOME, menu_label(MenuAction.HOME))]],
            on_answer=_link_tapped,
        ),
    ],
    draft=LinkDraft,
    finish=_linked,
    cancelled=lambda: _("No factory was linked."),
    title="Link my factory",
)


async def open_factory(
    message: Message, state: FSMContext, data: dict[str, Any], code: str
) -> None:
    """A factory poster link (``f_``) opened by a worker who is set up: link it at once."""
    try:
        name = await link_code(data, code)
    except UnknownFactory as exc:
        await message.answer(exc.translated(), reply_markup=home_markup())
        return
    await message.answer(linked_text(name))
    await show_menu(message, data)


deeplinks.register(deeplinks.LinkKind.FACTORY, open_factory)
