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
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from babel import Locale, dates, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import LazyProxy, NullTranslations, Translations

from bot.i18n import digits
from bot.i18n.languages import LANGUAGES, SOURCE_LOCALE, is_rtl, supported

__all__ = [
    "GENDER_CONTEXTS",
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
    "override_for",
    "pgettext",
    "plural_text",
    "recording",
    "set_gender",
    "set_overrides",
    "supported",
    "use_gender",
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


# Reviewed changes that override the catalogs until they are pulled into ``locales/``: per locale,
# (msgctxt or None, msgid) -> the forms (one, or one per plural form). ``services.translations``
# loads them from the database and replaces the whole table at once, so a lookup never sees half.
Overrides = dict[str, dict[tuple[str | None, str], tuple[str, ...]]]
_overrides: Overrides = {}


def set_overrides(table: Overrides) -> None:
    global _overrides
    _overrides = table


def override_for(locale: str, message: str, context: str | None = None) -> tuple[str, ...] | None:
    heard = _heard.get()
    if heard is not None:
        heard.add((context, message))
    found = _overrides.get(locale)
    return found.get((context, message)) if found else None


# Set while a screen is drawn for the translation workspace: which messages it says.
_heard: ContextVar[set[tuple[str | None, str]] | None] = ContextVar("workvoice_heard", default=None)


@contextmanager
def recording() -> Iterator[set[tuple[str | None, str]]]:
    """Collect the (msgctxt, msgid) of every message translated inside the block."""
    heard: set[tuple[str | None, str]] = set()
    token = _heard.set(heard)
    try:
        yield heard
    finally:
        _heard.reset(token)


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


def _shown(value: Any, locale: str) -> Any:
    """A whole number in the locale's own digits (B14); ids and codes are strings and stay."""
    if isinstance(value, int) and not isinstance(value, bool):
        return digits.localize(str(value), locale)
    return value


# The reader's gender, where a language words a message differently for a woman and a man (review
# B8): a message marked "gendered" for translators (``GENDERED_NOTE``) has optional variants in the
# contexts below; a worker who gave her gender reads her variant where her language has one, and
# everyone else (and every language without one) the neutral wording.
GENDER_CONTEXTS = {"woman": "feminine", "man": "masculine"}
GENDERED_NOTE = "gendered"
_gender: ContextVar[str | None] = ContextVar("workvoice_gender", default=None)


def set_gender(gender: str | None) -> None:
    """The reader's gender for the rest of this task ("woman", "man"; anything else: neutral)."""
    _gender.set(GENDER_CONTEXTS.get(gender or ""))


@contextmanager
def use_gender(gender: str | None) -> Iterator[None]:
    token = _gender.set(GENDER_CONTEXTS.get(gender or ""))
    try:
        yield
    finally:
        _gender.reset(token)


def _gendered(code: str, message: str) -> str | None:
    """The reader's gendered variant of ``message`` in ``code``, when there is one."""
    context = _gender.get()
    if context is None:
        return None
    changed = override_for(code, message, context)
    if changed:
        return changed[0]
    catalog = translations(code)
    if isinstance(catalog, Translations):
        text = catalog.upgettext(context, message)
        if text is not message:  # gettext hands back the very msgid when there is no variant
            return str(text)
    return None


def gettext(message: str, /, *, locale: str | None = None, **params: Any) -> str:
    code = locale or _current.get()
    changed = override_for(code, message)
    text = _gendered(code, message) or (
        changed[0] if changed else translations(code).ugettext(message)
    )
    if not params:
        return text
    return text.format(**{key: _shown(value, code) for key, value in params.items()})


def ngettext(
    singular: str, plural: str, n: int, /, *, locale: str | None = None, **params: Any
) -> str:
    code = locale or _current.get()
    text = plural_text(singular, plural, n, locale=code)
    return text.format(**{key: _shown(value, code) for key, value in {"n": n, **params}.items()})


def plural_text(singular: str, plural: str, n: int, /, *, locale: str | None = None) -> str:
    """The form for ``n``, not yet formatted (Jinja formats its own ``%(num)s`` placeholders)."""
    code = locale or _current.get()
    changed = override_for(code, singular)
    catalog = translations(code)
    if not changed:
        return catalog.ungettext(singular, plural, n)
    form = catalog.plural(n) if isinstance(catalog, Translations) else int(n != 1)
    return changed[min(form, len(changed) - 1)]


def pgettext(context: str, message: str, /, *, locale: str | None = None, **params: Any) -> str:
    """A short message in one of its meanings: "Yes" as the answer on a button and "Yes" as a
    value in a summary are two entries (``msgctxt``), so each language can word them apart."""
    code = locale or _current.get()
    changed = override_for(code, message, context)
    text = changed[0] if changed else translations(code).upgettext(context, message)
    if not params:
        return text
    return text.format(**{key: _shown(value, code) for key, value in params.items()})


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


def _twenty_four_hours(loc: Locale) -> bool:
    """Whether times should be written 14:00 rather than 2:00 PM: CLDR gives bn, hi, km, ta and ur
    a Latin "AM/PM" inside a non-Latin script, which readers of those scripts meet nowhere else
    (B14); their own 24-hour pattern is as usual in print."""
    code = str(loc)
    if digits.script_of(code) == "Latn":
        return False
    periods = loc.day_periods.get("format", {}).get("abbreviated", {})
    return any(text.isascii() for key, text in periods.items() if key in {"am", "pm"})


Named = Literal["short", "medium", "long", "full"]
NAMED: tuple[Named, ...] = ("short", "medium", "long", "full")


def format_datetime(
    value: datetime,
    *,
    tz: tzinfo | str | None = None,
    locale: str | None = None,
    format: str = "medium",
    time_format: str | None = None,
) -> str:
    """A moment shown in the reader's language, at the wall-clock time of ``tz`` (the factory).

    Named formats join the date and the time with the locale's own datetime pattern (its comma,
    or none); ``time_format`` gives the time part another length ("full" date, "short" time).
    """
    loc = _babel_locale(locale)
    if format not in NAMED:
        text = dates.format_datetime(value, format=format, tzinfo=_zone(tz), locale=loc)
        return digits.localize(text, str(loc))
    pattern = str(dates.get_datetime_format(cast(Named, format), locale=loc)).replace("'", "")
    return pattern.replace(
        "{0}", format_time(value, tz=tz, locale=str(loc), format=time_format or format)
    ).replace("{1}", format_date(value, tz=tz, locale=str(loc), format=format))


def format_date(
    value: date | datetime,
    *,
    tz: tzinfo | str | None = None,
    locale: str | None = None,
    format: str = "medium",
) -> str:
    if isinstance(value, datetime) and tz is not None:
        value = value.astimezone(_zone(tz))
    loc = _babel_locale(locale)
    return digits.localize(dates.format_date(value, format=format, locale=loc), str(loc))


def format_time(
    value: datetime,
    *,
    tz: tzinfo | str | None = None,
    locale: str | None = None,
    format: str = "short",
) -> str:
    loc = _babel_locale(locale)
    if format in NAMED and _twenty_four_hours(loc):
        pattern = dates.get_time_format(cast(Named, format), locale=loc).pattern
        skeleton = "Hms" if "s" in pattern else "Hm"
        text = dates.format_skeleton(skeleton, value, tzinfo=_zone(tz), locale=loc)
    else:
        text = dates.format_time(value, format=format, tzinfo=_zone(tz), locale=loc)
    return digits.localize(text, str(loc))


def format_number(value: float | int, *, locale: str | None = None) -> str:
    loc = _babel_locale(locale)
    return digits.localize(numbers.format_decimal(value, locale=loc), str(loc))


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
