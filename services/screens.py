"""A screen as data: the text of one bot message and its rows of buttons.

Flows build screens and turn them into Telegram markup; the console renders the same screens as
HTML (the survey preview), and ``docs/flows.md`` lists them. One definition, so the three cannot
drift apart. Nothing here knows about a channel: ``Button.data`` is whatever the channel needs to
recognise the tap (callback data on Telegram), opaque to everyone else.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Button:
    label: str
    data: str = ""  # what the channel sends back on a tap; empty for a link
    url: str | None = None


@dataclass(frozen=True)
class Screen:
    text: str
    rows: tuple[tuple[Button, ...], ...] = field(default_factory=tuple)

    @property
    def buttons(self) -> list[Button]:
        return [button for row in self.rows for button in row]

    def labels(self) -> list[list[str]]:
        return [[button.label for button in row] for row in self.rows]


def rows_of(buttons: Sequence[Button], per_row: int) -> tuple[tuple[Button, ...], ...]:
    """``buttons`` laid out ``per_row`` to a row (the last row may be shorter)."""
    per_row = max(1, per_row)
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))


def stack(*groups: Iterable[tuple[Button, ...]]) -> tuple[tuple[Button, ...], ...]:
    """Several groups of rows, one under the other, empty rows left out."""
    return tuple(row for group in groups for row in group if row)
