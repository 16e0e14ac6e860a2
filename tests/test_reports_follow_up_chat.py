"""Issue 16: a report followed up "in this chat" (review B3, follow-up part) and what a reporter
sends the case handler (B5, replies part).

B3: anyone holding the phone could open the report from a list naming it, and notifications named
it on the lock screen. Now the case opens only with the last 4 digits of its receipt, and every
notice is neutral. B5: voice notes and photos sent to the case handler were refused with "please
use the buttons"; now they go to her, sealed, and the console lists them like intake evidence.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import func, select

from bot.storage.db import transaction
from bot.storage.reports import Case, CaseEvidence, ReporterMessage
from services.reports import receipts
from services.reports.cases import do_close, do_confirm_close
from services.reports.conversation import attach_reporter_messages, do_message_reporter
from services.reports.crypto import keyring
from services.reports.jobs import run_case_tasks
from services.reports.protocol import Outcome
from tests.console import ConsoleHarness, csrf_of, make_context
from tests.harness import BotHarness
from tests.journeys import answer
from tests.reports_follow_up import attempts, file_case, state_of, t

# A status line's words after the report number, which differs per case (one sentence per state).
RECEIVED_WORDS = t("<b>Report {number}</b> was received. We will look into it.").split("</b>")[1]

PIN_PROMPT = (
    "You have a report in this chat. To open it, type the last 4 digits of its receipt "
    "number. For another report, type its whole 16-digit receipt number."
)
NEUTRAL = "You have a new message in workvoice."
VOICE = b"OggS-REPLY-VOICE-MARKER"
PHOTO = b"\xff\xd8\xff\xe0REPLY-PHOTO-MARKER"
PDF = b"%PDF-1.4 REPLY-PDF-MARKER"


def other_pin(pin: str) -> str:
    return f"{(int(pin) + 1) % 10_000:04d}"


async def test_b3_someone_else_holding_the_phone_sees_no_report_number_and_needs_the_pin(
    app: BotHarness,
) -> None:
    """transcript-edge §E: /start → 🔎 → the list showed [Report 23: received] → the conversation,
    and ✍️. Now: a sentence saying there is a report, and its last 4 digits open it."""
    case, receipt = await file_case(app, 6_200_001, in_chat=True)
    phone = app.user(6_200_001)
    await phone.send("/follow")
    listing = await phone.wait_reply()
    assert listing.plain_text() == t(PIN_PROMPT)
    assert listing.buttons() == [t("🏠 Main menu"), t("✖️ Cancel")]
    assert case.reference not in str(listing.reply_markup) + listing.plain_text()
    assert RECEIVED_WORDS not in listing.plain_text()
    await phone.send("hello")  # not a PIN, not a receipt: a hint, not a counted guess
    assert "4" in (await phone.wait_reply()).plain_text()
    await phone.wait_idle()
    assert await attempts(app) == 0
    await phone.send(other_pin(receipt[-4:]))
    wrong = await phone.wait_reply()
    assert wrong.plain_text() == t(
        "These are not the last 4 digits of your report's number. Please check them."
    )
    await phone.wait_idle()
    assert await attempts(app) == 1
    await phone.send(receipt[-4:])
    opened = await phone.wait_reply()
    assert case.reference in opened.plain_text()
    assert RECEIVED_WORDS in opened.plain_text()
    assert t("✍️ Write to the case handler") in opened.buttons()
    await phone.wait_idle()
    assert await attempts(app) == 0  # a right PIN leaves no per-chat row behind (rule 4)


async def test_b3_wrong_pins_are_limited_like_receipts(app: BotHarness) -> None:
    _case, receipt = await file_case(app, 6_200_002, in_chat=True)
    phone = app.user(6_200_002)
    await phone.send("/follow")
    await phone.wait_reply()
    for _ in range(receipts.MAX_FAILURES):
        await phone.send(other_pin(receipt[-4:]))
        await phone.wait_reply()
    await phone.send(receipt[-4:])  # even the right one waits now
    locked = await phone.wait_reply()
    assert locked.plain_text() == t("Too many tries. Please wait 15 minutes and try again.")


async def test_b3_a_receipt_only_report_has_no_pin_and_a_chat_report_still_opens_by_receipt(
    app: BotHarness,
) -> None:
    only, _ = await file_case(app, 6_200_003)
    chat, receipt = await file_case(app, 6_200_003, in_chat=True)
    async with app.sessions() as s:
        assert (await s.get(Case, only.id)).reporter_pin is None  # type: ignore[union-attr]
        pin = (await s.get(Case, chat.id)).reporter_pin  # type: ignore[union-attr]
        assert pin and receipt[-4:] not in pin
    phone = app.user(6_200_003)
    await phone.send("/follow")
    await phone.wait_reply()
    await phone.send(receipt)
    assert chat.reference in (await phone.wait_reply()).plain_text()


async def test_b3_notices_are_neutral_and_the_message_shows_after_the_pin(
    app: BotHarness,
) -> None:
    """ "The case handler wrote about your report 23…" showed on the lock screen."""
    case, receipt = await file_case(app, 6_200_004, in_chat=True, locale="bn")
    console = ConsoleHarness(make_context(app.sessions, None, app.settings.data_dir))
    handler = await console.staff("case_handler", ["BD"])
    async with transaction(app.sessions) as s:
        await do_message_reporter(
            s,
            await s.get(Case, case.id),  # type: ignore[arg-type]
            "Are you safe now?",
            actor=handler,
            keys=keyring(app.settings),
            secret_key=app.settings.effective_secret_key,
        )
    phone = app.user(6_200_004, language_code="bn")
    assert await app.deliver() == 1
    note = phone.messages[-1]
    assert note.plain_text() == t(NEUTRAL, "bn")
    assert note.buttons() == [t("📬 Open", "bn")]
    assert case.reference not in str(note.reply_markup)
    await phone.tap(t("📬 Open", "bn"))
    assert (await phone.wait_reply()).plain_text() == t(PIN_PROMPT, "bn")
    await phone.send(receipt[-4:])
    opened = await phone.wait_reply()
    assert "Are you safe now?" in opened.plain_text()
    await console.close()


async def test_b3_checkins_are_asked_only_after_opening_and_retaliation_reopens(
    app: BotHarness,
) -> None:
    case, receipt = await file_case(app, 6_200_005, in_chat=True)
    console = ConsoleHarness(make_context(app.sessions, None, app.settings.data_dir))
    handler = await console.staff("case_handler", ["BD"])
    manager = await console.staff("country_manager", ["BD"])
    async with transaction(app.sessions) as s:
        closing = await s.get(Case, case.id)
        assert closing is not None
        keys = keyring(app.settings)
        # A high case: the handler proposes with a reason, a manager confirms (four eyes).
        await do_close(s, closing, Outcome.RESOLVED, actor=handler, keys=keys, note="Settled.")
        await do_confirm_close(s, closing, actor=manager, keys=keys)
    phone = app.user(6_200_005)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=2)):
        await run_case_tasks(console.ctx)
        await app.deliver()
    note = phone.messages[-1]
    assert note.plain_text() == t(NEUTRAL) and note.buttons() == [t("📬 Open")]
    await phone.tap(t("📬 Open"))
    await phone.wait_reply()
    await phone.send(receipt[-4:])
    opened = await phone.wait_reply()
    assert t("Your report was closed. Did this help you?") in opened.plain_text()
    assert opened.buttons()[:2] == [answer("Yes"), answer("No")]
    await phone.tap(answer("Yes"))
    assert (await phone.wait_reply()).plain_text() == t("Thank you for telling us.")

    with time_machine.travel(datetime.now(UTC) + timedelta(days=31)):
        await run_case_tasks(console.ctx)
        await app.deliver()
    assert phone.messages[-1].plain_text() == t(NEUTRAL)
    await phone.tap(t("📬 Open"))
    await phone.wait_reply()
    await phone.send(receipt[-4:])
    opened = await phone.wait_reply()
    assert t("Since your report, has anyone treated you badly because of it?") in (
        opened.plain_text()
    )
    await phone.tap(answer("Yes"))  # someone treated me badly because of the report
    reopened = await phone.wait_reply()
    assert reopened.plain_text() == t(
        "We are sorry. We opened a new case about this and will contact you here."
    )
    await phone.wait_idle()
    async with app.sessions() as s:
        cases_ = (await s.scalars(select(Case).order_by(Case.id))).all()
        assert len(cases_) == 2 and cases_[1].reopened_from_id == case.id
        assert cases_[1].reporter_pin == cases_[0].reporter_pin  # the same receipt opens it
    await console.close()


async def test_b5_voice_notes_photos_and_pdfs_reach_the_case_handler_sealed(
    app: BotHarness,
) -> None:
    """transcript-edge §C2: <voice note> and <photo> got "please use the buttons below"."""
    case, receipt = await file_case(app, 6_200_006, locale="hi")
    worker = app.user(6_200_006, language_code="hi")
    await worker.send("/follow")
    await worker.wait_reply()
    await worker.send(receipt)
    await worker.wait_reply()
    await worker.tap(t("✍️ Write to the case handler", "hi"))
    await worker.wait_reply()
    sent = t("Your message was sent to the case handler.", "hi")
    await worker.send_voice(content=VOICE)
    assert sent in (await worker.wait_reply()).plain_text()
    await worker.send_photo(content=PHOTO, caption="line 4")
    assert sent in (await worker.wait_reply()).plain_text()
    await worker.send_document(content=PDF)
    assert sent in (await worker.wait_reply()).plain_text()
    await worker.send("and it happened again yesterday")
    assert sent in (await worker.wait_reply()).plain_text()
    await worker.send_sticker()
    hint = await worker.wait_reply()
    assert hint.plain_text() == t(
        "Please write your message, or send a voice note, a photo or a PDF.", "hi"
    )
    await worker.send_document(file_name="x.exe", mime_type="application/x-msdownload")
    refused = await worker.wait_reply()
    assert t("✅ Done", "hi") in refused.buttons()
    texts = [m.plain_text() for m in worker.messages]
    assert t("Please use the buttons below.", "hi") not in texts
    await worker.tap(t("✅ Done", "hi"))
    done = await worker.wait_reply()
    assert done.plain_text() == t("Thank you. The case handler will read what you sent.", "hi")
    await worker.wait_idle()
    assert await state_of(app, 6_200_006) == (None, {})

    async with app.sessions() as s:  # sealed at rest, with no case named
        rows = (await s.scalars(select(ReporterMessage).order_by(ReporterMessage.id))).all()
        assert [r.kind for r in rows] == ["voice", "photo", None, "document", None]
        for marker in (VOICE, PHOTO, PDF, b"line 4", b"yesterday"):
            assert all(marker not in r.body and marker not in r.case_ref for r in rows)
    async with transaction(app.sessions) as s:
        assert await attach_reporter_messages(s, keyring(app.settings)) == 5
    async with app.sessions() as s:
        items = (await s.scalars(select(CaseEvidence).order_by(CaseEvidence.id))).all()
        assert [(e.kind, e.mime_type) for e in items] == [
            ("voice", "audio/ogg"),
            ("photo", "image/jpeg"),
            ("document", "application/pdf"),
        ]
        assert await s.scalar(select(func.count()).select_from(ReporterMessage)) == 0

    # The console lists them with the intake evidence and downloads them opened.
    console = ConsoleHarness(make_context(app.sessions, None, app.settings.data_dir))
    console.ctx.settings = app.settings
    try:
        client = console.client_for(await console.staff("case_handler", ["BD"]))
        page = await client.get(f"/reports/{case.id}")
        assert "line 4" in page.text and "yesterday" in page.text
        for item, content in zip(items, (VOICE, PHOTO, PDF), strict=True):
            assert f"/reports/{case.id}/evidence/{item.id}" in page.text
            download = await client.get(f"/reports/{case.id}/evidence/{item.id}")
            assert download.content == content
        assert csrf_of(page.text)
    finally:
        await console.close()


async def test_b5_typing_on_the_open_case_writes_to_the_handler_without_tapping_first(
    app: BotHarness,
) -> None:
    """A worker who answers the handler's question at once, without ✍️, is not told to use the
    buttons: her words go to the case handler."""
    _case, receipt = await file_case(app, 6_200_007)
    worker = app.user(6_200_007)
    await worker.send("/follow")
    await worker.wait_reply()
    await worker.send(receipt)
    await worker.wait_reply()
    await worker.send_voice(content=VOICE)
    await worker.wait_reply(contains=t("Your message was sent to the case handler."))
    await worker.tap(t("✅ Done"))
    await worker.wait_reply()
    await worker.wait_idle()
    async with app.sessions() as s:
        (row,) = (await s.scalars(select(ReporterMessage))).all()
        assert row.kind == "voice" and VOICE not in row.body
    assert t("Please use the buttons below.") not in [m.plain_text() for m in worker.messages]
