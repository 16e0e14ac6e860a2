"""Links into the bot (``t.me/<bot>?start=<payload>``), one registry for every kind: ``f_`` a
factory poster, ``c_`` a committee invitation, ``t_`` a news topic.

A flow registers the opener for its kind; ``/start <payload>`` (onboarding) calls ``open_link``.
A link opened before onboarding is finished is kept (``remember``) and opened by
``open_remembered`` once the worker is set up, instead of asking them to open it again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.types import Message

_PENDING = "pending_link"


class LinkKind(StrEnum):
    FACTORY = "f_"
    COMMITTEE = "c_"
    TOPIC = "t_"


Opener = Callable[[Message, FSMContext, dict[str, Any], str], Awaitable[None]]
_OPENERS: dict[LinkKind, Opener] = {}


def register(kind: LinkKind, opener: Opener) -> None:
    _OPENERS[kind] = opener


def parse(payload: str | None) -> tuple[LinkKind, str] | None:
    """``(kind, value)`` of a start payload, or None when it is none of ours."""
    payload = (payload or "").strip()
    for kind in LinkKind:
        if payload.startswith(kind.value) and len(payload) > len(kind.value):
            return kind, payload[len(kind.value) :]
    return None


def link(kind: LinkKind, value: str) -> str:
    """The start payload for ``value`` (Telegram allows A-Z, a-z, 0-9, _ and -, 64 at most)."""
    return f"{kind.value}{value}"


async def open_link(
    kind: LinkKind, value: str, message: Message, state: FSMContext, data: dict[str, Any]
) -> bool:
    opener = _OPENERS.get(kind)
    if opener is None:
        return False
    await opener(message, state, data, value)
    return True


async def remember(state: FSMContext, kind: LinkKind, value: str) -> None:
    await state.update_data({_PENDING: link(kind, value)})


async def take_remembered(state: FSMContext) -> tuple[LinkKind, str] | None:
    """The link kept during onboarding, removed from the state."""
    data = await state.get_data()
    found = parse(data.get(_PENDING))
    if _PENDING in data:
        await state.update_data({_PENDING: None})
    return found


async def open_remembered(message: Message, state: FSMContext, data: dict[str, Any]) -> bool:
    found = await take_remembered(state)
    return found is not None and await open_link(*found, message, state, data)
