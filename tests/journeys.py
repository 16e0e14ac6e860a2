"""Worker journeys through the real bot on the fake Telegram Bot API, shared by the end-to-end tests.

Each is the exact sequence of buttons and texts a worker uses (issue 14's privacy tests drove the
same journeys from several modules); the tests keep their own assertions about what they prove.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.i18n import gettext, pgettext
from bot.storage.db import transaction
from bot.storage.reports import Case
from services.committees import meetings, members
from tests.console import ConsoleHarness, csrf_of, make_context
from tests.factories import make_factory
from tests.harness import BotHarness

RECEIPT_ONLY = "🔢 Receipt number only"
IN_THIS_CHAT = "💬 In this chat"


def t(message: str, locale: str = "en", **params: object) -> str:
    return gettext(message, locale=locale, **params)


def answer(word: str, locale: str = "en") -> str:
    """ "Yes" or "No" on an answer button (msgctxt "answer button")."""
    return pgettext("answer button", word, locale=locale)


def label(message: str, locale: str = "en") -> str:
    """A wizard button as the worker sees it (Arabic and Urdu catalogs carry mirrored arrows)."""
    return t(message, locale)


async def join_in_bangla(worker: Any, start: str = "/start", factory: str = "DK-01") -> None:
    """A new worker: ``start`` (a link, maybe), বাংলা, ✅ I agree, then the factory code typed."""
    await worker.send(start)
    await worker.wait_reply()
    await worker.tap("বাংলা")
    await worker.wait_reply()
    await worker.tap(t("✅ I agree", "bn"))
    await worker.wait_reply(contains="DK-01")
    await worker.wait_idle()
    await worker.send(factory)


async def start_report(worker: Any, story: str, *, locale: str = "en", danger: str = "No") -> None:
    """/report, danger now? (first, review B4), harassment, sexual harassment, then the worker
    types her story (it waits for ➡️ Done: more messages, voice notes or files may follow)."""
    await worker.send("/report")
    await worker.wait_reply()  # danger now? (the first question)
    await worker.tap(answer(danger, locale))
    await worker.wait_reply(contains=t("What is the problem about?", locale))
    await worker.tap(t("Harassment, violence or abuse", locale))
    await worker.wait_reply(contains=t("What happened?", locale))
    await worker.tap(t("Sexual harassment", locale))
    await worker.wait_reply()
    await worker.send(story)
    await worker.wait_reply()


async def report_to_review(
    worker: Any, *, follow: str = RECEIPT_ONLY, danger: str = "No", locale: str = "en"
) -> Any:
    """From the story step to the review screen: ➡️ Done with the story, skip more evidence, say
    the problem affects others, choose how to follow up (keeping "receipt only" through the warning
    when she said someone is in danger: ``danger`` is what ``start_report`` answered), no sharing
    with the factory; the review."""
    await worker.wait_idle()  # every message of the story is in
    await worker.tap(label("➡️ Done", locale))
    evidence = await worker.wait_reply()
    # Files sent with the story are kept already: the evidence step then says Done, not Skip.
    skip = t("Skip", locale)
    done = skip if skip in evidence.buttons() else label("➡️ Done", locale)
    await worker.tap(done, message=evidence)
    await worker.wait_reply()
    await worker.tap(answer("Yes", locale))
    await worker.wait_reply()
    await worker.tap(t(follow, locale))
    await worker.wait_reply()
    if danger == "Yes" and follow == RECEIPT_ONLY:
        await worker.tap(t(RECEIPT_ONLY, locale))
        await worker.wait_reply()
    await worker.tap(answer("No", locale))
    return await worker.wait_reply()


async def send_report(worker: Any, *, locale: str = "en", idle: bool = True) -> Any:
    """Taps "Send report" on the review screen; returns the receipt message. ``idle=False`` lets
    the caller look at the database between the receipt and the end of the handling."""
    await worker.tap(t("✅ Send report", locale))
    receipt = await worker.wait_reply()
    if idle:
        await worker.wait_idle()
    return receipt


def receipt_digits(receipt: Any, *, check: bool = True) -> str:
    """The receipt number a worker would copy from the message (16 digits)."""
    text = receipt.plain_text()
    raw = receipt.text or ""
    # The number is the <code> block: other digits may follow ("the last 4 digits").
    code = raw.split("<code>", 1)[1].split("</code>", 1)[0] if "<code>" in raw else text
    digits = "".join(ch for ch in code if ch.isdecimal())
    if check:
        assert len(digits) == 16, text
    return digits


async def cancel_report(worker: Any, *, locale: str = "en") -> None:
    await worker.tap(t("✖️ Cancel", locale))
    await worker.wait_reply(contains=t("Your report was not sent. Nothing was kept.", locale))


async def follow_up(worker: Any, receipt: str, *, write: str | None = None) -> Any:
    """/follow with the receipt; optionally writes to the case handler. Returns what was shown."""
    await worker.send("/follow")
    await worker.wait_reply()
    await worker.send(receipt)
    shown = await worker.wait_reply()
    if write is not None:
        await worker.tap(t("✍️ Write to the case handler"))
        await worker.wait_reply()
        await worker.send(write)
        await worker.wait_reply(contains=t("Your message was sent to the case handler."))
    await worker.wait_idle()
    return shown


async def handler_writes(
    app: BotHarness, text: str, data_dir: Path, *, page_shows: str | None = None
) -> None:
    """A Bangladesh case handler opens the (only) case in the console and writes ``text`` to the
    reporter; ``page_shows``: words the case page must show her first (the console holds the key)."""
    console = ConsoleHarness(make_context(app.sessions, None, data_dir))
    console.ctx.settings = app.settings
    try:
        staff = await console.staff("case_handler", ["BD"])
        client = console.client_for(staff)
        async with app.sessions() as s:
            case = await s.scalar(select(Case))
        assert case is not None
        page = await client.get(f"/reports/{case.id}")
        if page_shows is not None:
            assert page_shows in page.text
        sent = await client.post(
            f"/reports/{case.id}/message", data={"text": text, "csrf_token": csrf_of(page.text)}
        )
        assert sent.status_code in (200, 303), sent.text[:500]
    finally:
        await console.close()


async def open_first_survey(worker: Any) -> None:
    """/surveys, the first survey listed (the default test wave), "🙂 4" to how she feels; stops
    at "Do you feel safe?"."""
    await worker.send("/surveys")
    listing = await worker.wait_reply(contains="Surveys open for you")
    await worker.tap(listing.buttons()[0])
    await worker.wait_reply(contains="How do you feel?")
    await worker.tap("🙂 4")
    await worker.wait_reply(contains="Do you feel safe?")


def two_question_survey(key: str, title: str) -> dict[str, Any]:
    """The survey definition ``answer_survey`` answers: free text first, so a draft (answers so
    far) holds it before the worker finishes, then yes/no."""
    return {
        "key": key,
        "title": {"en": title},
        "thanks": {"en": "Thank you!"},
        "questions": [
            {
                "key": "comment",
                "type": "text",
                "max_length": 200,
                "text": {"en": "Tell us one thing"},
            },
            {"key": "safe", "type": "yesno", "text": {"en": "Do you feel safe?"}},
        ],
    }


async def answer_survey(worker: Any, title: str, free_text: str) -> None:
    """Answers the ``two_question_survey`` titled ``title`` (free text, then yes/no)."""
    await worker.wait_reply(contains=title)
    await worker.tap(t("▶️ Start"))
    await worker.wait_reply(contains="Tell us one thing")
    await worker.send(free_text)
    await worker.wait_reply(contains="Do you feel safe?")
    await worker.tap(answer("Yes"))
    await worker.wait_reply(
        contains=t("Your answers were saved anonymously. Nobody can see who gave them.")
    )


async def add_agenda_item(app: BotHarness, telegram_id: int, item: str, *, first_name: str) -> None:
    """Makes the worker a member of a PICC with a meeting in three days, then she adds ``item`` to
    its agenda from the bot."""
    factory = await make_factory(app.sessions, "DK-01")
    async with transaction(app.sessions) as session:
        from services.onboarding import get_user

        user = await get_user(session, telegram_id)
        assert user is not None
        committee = await members.do_create_committee(
            session, factory, kind="picc", name="PICC Dhaka", actor=None
        )
        await members.do_add_member(
            session, committee, display_name="Member", side="worker", user_id=user.id, actor=None
        )
        day = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
        await meetings.do_set_schedule(
            session, committee, rule="FREQ=WEEKLY", local_start=f"{day}T14:00", actor=None
        )
    member = app.user(telegram_id, first_name=first_name)
    await member.send("/committee")
    await member.wait_reply()
    await member.tap(t("📝 Add to the agenda"))
    await member.wait_reply()
    await member.send(item)
    await member.wait_reply(contains=t("Added to the agenda. Thank you."))
    await member.wait_idle()


async def run_survey_batch_jobs(app: BotHarness) -> None:
    """Answers reach the anonymous tables only in batches (issue 14, item 1): run the batch job
    as a day later would, so the responses so far are written."""
    from tests.surveys_data import publish

    await publish(app.sessions, app.survey_store, secret_key=app.settings.effective_secret_key)
