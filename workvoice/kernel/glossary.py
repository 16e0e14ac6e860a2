"""The glossary of words workers trust (``locales/glossary.yaml``): for each sensitive term (a
report, the receipt number, the case handler, "anonymous", "union"...) the word each language must
use, the words it must avoid, and why.

Two readers:

- ``workvoice i18n check`` calls :func:`problems` on every catalog entry, so a translation that
  says "payment receipt" or "union" where it should not fails the build;
- the console's translation workspace calls :func:`terms_in` to show, beside each English string,
  the terms it contains with the approved and the forbidden words of the language being edited.

Pure: reads the YAML file (re-read when its modification time changes) and nothing else.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from bot.i18n import locales_dir
from bot.i18n.languages import is_rtl

__all__ = [
    "BOT_CATALOGS",
    "Glossary",
    "Term",
    "TermHint",
    "Wording",
    "arrow_problems",
    "glossary_path",
    "load",
    "problems",
    "terms_in",
]

# The catalogs workers read; a term without its own `catalogs` list is checked in these.
BOT_CATALOGS = frozenset({"core", "onboarding", "reports", "surveys", "committees", "broadcasts"})

# Removed before looking for a term: "{receipt}" is a value, not the word "receipt", and "/delete"
# is a command, not the word "delete" (also in translations, so a kept "/stop" does not stand in
# for the word "stop").
_NOT_WORDS = re.compile(r"\{[^{}]*\}|%\(\w+\)[sd]|<[^<>]+>|(?<![\w/])/[a-z_]+")
# A name in curly quotes ("choose “📰 News”", a demo draft "“Union general meeting”") is a label or
# data checked where it is defined, not this string's own wording: left out of the English.
_QUOTED = re.compile(r"“[^”]*”")
# Arabic vowel marks and tatweel, zero-width (non-)joiners: spelling noise that must not decide
# whether a word is there ("حُذفت" is "حذفت"; Sinhala writes "ප්‍ර" with a joiner).
_NOISE = re.compile("[\u064b-\u065f\u0670\u0640\u200c\u200d]")
# Arrows that point along the reading direction: mirrored in right-to-left languages.
_ARROWS = {"⬅": "➡", "➡": "⬅"}


def _normal(text: str) -> str:
    return _NOISE.sub("", unicodedata.normalize("NFC", text))


def _words_only(text: str) -> str:
    return _normal(_NOT_WORDS.sub(" ", text))


@cache
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(_normal(pattern), re.IGNORECASE)


def _found(patterns: tuple[str, ...], text: str) -> list[str]:
    return [p for p in patterns if _compile(p).search(text)]


@dataclass(frozen=True)
class Wording:
    """How one language says one term."""

    locale: str
    use: tuple[str, ...]  # one of these must appear where the English has the term
    avoid: tuple[str, ...]  # none of these where the English has the term
    reserved: tuple[str, ...]  # none of these where the English does NOT have the term
    note: str


@dataclass(frozen=True)
class Term:
    key: str
    english: re.Pattern[str]
    meaning: str
    catalogs: frozenset[str]
    languages: Mapping[str, Wording]

    def in_english(self, msgid: str, *, quoted: bool = False) -> bool:
        """Whether the English has the term; ``quoted``: also inside a quoted name."""
        text = msgid if quoted else _QUOTED.sub(" ", msgid)
        return bool(self.english.search(_words_only(text)))


@dataclass(frozen=True)
class TermHint:
    """A term found in one English string, with what one language must and must not say for it:
    what the console shows beside the string being translated."""

    term: str  # the glossary key, e.g. "receipt_number"
    meaning: str  # what the term means in workvoice
    use: tuple[str, ...]  # approved words (the translation must contain one)
    avoid: tuple[str, ...]  # words the translation must not contain
    note: str  # why, for the translator


@dataclass(frozen=True)
class Glossary:
    terms: tuple[Term, ...]

    def term(self, key: str) -> Term:
        return next(t for t in self.terms if t.key == key)


def glossary_path() -> Path:
    return locales_dir() / "glossary.yaml"


def _strings(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw,)
    return tuple(str(x) for x in raw)


def parse(data: Mapping[str, Any]) -> Glossary:
    """The glossary from the YAML's data; an unknown catalog or a bad expression raises."""
    terms = []
    for key, spec in (data.get("terms") or {}).items():
        catalogs = frozenset(spec.get("catalogs") or BOT_CATALOGS)
        languages = {
            locale: Wording(
                locale=locale,
                use=_strings(entry.get("use")),
                avoid=_strings(entry.get("avoid")),
                reserved=_strings(entry.get("reserved")),
                note=str(entry.get("note") or ""),
            )
            for locale, entry in (spec.get("languages") or {}).items()
        }
        for wording in languages.values():  # fail on load, not in the middle of a check
            for pattern in wording.use + wording.avoid + wording.reserved:
                _compile(pattern)
        terms.append(
            Term(
                key=str(key),
                english=re.compile(spec["english"], re.IGNORECASE),
                meaning=str(spec.get("meaning") or ""),
                catalogs=catalogs,
                languages=languages,
            )
        )
    return Glossary(tuple(terms))


