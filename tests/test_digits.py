"""One numbering system per language (review B14): CLDR's default digits in every number, date and
time a worker reads (Bangla ০-৯, Burmese ၀-၉, Nepali ०-९, Latin for the others, Arabic included),
identifiers left as they are, typed digits of any script still read, and a catalog check."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.flows.committees.dates import example, parse_due
from bot.i18n import LANGUAGES, digits, format_datetime, format_number, format_time, gettext
from bot.i18n.digits import foreign_digits, localize, numbering_system, to_ascii
from tests.factories import make_worker
from tests.harness import BotHarness
from tests.surveys_data import make_wave
from tests.test_i18n import _edit, scratch_locales  # noqa: F401 (the fixture)
from workvoice import i18n_tools

MOMENT = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)  # Saturday 5 December 2026, 14:00 in Dhaka
ASCII_DIGIT = re.compile(r"[0-9]")


def test_cldr_default_numbering_systems() -> None:
    native = {
        code: numbering_system(code) for code in LANGUAGES if numbering_system(code) != "latn"
    }
    # Plain "ar" defaults to Latin digits in CLDR (ar_EG and ar_JO to Arabic-Indic ones): the bot
    # follows it, as its Arabic catalog always did.
    assert native == {"bn": "beng", "ne": "deva", "my": "mymr"}
    assert numbering_system("ar") == "latn"


@given(st.integers(min_value=0, max_value=10**18), st.sampled_from(sorted(LANGUAGES)))
def test_digits_round_trip(n: int, locale: str) -> None:
    shown = localize(str(n), locale)
    assert to_ascii(shown) == str(n) and int(to_ascii(shown)) == n
    assert foreign_digits(shown, locale) == []
    assert (shown == str(n)) == (numbering_system(locale) == "latn")


@given(st.text(max_size=40), st.sampled_from(["bn", "my", "ne", "en"]))
def test_only_ascii_digits_change(text: str, locale: str) -> None:
    shown = localize(text, locale)
    assert len(shown) == len(text)
    assert [a for a, b in zip(text, shown, strict=True) if a != b] == [
        ch for ch in text if ch in "0123456789" and locale != "en"
    ]


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("bn", "শনিবার, ৫ ডিসেম্বর, ২০২৬ ১৪:০০"),
        ("my", "၂၀၂၆ ဒီဇင်ဘာ ၅၊ စနေ ၁၄:၀၀"),
        ("ne", "२०२६ डिसेम्बर ५, शनिबार १४:००"),
        ("ar", "السبت، 5 ديسمبر 2026، 2:00 م"),  # CLDR's ar: Latin digits, its own comma
        ("km", "សៅរ៍ 5 ធ្នូ 2026, 14:00"),  # 24 hours: CLDR's km "PM" is Latin in Khmer text
        ("en", "Saturday, December 5, 2026, 2:00\u202fPM"),
        ("fr", "samedi 5 décembre 2026, 14:00"),
    ],
)
def test_a_date_and_time_in_the_languages_own_digits(locale: str, expected: str) -> None:
    when = format_datetime(
        MOMENT, tz="Asia/Dhaka", locale=locale, format="full", time_format="short"
    )
    assert when == expected
    if numbering_system(locale) != "latn":
        assert not ASCII_DIGIT.search(when) and "," not in when.split()[-2][-1:]


def test_numbers_and_placeholders() -> None:
    assert format_number(3000, locale="bn") == "৩,০০০"
    assert format_number(3000, locale="en") == "3,000"
    assert format_time(MOMENT, tz="Asia/Dhaka", locale="bn") == "১৪:০০"
    assert format_time(MOMENT, tz="Asia/Dhaka", locale="en") == "2:00\u202fPM"
    # Whole numbers in the reader's digits; strings (receipts, codes, phone numbers) as they are.
    assert gettext("Due: {day}", locale="bn", day="2983 3926").endswith("2983 3926")
    text = gettext(
        "<b>{title}</b> · question {number} of {total}", locale="bn", title="T", number=1, total=5
    )
    assert text == "<b>T</b> · ৫টির মধ্যে ১ নম্বর প্রশ্ন"
    assert gettext(
        "<b>{title}</b> · question {number} of {total}", locale="fr", title="T", number=1, total=5
    ) == ("<b>T</b> · question 1 sur 5")
    assert gettext(
        "<b>{title}</b> · question {number} of {total}", title="T", number=1, total=5
    ) == ("<b>T</b> · question 1 of 5")


def test_typed_dates_in_any_digits_are_still_read() -> None:
    today = datetime(2026, 12, 5).date()
    assert example(today, "bn") == "৫/১২/২০২৬"
    assert parse_due("১৯/১২/২০২৬", today, "bn") == parse_due("19/12/2026", today, "bn")
    assert parse_due("၁၉/၁၂/၂၀၂၆", today, "my").day == 19


@pytest.mark.parametrize(("locale", "one"), [("bn", "১"), ("my", "၁"), ("ne", "१")])
async def test_a_survey_question_in_the_languages_digits(
    app: BotHarness, locale: str, one: str
) -> None:
    await make_worker(app.sessions, 7401, locale=locale)
    worker = app.user(7401, language_code=locale)
    await make_wave(app.sessions)
    await app.deliver()
    await worker.send("/surveys")
    listing = await worker.wait_reply()
    await worker.tap(listing.buttons()[0])
    question = await worker.wait_reply()
    text = question.plain_text()
    assert one in text and not ASCII_DIGIT.search(text), text
    faces = question.buttons()[:5]
    assert faces[0].endswith(one) and not any(ASCII_DIGIT.search(b) for b in faces), faces
    if locale == "bn":
        assert "১ নম্বর প্রশ্ন" in text and "টির মধ্যে" in text
    await worker.tap(faces[3])  # the answer is read from the button's data, not its digits
    await worker.wait_reply(contains=localize("2", locale))


def test_digit_check_is_precise() -> None:
    problems = i18n_tools.digit_problems
    assert problems("bn", "reports", "under 10 MB", "১০ MB-এর কম") == []
    assert problems("bn", "reports", "under 10 MB", "10 MB-এর কম")
    assert problems("bn", "onboarding", "like DK-01", "যেমন DK-01, {code} <b>x</b>") == []
    assert problems("km", "core", "Under 18", "ក្រោម ១៨ ឆ្នាំ")  # CLDR's km: Latin digits
    assert problems("km", "core", "Under 18", "ក្រោម 18 ឆ្នាំ") == []
    assert problems("bn", "console", "like 2026-12-31", "যেমন 2026-12-31") == []
    note = ["Translators: 999 is a phone number: keep the digits as they are."]
    assert problems("bn", "core", "such as 999", "যেমন 999", note) == []
    assert problems("bn", "core", "such as 999", "যেমন 999, 2 দিনে", note)  # 2: not in the English


def test_check_fails_on_latin_digits_in_a_bangla_catalog(scratch_locales: Path) -> None:  # noqa: F811
    po = scratch_locales / "bn" / "LC_MESSAGES" / "onboarding.po"
    _edit(po, "You are now linked to {factory}.", "{factory} 3")
    problems = i18n_tools.check()
    assert any("bn/LC_MESSAGES/onboarding.po" in p and "digits 3" in p for p in problems), problems


def test_digits_module_is_the_one_way() -> None:
    assert digits.to_ascii("১৯ ١٩ ၁၉ ១៩ ¹") == "19 19 19 19 ¹"  # superscripts are not digits
