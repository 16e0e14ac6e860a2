"""Where the message catalogs are and how complete they are: what the console's Translations and
Account pages read. Maintaining them (extract, update, compile, check) is ``workvoice i18n``
(``workvoice/i18n_tools.py``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.i18n import GENDER_CONTEXTS, locales_dir
from bot.i18n.languages import LANGUAGES, SOURCE_LOCALE

# The bot's catalogs must be complete in all 16 languages. The console's is required (complete)
# in the languages country staff work in (issue 17: Bangladesh, Cambodia, Ethiopia, Haiti, Jordan,
# Indonesia, Central America, Viet Nam) and is not offered in the others.
OPTIONAL_DOMAINS = {"console"}
# A gendered message's variants (bot.i18n.GENDER_CONTEXTS): filled in only where a language needs.
OPTIONAL_CONTEXTS = frozenset(GENDER_CONTEXTS.values())
STAFF_LOCALES = ("bn", "km", "am", "ht", "fr", "id", "ar", "es", "vi")


def required(locale: str, domain: str) -> bool:
    """Whether ``domain`` must exist, complete, for ``locale``."""
    return domain not in OPTIONAL_DOMAINS or locale in STAFF_LOCALES


def templates() -> dict[str, Catalog]:
    out = {}
    for pot in sorted(locales_dir().glob("*.pot")):
        with pot.open("rb") as fh:
            out[pot.stem] = read_po(fh)
    return out


def po_path(locale: str, domain: str) -> Path:
    return locales_dir() / locale / "LC_MESSAGES" / f"{domain}.po"


@dataclass(frozen=True)
class LocaleCoverage:
    code: str
    native_name: str
    domains: dict[str, tuple[int, int]]  # catalog -> (translated, total)


# Parsing every catalog takes a quarter of a second: the figures are kept per process until a
# catalog changes (an edit, ``workvoice i18n update``, a deploy).
_cached: tuple[tuple[tuple[str, int, int], ...], list[LocaleCoverage]] | None = None


def _signature() -> tuple[tuple[str, int, int], ...]:
    folder = locales_dir()
    paths = [*folder.glob("*.pot"), *folder.glob("*/LC_MESSAGES/*.po")]
    marks = []
    for path in sorted(paths):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        marks.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(marks)


def coverage() -> list[LocaleCoverage]:
    """Translated/total per locale and catalog, for the console's Translations page; a catalog
    not offered in a language (the console outside ``STAFF_LOCALES``) is left out of its row."""
    global _cached
    signature = _signature()
    if _cached is None or _cached[0] != signature:
        _cached = (signature, _coverage())
    return _cached[1]


def _coverage() -> list[LocaleCoverage]:
    tmpls = templates()
    rows = []
    for code, lang in LANGUAGES.items():
        domains: dict[str, tuple[int, int]] = {}
        for domain, template in tmpls.items():
            total = sum(1 for m in template if m.id and m.context not in OPTIONAL_CONTEXTS)
            if code == SOURCE_LOCALE:
                domains[domain] = (total, total)
                continue
            path = po_path(code, domain)
            if not required(code, domain) and not path.exists():
                continue
            done = 0
            if path.exists():
                with path.open("rb") as fh:
                    catalog = read_po(fh, locale=code, domain=domain)
                for message in template:
                    if message.context in OPTIONAL_CONTEXTS:
                        continue
                    found = catalog.get(message.id, message.context) if message.id else None
                    strings = (
                        found.string
                        if found and isinstance(found.string, tuple)
                        else ((found.string,) if found else ())
                    )
                    if found is not None and not found.fuzzy and all(strings):
                        done += 1
            domains[domain] = (done, total)
        rows.append(LocaleCoverage(code, lang.native_name, domains))
    return rows


PLACEHOLDER = re.compile(r"\{[a-zA-Z_][a-zA-Z0-9_]*\}|%\([a-zA-Z_]+\)[sd]")


def placeholders(text: str) -> set[str]:
    """The ``{name}`` and ``%(name)s`` slots a message fills in: a translation must keep them all."""
    return set(PLACEHOLDER.findall(text))


@dataclass(frozen=True)
class CatalogMessage:
    """One message of a catalog as a translator reviews it: the English (and its plural), where it
    is used, the developers' notes, and the catalog's translation in one language."""

    domain: str
    context: str | None
    msgid: str
    plural: str | None
    strings: tuple[str, ...]  # one, or one per plural form; empty strings when untranslated
    locations: tuple[str, ...]
    comments: tuple[str, ...]


_messages: dict[tuple[str, str], tuple[tuple[tuple[str, int, int], ...], list[CatalogMessage]]] = {}


def messages(locale: str, domain: str) -> list[CatalogMessage]:
    """Every message of ``domain``'s template with ``locale``'s translation, in template order
    (kept per process until a catalog changes, like ``coverage``)."""
    signature = _signature()
    cached = _messages.get((locale, domain))
    if cached is not None and cached[0] == signature:
        return cached[1]
    template = templates().get(domain)
    found: list[CatalogMessage] = []
    if template is not None:
        catalog = None
        path = po_path(locale, domain)
        if locale != SOURCE_LOCALE and path.exists():
            with path.open("rb") as fh:
                catalog = read_po(fh, locale=locale, domain=domain)
        for tmpl in template:
            if not tmpl.id:
                continue
            ids = tmpl.id if isinstance(tmpl.id, (tuple, list)) else (tmpl.id,)
            if locale == SOURCE_LOCALE:
                strings: tuple[str, ...] = tuple(str(i) for i in ids)
            else:
                msg = catalog.get(tmpl.id, tmpl.context) if catalog is not None else None
                raw = msg.string if msg is not None and not msg.fuzzy else ""
                strings = (
                    tuple(str(x or "") for x in raw)
                    if isinstance(raw, (tuple, list))
                    else (str(raw or ""),)
                )
            found.append(
                CatalogMessage(
                    domain=domain,
                    context=tmpl.context,
                    msgid=str(ids[0]),
                    plural=str(ids[1]) if len(ids) > 1 else None,
                    strings=strings,
                    locations=tuple(dict.fromkeys(loc for loc, _line in tmpl.locations)),
                    comments=tuple(tmpl.auto_comments),
                )
            )
    _messages[(locale, domain)] = (signature, found)
    return found
