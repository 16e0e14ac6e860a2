"""One set of digits per language: the one CLDR names as the locale's default numbering system.

Bangla is written with ০১২…৯, Burmese with ၀၁၂…၉, Nepali with ०१२…९; every other language the bot
speaks (Arabic included: CLDR's default for plain ``ar`` is ``latn``, only regional locales such
as ``ar_EG`` or ``ar_JO`` default to ``arab``) uses 0–9. Babel formats numbers and dates with
ASCII digits whatever the locale, so ``bot.i18n`` passes what it formats through ``localize``;
mixing "৫টির মধ্যে 1 নম্বর প্রশ্ন" on one screen was review B14.

Identifiers are never converted: receipt numbers, codes and phone numbers are strings that
people copy and Telegram links, and callback data never pass through here. Typed input goes the
other way with ``to_ascii``, which reads the digits of any script.
"""

from __future__ import annotations

import unicodedata
from functools import cache

from babel import Locale, UnknownLocaleError
from babel.core import get_global

LATIN = "latn"
# CLDR numbering systems with ten decimal digits in a row, by the name of their digit zero.
_ZERO_NAMES = {
    "arab": "ARABIC-INDIC DIGIT ZERO",
    "arabext": "EXTENDED ARABIC-INDIC DIGIT ZERO",
    "beng": "BENGALI DIGIT ZERO",
    "deva": "DEVANAGARI DIGIT ZERO",
    "khmr": "KHMER DIGIT ZERO",
    "mymr": "MYANMAR DIGIT ZERO",
    "sinh": "SINHALA LITH DIGIT ZERO",
    "tamldec": "TAMIL DIGIT ZERO",
    "thai": "THAI DIGIT ZERO",
}
_ASCII_ZERO = ord("0")


@cache
def numbering_system(locale: str) -> str:
    """CLDR's default numbering system of ``locale`` (``"beng"`` for bn, ``"latn"`` for en)."""
    try:
        system = Locale.parse(locale).default_numbering_system
    except (UnknownLocaleError, ValueError):
        return LATIN
    return system if system in _ZERO_NAMES else LATIN


@cache
def zero(locale: str) -> str:
    """The digit zero of the locale's numbering system (the nine others follow it in Unicode)."""
    system = numbering_system(locale)
    return "0" if system == LATIN else unicodedata.lookup(_ZERO_NAMES[system])


@cache
def _table(locale: str) -> dict[int, str]:
    first = ord(zero(locale))
    return {_ASCII_ZERO + n: chr(first + n) for n in range(10)}


def localize(text: str, locale: str) -> str:
    """``text`` with its ASCII digits written in the locale's digits ("14:05" -> "১৪:০৫")."""
    return text.translate(_table(locale)) if numbering_system(locale) != LATIN else text


def to_ascii(text: str) -> str:
    """Any script's decimal digits as ASCII (১৯, ١٩, ၁၉, ១៩ ...); everything else kept."""
    return "".join(
        ch if (value := unicodedata.decimal(ch, None)) is None else str(value) for ch in text
    )


def foreign_digits(text: str, locale: str) -> list[str]:
    """The decimal digits in ``text`` that are not the locale's own (for the catalog check)."""
    own = zero(locale)
    return [
        ch
        for ch in text
        if unicodedata.decimal(ch, None) is not None
        and ord(ch) - unicodedata.decimal(ch) != ord(own)
    ]


@cache
def script_of(locale: str) -> str:
    """The locale's usual script from CLDR's likely subtags (``"Beng"`` for bn)."""
    likely = get_global("likely_subtags").get(locale, "")
    parts = likely.split("_")
    return parts[1] if len(parts) > 2 else "Latn"
