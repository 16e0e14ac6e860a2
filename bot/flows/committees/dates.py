"""Due dates the secretary chooses: buttons relative to today on the factory's calendar, or a date
typed the way the worker's language writes dates (day, month and year in the order of its short
date format, any separator, the language's own digits), ISO dates too (B16)."""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta
from enum import StrEnum
from functools import cache

from babel import Locale
from babel.dates import get_date_format

from bot.i18n import N_, current_locale, digits, ltr_isolate
from bot.i18n.languages import is_rtl
from services.errors import DomainError


class Due(StrEnum):
    """The due-date buttons."""

    WEEK = "w1"
    TWO_WEEKS = "w2"
    MONTH_END = "eom"
    MONTH = "m1"


class BadDate(DomainError):
    code = "bad_date"
    message = N_("Please type a date from today on, like {example}.")


def due_from(choice: Due, today: date) -> date:
    if choice is Due.WEEK:
        return today + timedelta(days=7)
    if choice is Due.TWO_WEEKS:
        return today + timedelta(days=14)
    if choice is Due.MONTH_END:
        return today.replace(day=calendar.monthrange(today.year, today.month)[1])
    return today + timedelta(days=30)


@cache
def _order(locale: str) -> str:
    """``"dmy"``, ``"mdy"`` or ``"ymd"``: the order of the language's short date format."""
    pattern = get_date_format("short", locale=Locale.parse(locale)).pattern
    seen = [c for c in re.sub(r"'[^']*'", "", pattern) if c in "dMy"]
    order = "".join(dict.fromkeys(c.lower() for c in seen))
    return order if sorted(order) == ["d", "m", "y"] else "dmy"


def example(day: date, locale: str | None = None) -> str:
    """``day`` written the way ``parse_due`` reads it in ``locale``: 19/1/2027, 1/19/2027,
    ১৯/১/২০২৭ (in the language's own digits, which ``parse_due`` reads too)."""
    locale = locale or current_locale()
    parts = {"d": str(day.day), "m": str(day.month), "y": str(day.year)}
    text = digits.localize("/".join(parts[c] for c in _order(locale)), locale)
    return ltr_isolate(text) if is_rtl(locale) else text


def parse_due(text: str, today: date, locale: str | None = None) -> date:
    """A typed date from ``today`` on, or ``BadDate`` (with an example in the worker's format).
    Two numbers are a day and a month (the next such day); a two-digit year is in this century."""
    locale = locale or current_locale()
    found: date | None = None
    try:
        numbers = [int(n) for n in re.findall(r"\d+", digits.to_ascii(text[:100]))]
        if len(numbers) == 3 and len(str(numbers[0])) == 4:  # ISO, whatever the language
            found = date(numbers[0], numbers[1], numbers[2])
        elif len(numbers) == 3:
            values = dict(zip(_order(locale), numbers, strict=True))
            year = values["y"] + 2000 if values["y"] < 100 else values["y"]
            found = date(year, values["m"], values["d"])
        elif len(numbers) == 2:
            values = dict(zip(_order(locale).replace("y", ""), numbers, strict=True))
            found = date(today.year, values["m"], values["d"])
            if found < today:
                found = found.replace(year=today.year + 1)
    except (ValueError, OverflowError):  # 31/2, 0/0, a year past 9999, a 30-digit number
        found = None
    if found is None or found < today:
        raise BadDate(example=example(today + timedelta(days=14), locale))
    return found
