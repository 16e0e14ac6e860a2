"""Helplines: who a worker can call when someone is in danger, per country, named in her language.

Each country keeps a list of lines (``Country.helplines``, JSON): a kind (emergency, police,
violence against women, labour inspectorate, a union or NGO, the programme's own line, an embassy
or community line for migrants), a number, optional names per language (edited in the console like
topic names), the languages a migrant line serves and whether country staff checked it. A worker
sees a stored name only in her own language; otherwise the kind's translated name, so she never
meets English on a non-English screen (review B4.2). Numbers in international form (+880...) are
linked by Telegram for a tap to call (B4.5); in ar/ur every number is isolated left to right (B6).

Channel-agnostic: the bot's danger step calls ``lines_for`` then ``danger_text``; the console
calls ``do_save_line`` / ``do_remove_line``.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from babel import Locale
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_, bidi, bidi_number, gettext
from bot.i18n.languages import LANGUAGES
from bot.storage.models import Country, Staff
from services import audit
from services.errors import Conflict, DomainError, NotFound
from services.scope import Scope

LABEL_LIMIT = 60  # one line of a phone screen


class HelplineKind(StrEnum):
    """In the order a worker in danger needs them (emergency first, then violence, then the rest)."""

    EMERGENCY = "emergency"
    POLICE = "police"
    AMBULANCE = "ambulance"
    FIRE = "fire"
    VIOLENCE_AGAINST_WOMEN = "violence_against_women"
    CHILD_PROTECTION = "child_protection"
    LABOUR_INSPECTORATE = "labour_inspectorate"
    UNION_OR_NGO = "union_or_ngo"
    PROGRAMME = "programme"
    MIGRANT = "migrant"  # an embassy or a community line for migrant workers


ORDER = {kind: n for n, kind in enumerate(HelplineKind)}

# The name a worker sees when the line has none in her language (core catalog, every locale).
FALLBACK_LABELS: dict[HelplineKind, str] = {
    HelplineKind.EMERGENCY: N_("Emergency"),
    HelplineKind.POLICE: N_("Police"),
    HelplineKind.AMBULANCE: N_("Ambulance"),
    HelplineKind.FIRE: N_("Fire brigade"),
    HelplineKind.VIOLENCE_AGAINST_WOMEN: N_("Violence against women"),
    HelplineKind.CHILD_PROTECTION: N_("Child protection"),
    HelplineKind.LABOUR_INSPECTORATE: N_("Labour inspectorate"),
    HelplineKind.UNION_OR_NGO: N_("Workers' hotline"),
    HelplineKind.PROGRAMME: N_("Programme helpline"),
    HelplineKind.MIGRANT: N_("Help line for migrant workers"),
}
EMBASSY = N_("Embassy of {country}")
NO_LINES = N_("If someone is in danger, call your local emergency number now.")
CALL_NOW = N_("If someone is in danger, call now:\n{numbers}")

# Spaces, dashes, dots and brackets people type inside numbers; anything else is refused.
_SEPARATORS = re.compile(r"[\s\-.()\u00a0\u2011]")
_LOCAL = re.compile(r"^[0-9]{3,15}$")  # short codes (999) and national numbers
_INTERNATIONAL = re.compile(r"^\+[1-9][0-9]{7,14}$")  # E.164: + and 8 to 15 digits


class InvalidHelpline(DomainError):
    code = "invalid_helpline"
    message = N_("The helpline cannot be saved: {reason}")


def parse_phone(text: str) -> str:
    """A typed number in the form Telegram links: ``+`` and digits (E.164), or a short code.

    Digits of any script count (a Bangla keyboard types ৯৯৯); separators are dropped.
    """
    compact = _SEPARATORS.sub("", text.strip())
    digits = "".join(
        str(unicodedata.decimal(ch)) if unicodedata.decimal(ch, None) is not None else ch
        for ch in compact
    )
    if _INTERNATIONAL.match(digits) or _LOCAL.match(digits):
        return digits
    raise InvalidHelpline(
        # Translators: +8809612345678 and 999 are phone numbers: keep the digits as they are.
        reason=N_(
            "the number must be digits, in international form such as +8809612345678, "
            "or a short code such as 999"
        )
    )


@dataclass
class Helpline:
    """One stored line, as the console edits it."""

    kind: HelplineKind
    phone: str
    labels: dict[str, str] = field(default_factory=dict)
    languages: tuple[str, ...] = ()  # a migrant line: the languages it answers in
    nationality: str | None = None  # a migrant line: whose embassy (ISO country code)
    verified: bool = False  # checked by country staff (the seeded data is not)

    @classmethod
    def load(cls, raw: dict[str, Any]) -> Helpline:
        """Lenient: rows written before 0013 had only an English ``label``."""
        try:
            kind = HelplineKind(raw.get("kind", ""))
        except ValueError:
            kind = HelplineKind.EMERGENCY
        labels = raw.get("labels")
        if not isinstance(labels, dict):
            labels = {"en": str(raw["label"])} if raw.get("label") else {}
        return cls(
            kind=kind,
            phone=str(raw.get("phone", "")),
            labels={str(k): str(v) for k, v in labels.items() if v},
            languages=tuple(raw.get("languages") or ()),
            nationality=raw.get("nationality") or None,
            verified=bool(raw.get("verified", False)),
        )

    def dump(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "phone": self.phone,
            "labels": dict(self.labels),
            "languages": list(self.languages),
            "nationality": self.nationality,
            "verified": self.verified,
            # Read by callers written before 0013 (intake's helplines_text): English, as before.
            "label": self.label("en"),
        }

    def label(self, locale: str) -> str:
        """Its name in ``locale``: the stored one, else the kind's (never another language's)."""
        if stored := self.labels.get(locale):
            return stored
        if self.kind is HelplineKind.MIGRANT and self.nationality:
            return gettext(EMBASSY, locale=locale, country=country_name(self.nationality, locale))
        return gettext(FALLBACK_LABELS[self.kind], locale=locale)


@dataclass(frozen=True)
class HelplineLine:
    """What a worker sees: a name in her language, a number, and its kind."""

    label: str
    phone: str
    kind: HelplineKind


def country_name(code: str, locale: str) -> str:
    """A country's name in the reader's language (CLDR), else its code."""
    try:
        return str(Locale.parse(locale).territories.get(code.upper(), code.upper()))
    except (ValueError, LookupError):
        return code.upper()


def stored_lines(country: Country) -> list[Helpline]:
    return [Helpline.load(raw) for raw in (country.helplines or []) if isinstance(raw, dict)]


def version(country: Country) -> str:
    """A short fingerprint of the stored list: an edit made on an older page is a Conflict."""
    text = json.dumps(country.helplines or [], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _ordered(lines: Sequence[Helpline]) -> list[Helpline]:
    return sorted(lines, key=lambda line: ORDER[line.kind])  # stable: staff order within a kind


# --- the worker's side ----------------------------------------------------------------------


async def lines_for(
    session: AsyncSession,
    country_code: str | None,
    locale: str,
    *,
    migrant_language: str | None = None,
) -> list[HelplineLine]:
    """The lines of a country for a worker reading ``locale``, emergency first.

    A line that serves given languages (an embassy, a community line) is shown only to a worker
    whose ``migrant_language`` is one of them.
    """
    country = await session.get(Country, country_code) if country_code else None
    if country is None:
        return []
    return [
        HelplineLine(line.label(locale), line.phone, line.kind)
        for line in _ordered(stored_lines(country))
        if line.phone and (not line.languages or migrant_language in line.languages)
    ]


def danger_text(lines: Sequence[HelplineLine], *, locale: str | None = None) -> str:
    """The danger step's message (Telegram HTML), one line per number, each number isolated left
    to right in ar/ur. A drop-in for intake's ``helplines_text``: the same msgids and shape."""
    if not lines:
        return gettext(NO_LINES, locale=locale)
    rows = [
        bidi(f"📞 {bidi_number(line.phone, locale=locale)} – {line.label}", locale=locale)
        for line in lines
    ]
    return gettext(CALL_NOW, locale=locale, numbers=html.escape("\n".join(rows)))


