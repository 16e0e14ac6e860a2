"""Translation layer and catalog check: every locale complete, placeholders and HTML intact."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po

from bot.i18n import (
    LANGUAGES,
    N_,
    _n,
    bidi,
    format_datetime,
    format_number,
    gettext,
    reload_catalogs,
    supported,
    use_locale,
)
from workvoice import i18n_tools


def test_sixteen_languages_named_in_their_own_script() -> None:
    assert list(LANGUAGES) == [
        "en",
        "bn",
        "km",
        "am",
        "ht",
        "fr",
        "id",
        "ar",
        "es",
        "vi",
        "ur",
        "si",
        "ta",
        "hi",
        "ne",
        "my",
    ]
    assert LANGUAGES["bn"].native_name == "বাংলা" and LANGUAGES["my"].native_name == "မြန်မာ"
    assert [c for c, lang in LANGUAGES.items() if lang.rtl] == ["ar", "ur"]


@pytest.mark.parametrize(
    ("code", "expected"),
    [("bn", "bn"), ("ar-JO", "ar"), ("pt-br", None), ("", None), ("MY", "my"), (None, None)],
)
def test_telegram_language_codes_map_to_ours(code: str | None, expected: str | None) -> None:
    assert supported(code) == expected


def test_all_catalogs_pass_the_check() -> None:
    assert i18n_tools.check() == []


def test_every_locale_translates_every_core_message() -> None:
    template = read_po((i18n_tools.locales_dir() / "core.pot").open("rb"))
    for code in LANGUAGES:
        if code == "en":
            continue
        for message in template:
            if message.id:
                assert gettext(message.id, locale=code) != message.id, (code, message.id)


def test_dates_follow_the_reader_and_the_factory_clock() -> None:
    moment = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)  # 14:00 in Dhaka, 03:00 in Managua
    assert format_datetime(moment, tz="Asia/Dhaka", locale="en", format="HH:mm") == "14:00"
    assert format_datetime(moment, tz="Asia/Dhaka", locale="bn", format="d MMMM") == "৩ মার্চ"
    assert format_datetime(moment, tz="America/Managua", locale="es", format="HH:mm") == "02:00"
    assert format_datetime(moment, tz="Asia/Ho_Chi_Minh", locale="vi", format="HH:mm") == "15:00"
    assert format_number(1234567, locale="fr").replace("\u202f", " ") == "1 234 567"


def test_plural_forms_use_the_locale_rules() -> None:
    assert _n("{n} day", "{n} days", 1, locale="en") == "1 day"
    assert _n("{n} day", "{n} days", 5, locale="en") == "5 days"


def test_bidi_marks_only_right_to_left_text() -> None:
    with use_locale("ar"):
        assert bidi("18–24") == "\u200f18–24"
    with use_locale("bn"):
        assert bidi("18–24") == "18–24"


@pytest.fixture
def scratch_locales(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "locales"
    shutil.copytree(i18n_tools.locales_dir(), target)
    monkeypatch.setenv("WORKVOICE_LOCALES_DIR", str(target))
    reload_catalogs()
    yield target
    monkeypatch.delenv("WORKVOICE_LOCALES_DIR")
    reload_catalogs()


def _edit(path: Path, msgid: str, new: str | None = None, *, fuzzy: bool = False) -> None:
    catalog = read_po(path.open("rb"))
    message = catalog[msgid]
    if new is not None:
        message.string = new
    if fuzzy:
        message.flags.add("fuzzy")
    with path.open("wb") as fh:
        write_po(fh, catalog)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"new": "{factory} ?"}, "placeholders"),
        ({"new": "<b>gone"}, "can't parse entities"),
        ({"new": "<blink>x</blink> {factory}"}, "Unsupported start tag"),
        ({"new": ""}, "untranslated"),
        ({"fuzzy": True}, "fuzzy"),
    ],
)
def test_check_catches_broken_translations(
    scratch_locales: Path, change: dict[str, object], problem: str
) -> None:
    po = scratch_locales / "bn" / "LC_MESSAGES" / "onboarding.po"
    msgid = (
        "You are now linked to {factory}."
        if "new" in change and change["new"] != "{factory} ?"
        else "No factory has the code {code}. Please check the poster and try again."
    )
    _edit(po, msgid, change.get("new"), fuzzy=bool(change.get("fuzzy")))  # type: ignore[arg-type]
    problems = i18n_tools.check()
    assert problems and all("bn" in p for p in problems) and any(problem in p for p in problems), (
        problems
    )


def test_check_reports_a_missing_catalog(scratch_locales: Path) -> None:
    (scratch_locales / "my" / "LC_MESSAGES" / "core.po").unlink()
    assert any("my/LC_MESSAGES/core.po: missing" in p for p in i18n_tools.check())


def test_reasons_inside_errors_are_translated_too() -> None:
    from services.factories import InvalidFactory
    from services.reports.cases import InvalidReport

    error = InvalidReport(reason=N_("the message is empty"))
    assert error.translated("es") == "Este reporte no está completo: el mensaje está vacío"
    assert str(error) == "This report is not complete: the message is empty"
    # Data in a parameter (a code the worker typed) passes through untouched.
    assert "NOPE-9" in InvalidFactory(reason="NOPE-9").translated("ar")


def test_a_string_moved_to_another_capability_keeps_its_translations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Moving code between capabilities moves its strings to another catalog; ``update`` must carry
    the finished translation over instead of leaving the new catalog's entry empty."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    monkeypatch.setenv("WORKVOICE_LOCALES_DIR", str(tmp_path))

    def write(path: Path, catalog: Catalog) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            write_po(fh, catalog)

    old, new = Catalog(), Catalog()  # the templates: the string left "committees" for "core"
    new.add("Please choose another time.")
    write(tmp_path / "committees.pot", old)
    write(tmp_path / "core.pot", new)
    before = Catalog(locale="am")
    before.add("Please choose another time.", "ሌላ ሰዓት ይምረጡ።")
    write(tmp_path / "am" / "LC_MESSAGES" / "committees.po", before)
    write(tmp_path / "bn" / "LC_MESSAGES" / "committees.po", Catalog(locale="bn"))

    i18n_tools.update(("am", "bn"))

    def moved(locale: str) -> str:
        with (tmp_path / locale / "LC_MESSAGES" / "core.po").open("rb") as fh:
            return read_po(fh, locale=locale).get("Please choose another time.").string

    assert moved("am") == "ሌላ ሰዓት ይምረጡ።"
    # Only from the same locale: another language's words never fill a missing translation.
    assert moved("bn") == ""


def test_catalog_of_a_file_follows_its_capability_folder_also_in_packages() -> None:
    root = i18n_tools.ROOT
    assert i18n_tools.domain_for(root / "bot/flows/reports.py") == "reports"
    assert i18n_tools.domain_for(root / "bot/flows/reports/intake.py") == "reports"
    assert i18n_tools.domain_for(root / "services/committees/planning.py") == "committees"
    assert i18n_tools.domain_for(root / "services/accounts.py") == "console"
    assert i18n_tools.domain_for(root / "services/clock.py") == "core"
    assert i18n_tools.domain_for(root / "bot/widgets.py") == "core"
    assert i18n_tools.domain_for(root / "admin/surveys/builder.py") == "console"
