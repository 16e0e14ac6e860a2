"""The glossary of words workers trust (issue 19): its API, the catalog check it adds, and the
worker-journeys review's translation corrections (§3, one test per row) in the shipped catalogs."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po

from bot.i18n import LANGUAGES, gettext, pgettext, reload_catalogs
from tests import journeys
from tests.factories import make_worker
from tests.harness import BotHarness
from workvoice import i18n_tools
from workvoice.kernel import glossary

LOCALES = [code for code in LANGUAGES if code != "en"]
BOT_CATALOGS = ("core", "onboarding", "reports", "surveys", "committees", "broadcasts")
NEWS_HEADER = (
    "📰 <b>News</b>\nTap a topic to follow it (✅), tap again to stop. Your choice is private: we "
    "only count how many people follow a topic."
)


@pytest.fixture
def scratch_locales(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    target = tmp_path / "locales"
    shutil.copytree(i18n_tools.locales_dir(), target)
    monkeypatch.setenv("WORKVOICE_LOCALES_DIR", str(target))
    reload_catalogs()
    yield target
    monkeypatch.delenv("WORKVOICE_LOCALES_DIR")
    reload_catalogs()


def _edit(path: Path, msgid: str, new: str, context: str | None = None) -> None:
    catalog = read_po(path.open("rb"))
    catalog.get(msgid, context).string = new
    with path.open("wb") as fh:
        write_po(fh, catalog)


def strings(locale: str, domain: str) -> list[str]:
    path = i18n_tools.locales_dir() / locale / "LC_MESSAGES" / f"{domain}.po"
    out = []
    for message in read_po(path.open("rb")):
        if message.id:
            value = message.string
            out += list(value) if isinstance(value, tuple) else [value]
    return out


# --- the check -----------------------------------------------------------------------------------


def test_shipped_catalogs_pass_the_glossary() -> None:
    assert i18n_tools.check() == []


@pytest.mark.parametrize(
    ("locale", "domain", "msgid", "bad", "expected"),
    [
        # A payment receipt again (review row 4): forbidden word, approved one missing.
        (
            "my",
            "reports",
            "🔢 Receipt number only",
            "🔢 ပြေစာနံပါတ်ဖြင့်သာ",
            ["receipt_number: use", "receipt_number: avoid ပြေစာ"],
        ),
        # A union on the main menu (B7): a reserved word where the English has no union.
        ("km", "core", "📰 News", "📰 ព័ត៌មានសហជីព", ["union: សហជីព only where"]),
        # The approved word missing: a court case for the case handler (row 16).
        ("ne", "reports", "Case handler", "मुद्दा हेर्ने व्यक्ति", ["case_handler: use", "avoid"]),
        # An arrow that points the wrong way in Arabic (row 12).
        ("ar", "core", "⬅️ Back", "⬅️ رجوع", ["arrows ⬅ should be ➡"]),
    ],
)
def test_check_fails_on_a_forbidden_or_missing_word(
    scratch_locales: Path, locale: str, domain: str, msgid: str, bad: str, expected: list[str]
) -> None:
    _edit(scratch_locales / locale / "LC_MESSAGES" / f"{domain}.po", msgid, bad)
    problems = [p for p in i18n_tools.check() if f"/{locale}/LC_MESSAGES/{domain}.po" in p]
    assert problems and all(repr(msgid) in p for p in problems), problems
    joined = "\n".join(problems)
    assert all(word in joined for word in expected), joined


def test_console_catalog_is_checked_for_the_terms_that_apply(scratch_locales: Path) -> None:
    _edit(
        scratch_locales / "ar" / "LC_MESSAGES" / "console.po",
        "by receipt number only",
        "برقم الإيصال فقط",
    )
    problems = [p for p in i18n_tools.check() if "/ar/LC_MESSAGES/console.po" in p]
    assert any("receipt_number: avoid إيصال" in p for p in problems), problems


def test_problems_direct() -> None:
    # "{receipt}" is a value and "/delete" a command, not the words.
    assert (
        glossary.problems("km", "<code>{receipt}</code> /delete", "<code>{receipt}</code> /delete")
        == []
    )
    assert glossary.problems("bn", "Reports are encrypted.", "অভিযোগ এনক্রিপ্ট করা হয়।") == [
        "encrypted: use তালা",
        "encrypted: avoid এনক্রিপ্ট",
    ]
    # Arabic vowel marks do not hide a word; a union word is fine where the English says union.
    assert glossary.problems("ar", "Delete", "حُذف") == []
    assert glossary.problems("ar", "Union or workers' committee", "النقابة أو لجنة العمال") == []
    # A quoted name ("follow “Union news”") may carry the union word without owning the term.
    assert glossary.problems("bn", "Follow “Union news”.", "“ইউনিয়নের খবর” ফলো করুন।") == []


# --- the API the console's translation workspace reads -------------------------------------------


def test_terms_in_gives_the_words_to_use_and_avoid() -> None:
    hints = glossary.terms_in("Type your 16-digit receipt number to see your report.", "my")
    by_term = {h.term: h for h in hints}
    assert set(by_term) == {"receipt_number", "report"}
    assert "လျှို့ဝှက်နံပါတ်" in by_term["receipt_number"].use
    assert "ပြေစာ" in by_term["receipt_number"].avoid and by_term["receipt_number"].note
    assert by_term["report"].meaning.startswith("A worker's report")
    # Placeholders, commands and quoted names are not the words; English has no hints.
    assert glossary.terms_in("<code>{receipt}</code>", "my") == []
    assert glossary.terms_in("Send /delete", "bn") == []
    assert glossary.terms_in("choose “📰 News”", "bn") == []
    assert glossary.terms_in("Case handler", "en") == []
    # A catalog narrows the terms: "report" is a worker word, not checked in the console's.
    assert [h.term for h in glossary.terms_in("Reports", "bn", domain="console")] == []
    assert [h.term for h in glossary.terms_in("Reports", "bn", domain="reports")] == ["report"]


def test_every_term_names_every_locale() -> None:
    for term in glossary.load().terms:
        assert sorted(term.languages) == sorted(LOCALES), term.key
        for wording in term.languages.values():
            assert wording.use and wording.note, (term.key, wording.locale)


def test_load_reads_the_file_again_only_when_it_changed(tmp_path: Path) -> None:
    path = tmp_path / "glossary.yaml"
    path.write_text(
        "terms:\n  chat:\n    english: '\\bchat\\b'\n    languages:\n"
        "      my: {use: [chat], note: x}\n",
        encoding="utf-8",
    )
    first = glossary.load(path)
    assert glossary.load(path) is first
    path.write_text(path.read_text().replace("use: [chat]", "use: [chat, x]"), encoding="utf-8")
    os.utime(path, (1, 1))  # a different modification time, even within the same second
    assert glossary.load(path).term("chat").languages["my"].use == ("chat", "x")
    assert glossary.load(tmp_path / "absent.yaml").terms == ()


# --- msgctxt for short words with two meanings ---------------------------------------------------


def test_yes_and_no_have_a_context_per_meaning() -> None:
    assert i18n_tools.KEYWORDS["pgettext"] == ((1, "c"), 2)  # extracted with their msgctxt
    for domain, contexts in (
        ("reports", {"answer button", "summary value"}),
        ("surveys", {"answer button"}),
    ):
        template = read_po((i18n_tools.locales_dir() / f"{domain}.pot").open("rb"))
        found = {m.context for m in template if m.id in ("Yes", "No")}
        assert found == contexts, (domain, found)  # no plain "Yes" left to serve two meanings
    for locale in LOCALES:
        path = i18n_tools.locales_dir() / locale / "LC_MESSAGES" / "reports.po"
        catalog = read_po(path.open("rb"))
        for context in ("answer button", "summary value"):
            for word in ("Yes", "No"):
                assert catalog.get(word, context).string, (locale, context, word)
        assert pgettext("answer button", "Yes", locale=locale) != "Yes", locale  # "No" is es "No"
    # Burmese says them apart: a spoken answer on the button, a plain value in the summary.
    assert pgettext("answer button", "Yes", locale="my") == "ဟုတ်ကဲ့"
    assert pgettext("summary value", "Yes", locale="my") == "ဟုတ်"


# --- the review's §3 rows ------------------------------------------------------------------------


def test_row1_burmese_chat_word() -> None:
    for msgid in ("💬 In this chat", "in this chat"):
        text = gettext(msgid, locale="my")
        assert "chat" in text and "ချက်" not in text, text
    for domain in BOT_CATALOGS:
        for text in strings("my", domain):
            assert not re.search(r"(ဤ|ဒီ|သီးသန့်)\s*ချက်", text), text


def test_row2_burmese_colloquial() -> None:
    assert gettext("✅ I will come", locale="my") == "✅ လာပါမယ်"
    assert gettext("❌ I cannot come", locale="my") == "❌ မလာနိုင်ပါ"
    assert gettext("🤔 Maybe", locale="my") == "🤔 မသေချာသေးဘူး"
    for domain in ("reports", "committees"):
        for text in strings("my", domain):
            assert not re.search("ပါသည်|ပါမည်|၏|ဤ|၎င်း", text), text


def test_row3_burmese_not_sent_is_not_not_yet() -> None:
    assert gettext("Your report was not sent. Nothing was kept.", locale="my") == (
        "တိုင်ကြားချက် မပို့လိုက်ပါ။ ဘာမှ မသိမ်းထားပါ။"
    )
    assert gettext("Nothing was deleted.", locale="my") == "ဘာမှ မဖျက်ပါ။"


def test_row4_burmese_secret_number_and_case_handler() -> None:
    assert "လျှို့ဝှက်နံပါတ်" in gettext("🔢 Receipt number only", locale="my")
    assert gettext("Case handler", locale="my") == "တိုင်ကြားချက် တာဝန်ခံ"
    for domain in BOT_CATALOGS:
        assert not any("ပြေစာ" in s or "အမှု" in s for s in strings("my", domain)), domain


def test_row5_amharic_polite_buttons() -> None:
    expected = {
        "Skip": "ይዝለሉ",
        "⬅️ Back": "⬅️ ወደ ኋላ",
        "✖️ Cancel": "✖️ ይሰርዙ",
        "✅ Send report": "✅ ቅሬታውን ይላኩ",
        "🚪 Leave": "🚪 ከኮሚቴው ይውጡ",
        "📝 Add to the agenda": "📝 ወደ አጀንዳ ያክሉ",
    }
    for msgid, text in expected.items():
        assert gettext(msgid, locale="am") == text
    assert gettext("✍️ Write to the case handler", locale="am").endswith("ይጻፉ")


def test_row6_amharic_case_handler() -> None:
    assert gettext("Case handler", locale="am") == "ጉዳይዎን የሚከታተለው ባለሙያ"


def test_row7_amharic_grievance() -> None:
    assert gettext("📣 Report a problem", locale="am") == "📣 ቅሬታ ያቅርቡ"
    for domain in ("core", "onboarding", "reports", "surveys", "broadcasts"):
        assert not any("ሪፖርት" in s for s in strings("am", domain)), domain


def test_row8_amharic_bullying_apart_from_threats() -> None:
    assert gettext("Shouting, insults or bullying", locale="am") == "ጩኸት፣ ስድብ ወይም ማንቋሸሽ"


def test_row9_arabic_gender_neutral() -> None:
    assert gettext("Choose your language:", locale="ar") == "اختيار اللغة:"
    assert gettext("What would you like to do?", locale="ar") == "ماذا نفعل الآن؟"
    assert gettext("Will you come?", locale="ar") == "الحضور؟"
    assert gettext("You are now linked to {factory}.", locale="ar").startswith("تم ربط حسابك")
    assert "لديك دعوة" in gettext(
        "You are invited to join <b>{committee}</b>. Please type your name as the committee "
        "knows you.",
        locale="ar",
    )
    masculine = re.compile(
        r"(^|[\s«(])(اكتب|أرسل|اضغط|اختر|تريد|مدعو|مرتبط|ستحضر|افتح|اربط|انتظر|ارجع|استخدم|أجب)"
        r"(?=[\s.،:؟]|$)"
    )
    for domain in BOT_CATALOGS:
        for text in strings("ar", domain):
            assert not masculine.search(text), text


def test_row10_arabic_receipt_case_handler_anonymous() -> None:
    assert "رقم المتابعة السري" in gettext("🔢 Receipt number only", locale="ar")
    assert gettext("✍️ Write to the case handler", locale="ar") == "✍️ الكتابة إلى المسؤول عن بلاغك"
    for domain in BOT_CATALOGS:
        for text in strings("ar", domain):
            assert "إيصال" not in text and "مسؤول الحالة" not in text, text
            assert not re.search(r"مجهولة?(?!ة|\s*الهوية)", text), text


@pytest.mark.parametrize("locale", ["ar", "ur"])
def test_row12_rtl_arrows_in_every_rtl_catalog(locale: str) -> None:
    assert gettext("⬅️ Back", locale=locale).startswith("➡️")
    assert gettext("Done ➡️", locale=locale).endswith("⬅️")
    assert gettext("➡️ Done", locale=locale).startswith("⬅️")
    for domain in (*BOT_CATALOGS, "console"):
        path = i18n_tools.locales_dir() / locale / "LC_MESSAGES" / f"{domain}.po"
        if not path.exists():
            continue
        for message in read_po(path.open("rb")):
            if message.id:
                assert glossary.arrow_problems(locale, message.id, message.string) == [], message.id


def test_row13_no_encryption_loans() -> None:
    notice = (
        "<b>Before we start: your privacy</b>\n\n"
        "• We keep your language, your factory and, only if you choose, your gender and age.\n"
        "• Survey answers are anonymous: nobody can see who gave them, and small groups are never "
        "shown.\n"
        "• Reports are kept locked: only the case handler can read them. You get a receipt number "
        "to follow them up without giving your name.\n"
        "• Your name and phone number are never shown to your employer.\n"
        "• Send /delete at any time to remove your data.\n\n"
        "Others may see your phone: you can clear this chat at any time."
    )
    assert "গোপন তালায় রাখা হয়" in gettext(notice, locale="bn")
    for locale, loan in (("bn", "এনক্রিপ্ট"), ("hi", "एन्क्रिप्ट"), ("ne", "इन्क्रिप्ट"), ("km", "អ៊ិនគ្រីប")):
        assert loan not in gettext(notice, locale=locale)


def test_row14_bangla_case_handler_and_age() -> None:
    assert gettext("Case handler", locale="bn") == "দায়িত্বপ্রাপ্ত কর্মী"
    assert gettext("How old are you?", locale="bn") == "আপনার বয়স কত?"
    assert not any("কেস দেখাশোনা" in s for d in BOT_CATALOGS for s in strings("bn", d))


def test_row15_toast_does_not_repeat_news() -> None:
    toast = gettext("From now on you get “{topic}”.", locale="bn", topic="ইউনিয়নের খবর")
    assert toast == "এখন থেকে «ইউনিয়নের খবর» পাবেন।"
    assert toast.count("খবর") == 1


def test_row16_nepali_case_handler() -> None:
    assert gettext("Case handler", locale="ne") == "उजुरी हेर्ने व्यक्ति"


def test_row17_nepali_stop_help() -> None:
    text = gettext(
        "<b>How workvoice helps</b>\nUse the buttons of the menu. You can also send:\n"
        "/menu – the main menu\n/language – change the language\n"
        "/privacy – what we keep and how to delete it\n"
        "/stop – no more news or survey invitations\n/delete – remove your data",
        locale="ne",
    )
    assert "/stop – समाचार र सर्वेक्षण निम्तो बन्द गर्न" in text


def test_row18_dormitory_is_not_a_student_hostel() -> None:
    assert gettext("Dormitory or housing", locale="ne") == "होस्टल वा बस्ने ठाउँ"
    assert gettext("Dormitory or housing", locale="hi") == "हॉस्टल या रहने की जगह"


def test_row19_hindi_urdu_no_slash_or_masculine_first_person() -> None:
    assert gettext("Prefer not to say", locale="hi") == "नहीं बताना है"
    assert gettext("✅ I will come", locale="hi") == "✅ हाँ, आना है"
    assert gettext("✅ I will come", locale="ur") == "✅ ہاں، آنا ہے"
    for locale in ("hi", "ur"):
        for domain in BOT_CATALOGS:
            for text in strings(locale, domain):
                # "/" only in commands (/stop), never "आऊँगा/आऊँगी".
                assert not re.search(r"\w/\w", re.sub(r"(?<!\w)/[a-z_]+", "", text)), text


def test_row20_khmer_complaint_room_secret_code() -> None:
    assert gettext("📣 Report a problem", locale="km") == "📣 ដាក់ពាក្យបណ្ដឹង"
    assert gettext("Dormitory or housing", locale="km").startswith("បន្ទប់ជួល")
    assert "លេខកូដសម្ងាត់" in gettext("🔢 Receipt number only", locale="km")


def test_row21_no_union_on_the_news_screens() -> None:
    words = glossary.load().term("union").languages
    for locale in LOCALES:
        for msgid in ("📰 News", NEWS_HEADER):
            text = gettext(msgid, locale=locale)
            assert text != msgid, (locale, msgid)
            assert not any(re.search(w, text, re.I) for w in words[locale].reserved), text


def test_row22_age_asked_plainly_everywhere() -> None:
    age = glossary.load().term("age").languages
    for locale in LOCALES:
        text = gettext("How old are you?", locale=locale)
        assert text != "How old are you?"
        assert any(re.search(w, text, re.I) for w in age[locale].use), (locale, text)
        assert not any(re.search(w, text, re.I) for w in age[locale].avoid), (locale, text)


# --- whole status sentences through the bot (review B14) -----------------------------------------


@pytest.mark.parametrize(
    ("locale", "story"), [("ar", "المشرف يصرخ علينا كل يوم"), ("bn", "সুপারভাইজার খারাপ কথা বলে")]
)
async def test_follow_up_shows_a_whole_status_sentence(
    app: BotHarness, locale: str, story: str
) -> None:
    """ "هناك جديد في بلاغك 23: أصبح الآن مستلم" and "অভিযোগ 5: পাওয়া গেছে" were a status word
    glued after a colon; now one sentence per state, the review screen's values in their context."""
    telegram_id = 7301 if locale == "ar" else 7302
    await make_worker(app.sessions, telegram_id, locale=locale)
    worker = app.user(telegram_id, language_code=locale)
    await journeys.start_report(worker, story, locale=locale)
    review = await journeys.report_to_review(worker, locale=locale)
    value = pgettext("summary value", "No", locale=locale)
    assert gettext("Danger now: {value}", locale=locale, value=value) in review.plain_text()
    receipt = journeys.receipt_digits(await journeys.send_report(worker, locale=locale))
    shown = (await journeys.follow_up(worker, receipt)).plain_text()
    sentence = gettext(
        "<b>Report {number}</b> was received. We will look into it.", locale=locale, number="#"
    )
    before, after = (part.replace("<b>", "").replace("</b>", "") for part in sentence.split("#"))
    assert before.strip() in shown and after.strip() in shown, shown
    assert gettext("Case handler", locale=locale) not in shown  # no messages yet


def test_row11_arabic_survey_templates_idiomatic_and_neutral() -> None:
    from services.surveys.builder import template_definitions

    pulse = next(d for d in template_definitions() if d.key == "wellbeing-pulse")
    texts = {q.key: q.text["ar"] for q in pulse.questions}
    assert texts["mood"] == "كيف حالك في العمل هذا الأسبوع؟"
    assert texts["safe"] == "هل العمل مكان آمن بالنسبة لك؟"
    for definition in template_definitions():
        for q in definition.questions:
            assert "شعورك" not in q.text.get("ar", "") and "لديك شعور" not in q.text.get("ar", "")
