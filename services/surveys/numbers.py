"""Numbers as a worker types them: "1", "১", "١", "one", "এক". A worker who listens to a question
can answer by the number of her choice instead of finding its button.

Digits of every script count (``unicodedata``), and the words for one to ten in every language:
each is one msgid in the surveys catalog whose translation lists the words, separated by "|", so
translators own them and can add the spellings workers use. Every language's words are accepted in
every language, as for the typed commands (a migrant's phone and chat often differ); where two
languages spell different numbers alike, the worker's own language wins.
"""

from __future__ import annotations

import unicodedata
from functools import cache

from bot.i18n import N_, gettext
from bot.i18n.languages import LANGUAGES, SOURCE_LOCALE

WORDS: dict[int, str] = {
    # Translators: the number 1 as words a worker may type to answer, separated by |.
    1: N_("one|first"),
    # Translators: the number 2 as words a worker may type to answer, separated by |.
    2: N_("two|second"),
    # Translators: the number 3 as words a worker may type to answer, separated by |.
    3: N_("three|third"),
    # Translators: the number 4 as words a worker may type to answer, separated by |.
    4: N_("four|fourth"),
    # Translators: the number 5 as words a worker may type to answer, separated by |.
    5: N_("five|fifth"),
    # Translators: the number 6 as words a worker may type to answer, separated by |.
    6: N_("six|sixth"),
    # Translators: the number 7 as words a worker may type to answer, separated by |.
    7: N_("seven|seventh"),
    # Translators: the number 8 as words a worker may type to answer, separated by |.
    8: N_("eight|eighth"),
    # Translators: the number 9 as words a worker may type to answer, separated by |.
    9: N_("nine|ninth"),
    # Translators: the number 10 as words a worker may type to answer, separated by |.
    10: N_("ten|tenth"),
}
# Punctuation a phone keyboard adds around a word: full stops of every script, RTL marks.
_EDGES = " \t\n.!?¿¡,;:/؟،।॥።፧。\u200f\u200e\u200d\u200c\u200b"
LONGEST = 40


def normalise(text: str) -> str:
    words = unicodedata.normalize("NFC", text).casefold().strip(_EDGES).split()
    return " ".join(words)


def words_in(locale: str) -> dict[str, int]:
    """One language's words for one to ten."""
    found: dict[str, int] = {}
    for number, msgid in WORDS.items():
        for word in gettext(msgid, locale=locale).split("|"):
            if clean := normalise(word):
                found.setdefault(clean, number)
    return found


@cache
def _table(first: str) -> dict[str, int]:
    table: dict[str, int] = {}
    for code in (first, SOURCE_LOCALE, *LANGUAGES):
        for word, number in words_in(code).items():
            table.setdefault(word, number)
    return table


def digits_value(text: str) -> int | None:
    """Whole numbers in any script's digits (১২, ١٢, 12), or None."""
    if not text or not all(ch.isdecimal() for ch in text):
        return None
    return int("".join(str(unicodedata.decimal(ch)) for ch in text))


def number_of(text: str | None, locale: str = SOURCE_LOCALE) -> int | None:
    """The whole number a worker typed, as digits or as a word of one to ten, else None."""
    if not text or len(text) > LONGEST:
        return None
    clean = normalise(text)
    value = digits_value(clean)
    if value is not None:
        return value
    return _table(locale).get(clean)