# --- the console's side ---------------------------------------------------------------------


@dataclass
class HelplineInput:
    kind: str
    phone: str
    labels: dict[str, str] = field(default_factory=dict)
    languages: list[str] = field(default_factory=list)
    nationality: str = ""
    verified: bool = False


def check_line(data: HelplineInput) -> Helpline:
    try:
        kind = HelplineKind(data.kind)
    except ValueError:
        raise InvalidHelpline(reason=N_("choose what kind of line it is")) from None
    phone = parse_phone(data.phone)
    labels = {code: " ".join(text.split()) for code, text in data.labels.items() if text.strip()}
    if not set(labels) <= set(LANGUAGES):
        raise InvalidHelpline(reason=N_("unknown language"))
    if any(len(text) > LABEL_LIMIT for text in labels.values()):
        raise InvalidHelpline(reason=N_("a name can have at most 60 characters"))
    languages = tuple(dict.fromkeys(code.strip() for code in data.languages if code.strip()))
    if not set(languages) <= set(LANGUAGES):
        raise InvalidHelpline(reason=N_("unknown language"))
    nationality = data.nationality.strip().upper() or None
    if nationality is not None and nationality not in Locale("en").territories:
        raise InvalidHelpline(reason=N_("unknown country"))
    return Helpline(kind, phone, labels, languages, nationality, data.verified)


async def access_country(session: AsyncSession, code: str, scope: Scope) -> Country:
    code = code.strip().upper()
    country = await session.get(Country, code) if len(code) == 2 else None
    if country is None or not scope.allows(country.code):
        raise NotFound()
    return country


async def _store(
    session: AsyncSession,
    country: Country,
    lines: list[Helpline],
    action: str,
    *,
    actor: Staff | None,
    **detail: Any,
) -> None:
    country.helplines = [line.dump() for line in lines]  # a new list: JSON is not change-tracked
    await session.flush()
    await audit.record(
        session,
        action,
        actor=actor,
        object_type="country",
        object_id=country.code,
        country_code=country.code,
        **detail,
    )


async def do_save_line(
    session: AsyncSession,
    country: Country,
    index: int | None,
    data: HelplineInput,
    *,
    seen_version: str,
    scope: Scope,
    actor: Staff | None,
) -> None:
    """Add a line (``index`` None) or replace line ``index`` of the list the editor saw."""
    scope.check(country.code)
    if seen_version != version(country):
        raise Conflict()
    line = check_line(data)
    lines = stored_lines(country)
    if index is None:
        lines.append(line)
    elif 0 <= index < len(lines):
        lines[index] = line
    else:
        raise NotFound()
    await _store(
        session, country, _ordered(lines), "helpline.save", actor=actor, kind=line.kind.value
    )


async def do_remove_line(
    session: AsyncSession,
    country: Country,
    index: int,
    *,
    seen_version: str,
    scope: Scope,
    actor: Staff | None,
) -> None:
    scope.check(country.code)
    if seen_version != version(country):
        raise Conflict()
    lines = stored_lines(country)
    if not 0 <= index < len(lines):
        raise NotFound()
    removed = lines.pop(index)
    await _store(session, country, lines, "helpline.remove", actor=actor, kind=removed.kind.value)
