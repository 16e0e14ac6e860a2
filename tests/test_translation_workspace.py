"""Issue 19 §2: translations reviewed in the console by the people who speak the language.

A translator for a language approves a message or changes it with a note; the change is audited,
in force at once in the bot and the console (overrides on top of the catalogs), shown as approved,
and flows back into ``locales/`` (a ``.po`` download, ``workvoice i18n pull``). Nobody else can
change a language: not another language's translator, not an analyst, not a forged key.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select

import bot.i18n as bot_i18n
from bot.i18n import gettext, ngettext, reload_catalogs, set_overrides
from bot.storage.db import transaction
from bot.storage.models import AuditEvent, TranslationReview
from services import translations
from services.errors import DomainError, Forbidden
from services.translations import Status, TranslationRefused, key_of
from tests.console import ConsoleHarness, csrf_of
from tests.factories import make_worker
from tests.harness import BotHarness
from workvoice.kernel.catalogs import messages, placeholders

MENU_QUESTION = "What would you like to do?"
BN_NEW = "এখন কী করতে চান?"


@pytest.fixture(autouse=True)
def no_overrides() -> Iterator[None]:
    """Overrides are per process: no test leaves its changes to the next one."""
    set_overrides({})
    yield
    set_overrides({})


def _key(msgid: str, context: str | None = None) -> str:
    return key_of(context, msgid)


async def _decisions(console: ConsoleHarness) -> list[TranslationReview]:
    async with console.sessions() as s:
        return list((await s.scalars(select(TranslationReview))).all())


async def test_statuses_move_from_drafted_to_approved_to_changed_since(
    console: ConsoleHarness,
) -> None:
    translator = await console.staff("translator", (), languages=["bn"])
    row_of = {r.message.msgid: r for r in await _rows(console, "bn", "core")}
    assert row_of[MENU_QUESTION].status is Status.DRAFTED
    async with transaction(console.sessions) as s:
        review = await translations.approve(
            s, actor=translator, locale="bn", domain="core", key=_key(MENU_QUESTION)
        )
    assert review.text == review.catalog_text == list(row_of[MENU_QUESTION].message.strings)
    row_of = {r.message.msgid: r for r in await _rows(console, "bn", "core")}
    assert row_of[MENU_QUESTION].status is Status.APPROVED
    # The .po file moves on after the approval: someone must look again.
    review.catalog_text = review.text = ["something the catalog no longer says"]
    assert translations.status_of(row_of[MENU_QUESTION].message.strings, review) is Status.CHANGED


async def _rows(console: ConsoleHarness, locale: str, domain: str) -> list[translations.Row]:
    async with console.sessions() as s:
        return await translations.rows(s, locale, domain)


async def test_a_change_is_in_force_at_once_and_audited(console: ConsoleHarness) -> None:
    translator = await console.staff("translator", (), languages=["bn"])
    before = gettext(MENU_QUESTION, locale="bn")
    async with transaction(console.sessions) as s:
        await translations.change(
            s,
            actor=translator,
            locale="bn",
            domain="core",
            key=_key(MENU_QUESTION),
            text=[BN_NEW],
            note="simpler",
        )
        await translations.refresh_now(s)
    assert gettext(MENU_QUESTION, locale="bn") == BN_NEW
    assert gettext(MENU_QUESTION, locale="km") != BN_NEW  # one language only
    async with console.sessions() as s:
        event = await s.scalar(select(AuditEvent).where(AuditEvent.action == "translation.changed"))
    assert event is not None and event.actor_staff_id == translator.id
    assert event.detail["before"] == [before] and event.detail["after"] == [BN_NEW]
    assert event.detail["note"] == "simpler"
    row = next(r for r in await _rows(console, "bn", "core") if r.message.msgid == MENU_QUESTION)
    assert row.status is Status.APPROVED and row.text == (BN_NEW,)


async def test_plural_messages_take_every_form(console: ConsoleHarness) -> None:
    translator = await console.staff("translator", (), languages=["ar"])
    plural = next(m for d in translations.domains_for("ar") for m in messages("ar", d) if m.plural)
    slots = " ".join(sorted(placeholders(plural.msgid) | placeholders(plural.plural or "")))
    forms = [f"صيغة {n} {slots}" for n in range(len(plural.strings))]
    async with transaction(console.sessions) as s:
        with pytest.raises(TranslationRefused):  # one form for six is refused
            await translations.change(
                s,
                actor=translator,
                locale="ar",
                domain=plural.domain,
                key=_key(plural.msgid, plural.context),
                text=forms[:1],
            )
        await translations.change(
            s,
            actor=translator,
            locale="ar",
            domain=plural.domain,
            key=_key(plural.msgid, plural.context),
            text=forms,
        )
        await translations.refresh_now(s)
    assert plural.plural is not None
    rule = bot_i18n.translations("ar").plural  # the catalog's own Plural-Forms
    for n in (0, 1, 2, 5, 11, 100):
        expected = f"صيغة {rule(n)}"
        assert ngettext(plural.msgid, plural.plural, n, locale="ar").startswith(expected)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("আপনি কী করতে চান {name}?", "keep the parts in braces"),
        ("<b>এখন কী করতে চান?", "formatting tags"),
        ("<script>x</script>", "formatting tags"),
        ("   ", "every form"),
        ("ক" * 5000, "longer than a Telegram message"),
    ],
)
async def test_a_change_that_would_break_the_bot_is_refused(
    console: ConsoleHarness, text: str, reason: str
) -> None:
    translator = await console.staff("translator", (), languages=["bn"])
    async with transaction(console.sessions) as s:
        with pytest.raises(TranslationRefused) as refused:
            await translations.change(
                s,
                actor=translator,
                locale="bn",
                domain="core",
                key=_key(MENU_QUESTION),
                text=[text],
            )
    assert reason in refused.value.translated(locale="en")
    assert await _decisions(console) == []


async def test_only_the_languages_translator_decides(console: ConsoleHarness) -> None:
    km = await console.staff("translator", (), languages=["km"])
    manager = await console.staff("country_manager", ["BD"])
    for actor in (km, manager):
        async with transaction(console.sessions) as s:
            with pytest.raises(Forbidden):
                await translations.approve(
                    s, actor=actor, locale="bn", domain="core", key=_key(MENU_QUESTION)
                )
    assert await _decisions(console) == []


async def test_translator_reviews_bangla_in_the_console_and_a_worker_reads_it_at_once(
    console: ConsoleHarness, app: BotHarness
) -> None:
    translator = await console.staff("translator", (), languages=["bn"], email="bn@example.org")
    client = console.client_for(translator)
    home = await client.get("/translations")
    assert home.status_code == 200 and "/translations/bn/core" in home.text
    page = await client.get("/translations/bn/core", params={"q": MENU_QUESTION})
    assert page.status_code == 200 and MENU_QUESTION in page.text
    approved = await client.post(
        "/translations/bn/core/approve",
        data={
            "key": _key("📰 News"),
            "csrf_token": csrf_of(page.text),
            "back": "/translations/bn/core",
        },
    )
    assert approved.status_code == 303
    changed = await client.post(
        "/translations/bn/core/change",
        data={
            "key": _key(MENU_QUESTION),
            "text": BN_NEW,
            "note": "plainer words",
            "csrf_token": csrf_of(page.text),
            "back": "https://elsewhere.example/",
        },
    )
    assert changed.status_code == 303
    assert changed.headers["location"].startswith("/translations/bn/core#m-")  # not elsewhere
    decided = {r.msgid: r for r in await _decisions(console)}
    assert decided["📰 News"].text == decided["📰 News"].catalog_text
    assert (
        decided[MENU_QUESTION].text == [BN_NEW] and decided[MENU_QUESTION].note == "plainer words"
    )
    # The worker's next message already says it, without a restart.
    await make_worker(app.sessions, 1901, locale="bn")
    worker = app.user(1901)
    await worker.send("/menu")
    reply = await worker.wait_reply()
    assert reply.plain_text() == BN_NEW
    # The workspace shows both as approved, and the change in the .po download.
    approved_page = await client.get("/translations/bn/core", params={"status": "approved"})
    assert BN_NEW in approved_page.text and "📰 News" in approved_page.text
    po = await client.get("/translations/bn/core.po")
    assert po.status_code == 200
    catalog = read_po(po.content.splitlines(keepends=True), locale="bn")
    assert catalog.get(MENU_QUESTION).string == BN_NEW


async def test_the_console_refuses_a_broken_change_and_keeps_what_was_typed(
    console: ConsoleHarness,
) -> None:
    translator = await console.staff("translator", (), languages=["bn"])
    client = console.client_for(translator)
    page = await client.get("/translations/bn/core")
    r = await client.post(
        "/translations/bn/core/change",
        data={"key": _key(MENU_QUESTION), "text": "<b>ভাঙা", "csrf_token": csrf_of(page.text)},
    )
    assert r.status_code == 422
    assert "&lt;b&gt;ভাঙা" in r.text  # typed words kept, escaped
    assert await _decisions(console) == []


async def test_who_may_read_and_who_may_change(console: ConsoleHarness) -> None:
    analyst = await console.staff("analyst", ["BD"])
    km = await console.staff("translator", (), languages=["km"])
    organiser = await console.staff("organiser", ["BD"])
    reader = console.client_for(analyst)
    page = await reader.get("/translations/bn/core")
    assert page.status_code == 200 and "Approve as it reads" not in page.text
    for client in (reader, console.client_for(km)):
        r = await client.post(
            "/translations/bn/core/change",
            data={"key": _key(MENU_QUESTION), "text": BN_NEW, "csrf_token": client.csrf},  # type: ignore[attr-defined]
        )
        assert r.status_code == 403
    assert (await console.client_for(organiser).get("/translations")).status_code == 403
    mine = console.client_for(km)
    assert (await mine.get("/translations/xx/core")).status_code == 404
    assert (await mine.get("/translations/km/nothing")).status_code == 404
    forged = await mine.post(
        "/translations/km/core/approve",
        data={"key": "0" * 64, "csrf_token": mine.csrf},  # type: ignore[attr-defined]
    )
    assert forged.status_code == 404
    assert await _decisions(console) == []


async def test_admin_makes_someone_a_translator_beside_their_role(console: ConsoleHarness) -> None:
    admin = await console.staff("admin")
    handler = await console.staff("case_handler", ["BD"])
    client = console.client_for(admin)
    page = await client.get(f"/staff/{handler.id}")
    r = await client.post(
        f"/staff/{handler.id}/languages",
        data={"languages": ["bn", "xx"], "csrf_token": csrf_of(page.text)},
    )
    assert r.status_code == 303
    async with console.sessions() as s:
        events = (
            await s.scalars(
                select(AuditEvent).where(AuditEvent.action == "staff.languages_changed")
            )
        ).all()
    assert [e.detail["languages"] for e in events] == [["bn"]]
    theirs = console.client_for(handler)
    assert 'href="/translations"' in (await theirs.get("/")).text  # in their navigation now
    workspace = await theirs.get("/translations/bn/core")
    assert workspace.status_code == 200 and "Approve as it reads" in workspace.text


async def test_pull_writes_approved_changes_into_the_po_files(
    console: ConsoleHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.i18n import locales_dir

    copy = tmp_path / "locales"
    shutil.copytree(locales_dir(), copy)
    monkeypatch.setenv("WORKVOICE_LOCALES_DIR", str(copy))
    reload_catalogs()
    try:
        translator = await console.staff("translator", (), languages=["bn"])
        async with transaction(console.sessions) as s:
            await translations.change(
                s,
                actor=translator,
                locale="bn",
                domain="core",
                key=_key(MENU_QUESTION),
                text=[BN_NEW],
            )
        decided = await _decisions(console)
        written = translations.pull(decided)
        assert written == [copy / "bn" / "LC_MESSAGES" / "core.po"]
        with written[0].open("rb") as fh:
            assert read_po(fh, locale="bn").get(MENU_QUESTION).string == BN_NEW
        assert translations.pull(decided) == []  # a second pull changes nothing
        reload_catalogs()
        row = next(
            r for r in await _rows(console, "bn", "core") if r.message.msgid == MENU_QUESTION
        )
        assert row.status is Status.APPROVED and row.message.strings == (BN_NEW,)
    finally:
        monkeypatch.delenv("WORKVOICE_LOCALES_DIR")
        reload_catalogs()


# -- stored texts: survey texts, topic names, helpline names -------------------------------------


async def _content_row(console: ConsoleHarness, kind: str, source: str) -> translations.Row:
    rows = await _rows(console, "bn", kind)
    return next(r for r in rows if r.message.msgid == source)


async def test_a_topic_name_is_changed_where_it_is_stored(console: ConsoleHarness) -> None:
    from bot.storage.broadcasts import BroadcastTopic
    from services.broadcasts.topics import TopicInput, do_create_topic, topic_name
    from services.scope import Scope

    translator = await console.staff("translator", (), languages=["bn"])
    async with transaction(console.sessions) as s:
        topic = await do_create_topic(
            s,
            TopicInput("safety-tips", "BD", "en", {"en": "Safety tips"}),
            scope=Scope.everywhere(),
            actor=None,
        )
    row = await _content_row(console, "topic-names", "Safety tips")
    assert row.status is Status.DRAFTED and row.text == ("",)
    async with transaction(console.sessions) as s:
        with pytest.raises(TranslationRefused):  # nothing to approve yet
            await translations.approve(
                s, actor=translator, locale="bn", domain="topic-names", key=row.key
            )
        with pytest.raises(DomainError):  # a button on a small phone
            await translations.change(
                s, actor=translator, locale="bn", domain="topic-names", key=row.key, text=["ক" * 61]
            )
        await translations.change(
            s, actor=translator, locale="bn", domain="topic-names", key=row.key, text=["নিরাপত্তা"]
        )
    async with console.sessions() as s:
        stored = await s.get(BroadcastTopic, topic.id)
        assert stored is not None and topic_name(stored, "bn") == "নিরাপত্তা"
    row = await _content_row(console, "topic-names", "Safety tips")
    assert row.status is Status.APPROVED
    assert translations.overrides(await _decisions(console)) == {}  # nothing to override


async def test_a_helpline_name_is_changed_where_it_is_stored(console: ConsoleHarness) -> None:
    from bot.storage.models import Country
    from services.helplines import stored_lines

    translator = await console.staff("translator", (), languages=["bn"])
    async with transaction(console.sessions) as s:
        country = await s.get(Country, "BD")
        assert country is not None
        seeded = country.helplines  # countries are kept between tests: put them back after
        country.helplines = [
            {"kind": "women", "phone": "+880109", "labels": {"en": "Women's helpline"}}
        ]
    try:
        row = await _content_row(console, "helpline-labels", "Women's helpline")
        async with transaction(console.sessions) as s:
            await translations.change(
                s,
                actor=translator,
                locale="bn",
                domain="helpline-labels",
                key=row.key,
                text=["নারী সহায়তা লাইন"],
            )
        async with console.sessions() as s:
            country = await s.get(Country, "BD")
            assert country is not None
            assert stored_lines(country)[0].label("bn") == "নারী সহায়তা লাইন"
            assert stored_lines(country)[0].phone == "+880109"
    finally:
        async with transaction(console.sessions) as s:
            country = await s.get(Country, "BD")
            assert country is not None
            country.helplines = seeded


async def test_a_published_survey_text_is_changed_by_an_override(console: ConsoleHarness) -> None:
    from services.surveys import screens
    from services.surveys.builder import definition_of, do_install_templates, latest_published

    translator = await console.staff("translator", (), languages=["bn"])
    async with transaction(console.sessions) as s:
        survey = (await do_install_templates(s))[0]
        version = await latest_published(s, survey)
        assert version is not None
        definition = definition_of(version)
    question = definition.questions[0]
    source = question.text[definition.source_locale]
    row = await _content_row(console, "survey-texts", source)
    assert row.text == (question.text.get("bn", ""),)
    async with transaction(console.sessions) as s:
        await translations.change(
            s, actor=translator, locale="bn", domain="survey-texts", key=row.key, text=["নতুন প্রশ্ন?"]
        )
        await translations.refresh_now(s)
    # The worker's screen says it at once; the published version itself never changes.
    shown = screens.preview_screens(definition, "bn")[0].text
    assert "নতুন প্রশ্ন?" in shown
    async with console.sessions() as s:
        again = await latest_published(s, survey)
        assert again is not None and again.definition == version.definition
    row = await _content_row(console, "survey-texts", source)
    assert row.status is Status.APPROVED and row.text == ("নতুন প্রশ্ন?",)
    assert "নতুন প্রশ্ন?" not in screens.preview_screens(definition, "km")[0].text


async def test_a_committee_name_and_place_are_changed_where_they_are_stored(
    console: ConsoleHarness,
) -> None:
    from bot.storage.committees import Committee
    from services.committees import members
    from services.committees.names import committee_name, set_usual_place, usual_place
    from tests.factories import make_factory

    translator = await console.staff("translator", (), languages=["bn"])
    factory = await make_factory(console.sessions, "DK-19", country="BD", timezone="Asia/Dhaka")
    async with transaction(console.sessions) as s:
        committee = await members.do_create_committee(
            s, factory, kind="pc", name="Participation Committee", actor=None
        )
        set_usual_place(committee, "Canteen, 2nd floor")
    for source, words in (
        ("Participation Committee", "অংশগ্রহণ কমিটি"),
        ("Canteen, 2nd floor", "ক্যান্টিন, দোতলা"),
    ):
        row = await _content_row(console, "committee-names", source)
        async with transaction(console.sessions) as s:
            await translations.change(
                s,
                actor=translator,
                locale="bn",
                domain="committee-names",
                key=row.key,
                text=[words],
            )
    async with console.sessions() as s:
        stored = await s.get(Committee, committee.id)
        assert stored is not None
        assert committee_name(stored, "bn") == "অংশগ্রহণ কমিটি"
        assert usual_place(stored, "bn") == "ক্যান্টিন, দোতলা"
        assert committee_name(stored, "km") == "Participation Committee"


async def test_the_glossary_guides_and_guards_a_change(console: ConsoleHarness) -> None:
    """Khmer: the workspace shows the glossary's words beside a message about a receipt, and a
    change that brings back the payment-receipt word is refused (i18n check would fail on it)."""
    translator = await console.staff("translator", (), languages=["km"])
    message = next(
        m
        for m in messages("km", "reports")
        if m.msgid.startswith("<b>Your report was received.</b>\nYour receipt number:")
    )
    client = console.client_for(translator)
    page = await client.get("/translations/km/reports", params={"q": "Your receipt number:"})
    assert "លេខកូដសម្ងាត់" in page.text and "បង្កាន់ដៃ" in page.text  # use / never
    bad = message.strings[0].replace("លេខកូដសម្ងាត់", "លេខបង្កាន់ដៃ")
    async with transaction(console.sessions) as s:
        with pytest.raises(TranslationRefused) as refused:
            await translations.change(
                s,
                actor=translator,
                locale="km",
                domain="reports",
                key=_key(message.msgid, message.context),
                text=[bad],
            )
    assert "glossary" in refused.value.translated(locale="en")


async def test_review_md_is_written_from_the_decisions(console: ConsoleHarness) -> None:
    from workvoice.i18n_tools import review_markdown

    translator = await console.staff("translator", (), languages=["bn"])
    async with transaction(console.sessions) as s:
        await translations.approve(
            s, actor=translator, locale="bn", domain="core", key=_key(MENU_QUESTION)
        )
    async with console.sessions() as s:
        counts = await translations.count(s)
    text = review_markdown(counts)
    total = counts["bn"]["core"].total
    bn = next(line for line in text.splitlines() if line.startswith("| bn |"))
    km = next(line for line in text.splitlines() if line.startswith("| km |"))
    assert f"1/{total} ({total - 1} drafted)" in bn
    assert f"0/{total} ({total} drafted)" in km
    header = next(line for line in text.splitlines() if line.startswith("| locale |"))
    assert "| core |" in header and "| survey-texts |" in header and "| ht |" in text


async def test_the_watcher_keeps_the_overrides_through_a_database_outage(
    console: ConsoleHarness, caplog: pytest.LogCaptureFixture
) -> None:
    """Every process reloads the decisions within seconds; while the database is away it keeps
    the ones in force and says so in one line (no traceback in the logs)."""
    import asyncio

    translator = await console.staff("translator", (), languages=["bn"])
    watcher = translations.Watcher(console.sessions, every=0.01)
    await watcher.refresh()
    async with transaction(console.sessions) as s:  # "another replica" decides
        await translations.change(
            s, actor=translator, locale="bn", domain="core", key=_key(MENU_QUESTION), text=[BN_NEW]
        )
    assert gettext(MENU_QUESTION, locale="bn") != BN_NEW  # this process has not looked yet
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    for _ in range(200):
        if gettext(MENU_QUESTION, locale="bn") == BN_NEW:
            break
        await asyncio.sleep(0.01)
    assert gettext(MENU_QUESTION, locale="bn") == BN_NEW

    def broken(**_kw: object) -> object:
        raise ConnectionRefusedError("database away")

    watcher.sessions = broken  # type: ignore[assignment]
    watcher.version = None  # it would reload if it could
    await asyncio.sleep(0.05)
    stop.set()
    await task
    assert gettext(MENU_QUESTION, locale="bn") == BN_NEW  # kept
    lines = [r for r in caplog.records if r.getMessage().startswith("translations.refresh_failed")]
    assert lines and all(r.exc_info is None for r in lines)
