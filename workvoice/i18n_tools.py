"""Catalog maintenance with Babel: extract per capability, update, compile and check.

Each capability has its own catalog (``locales/<capability>.pot`` and
``locales/<locale>/LC_MESSAGES/<capability>.po``), decided by where a string is written:
``bot/flows/<capability>.py`` and ``services/<capability>.py`` go to that capability, ``admin/`` to
``console``, anything else to ``core``. The capabilities with a catalog of their own are the
manifest's (``workvoice.capabilities``); its navigation labels are the console's. English is the
source language and needs no catalog. Reading the catalogs (paths, coverage) is
``workvoice.kernel.catalogs``, which the console uses too.
"""

from __future__ import annotations

import copy
import re
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from bot.i18n import GENDER_CONTEXTS, GENDERED_NOTE, digits, locales_dir
from bot.i18n.languages import LANGUAGES, SOURCE_LOCALE
from workvoice.capabilities import CATALOG_DOMAINS, CONSOLE_CATALOG
from workvoice.kernel import glossary
from workvoice.kernel.catalogs import po_path, required, templates
from workvoice.kernel.telegram_html import ApiError, visible_text

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("bot", "services", "admin", "workvoice")
KEYWORDS = {
    "_": None,
    "__": None,
    "gettext": None,
    "lazy_gettext": None,
    "_n": (1, 2),
    "ngettext": (1, 2),
    "N_": None,
    # (context, message): Babel's spec for msgctxt, as gettext's own pgettext.
    "pgettext": ((1, "c"), 2),
    "lazy_pgettext": ((1, "c"), 2),
}
CAPABILITIES = CATALOG_DOMAINS
# The manifest names console pages; its strings are the console navigation's labels.
MANIFEST = Path("workvoice", "capabilities.py")
# Services only staff ever see speak through the console's catalog.
STAFF_SERVICES = ("factories", "audit", "accounts", "labels", "translations", "content_reviews")
# Service packages only staff ever see (the recording store and its checks).
STAFF_PACKAGES = ("audio",)
# A message marked gendered gets a variant per gender, which a language fills in only where it
# words the message differently for a woman or a man (review B8); empty, the neutral one is read.
GENDER_VARIANTS = frozenset(GENDER_CONTEXTS.values())
VARIANT_NOTE = (
    "Optional: only if your language says this differently to this reader than the neutral "
    "wording does; leave it empty otherwise."
)
# A fixed header date keeps regenerated templates from changing when no message did.
HEADER_DATE = datetime(2026, 1, 1, tzinfo=UTC)
PLACEHOLDER = re.compile(r"\{[a-zA-Z_][a-zA-Z0-9_]*\}|%\([a-zA-Z_]+\)[sd]")


def domain_for(path: Path) -> str:
    rel = path.relative_to(ROOT).parts
    if rel[0] == "admin" or Path(*rel) == MANIFEST:
        return "console"
    # bot/flows/<noun>.py or bot/flows/<noun>/..., services/<noun>.py or services/<noun>/...
    if rel[:2] == ("bot", "flows") and len(rel) >= 3:
        noun = Path(rel[2]).stem
    elif rel[0] == "services" and len(rel) >= 2:
        noun = Path(rel[1]).stem
        if (len(rel) == 2 and noun in STAFF_SERVICES) or (len(rel) > 2 and noun in STAFF_PACKAGES):
            return "console"
    else:
        return "core"
    return noun if noun in CAPABILITIES else "core"


def _source_files() -> list[Path]:
    files: list[Path] = []
    for top in SOURCES:
        files += sorted((ROOT / top).rglob("*.py"))
    files += sorted((ROOT / "admin").rglob("*.html"))
    return [f for f in files if "migrations" not in f.parts]


