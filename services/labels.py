"""Human words, in the reader's language, for the values the domain stores as keys (states,
severities, categories, harms, outcomes, referral bodies, roles, sides, weekdays, age bands).

The console shows them through the ``label`` template filter; the bot's flows use the same words,
so a worker and a case handler read the same thing. Each enum registers its words once here with
``register``; an unregistered value falls back to a readable form of its key, and a test checks
that every value the console can show has words.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

from bot.i18n import gettext

_WORDS: dict[type[Enum], Mapping[Enum, str]] = {}


def register(kind: type[Enum], words: Mapping[Enum, str]) -> None:
    """``words``: each member's English label, marked with ``N_`` for extraction."""
    _WORDS[kind] = words


def has_words(value: Enum) -> bool:
    return value in _WORDS.get(type(value), {})


def label(value: object, *, locale: str | None = None) -> str:
    """The words for ``value`` in ``locale`` (the current one by default)."""
    if isinstance(value, Enum):
        words = _WORDS.get(type(value), {})
        if value in words:
            return gettext(words[value], locale=locale)
        value = value.value
    return str(value).replace("_", " ")
