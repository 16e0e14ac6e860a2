"""One conversation pattern for every multi-step flow: steps as data, Back and Cancel on every
step, ``/cancel`` everywhere, stale taps re-ask, typed drafts cleared on every exit.

A flow declares a ``Wizard`` with a table of ``Step``s and a pydantic draft, and includes
``wizard.router`` in its own router (after its own handlers). The wizard then:

* shows each step as a ``services.screens.Screen``: the prompt, the options ``per_row`` to a row,
  ⬅️ Back from the second step on, Skip where allowed, ✖️ Cancel always;
* takes a tap (``StepTap(flow, step, value)``) only for the step the worker is on: a button of an
  earlier step or conversation re-asks the current step, a forged value too, and a tap arriving
  after the conversation expired (the storage's TTL, ``WORKVOICE_DRAFT_TTL_MINUTES``) says so;
* takes typed text where the step has a ``parse`` (a ``DomainError`` from it is shown and the step
  asked again), other messages where it has an ``on_message``; anything else re-asks the step;
* keeps the trail for Back and the typed draft in the conversation state, and on Cancel,
  ``/cancel``, ``/start``, ``/menu`` or 🏠 (``leave``) runs the flow's ``on_exit`` and clears both.

Steps move by ``next`` (a step name, or a function of the draft; ``None`` finishes). ``on_answer``
runs after an answer is stored (say something, send helplines) and ``finish`` when the last step is
answered. ``Turn`` carries what a hook needs: the chat, the state, the draft and the handler data
(``session``, ``user``, ``settings``, ``bot``, ``locale``).

Inspired by aiogram_dialog (windows as data, unknown intent → re-ask) without the dependency: the
console draws the same screens and must not import aiogram.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from pydantic import BaseModel, ValidationError

from bot import voice
from bot.i18n import _
from bot.widgets import home_markup, remove_buttons
from services.audio.clips import KeyScreen
from services.errors import DomainError
from services.screens import Button, Screen, rows_of, stack

log = logging.getLogger(__name__)

D = TypeVar("D", bound=BaseModel)

# Keys of the conversation state that belong to the wizard, not to the flow's draft.
_DRAFT, _TRAIL, _RETURN = "wizard_draft", "wizard_trail", "wizard_return"


class Nav(StrEnum):
    """Taps every step understands, whatever its options."""

    BACK = "~back"
    CANCEL = "~cancel"
    SKIP = "~skip"


class StepTap(CallbackData, prefix="w"):
    """A tap on a wizard's button: which flow, which step it was shown for, and the value."""

    flow: str
    step: str
    value: str


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass
class Turn(Generic[D]):
    """One update inside a wizard: where to answer, the state, the draft and the handler data."""

    wizard: Wizard[D]
    message: Message
    state: FSMContext
    draft: D
    data: dict[str, Any]
    step: str

    async def show(self, screen: Screen) -> Message:
        return await self.message.answer(screen.text, reply_markup=markup_of(screen))

    async def save(self) -> None:
        await self.state.update_data({_DRAFT: self.draft.model_dump(mode="json")})

    async def go(self, step: str) -> None:
        """Move on to ``step`` (Back returns here) and ask it."""
        await self.wizard.go(self, step)

    async def ask(self) -> None:
        """Ask the current step again."""
        await self.wizard.ask(self)

    async def edit(self, step: str, *, then: str) -> None:
        """Ask ``step`` again and come back to ``then`` once it is answered (✏️ Change)."""
        await self.state.update_data({_RETURN: then})
        await self.wizard.go(self, step)

    async def end(self) -> None:
        """The conversation is over (finished or abandoned): state and draft go."""
        await self.state.clear()


