"""One way to say anything to a person: translate through the gettext catalogs in ``locales/``.

Catalogs are split by capability (``core``, ``onboarding``, ``reports`` ...), one ``.po`` per locale
and capability, so teams translating different capabilities never edit the same file. They are read
straight from the ``.po`` files with Babel and merged per locale, so nothing needs compiling before
the bot starts; ``workvoice i18n compile`` still writes ``.mo`` files for the usual gettext tooling.

This module imports no aiogram: the console and the domain services translate with it too.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, tzinfo
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, dates, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import LazyProxy, NullTranslations, Translations

from bot.i18n.languages import LANGUAGES, SOURCE_LOCALE, is_rtl, supported

__all__ = [
    "LANGUAGES",
    "LRI",
    "PDI",
    "_",
    "__",
    "_n",
    "bidi_number",
    "current_locale",
    "format_date",
    "format_datetime",
    "format_number",
    "format_time",
    "gettext",
    "is_rtl",
    "locales_dir",
    "ltr_isolate",
    "ngettext",
    "pgettext",
    "supported",
    "use_locale",
]

_current: ContextVar[str] = ContextVar("workvoice_locale", default=SOURCE_LOCALE)

# Right-to-left mark: keeps digits and Latin punctuation from jumping sides in ar/ur text.
RLM = "\u200f"


def locales_dir() -> Path:
    """The catalogs' folder: ``WORKVOICE_LOCALES_DIR`` when set, else ``bot/i18n/locales``, which is
    the copy shipped in the wheel and, in a checkout, a link to the top-level ``locales/``."""
    override = os.environ.get("WORKVOICE_LOCALES_DIR")
    if override:
        return Path(override)
    packaged = (Path(__file__).parent / "locales").resolve()
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "locales"  # a checkout without the link


@cache
def translations(locale: str) -> NullTranslations:
    """All capability catalogs of one locale merged into one (cached for the process)."""
    folder = locales_dir() / locale / "LC_MESSAGES"
    merged: NullTranslations = NullTranslations()
    if locale == SOURCE_LOCALE or not folder.is_dir():
        return merged
    for po_path in sorted(folder.glob("*.po")):
        with po_path.open("rb") as fh:
            catalog = read_po(fh, locale=locale, domain=po_path.stem)
        buf = io.BytesIO()
        write_mo(buf, catalog)  # fuzzy entries are left out, as gettext does
        buf.seek(0)
        loaded = Translations(buf, domain=po_path.stem)
        if isinstance(merged, Translations):
            merged.merge(loaded)
        else:
            merged = loaded
    return merged


def reload_catalogs() -> None:
    translations.cache_clear()


def current_locale() -> str:
    return _current.get()


@contextmanager
def use_locale(locale: str | None) -> Iterator[str]:
    code = supported(locale) or SOURCE_LOCALE
    token = _current.set(code)
    try:
        yield code
    finally:
        _current.reset(token)


def set_locale(locale: str | None) -> str:
    """Set the locale for the rest of this task (the bot middleware calls it once per update)."""
    code = supported(locale) or SOURCE_LOCALE
    _current.set(code)
    return code


def gettext(message: str, /, *, locale: str | None = None, **params: Any) -> str:
    text = translations(locale or _current.get()).ugettext(message)
    return text.format(**params) if params else text


def ngettext(
    singular: str, plural: str, n: int, /, *, locale: str | None = None, **params: Any
) -> str:
    text = translations(locale or _current.get()).ungettext(singular, plural, n)
    return text.format(n=n, **params)


def pgettext(context: str, message: str, /, *, locale: str | None = None, **params: Any) -> str:
    """A short message in one of its meanings: "Yes" as the answer on a button and "Yes" as a
    value in a summary are two entries (``msgctxt``), so each language can word them apart."""
    text = translations(locale or _current.get()).upgettext(context, message)
    return text.format(**params) if params else text


def lazy_pgettext(context: str, message: str, /, **params: Any) -> LazyProxy:
    """``pgettext`` translated when used, like ``__``."""
    return LazyProxy(pgettext, context, message, enable_cache=False, **params)


def lazy_gettext(message: str, /, **params: Any) -> LazyProxy:
    """Translated when used, in the locale current then (button filters, module constants)."""
    return LazyProxy(gettext, message, enable_cache=False, **params)


def N_(message: str) -> str:
    """Mark a message for extraction where it is defined; it is translated where it is shown."""
    return message


# The short names the extractor looks for (see workvoice/i18n_tools.py).
_ = gettext
_n = ngettext
__ = lazy_gettext


def _babel_locale(locale: str | None) -> Locale:
    return Locale.parse(locale or _current.get())


def _zone(tz: tzinfo | str | None) -> tzinfo | None:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def format_datetime(
    value: datetime,
    *,
    tz: tzinfo | str | None = None,
    locale: str | None = None,
    format: str = "medium",
) -> str:
    """A moment shown in the reader's language, at the wall-clock time of ``tz`` (the factory)."""
    loc = _babel_locale(locale)
    return dates.format_datetime(value, format=format, tzinfo=_zone(tz), locale=loc)


def format_date(
    value: date | datetime,
    *,
    tz: tzinfo | str | None = None,
    locale: str | None = None,
    format: str = "medium",
) -> str:
    if isinstance(value, datetime) and tz is not None:
        value = value.astimezone(_zone(tz))
    return dates.format_date(value, format=format, locale=_babel_locale(locale))


def format_time(
    value: datetime,
    *,
    tz: tzinfo | str | None = None,
    locale: str | None = None,
    format: str = "short",
) -> str:
    return dates.format_time(value, format=format, tzinfo=_zone(tz), locale=_babel_locale(locale))


def format_number(value: float | int, *, locale: str | None = None) -> str:
    return numbers.format_decimal(value, locale=_babel_locale(locale))


def bidi(text: str, *, locale: str | None = None) -> str:
    """Anchor a line to its reading direction so numbers and codes stay in place in ar/ur."""
    return f"{RLM}{text}" if is_rtl(locale or _current.get()) else text


LRI, PDI = "\u2066", "\u2069"


def ltr_isolate(text: str) -> str:
    """Keep a run of digits (a receipt, a phone number, a date) left to right inside any line.

    An RLM alone lets the bidi algorithm lay "2983 3926 3806 3733" out group by group from the
    right in ar/ur (review B6); an isolate is drawn as one left-to-right block. Harmless in
    left-to-right text, so callers need not know the locale.
    """
    return f"{LRI}{text}{PDI}"


def bidi_number(text: str, *, locale: str | None = None) -> str:
    """A number-like value for display: isolated left to right in right-to-left locales only."""
    return ltr_isolate(text) if is_rtl(locale or _current.get()) else text
