"""Every stored key the console or the bot shows has words in the reader's language, from one
registry (``services.labels``) that the bot's buttons and the console's pages share (M11)."""

from __future__ import annotations

import ast
import re
from enum import Enum
from pathlib import Path

import pytest

from bot.flows.reports.labels import category_label, harm_label
from bot.i18n import gettext, translations, use_locale
from bot.i18n.languages import LANGUAGES, SOURCE_LOCALE
from bot.storage.models import Gender, StaffRole
from services import labels
from services.broadcasts.messages import BroadcastStatus
from services.committees.members import (
    ActionStatus,
    Kind,
    MeetingStatus,
    MemberStatus,
    Role,
    Rsvp,
    Side,
)
from services.committees.schedule import WEEKDAYS, Weekday
from services.helplines import HelplineKind
from services.labels import (
    audit_action,
    country_name,
    has_words,
    label,
    language_name,
    msgid_for,
    registered,
)
from services.onboarding import AgeBand
from services.reports.protocol import (
    Actor,
    Category,
    EventKind,
    Harm,
    Outcome,
    Referral,
    Severity,
    State,
)
from services.surveys.definition import QuestionType
from services.surveys.waves import Repeat, WaveStatus
from workvoice.kernel.catalogs import STAFF_LOCALES

ROOT = Path(__file__).resolve().parents[1]

# Every kind of stored key a staff member reads on a console page (issue 17, M11).
SHOWN: list[type[Enum]] = [
    State,
    Severity,
    Category,
    Harm,
    Outcome,
    Referral,
    StaffRole,
    Kind,
    Side,
    Role,
    MemberStatus,
    MeetingStatus,
    Rsvp,
    ActionStatus,
    Weekday,
    AgeBand,
    Gender,
    QuestionType,
    WaveStatus,
    Repeat,
    BroadcastStatus,
    HelplineKind,
    EventKind,
    Actor,
]
# What a worker also reads (the bot's buttons): their words are in every worker language.
WORKER_FACING: list[type[Enum]] = [Category, Harm, Gender, AgeBand, HelplineKind]


@pytest.mark.parametrize("kind", SHOWN, ids=lambda k: k.__name__)
def test_every_value_shown_to_staff_has_words(kind: type[Enum]) -> None:
    assert kind in registered()
    missing = [member for member in kind if not has_words(member)]
    assert not missing, f"{kind.__name__} values without words: {missing}"


def test_every_registered_word_reads_in_every_staff_language() -> None:
    for kind, words in registered().items():
        for member, msgid in words.items():
            if not re.search(r"[A-Za-z]", msgid):
                continue  # a number range such as 18–24 reads the same everywhere
            for locale in STAFF_LOCALES:
                # In the catalog, translated ("Normal" may well stay "Normal" in Indonesian).
                assert translations(locale)._catalog.get(msgid), (kind.__name__, member, locale)


@pytest.mark.parametrize("kind", WORKER_FACING, ids=lambda k: k.__name__)
def test_words_a_worker_reads_are_in_every_worker_language(kind: type[Enum]) -> None:
    for member in kind:
        msgid = msgid_for(member)
        assert msgid is not None
        if not re.search(r"[A-Za-z]", msgid):
            continue
        for locale in LANGUAGES:
            if locale != SOURCE_LOCALE:
                assert label(member, locale=locale) != msgid, (member, locale)


@pytest.mark.parametrize("locale", ["en", "bn", "ar", "my"])
def test_the_bot_shows_the_same_words_as_the_console(locale: str) -> None:
    with use_locale(locale):
        for category in Category:
            assert category_label(category) == label(category, locale=locale)
        for harm in Harm:
            assert harm_label(harm) == label(harm, locale=locale)
    # The msgids the bot's tests find buttons by did not change.
    assert label(Category.HARASSMENT, locale="en") == "Harassment, violence or abuse"
    assert label(Gender.UNDISCLOSED, locale="en") == "Prefer not to say"
    assert label(AgeBand.FROM_45, locale="en") == "45 or older"


def test_stored_strings_find_their_words() -> None:
    assert label("triaged", locale="ar") == gettext("Triaged", locale="ar") != "Triaged"
    # The bot's own word (the glossary's, review §3 row 14).
    assert label("case_handler", locale="bn") == gettext("Case handler", locale="bn")
    assert label("case_handler", locale="bn") == "দায়িত্বপ্রাপ্ত কর্মী"
    assert label("labour_authority") == "Labour authority"
    assert label("45plus") == "45 or older"
    assert label("TU", locale="fr") == "Mardi"
    assert label("forced_labour") == "Forced work or not free to leave"
    # A value several kinds share: a neutral word, or the kind's own when the page names it.
    assert label("other") == "Other"
    assert label("other", "category") == "Something else"
    assert label("safety", "committee_kind") == "Safety committee"
    assert label(Kind.SAFETY) == "Safety committee"
    assert label(None) == label("") == "—"
    assert label("not_a_key") == "not a key"


def test_shared_values_with_different_words_are_decided() -> None:
    """A value two kinds store with different words reads by the first kind registered unless
    it is in ``_SHARED``; a new such collision must be decided here, not found on a page."""
    owners: dict[str, set[str]] = {}
    for words in registered().values():
        for member, msgid in words.items():
            owners.setdefault(str(member.value), set()).add(msgid)
    differing = {value for value, msgids in owners.items() if len(msgids) > 1}
    assert differing == {"other", "safety"}
    assert set(labels._SHARED) <= differing


def test_weekdays_are_the_schedule_codes() -> None:
    assert [str(d) for d in WEEKDAYS] == ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
    assert label(Weekday.SU, locale="es") == "Domingo"


def test_countries_and_languages_are_named() -> None:
    assert country_name("BD", locale="ar") == "بنغلاديش"
    assert country_name("kh", locale="fr") == "Cambodge"
    assert country_name("HT", locale="ht") == "Haïti"  # Babel has no Creole names: French ones
    assert country_name("XX", locale="en") == "XX"
    assert language_name("bn") == "বাংলা"
    assert language_name(None) == "—"
    assert language_name("zz") == "zz"


def _audit_actions_in_source() -> set[str]:
    """Every action string passed to the audit trail (``audit.record`` and its wrappers)."""
    writers = {"record", "audit_case", "audit_change", "_audit", "_store"}
    action = re.compile(r"^(logout|[a-z]+(\.[a-z_]+)+)$")
    found: set[str] = set()
    for path in [*ROOT.joinpath("services").rglob("*.py"), *ROOT.joinpath("admin").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if name not in writers:
                continue
            for arg in node.args:
                for leaf in ast.walk(arg):
                    if isinstance(leaf, ast.Constant) and isinstance(leaf.value, str):
                        value = leaf.value
                        if name == "audit_change" and re.fullmatch(r"[a-z_]+", value):
                            found.add(f"committee.{value}")
                        elif action.match(value):
                            found.add(value)
    return found


def test_every_audit_action_has_words() -> None:
    actions = _audit_actions_in_source()
    assert {"login.ok", "case.view", "committee.member_remove", "helpline.save"} <= actions
    missing = sorted(a for a in actions if a not in labels.AUDIT_ACTIONS)
    assert not missing, f"audit actions without words: {missing}"
    assert audit_action("case.view") == "Viewed a case"
    assert audit_action("something.new") == "something.new"
