"""The console speaks each staff language (M11, m15): no stored key reaches a page as it is stored,
every staff language is offered on the Account page and complete, and the Translations page
keeps its figures until a catalog changes (m14)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any, ClassVar

import pytest
from sqlalchemy import select

from bot.i18n.languages import LANGUAGES
from bot.storage.committees import Committee
from bot.storage.db import transaction
from bot.storage.models import Staff
from bot.storage.reports import Case
from bot.storage.surveys import SurveyWave
from services.labels import registered
from tests.console import csrf_of
from workvoice.demo.seed import seed_demo
from workvoice.i18n_tools import check
from workvoice.kernel import catalogs
from workvoice.kernel.catalogs import STAFF_LOCALES, po_path, templates

EMAIL = re.compile(r"[\w.+-]+@[\w.-]+")
TOKEN = re.compile(r"[A-Za-z0-9_+-]+")


class _VisibleText(HTMLParser):
    """The words a person reads on the page, less what people typed (worker stories, names and
    places are shown with ``dir="auto"`` or their own ``lang``): only the console's own words."""

    SKIP: ClassVar[set[str]] = {"script", "style"}
    VOID: ClassVar[set[str]] = {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
    }

    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self._stack: list[bool] = []  # per open element: is its text someone's own writing

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        found = dict(attrs)
        typed = tag != "html" and ("lang" in found or found.get("dir") == "auto")
        self._stack.append(typed or tag in self.SKIP or (bool(self._stack) and self._stack[-1]))

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self._stack:
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        if not (self._stack and self._stack[-1]):
            self.words.append(data)


def raw_keys(html: str) -> set[str]:
    """Stored keys of any registered enum that the page shows as they are stored."""
    parser = _VisibleText()
    parser.feed(html)
    text = EMAIL.sub(" ", " ".join(parser.words))
    keys = {str(member.value) for kind in registered() for member in kind}
    return set(TOKEN.findall(text)) & keys


def test_the_check_finds_a_raw_key_and_ignores_typed_text() -> None:
    page = (
        '<html lang="ar"><body><td>triaged</td><p dir="auto">the debt is paid</p>'
        "<p>admin@demo.org</p><td>45plus</td><td>TU</td><td>forced_labour</td></body></html>"
    )
    assert raw_keys(page) == {"triaged", "45plus", "TU", "forced_labour"}


async def _in_arabic(console: Any, email: str) -> Any:
    async with transaction(console.sessions) as session:
        staff = await session.scalar(select(Staff).where(Staff.email == email))
        staff.locale = "ar"
    return console.client_for(staff)


async def test_main_pages_in_arabic_show_words_not_stored_keys(console: Any) -> None:
    await seed_demo(console.ctx)
    async with console.sessions() as session:
        cases = (await session.scalars(select(Case.id))).all()
        committee = await session.scalar(select(Committee.id))
        waves = (await session.scalars(select(SurveyWave.id))).all()
    admin = await _in_arabic(console, "admin@demo.workvoice.org")
    pages = [
        "/reports",
        *[f"/reports/{case}" for case in cases],
        "/staff",
        "/committees",
        f"/committees/{committee}",
        *[f"/surveys/waves/{wave}/results" for wave in waves],
    ]
    assert cases and committee and waves
    found = {}
    for path in pages:
        answer = await admin.get(path)
        assert answer.status_code == 200, path
        assert 'lang="ar"' in answer.text
        if keys := raw_keys(answer.text):
            found[path] = sorted(keys)
    assert not found, f"stored keys shown as they are stored: {found}"


async def test_account_page_offers_every_staff_language(console: Any) -> None:
    staff = await console.staff("case_handler")
    client = console.client_for(staff)
    page = (await client.get("/account")).text
    for code in ("en", *STAFF_LOCALES):
        assert f'value="{code}"' in page, code
        assert LANGUAGES[code].native_name in page
    assert 'value="ur"' not in page  # no console catalog: not offered half-translated
    answer = await client.post(
        "/account/language", data={"locale": "km", "csrf_token": csrf_of(page)}
    )
    assert answer.status_code == 303
    home = await client.get("/account")
    assert 'lang="km"' in home.text
    assert "ភាសា" in home.text  # "Language" in Khmer: the page reads in the chosen language


def test_console_catalog_is_complete_in_every_staff_language() -> None:
    template = templates()["console"]
    total = sum(1 for m in template if m.id)
    for code in STAFF_LOCALES:
        assert po_path(code, "console").exists(), code
    problems = [p for p in check() if "console.po" in p]
    assert not problems, problems[:20]
    rows = {row.code: row for row in catalogs.coverage()}
    for code in STAFF_LOCALES:
        assert rows[code].domains["console"] == (total, total), code
    assert "console" not in rows["ur"].domains  # not offered: no "0%" that reads like a fault


async def test_translations_page_reads_the_catalogs_once_until_one_changes(
    console: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    import shutil

    from bot.i18n import locales_dir

    copy = tmp_path / "locales"
    shutil.copytree(locales_dir(), copy)
    monkeypatch.setenv("WORKVOICE_LOCALES_DIR", str(copy))
    parsed: list[int] = []
    real = catalogs._coverage
    monkeypatch.setattr(catalogs, "_coverage", lambda: parsed.append(1) or real())
    monkeypatch.setattr(catalogs, "_cached", None)
    manager = await console.staff("country_manager")
    client = console.client_for(manager)
    first = await client.get("/translations")
    second = await client.get("/translations")
    assert first.status_code == second.status_code == 200
    assert len(parsed) == 1
    assert "ur" in first.text and "—" in first.text
    # A reviewer's edit shows at once, without a restart.
    po = copy / "fr" / "LC_MESSAGES" / "console.po"
    text = po.read_text(encoding="utf-8")
    cut = text.index('msgstr "', text.index('msgid "Translations"'))
    po.write_text(text[:cut] + 'msgstr ""' + text[text.index("\n", cut) :], encoding="utf-8")
    third = await client.get("/translations")
    assert len(parsed) == 2
    assert third.text != second.text