Hook = Callable[[Turn[D]], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class Step(Generic[D]):
    """One question. ``prompt`` and ``options`` are functions of the draft so a step can depend on
    earlier answers; both are called at render time, in the worker's language."""

    name: str
    prompt: Callable[[D], str]
    options: Callable[[D], Sequence[Option]] | None = None
    per_row: int = 1
    # Typed text: the value to store, or a DomainError whose message is shown (the step stays).
    parse: Callable[[Turn[D], str], Awaitable[Any]] | None = None
    # Other messages (voice notes, photos, several messages collected): the hook handles them all.
    on_message: Callable[[Turn[D], Message], Awaitable[None]] | None = None
    store: str | None = None  # the draft field an answer goes to; the step's name by default
    next: str | Callable[[D], str | None] | None = None
    leads_to: tuple[str, ...] = ()  # where a ``next`` function may go, for docs/flows.md
    on_answer: Hook[D] | None = None
    skippable: bool = False
    back: bool = True  # False on a step one must not go back from (files already kept, ...)
    more_rows: Callable[[D], Sequence[Sequence[Option]]] | None = None  # rows under the options
    audio: KeyScreen | None = None  # a key screen: its recorded clip is played or offered (🔊)

    @property
    def field(self) -> str:
        return self.store or self.name

    def targets(self) -> tuple[str, ...]:
        if isinstance(self.next, str):
            return (self.next,)
        return self.leads_to


WIZARDS: dict[str, Wizard[Any]] = {}


class Wizard(Generic[D]):
    def __init__(
        self,
        flow: str,
        steps: Sequence[Step[D]],
        *,
        draft: type[D],
        finish: Hook[D],
        cancelled: Callable[[], str],
        on_exit: Callable[[FSMContext, D, dict[str, Any]], Awaitable[None]] | None = None,
        title: str = "",
        sample: D | None = None,
    ) -> None:
        if flow in WIZARDS:
            raise ValueError(f"two wizards named {flow}")
        self.flow = flow
        self.title = title or flow
        self.steps = {step.name: step for step in steps}
        self.first = steps[0].name
        self.draft_model = draft
        self.finish = finish
        self.cancelled = cancelled
        self.on_exit = on_exit
        self.sample = sample  # a filled draft, so docs/flows.md can draw every step
        for step in steps:
            unknown = set(step.targets()) - set(self.steps)
            if unknown:
                raise ValueError(f"{flow}.{step.name} leads to unknown steps {sorted(unknown)}")
        self.router = self._build_router()
        WIZARDS[flow] = self

    # --- state -------------------------------------------------------------------------------

    def state(self, step: str) -> str:
        return f"{self.flow}:{step}"

    def states(self) -> list[str]:
        return [self.state(name) for name in self.steps]

    async def current(self, state: FSMContext) -> str | None:
        """The step the worker is on in this wizard, or None."""
        raw = await state.get_state()
        if raw is None or not raw.startswith(f"{self.flow}:"):
            return None
        name = raw.split(":", 1)[1]
        return name if name in self.steps else None

    async def load(self, state: FSMContext) -> D:
        raw = (await state.get_data()).get(_DRAFT) or {}
        try:
            return self.draft_model.model_validate(raw)
        except ValidationError:  # a draft from an older version of the flow: start it afresh
            return self.draft_model()

    # --- moving --------------------------------------------------------------------------------

    async def start(
        self,
        message: Message,
        state: FSMContext,
        data: dict[str, Any],
        draft: D | None = None,
        *,
        at: str | None = None,
    ) -> None:
        """Begin the flow at its first step, or at ``at`` when earlier answers came with the
        draft (a deep link): any other conversation is left first."""
        await leave(state, data)
        draft = draft if draft is not None else self.draft_model()
        step = at or self.first
        await state.set_state(self.state(step))
        await state.set_data({_DRAFT: draft.model_dump(mode="json"), _TRAIL: []})
        await self.ask(Turn(self, message, state, draft, data, step))

    async def go(self, turn: Turn[D], step: str, *, remember: bool = True) -> None:
        data = await turn.state.get_data()
        trail = list(data.get(_TRAIL) or [])
        if remember and turn.step != step:
            trail.append(turn.step)
        await turn.state.set_state(self.state(step))
        await turn.state.update_data({_DRAFT: turn.draft.model_dump(mode="json"), _TRAIL: trail})
        turn.step = step
        await self.ask(turn)

    async def ask(self, turn: Turn[D]) -> None:
        trail = (await turn.state.get_data()).get(_TRAIL) or []
        screen = self.screen(turn.step, turn.draft, can_go_back=bool(trail))
        audio = self.steps[turn.step].audio
        if audio is not None:
            await voice.answer(turn.message, turn.data, screen.text, markup_of(screen), audio)
            return
        await turn.message.answer(screen.text, reply_markup=markup_of(screen))

    async def advance(self, turn: Turn[D]) -> None:
        """The current step is answered: come back to the review, go on, or finish."""
        step = self.steps[turn.step]
        data = await turn.state.get_data()
        back_to = data.get(_RETURN)
        if back_to:
            # Back from the review then leads where it led before the change, not to the review.
            trail = list(data.get(_TRAIL) or [])
            if trail and trail[-1] == back_to:
                trail.pop()
            await turn.state.update_data({_RETURN: None, _TRAIL: trail})
            await self.go(turn, back_to, remember=False)
            return
        target = step.next(turn.draft) if callable(step.next) else step.next
        if target is None:
            await turn.save()
            await self.finish(turn)
            return
        await self.go(turn, target)

    async def back(self, turn: Turn[D]) -> None:
        data = await turn.state.get_data()
        trail = list(data.get(_TRAIL) or [])
        if not trail or not self.steps[turn.step].back:
            await self.ask(turn)
            return
        previous = trail.pop()
        await turn.state.update_data({_TRAIL: trail, _RETURN: None})
        await turn.state.set_state(self.state(previous))
        turn.step = previous
        await self.ask(turn)

    async def cancel(self, turn: Turn[D]) -> None:
        await leave(turn.state, turn.data)
        await turn.message.answer(self.cancelled(), reply_markup=home_markup())

    # --- screens -------------------------------------------------------------------------------

    def screen(self, name: str, draft: D, *, can_go_back: bool = True) -> Screen:
        step = self.steps[name]
        options = list(step.options(draft)) if step.options else []

        def button(option: Option) -> Button:
            tap = StepTap(flow=self.flow, step=name, value=option.value)
            return Button(option.label, tap.pack())

        nav = [Button(_("⬅️ Back"), self._nav(name, Nav.BACK))] if step.back and can_go_back else []
        if step.skippable:
            nav.append(Button(_("Skip"), self._nav(name, Nav.SKIP)))
        extra = [
            tuple(button(o) for o in row)
            for row in (step.more_rows(draft) if step.more_rows else [])
        ]
        return Screen(
            step.prompt(draft),
            stack(
                rows_of([button(o) for o in options], step.per_row),
                extra,
                (tuple(nav),),
                ((Button(_("✖️ Cancel"), self._nav(name, Nav.CANCEL)),),),
            ),
        )

    def _nav(self, step: str, nav: Nav) -> str:
        return StepTap(flow=self.flow, step=step, value=nav.value).pack()

    # --- handlers ------------------------------------------------------------------------------

    def _build_router(self) -> Router:
        router = Router(name=f"wizard:{self.flow}")
        router.callback_query.register(self._on_tap, StepTap.filter(F.flow == self.flow))
        router.message.register(
            self._on_message, StateFilter(*self.states()), ~F.text.startswith("/")
        )
        return router

    async def _on_tap(
        self, query: CallbackQuery, callback_data: StepTap, state: FSMContext, **data: Any
    ) -> None:
        message = query.message if isinstance(query.message, Message) else None
        current = await self.current(state)
        if message is None:
            await query.answer()
            return
        if current is None or callback_data.step != current:
            await query.answer(_("This button is no longer active."))
            await remove_buttons(message)
            await reask_or_expired(message, state, data)
            return
        turn = Turn(self, message, state, await self.load(state), data, current)
        step = self.steps[current]
        value = callback_data.value
        if value == Nav.CANCEL:
            await query.answer()
            await remove_buttons(message)
            await self.cancel(turn)
            return
        if value == Nav.BACK:
            await query.answer()
            await remove_buttons(message)
            await self.back(turn)
            return
        if value == Nav.SKIP and step.skippable:
            await query.answer()
            await remove_buttons(message)
            if hasattr(turn.draft, step.field):
                setattr(turn.draft, step.field, None)
            await self.advance(turn)
            return
        offered = {o.value for o in (step.options(turn.draft) if step.options else [])}
        offered |= {
            o.value for row in (step.more_rows(turn.draft) if step.more_rows else []) for o in row
        }
        if value not in offered:  # forged, or an option that no longer applies
            await query.answer(_("This button is no longer active."))
            await self.ask(turn)
            return
        await query.answer()
        await remove_buttons(message)
        if hasattr(turn.draft, step.field):
            setattr(turn.draft, step.field, value)
        await turn.save()
        if step.on_answer is not None:
            await step.on_answer(turn)
            if await self.current(state) != current:  # the hook moved or ended the conversation
                return
        await self.advance(turn)

    async def _on_message(self, message: Message, state: FSMContext, **data: Any) -> None:
        current = await self.current(state)
        if current is None:
            return
        step = self.steps[current]
        turn = Turn(self, message, state, await self.load(state), data, current)
        if step.on_message is not None:
            await step.on_message(turn, message)
            return
        if step.parse is not None and message.text:
            try:
                value = await step.parse(turn, message.text)
            except DomainError as exc:
                await message.answer(exc.translated())
                await self.ask(turn)
                return
            if hasattr(turn.draft, step.field):
                setattr(turn.draft, step.field, value)
            await turn.save()
            if step.on_answer is not None:
                await step.on_answer(turn)
                if await self.current(state) != current:
                    return
            await self.advance(turn)
            return
        hint = (
            _("Please type your answer, or use the buttons.")
            if step.parse is not None
            else _("Please use the buttons below.")
        )
        await message.answer(hint)
        await self.ask(turn)


# --- what every flow shares --------------------------------------------------------------------


def active(state_name: str | None) -> Wizard[Any] | None:
    """The wizard a conversation state belongs to."""
    if not state_name or ":" not in state_name:
        return None
    return WIZARDS.get(state_name.split(":", 1)[0])


async def leave(state: FSMContext, data: dict[str, Any]) -> bool:
    """End whatever conversation the worker is in: its ``on_exit`` (drop sealed files, ...), then
    state and draft go. True if there was one. ``/start``, ``/menu``, 🏠 and Cancel all come here."""
    wizard = active(await state.get_state())
    if wizard is not None and wizard.on_exit is not None:
        await wizard.on_exit(state, await wizard.load(state), data)
    had = (await state.get_state()) is not None
    await state.clear()
    return had or wizard is not None


async def reask_or_expired(message: Message, state: FSMContext, data: dict[str, Any]) -> None:
    """After a stale tap: ask the step of the conversation in progress again, or, when none is
    (it expired or ended), say so and offer the menu."""
    wizard = active(await state.get_state())
    current = await wizard.current(state) if wizard is not None else None
    if wizard is not None and current is not None:
        await wizard.ask(Turn(wizard, message, state, await wizard.load(state), data, current))
        return
    await message.answer(
        _(
            "This conversation was closed: it ended, or it was left for a long time and deleted to "
            "keep you safe. Please start again from the menu."
        ),
        reply_markup=home_markup(),
    )


def markup_of(screen: Screen) -> InlineKeyboardMarkup | None:
    if not screen.rows:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=b.label, url=b.url)
                if b.url
                else InlineKeyboardButton(text=b.label, callback_data=b.data)
                for b in row
            ]
            for row in screen.rows
        ]
    )


# --- /cancel, anywhere --------------------------------------------------------------------------

router = Router(name=__name__)


@router.message(Command("cancel"))
async def cancel_command(message: Message, state: FSMContext, **data: Any) -> None:
    wizard = active(await state.get_state())
    if await leave(state, data):
        text = wizard.cancelled() if wizard is not None else _("Stopped. Nothing was kept.")
        await message.answer(text, reply_markup=home_markup())
        return
    await message.answer(_("There is nothing to cancel."), reply_markup=home_markup())
