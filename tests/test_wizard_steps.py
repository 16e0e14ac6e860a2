"""The wizard's moves on their own (no Telegram): next, Back along the trail, ✏️ Change and its
return, skip, finish, and leave running the flow's exit hook."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import MemoryStorage
from pydantic import BaseModel

from bot.i18n import use_locale
from bot.wizard import WIZARDS, Option, Step, Turn, Wizard, leave


class Draft(BaseModel):
    colour: str | None = None
    size: str | None = None
    note: str | None = None


class Chat:
    """Stands in for the chat: keeps what the wizard says."""

    def __init__(self) -> None:
        self.said: list[str] = []

    async def answer(self, text: str, **_: Any) -> None:
        self.said.append(text)


finished: list[Draft] = []
exited: list[Draft] = []


async def _finish(turn: Turn[Draft]) -> None:
    finished.append(turn.draft.model_copy())
    await turn.end()


async def _exit(state: FSMContext, draft: Draft, data: dict[str, Any]) -> None:
    exited.append(draft)


async def _note(turn: Turn[Draft], text: str) -> str:
    return text.upper()


def _shop() -> Wizard[Draft]:
    return Wizard(
        "test-shop",
        [
            Step(
                name="colour",
                prompt=lambda d: "colour?",
                options=lambda d: [Option("red", "Red"), Option("blue", "Blue")],
                next="size",
            ),
            Step(
                name="size",
                prompt=lambda d: f"size for {d.colour}?",
                options=lambda d: [Option("s", "S"), Option("l", "L")],
                skippable=True,
                next="note",
            ),
            Step(name="note", prompt=lambda d: "note?", parse=_note, next="review"),
            Step(
                name="review",
                prompt=lambda d: f"{d.colour}/{d.size}/{d.note}",
                options=lambda d: [Option("send", "Send"), Option("size", "Change size")],
                next=None,
            ),
        ],
        draft=Draft,
        finish=_finish,
        cancelled=lambda: "cancelled",
        on_exit=_exit,
    )


SHOP: Wizard[Draft]


@pytest.fixture(autouse=True)
def _registered() -> Iterator[None]:
    """The test wizard exists only while a test runs: docs/flows.md lists the product's wizards."""
    global SHOP
    SHOP = _shop()
    yield
    WIZARDS.pop(SHOP.flow, None)


def _state() -> FSMContext:
    return FSMContext(storage=MemoryStorage(), key=StorageKey(bot_id=1, chat_id=2, user_id=2))


async def _turn(state: FSMContext, chat: Chat) -> Turn[Draft]:
    step = await SHOP.current(state)
    assert step is not None
    return Turn(SHOP, chat, state, await SHOP.load(state), {}, step)  # type: ignore[arg-type]


async def _answer(state: FSMContext, chat: Chat, field: str, value: str) -> None:
    turn = await _turn(state, chat)
    setattr(turn.draft, field, value)
    await turn.save()
    await SHOP.advance(turn)


async def test_back_follows_the_trail_and_change_returns_to_the_review() -> None:
    state, chat = _state(), Chat()
    await SHOP.start(chat, state, {})  # type: ignore[arg-type]
    await _answer(state, chat, "colour", "red")
    assert chat.said[-1] == "size for red?"
    await _answer(state, chat, "size", "s")
    await SHOP.back(await _turn(state, chat))
    assert await SHOP.current(state) == "size"
    await _answer(state, chat, "size", "l")
    await _answer(state, chat, "note", "TWO")
    assert chat.said[-1] == "red/l/TWO"

    # ✏️ Change the size from the review: answered, it comes back to the review...
    await (await _turn(state, chat)).edit("size", then="review")
    assert await SHOP.current(state) == "size"
    await _answer(state, chat, "size", "s")
    assert await SHOP.current(state) == "review" and chat.said[-1] == "red/s/TWO"
    # ...and Back from the review goes to the note, not to the review again.
    await SHOP.back(await _turn(state, chat))
    assert await SHOP.current(state) == "note"


async def test_finish_ends_the_conversation_and_leave_runs_the_exit_hook() -> None:
    state, chat = _state(), Chat()
    await SHOP.start(chat, state, {})  # type: ignore[arg-type]
    await _answer(state, chat, "colour", "blue")
    assert await leave(state, {}) is True
    assert exited[-1].colour == "blue" and await state.get_state() is None
    assert await leave(state, {}) is False  # nothing left to leave

    await SHOP.start(chat, state, {})  # type: ignore[arg-type]
    for field, value in (("colour", "red"), ("size", "s"), ("note", "x"), ("note", "x")):
        if await SHOP.current(state) == "review":
            break
        await _answer(state, chat, field, value)
    await SHOP.advance(await _turn(state, chat))
    assert finished[-1].colour == "red" and await state.get_state() is None


def test_every_screen_has_cancel_and_back_only_after_the_first_step() -> None:
    draft = Draft(colour="red")
    first = SHOP.screen("colour", draft, can_go_back=False)
    assert first.labels() == [["Red"], ["Blue"], ["✖️ Cancel"]]
    size = SHOP.screen("size", draft)
    assert size.labels() == [["S"], ["L"], ["⬅️ Back", "Skip"], ["✖️ Cancel"]]


def test_arrows_point_the_way_the_text_reads() -> None:
    """Review B17: in Arabic and Urdu Back points right (the catalogs carry the arrows)."""
    with use_locale("ar"):
        size = SHOP.screen("size", Draft(colour="red"))
        assert any(label.startswith("➡️") for label in size.labels()[2])  # Back
    with use_locale("bn"):
        size = SHOP.screen("size", Draft(colour="red"))
        assert any(label.startswith("⬅️") for label in size.labels()[2])
