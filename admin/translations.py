"""The translation workspace: every message of every catalog, reviewed by the people who speak the
language (``services.translations``).

Everyone who may open the page sees each language's review coverage (approved, machine-drafted,
changed since approval) per catalog and can read every message. A staff member who holds the
translator role for a language (``Staff.languages``) also approves a message as it reads or changes
it with a note: the change is in force in the bot and the console at once, audited, and flows back
into ``locales/`` as a ``.po`` file (download here, or ``workvoice i18n pull``).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from admin.forms import FormState, submit
from admin.web import DB, render, require, verify_csrf
from bot.i18n import N_, is_rtl
from bot.i18n import gettext as _
from bot.i18n.languages import LANGUAGES
from bot.storage.models import Staff, StaffRole
from services import content_reviews, translations
from services.errors import Forbidden, NotFound
from services.translations import Row, Status
from workvoice.kernel import glossary
from workvoice.kernel.catalogs import coverage

router = APIRouter(prefix="/translations")
# Translators of any role (Staff.languages) too: a case handler may review her language.
VIEW = require(StaffRole.COUNTRY_MANAGER, StaffRole.ANALYST, StaffRole.TRANSLATOR, translators=True)
# Deciding: translators, for their own languages only (services.translations.may_review).
DECIDE = require(StaffRole.TRANSLATOR, translators=True)
PAGE_SIZE = 25
STATUS_WORDS = {
    Status.APPROVED: N_("Approved"),
    Status.DRAFTED: N_("Machine-drafted"),
    Status.CHANGED: N_("Changed since approval"),
}
# Stored texts are listed beside the catalogs under their own names.
DOMAIN_LABELS = {name: kind.label for name, kind in content_reviews.KINDS.items()}
# The formatting a Telegram message may carry that a preview shows as such; everything else is text.
SHOWN_TAGS = {"b", "strong", "i", "em", "u", "s", "code", "pre", "blockquote"}


class _Preview(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SHOWN_TAGS:
            self.out.append(f"<{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag in SHOWN_TAGS:
            self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self.out.append(html.escape(data))


def shown(text: str) -> Markup:
    """A bot message's Telegram HTML as the console may show it: a few formatting tags without
    attributes (a translator's link cannot become a script), everything else escaped text."""
    parser = _Preview()
    parser.feed(text)
    parser.close()
    return Markup("".join(parser.out))  # noqa: S704 - built from escaped data and fixed tags


def _known(locale: str) -> str:
    if locale not in translations.review_locales():
        raise NotFound()
    return locale


@router.get("", response_class=HTMLResponse)
async def overview(
    request: Request, staff: Staff = Depends(VIEW), session: AsyncSession = DB
) -> Response:
    counts = await translations.count(session)
    translated = {row.code: row.domains for row in coverage()}
    domains = [*translated.get("en", {}), *content_reviews.KINDS]
    rows = [
        {
            "code": code,
            "language": LANGUAGES[code],
            "counts": counts[code],
            "translated": translated.get(code, {}),
            "mine": translations.may_review(staff, code),
        }
        for code in translations.review_locales()
    ]
    rows.sort(key=lambda r: not r["mine"])  # the reviewer's own languages first
    return render(
        request, "translations/list.html", rows=rows, domains=domains, labels=DOMAIN_LABELS
    )


class ChangeForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    csrf_token: str = ""
    key: str = Field(min_length=64, max_length=64)
    text: list[str] = Field(min_length=1, max_length=6)
    note: str = Field(default="", max_length=translations.NOTE_LIMIT)
    back: str = Field(default="", max_length=300)


class ApproveForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    csrf_token: str = ""
    key: str = Field(min_length=64, max_length=64)
    back: str = Field(default="", max_length=300)


@dataclass
class Shown:
    """One row of the workspace."""

    row: Row
    previews: list[Any]
    anchor: str
    terms: list[Any] = field(default_factory=list)

    @property
    def status_word(self) -> str:
        return STATUS_WORDS[self.row.status]


def _previews(request: Request, locale: str, row: Row) -> list[Any]:
    book = request.app.state.ctx.screens
    if book is None:
        return []
    drawn = []
    for flow, step in book.where(row.message.context, row.message.msgid)[:2]:
        preview = book.draw(locale, flow, step)
        if preview is not None:
            drawn.append(
                {"title": _(preview.title), "text": shown(preview.text), "rows": preview.rows}
            )
    return drawn


def _terms(row: Row, locale: str) -> list[Any]:
    """The glossary's words for the terms this English says (catalog messages only)."""
    m = row.message
    if m.domain in content_reviews.KINDS:
        return []
    return glossary.terms_in([m.msgid, m.plural] if m.plural else m.msgid, locale, domain=m.domain)


def _matches(row: Row, status: str, query: str) -> bool:
    if status and row.status.value != status:
        return False
    if query:
        haystack = " ".join([row.message.msgid, row.message.plural or "", *row.text]).casefold()
        return query.casefold() in haystack
    return True


async def _workspace(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    locale: str,
    domain: str,
    *,
    status: str = "",
    q: str = "",
    page: int = 1,
    form: FormState | None = None,
    failed_key: str = "",
) -> Response:
    all_rows = await translations.rows(session, locale, domain)
    picked = [r for r in all_rows if _matches(r, status, q)]
    pages = max(1, -(-len(picked) // PAGE_SIZE))
    page = min(max(1, page), pages)
    if failed_key:  # show the page that holds the row the refusal is about
        for n, r in enumerate(picked):
            if r.key == failed_key:
                page = n // PAGE_SIZE + 1
    chosen = picked[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    query = {k: v for k, v in {"status": status, "q": q, "page": str(page)}.items() if v}
    here = f"/translations/{locale}/{domain}" + (f"?{urlencode(query)}" if query else "")
    counts = translations.Counts.of(r.status for r in all_rows)
    return render(
        request,
        "translations/workspace.html",
        status_code=form.status if form else 200,
        target=locale,  # not "locale"/"rtl": those are the console's own language (base.html)
        language=LANGUAGES[locale],
        target_rtl=is_rtl(locale),
        domain=domain,
        domains=translations.domains_for(locale),
        labels=DOMAIN_LABELS,
        rows=[
            Shown(r, _previews(request, locale, r), r.key[:12], _terms(r, locale)) for r in chosen
        ],
        counts=counts,
        status=status,
        statuses=[(s.value, STATUS_WORDS[s]) for s in Status],
        q=q,
        page=page,
        pages=pages,
        found=len(picked),
        here=here,
        can_review=translations.may_review(staff, locale),
        form=form or FormState(),
        failed_key=failed_key,
    )


# Before the workspace route: "{domain}" would take "core.po" too.
@router.get("/{locale}/{domain}.po")
async def download(
    locale: str, domain: str, staff: Staff = Depends(VIEW), session: AsyncSession = DB
) -> Response:
    """The catalog with this language's approved changes written in, to commit into ``locales/``."""
    locale = _known(locale)
    if domain not in translations.catalogs_for(locale):
        raise NotFound()
    decided = (await translations.reviews_for(session, locale)).values()
    data = translations.apply_to_po(locale, domain, decided)
    return Response(
        data,
        media_type="text/x-gettext-translation; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{locale}-{domain}.po"'},
    )


@router.get("/{locale}/{domain}", response_class=HTMLResponse)
async def workspace(
    request: Request,
    locale: str,
    domain: str,
    status: str = "",
    q: str = "",
    page: int = 1,
    staff: Staff = Depends(VIEW),
    session: AsyncSession = DB,
) -> Response:
    if status and status not in {s.value for s in Status}:
        status = ""
    return await _workspace(
        request, session, staff, _known(locale), domain, status=status, q=q[:100], page=page
    )


def _back(locale: str, domain: str, back: str, key: str) -> str:
    base = f"/translations/{locale}/{domain}"
    # Only a page of this same workspace: the field must not send the browser elsewhere.
    target = back if back.startswith(base) and "//" not in back[len(base) :] else base
    return f"{target}#m-{key[:12]}"


async def _decide(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    locale: str,
    domain: str,
    model: type[ApproveForm] | type[ChangeForm],
    message: str,
) -> Response:
    locale = _known(locale)
    if not translations.may_review(staff, locale):
        raise Forbidden()

    async def verb(data: ApproveForm | ChangeForm) -> str:
        if isinstance(data, ChangeForm):
            await translations.change(
                session,
                actor=staff,
                locale=locale,
                domain=domain,
                key=data.key,
                text=data.text,
                note=data.note,
            )
        else:
            await translations.approve(
                session, actor=staff, locale=locale, domain=domain, key=data.key
            )
        await translations.refresh_now(session)  # this process at once; others within seconds
        return _back(locale, domain, data.back, data.key)

    async def again(form: FormState) -> Response:
        return await _workspace(
            request, session, staff, locale, domain, form=form, failed_key=str(form.value("key"))
        )

    return await submit(
        request, session, model, verb=verb, done_url=str, message=message, again=again
    )


@router.post("/{locale}/{domain}/approve", dependencies=[Depends(verify_csrf)])
async def approve(
    request: Request,
    locale: str,
    domain: str,
    staff: Staff = Depends(DECIDE),
    session: AsyncSession = DB,
) -> Response:
    return await _decide(request, session, staff, locale, domain, ApproveForm, _("Approved."))


@router.post("/{locale}/{domain}/change", dependencies=[Depends(verify_csrf)])
async def change(
    request: Request,
    locale: str,
    domain: str,
    staff: Staff = Depends(DECIDE),
    session: AsyncSession = DB,
) -> Response:
    changed = _("Changed. Workers read the new words from their next message.")
    return await _decide(request, session, staff, locale, domain, ChangeForm, changed)
