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

# The console's catalogs are filled locale by locale; the bot's must be complete in all 16.
OPTIONAL_DOMAINS = {"console"}


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


def coverage() -> list[LocaleCoverage]:
    """Translated/total per locale and catalog, for the console's Translations page."""
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