def extract() -> dict[str, int]:
    catalogs: dict[str, Catalog] = defaultdict(
        lambda: Catalog(project="workvoice", fuzzy=False, creation_date=HEADER_DATE)
    )
    for path in _source_files():
        method = "jinja2" if path.suffix == ".html" else "python"
        options = {"extensions": "jinja2.ext.i18n"} if method == "jinja2" else {}
        for lineno, message, comments, context in extract_from_file(
            method, str(path), keywords=KEYWORDS, options=options, comment_tags=("Translators:",)
        ):
            where = [(str(path.relative_to(ROOT)), lineno)]
            catalog = catalogs[domain_for(path)]
            catalog.add(message, None, where, auto_comments=comments, context=context)
            if context is None and any(GENDERED_NOTE in c for c in comments):
                for variant in GENDER_CONTEXTS.values():
                    catalog.add(message, None, where, auto_comments=[VARIANT_NOTE], context=variant)
    folder = locales_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for domain, catalog in catalogs.items():
        with (folder / f"{domain}.pot").open("wb") as fh:
            write_po(
                fh, catalog, width=100, omit_header=False, sort_output=True, include_lineno=False
            )
    return {d: len(c) for d, c in sorted(catalogs.items())}


def _known_translations(locale: str) -> dict[Any, Any]:
    """Every finished translation of ``locale`` across its catalogs, by message id: a string that
    moves to another capability's file (so to another catalog) keeps its translation."""
    known: dict[Any, Any] = {}
    for path in sorted((locales_dir() / locale / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        for message in catalog:
            if message.id and not message.fuzzy and _translated(message.string):
                known.setdefault((message.id, message.context), message.string)
    return known


def _translated(string: Any) -> bool:
    return all(string) if isinstance(string, tuple) else bool(string)


def update(locales: tuple[str, ...] | None = None) -> list[Path]:
    written = []
    wanted = [loc for loc in (locales or tuple(LANGUAGES)) if loc != SOURCE_LOCALE]
    known = {locale: _known_translations(locale) for locale in wanted}  # before any is rewritten
    for domain, template in templates().items():
        for locale in wanted:
            path = po_path(locale, domain)
            if not required(locale, domain) and not path.exists():
                continue
            if path.exists():
                with path.open("rb") as fh:
                    catalog = read_po(fh, locale=locale, domain=domain)
            else:
                catalog = Catalog(
                    locale=locale,
                    domain=domain,
                    project="workvoice",
                    fuzzy=False,
                    creation_date=HEADER_DATE,
                    revision_date=HEADER_DATE,
                )
            # A copy per catalog: babel adds the template's own Message objects to the catalog,
            # so filling one locale's string would otherwise leak it into the next locale's.
            catalog.update(copy.deepcopy(template), no_fuzzy_matching=True)
            for message in catalog:
                if message.id and not _translated(message.string):
                    message.string = known[locale].get(
                        (message.id, message.context), message.string
                    )
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as fh:
                write_po(
                    fh,
                    catalog,
                    width=100,
                    ignore_obsolete=True,
                    sort_output=True,
                    include_lineno=False,
                )
            written.append(path)
    return written


def compile_all() -> list[Path]:
    out = []
    for po in sorted(locales_dir().glob("*/LC_MESSAGES/*.po")):
        with po.open("rb") as fh:
            catalog = read_po(fh)
        mo = po.with_suffix(".mo")
        with mo.open("wb") as fh:
            write_mo(fh, catalog)
        out.append(mo)
    return out


def html_problems(text: str) -> list[str]:
    """What Telegram would refuse in this text in HTML mode (the simulator validates the same way)."""
    try:
        visible_text(text, "HTML")
    except ApiError as exc:
        return [exc.description.removeprefix("Bad Request: ")]
    return []


def _placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


# What may hold other digits than the language's own: HTML tags, placeholders, phone numbers in
# international form and codes, which carry Latin letters (DK-01, UTF-8, /start f_DK01).
_NOT_PROSE = re.compile(r"<[^>]*>|\+[0-9]+|\S*[A-Za-z]\S*")
# A translator comment saying digits are kept (phone numbers such as 999): the digits the
# English text has may stay as they are.
KEEP_DIGITS = "keep the digits"


def digit_problems(
    locale: str, domain: str, source: str, text: str, comments: list[str] | tuple[str, ...] = ()
) -> list[str]:
    """Digits of another numbering system than the locale's CLDR default (review B14): "সর্বোচ্চ
    3000 অক্ষর" in Bangla, "ក្នុង ១ ខែ" in Khmer, whose default is Latin. The console's catalog is
    left out: staff type ASCII digits in its forms (2026-12-31, 14:30) and read its figures so."""
    if domain == CONSOLE_CATALOG:
        return []
    prose = _NOT_PROSE.sub(" ", PLACEHOLDER.sub(" ", text))
    if any(KEEP_DIGITS in comment for comment in comments):
        kept = set(re.findall(r"[0-9]+", source))
        prose = re.sub(r"[0-9]+", lambda m: " " if m.group() in kept else m.group(), prose)
    foreign = digits.foreign_digits(prose, locale)
    if not foreign:
        return []
    own = digits.localize("0123456789", locale)
    return [f"digits {''.join(dict.fromkeys(foreign))} in a language written with {own}"]


def check() -> list[str]:
    """Every required locale has every message translated, not fuzzy, same placeholders, valid HTML,
    digits of the language's own numbering system, and the glossary's words
    (``locales/glossary.yaml``: approved words used, forbidden ones not, arrows mirrored in
    right-to-left languages)."""
    problems: list[str] = []
    for domain, template in templates().items():
        for locale in LANGUAGES:
            if locale == SOURCE_LOCALE:
                continue
            path = po_path(locale, domain)
            if not path.exists():
                if required(locale, domain):
                    problems.append(f"{path}: missing")
                continue
            with path.open("rb") as fh:
                catalog = read_po(fh, locale=locale, domain=domain)
            for tmpl in template:
                if not tmpl.id:
                    continue
                msg = catalog.get(tmpl.id, tmpl.context)
                where = f"{path}: {tmpl.id if isinstance(tmpl.id, str) else tmpl.id[0]!r}"
                if msg is None:
                    problems.append(f"{where}: missing")
                    continue
                if msg.fuzzy:
                    problems.append(f"{where}: fuzzy")
                strings = [
                    str(x)
                    for x in (
                        msg.string if isinstance(msg.string, (tuple, list)) else (msg.string,)
                    )
                ]
                if not all(strings):
                    if tmpl.context not in GENDER_VARIANTS:  # a variant left empty: the neutral
                        problems.append(f"{where}: untranslated")
                    continue
                source = [
                    str(x) for x in (tmpl.id if isinstance(tmpl.id, (tuple, list)) else (tmpl.id,))
                ]
                wanted = set().union(*(_placeholders(s) for s in source))
                for s in strings:
                    got = _placeholders(s)
                    if got != wanted:
                        problems.append(f"{where}: placeholders {sorted(got)} != {sorted(wanted)}")
                    problems += [f"{where}: {p}" for p in html_problems(s)]
                    problems += [
                        f"{where}: {p}"
                        for p in digit_problems(locale, domain, source[0], s, tmpl.auto_comments)
                    ]
                problems += [
                    f"{where}: {p}"
                    for p in glossary.problems(locale, tmpl.id, strings, domain=domain)
                ]
    return problems


def review_markdown(counts: Mapping[str, Mapping[str, Any]]) -> str:
    """``locales/REVIEW.md``: how much of each language native speakers have reviewed, per catalog
    (``workvoice i18n review --write`` regenerates it from the console's decisions)."""
    lines = [
        "# Translation review status",
        "",
        "Generated by `workvoice i18n review --write` from the decisions translators make in the",
        "console (Translations): do not edit by hand. Every catalog is complete in every language it is",
        "offered in, first drafted by machine. A staff member with the translator role for a language",
        "reads each message beside its English, the worker screens that show it and the glossary's",
        "words for it (`locales/glossary.yaml`, checked by `workvoice i18n check`), and approves it or",
        "changes it with a note. A change reaches workers at once; `workvoice i18n pull` writes the",
        "approved changes into these `.po` files so they can be committed.",
        "",
        "Each cell: approved / messages; then machine-drafted and changed since approval (the catalog",
        "changed after the review, so someone must look again). A dash: the catalog is not offered in",
        "that language (the console's only in the languages country staff work in).",
        "",
    ]
    domains = sorted({d for per in counts.values() for d in per})
    lines.append("| locale | language | " + " | ".join(domains) + " |")
    lines.append("|---|---|" + "---|" * len(domains))
    for locale, per in counts.items():
        cells = []
        for domain in domains:
            c = per.get(domain)
            if c is None:
                cells.append("—")
                continue
            extra = [f"{c.drafted} drafted"] + ([f"{c.changed} changed"] if c.changed else [])
            cells.append(f"{c.approved}/{c.total} ({', '.join(extra)})")
        lines.append(f"| {locale} | {LANGUAGES[locale].english_name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