_cache: dict[Path, tuple[float, Glossary]] = {}


def load(path: Path | None = None) -> Glossary:
    """The glossary, read again only when the file changed; an absent file is an empty glossary."""
    path = path or glossary_path()
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return Glossary(())
    cached = _cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    glossary = parse(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    _cache[path] = (mtime, glossary)
    return glossary


def _ids(msgid: str | Sequence[str]) -> list[str]:
    return [msgid] if isinstance(msgid, str) else [str(m) for m in msgid]


def terms_in(
    msgid: str | Sequence[str], locale: str, *, domain: str | None = None
) -> list[TermHint]:
    """The glossary terms this English string (or plural pair) contains, with the words ``locale``
    must and must not use for each. ``domain`` (a catalog name) leaves out terms not checked in
    that catalog; without it every term counts. Empty for English or an unknown locale."""
    english = " ".join(_ids(msgid))
    hints = []
    for term in load().terms:
        wording = term.languages.get(locale)
        if wording is None or (domain is not None and domain not in term.catalogs):
            continue
        if term.in_english(english):
            hints.append(TermHint(term.key, term.meaning, wording.use, wording.avoid, wording.note))
    return hints


def arrow_problems(
    locale: str, msgid: str | Sequence[str], msgstr: str | Sequence[str]
) -> list[str]:
    """In Arabic and Urdu "back" points right and "next/done" left: each arrow of the English is
    mirrored in the translation (review B17)."""
    if not is_rtl(locale):
        return []
    wanted = sorted(_ARROWS[c] for c in "".join(_ids(msgid)) if c in _ARROWS)
    found = []
    for text in _ids(msgstr):
        got = sorted(c for c in text if c in _ARROWS)
        if got != wanted:
            found.append(f"arrows {''.join(got) or 'none'} should be {''.join(wanted)} (mirrored)")
    return found


def problems(
    locale: str,
    msgid: str | Sequence[str],
    msgstr: str | Sequence[str],
    *,
    domain: str | None = None,
) -> list[str]:
    """What is wrong with this translation by the glossary (and the mirrored arrows of right-to-left
    languages): a forbidden word used, an approved word missing, a union word on a screen not about
    unions. One readable line per problem; empty when the translation is fine."""
    english = " ".join(_ids(msgid))
    found = arrow_problems(locale, msgid, msgstr)
    for term in load().terms:
        wording = term.languages.get(locale)
        if wording is None or (domain is not None and domain not in term.catalogs):
            continue
        has_term = term.in_english(english)
        for text in (_words_only(s) for s in _ids(msgstr)):
            if has_term:
                if wording.use and not _found(wording.use, text):
                    found.append(f"{term.key}: use {' / '.join(wording.use)}")
                found += [f"{term.key}: avoid {p}" for p in _found(wording.avoid, text)]
            elif not term.in_english(english, quoted=True):  # "follow “Union news”" may say union
                found += [
                    f"{term.key}: {p} only where the English says {term.key}"
                    for p in _found(wording.reserved, text)
                ]
    return found
