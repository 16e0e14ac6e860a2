"""Translations reviewed by the people who speak the language (issue 19).

A staff member holding the translator role for a language (``Staff.languages``) reads every catalog
message in the console and either approves the catalog's text or changes it with a note. A decision
is a ``TranslationReview`` row; a change overrides the compiled catalogs in every process at once
(``refresh``/``watch`` load the changes into ``bot.i18n``) and reaches ``locales/`` through
``workvoice i18n pull`` (``pull``), after which the catalog says the same and the override is moot.

Each message of a language is one of three: approved (the catalog still says what was approved, or
the approved change is in force), machine-drafted (nobody has decided), or changed since approval
(the ``.po`` file moved on after the decision: someone must look again).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from babel.messages.pofile import read_po, write_po
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import N_, Overrides, set_overrides
from bot.i18n.languages import LANGUAGES, SOURCE_LOCALE
from bot.storage.models import Staff, StaffRole, TranslationReview
from services import accounts, audit, content_reviews
from services.clock import utcnow
from services.errors import DomainError, Forbidden, NotFound
from workvoice.kernel import glossary
from workvoice.kernel.catalogs import (
    OPTIONAL_CONTEXTS,
    CatalogMessage,
    messages,
    placeholders,
    po_path,
    required,
    templates,
)
from workvoice.kernel.telegram_html import TEXT_LIMIT, ApiError, visible_text

log = logging.getLogger(__name__)

NOTE_LIMIT = 500


class Status(StrEnum):
    APPROVED = "approved"
    DRAFTED = "drafted"  # machine-drafted: nobody who speaks the language has decided
    CHANGED = "changed"  # the catalog changed after the decision


class TranslationRefused(DomainError):
    code = "translation_refused"
    message = N_("This translation cannot be saved: {reason}")
    status = 422


def key_of(context: str | None, msgid: str) -> str:
    return hashlib.sha256(f"{context or ''}\x04{msgid}".encode()).hexdigest()


def status_of(current: Sequence[str], review: TranslationReview | None) -> Status:
    if review is None:
        return Status.DRAFTED
    if list(current) in (list(review.text), list(review.catalog_text)):
        return Status.APPROVED
    return Status.CHANGED


def overrides_catalog(review: TranslationReview) -> bool:
    return list(review.text) != list(review.catalog_text)


@dataclass(frozen=True)
class Row:
    """One message as the workspace shows it."""

    message: CatalogMessage
    review: TranslationReview | None

    @property
    def key(self) -> str:
        return key_of(self.message.context, self.message.msgid)

    @property
    def status(self) -> Status:
        return status_of(self.message.strings, self.review)

    @property
    def text(self) -> tuple[str, ...]:
        """What workers read now: an approved change, else the catalog."""
        if self.review is not None and overrides_catalog(self.review):
            return tuple(self.review.text)
        return self.message.strings


def catalogs_for(locale: str) -> list[str]:
    """The catalogs offered in ``locale`` (the console's only in the staff languages)."""
    return [d for d in templates() if required(locale, d) or po_path(locale, d).exists()]


def domains_for(locale: str) -> list[str]:
    """What a translator of ``locale`` reviews: its catalogs, then the stored texts workers read."""
    return [*catalogs_for(locale), *content_reviews.KINDS]


async def messages_of(session: AsyncSession, locale: str, domain: str) -> list[CatalogMessage]:
    kind = content_reviews.KINDS.get(domain)
    if kind is not None:
        return await kind.items(session, locale)
    return messages(locale, domain)


def review_locales() -> list[str]:
    return [code for code in LANGUAGES if code != SOURCE_LOCALE]


def may_review(staff: Staff, locale: str) -> bool:
    """Translators decide for their languages; an administrator for any (to take a harmful word
    out at once when no translator for the language is at hand)."""
    mine = staff.role == StaffRole.ADMIN or locale in (staff.languages or ())
    return staff.active and mine and locale in review_locales()


async def set_reviewer_languages(
    session: AsyncSession, *, actor: Staff, staff: Staff, languages: Iterable[str]
) -> None:
    """The languages ``staff`` reviews (the translator role beside their own role, or alone)."""
    if not accounts.manageable(actor, staff):
        raise Forbidden()
    chosen = sorted(set(languages) & set(review_locales()))
    before = sorted(staff.languages or [])
    if chosen == before:
        return
    staff.languages = chosen
    await audit.record(
        session,
        "staff.languages_changed",
        actor=actor,
        object_type="staff",
        object_id=staff.id,
        languages=chosen,
        was_languages=before,
    )


async def reviews_for(
    session: AsyncSession, locale: str | None = None
) -> dict[tuple[str, str, str], TranslationReview]:
    """(locale, domain, key) -> the decision, for one language or all."""
    query = select(TranslationReview)
    if locale is not None:
        query = query.where(TranslationReview.locale == locale)
    return {(r.locale, r.domain, r.key): r for r in (await session.scalars(query)).all()}


async def rows(session: AsyncSession, locale: str, domain: str) -> list[Row]:
    if locale not in review_locales() or domain not in domains_for(locale):
        raise NotFound()
    decided = await reviews_for(session, locale)
    return [
        Row(m, decided.get((locale, domain, key_of(m.context, m.msgid))))
        for m in await messages_of(session, locale, domain)
    ]


@dataclass(frozen=True)
class Counts:
    approved: int = 0
    drafted: int = 0
    changed: int = 0

    @property
    def total(self) -> int:
        return self.approved + self.drafted + self.changed

    @classmethod
    def of(cls, statuses: Iterable[Status]) -> Counts:
        counts = cls()
        for status in statuses:
            counts = counts.add(status)
        return counts

    def add(self, status: Status) -> Counts:
        return Counts(
            self.approved + (status is Status.APPROVED),
            self.drafted + (status is Status.DRAFTED),
            self.changed + (status is Status.CHANGED),
        )


async def count(
    session: AsyncSession, locales: Iterable[str] | None = None
) -> dict[str, dict[str, Counts]]:
    """locale -> catalog (or kind of stored text) -> how many messages are approved,
    machine-drafted, changed since approval."""
    decided = await reviews_for(session)
    out: dict[str, dict[str, Counts]] = {}
    for locale in locales or review_locales():
        out[locale] = {}
        for domain in domains_for(locale):
            out[locale][domain] = Counts.of(
                status_of(m.strings, decided.get((locale, domain, key_of(m.context, m.msgid))))
                for m in await messages_of(session, locale, domain)
                if any(m.strings) or m.context not in OPTIONAL_CONTEXTS  # an unneeded variant
            )
    return out


async def _find(session: AsyncSession, locale: str, domain: str, key: str) -> CatalogMessage:
    if locale not in review_locales() or domain not in domains_for(locale):
        raise NotFound()
    for m in await messages_of(session, locale, domain):
        if key_of(m.context, m.msgid) == key:
            return m
    raise NotFound()


def check_forms(message: CatalogMessage, forms: Sequence[str], locale: str) -> list[str]:
    """Why ``forms`` cannot replace ``message``'s translation in ``locale`` (empty when they can):
    what ``workvoice i18n check`` would refuse once the change is pulled into ``locales/``."""
    problems: list[str] = []
    if len(forms) != len(message.strings) or not all(f.strip() for f in forms):
        return [N_("every form must be filled in")]
    ids = [message.msgid, *([message.plural] if message.plural else [])]
    if message.domain not in content_reviews.KINDS and glossary.problems(
        locale, ids if message.plural else message.msgid, list(forms), domain=message.domain
    ):
        problems.append(N_("it does not follow the glossary: see the words under the message"))
    wanted = placeholders(message.msgid) | placeholders(message.plural or "")
    for form in forms:
        if len(form) > TEXT_LIMIT:
            problems.append(N_("it is longer than a Telegram message"))
        missing, extra = wanted - placeholders(form), placeholders(form) - wanted
        if missing or extra:
            problems.append(N_("keep the parts in braces as they are in English"))
        try:
            visible_text(form, "HTML")
        except ApiError:
            problems.append(N_("the formatting tags are not closed or not allowed"))
    return list(dict.fromkeys(problems))


async def _decide(
    session: AsyncSession,
    *,
    actor: Staff,
    locale: str,
    domain: str,
    key: str,
    text: Sequence[str] | None,
    note: str,
) -> TranslationReview:
    if not may_review(actor, locale):
        raise Forbidden()
    message = await _find(session, locale, domain, key)
    review = await session.scalar(
        select(TranslationReview).where(
            TranslationReview.locale == locale,
            TranslationReview.domain == domain,
            TranslationReview.key == key,
        )
    )
    current = Row(message, review).text
    before = list(current)
    if text is None:  # approve what workers read now
        if not all(current):
            raise TranslationRefused(reason=N_("every form must be filled in"))
        text = current
    else:
        text = [t.strip() for t in text]
        problems = check_forms(message, text, locale)
        if problems:
            raise TranslationRefused(reason=problems[0])
    note = note.strip()[:NOTE_LIMIT]
    if review is None:
        review = TranslationReview(locale=locale, domain=domain, key=key)
        session.add(review)
    review.context, review.msgid = message.context, message.msgid
    review.catalog_text, review.text = list(message.strings), list(text)
    kind = content_reviews.KINDS.get(domain)
    # A stored text changed where it lives says the new words itself: no override needed.
    changed_here = kind is not None and list(text) != list(message.strings)
    if changed_here and kind and await kind.write(session, message.context or "", locale, text[0]):
        review.catalog_text = list(text)
    review.note, review.staff_id, review.decided_at = note, actor.id, utcnow()
    changed = list(text) != before
    await audit.record(
        session,
        "translation.changed" if changed else "translation.approved",
        actor=actor,
        object_type="translation",
        object_id=f"{locale}/{domain}/{key[:16]}",
        locale=locale,
        domain=domain,
        msgid=message.msgid[:200],
        before=before if changed else None,
        after=list(text) if changed else None,
        note=note or None,
    )
    await session.flush()
    return review


async def approve(
    session: AsyncSession, *, actor: Staff, locale: str, domain: str, key: str
) -> TranslationReview:
    """Approve what workers read now in ``locale`` for this message."""
    return await _decide(
        session, actor=actor, locale=locale, domain=domain, key=key, text=None, note=""
    )


async def change(
    session: AsyncSession,
    *,
    actor: Staff,
    locale: str,
    domain: str,
    key: str,
    text: Sequence[str],
    note: str = "",
) -> TranslationReview:
    """Replace the translation (approved by the person who wrote it); in force at once."""
    return await _decide(
        session, actor=actor, locale=locale, domain=domain, key=key, text=text, note=note
    )


# -- the changes in force in this process --------------------------------------------------------


def overrides(decided: Iterable[TranslationReview]) -> Overrides:
    table: Overrides = {}
    for review in decided:
        if overrides_catalog(review) and review.text:
            table.setdefault(review.locale, {})[(review.context, review.msgid)] = tuple(review.text)
    return table


async def _version(session: AsyncSession) -> tuple[int, object]:
    row = (
        await session.execute(
            select(func.count(TranslationReview.id), func.max(TranslationReview.decided_at))
        )
    ).one()
    return int(row[0]), row[1]


class Watcher:
    """Keeps this process's overrides equal to the database's decisions: loaded at start, reloaded
    at once after a change made here, and within ``every`` seconds of one made by another replica."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, every: float = 5.0) -> None:
        self.sessions, self.every = sessions, every
        self.version: tuple[int, object] | None = None

    async def refresh(self) -> None:
        async with self.sessions() as session:
            version = await _version(session)
            if version == self.version:
                return
            decided = (await session.scalars(select(TranslationReview))).all()
        set_overrides(overrides(decided))
        self.version = version

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.refresh()
            except (
                Exception
            ) as exc:  # the database away: the overrides in force stay till it is back
                log.warning("translations.refresh_failed error=%s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.every)


async def refresh_now(session: AsyncSession) -> None:
    """After a decision in this process: the bot and the console use it from the next message."""
    decided = (await session.scalars(select(TranslationReview))).all()
    set_overrides(overrides(decided))


# -- back into locales/ --------------------------------------------------------------------------


def apply_to_po(locale: str, domain: str, decided: Iterable[TranslationReview]) -> bytes:
    """``locale``'s ``.po`` file for ``domain`` with the approved changes written in."""
    path = po_path(locale, domain)
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=locale, domain=domain)
    for review in decided:
        if review.locale != locale or review.domain != domain or not overrides_catalog(review):
            continue
        message = catalog.get(review.msgid, review.context)  # a plural one by its singular too
        if message is None:  # the message left the catalog since: nothing to write it into
            continue
        texts = list(review.text)
        message.string = tuple(texts) if isinstance(message.id, (tuple, list)) else texts[0]
        message.flags.discard("fuzzy")
    buf = io.BytesIO()
    write_po(buf, catalog, width=100, ignore_obsolete=True, sort_output=True, include_lineno=False)
    return buf.getvalue()


def pull(
    decided: Sequence[TranslationReview], *, locales: Iterable[str] | None = None
) -> list[Path]:
    """Write every approved change into its ``.po`` file; the files written."""
    wanted = set(locales or review_locales())
    pairs = sorted({(r.locale, r.domain) for r in decided if r.locale in wanted})
    written = []
    for locale, domain in pairs:
        if not po_path(locale, domain).exists():
            continue
        data = apply_to_po(locale, domain, decided)
        path = po_path(locale, domain)
        if path.read_bytes() != data:
            path.write_bytes(data)
            written.append(path)
    return written
