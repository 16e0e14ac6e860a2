"""Where the message catalogs are and how complete they are: what the console's Translations and
Account pages read. Maintaining them (extract, update, compile, check) is ``workvoice i18n``
(``workvoice/i18n_tools.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.i18n import locales_dir
from bot.i18n.languages import LANGUAGES, SOURCE_LOCALE

# The bot's catalogs must be complete in all 16 languages. The console's is required (complete)
# in the languages country staff work in (issue 17: Bangladesh, Cambodia, Ethiopia, Haiti, Jordan,
# Indonesia, Central America, Viet Nam) and is not offered in the others.
OPTIONAL_DOMAINS = {"console"}
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
    review: str


def review_status() -> dict[str, str]:
    """Locale -> status, read from the table in locales/REVIEW.md."""
    path = locales_dir() / "REVIEW.md"
    statuses: dict[str, str] = {}
    if not path.exists():
        return statuses
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[0] in LANGUAGES:
            reviewer = cells[4] if len(cells) > 4 and cells[4] else ""
            statuses[cells[0]] = cells[3] + (f" ({reviewer})" if reviewer else "")
    return statuses


# Parsing every catalog takes a quarter of a second: the figures are kept per process until a
# catalog or REVIEW.md changes (an edit, ``workvoice i18n update``, a deploy).
_cached: tuple[tuple[tuple[str, int, int], ...], list[LocaleCoverage]] | None = None


def _signature() -> tuple[tuple[str, int, int], ...]:
    folder = locales_dir()
    paths = [*folder.glob("*.pot"), *folder.glob("*/LC_MESSAGES/*.po"), folder / "REVIEW.md"]
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
    reviews = review_status()
    rows = []
    for code, lang in LANGUAGES.items():
        domains: dict[str, tuple[int, int]] = {}
        for domain, template in tmpls.items():
            total = sum(1 for m in template if m.id)
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
                    found = catalog.get(message.id, message.context) if message.id else None
                    strings = (
                        found.string
                        if found and isinstance(found.string, tuple)
                        else ((found.string,) if found else ())
                    )
                    if found is not None and not found.fuzzy and all(strings):
                        done += 1
            domains[domain] = (done, total)
        review = "source" if code == SOURCE_LOCALE else reviews.get(code, "not listed")
        rows.append(LocaleCoverage(code, lang.native_name, domains, review))
    return rows
