"""A worker reports through the bot, anonymously, and follows up with the receipt (DESIGN §5)."""

from __future__ import annotations

from sqlalchemy import func, select, text

from bot.flows.reports.intake import MAX_EVIDENCE_FILES
from bot.i18n import gettext
from bot.storage.reports import Case, CaseEvidence, DraftFile
from services.reports.crypto import keyring
from tests import journeys
from tests.console import ConsoleHarness, csrf_of, make_context
from tests.factories import make_worker
from tests.harness import BotHarness
from tests.journeys import answer

STORY = "সুপারভাইজার প্রতিদিন আমাকে খারাপ কথা বলে এবং গায়ে হাত দেয়"


def t(message: str, **params: object) -> str:
    return gettext(message, locale="bn", **params)


# A status line's words after the report number, which differs per case (one sentence per state).
RECEIVED_WORDS = t("<b>Report {number}</b> was received. We will look into it.").split("</b>")[1]
CLOSED_WORDS = t("<b>Report {number}</b> is closed.").split("</b>")[1]


async def file_report(
    app: BotHarness, telegram_id: int, *, follow: str = journeys.RECEIPT_ONLY, danger: str = "No"
) -> str:
    worker = app.user(telegram_id, language_code="bn")
    await journeys.start_report(worker, STORY, locale="bn", danger=danger)
    review = await journeys.report_to_review(worker, follow=follow, danger=danger, locale="bn")
    assert t("Sexual harassment") in review.plain_text()
    receipt_reply = await journeys.send_report(worker, locale="bn", idle=False)
    async with app.sessions() as s:  # the receipt is only ever shown for a case already committed
        assert await s.scalar(select(func.count()).select_from(Case)) >= 1
    await worker.wait_idle()
    return journeys.receipt_digits(receipt_reply)


async def test_bangla_worker_reports_and_follows_up_with_the_receipt(
    app: BotHarness, tmp_path: object
) -> None:
    await make_worker(app.sessions, 4001, locale="bn")
    receipt = await file_report(app, 4001)
    async with app.sessions() as s:
        case = await s.scalar(select(Case))
        assert case is not None and (case.severity, case.language, case.reporter_user_id) == (
            "high",
            "bn",
            None,
        )
        raw = (await s.execute(text("SELECT * FROM cases"))).all()
        assert STORY not in repr(raw)  # only ciphertext at rest
        assert keyring(app.settings).open_text(case.narrative or b"", case.key_id) == STORY

    # A handler acknowledges and asks a question in the console (same database, same secret).

    console = ConsoleHarness(make_context(app.sessions, None, app.settings.data_dir))
    console.ctx.settings = app.settings
    handler = await console.staff("case_handler", ["BD"])
    client = console.client_for(handler)
    queue = await client.get("/reports")
    assert f"/reports/{case.id}" in queue.text and "high" in queue.text
    page = await client.get(f"/reports/{case.id}")
    assert STORY in page.text
    token = csrf_of(page.text)
    await client.post(
        f"/reports/{case.id}/transition", data={"to": "acknowledged", "csrf_token": token}
    )
    await client.post(
        f"/reports/{case.id}/message",
        data={"text": "Which line do you work on?", "csrf_token": token},
    )
    assert await app.deliver() == 0  # an anonymous reporter is not messaged in a chat

    # The worker checks from a different phone with the receipt, reads the question and answers.
    other = app.user(4002, language_code="bn")
    await make_worker(app.sessions, 4002, locale="bn")
    await other.send("/follow")
    await other.wait_reply()
    await other.send("1234 5678 9012 3456")
    wrong = await other.wait_reply()
    assert wrong.plain_text() == t(
        "No report matches this number. Check the 16 digits and try again."
    )
    await other.send(receipt)
    shown = await other.wait_reply()
    assert (
        "Which line do you work on?" in shown.plain_text() and RECEIVED_WORDS in shown.plain_text()
    )
    await other.tap(t("✍️ Write to the case handler"))
    await other.wait_reply()
    await other.send("লাইন ৪, রাতের শিফট")
    await other.wait_reply(contains=t("Your message was sent to the case handler."))
    await other.wait_idle()
    page = await client.get(f"/reports/{case.id}")
    assert "লাইন ৪, রাতের শিফট" in page.text
    token = csrf_of(page.text)
    await client.post(
        f"/reports/{case.id}/close",
        data={
            "outcome": "resolved",
            "note": "The worker's line was fixed.",
            "confirm_action": "1",
            "csrf_token": token,
        },
    )
    # A high case closes with four eyes: a country manager confirms.
    manager = console.client_for(await console.staff("country_manager", ["BD"]))
    token = csrf_of((await manager.get(f"/reports/{case.id}")).text)
    await manager.post(
        f"/reports/{case.id}/confirm-close",
        data={"decision": "confirm", "confirm_action": "1", "csrf_token": token},
    )
    await other.send("/follow")
    await other.wait_reply()
    await other.send(receipt)
    closed = await other.wait_reply()
    assert (
        CLOSED_WORDS in closed.plain_text()
        and t("✍️ Write to the case handler") not in closed.buttons()
    )
    await console.close()


async def test_danger_shows_helplines_at_once_and_makes_it_critical(app: BotHarness) -> None:
    await make_worker(app.sessions, 4003, locale="bn")
    worker = app.user(4003, language_code="bn")
    await file_report(app, 4003, danger="Yes", follow="💬 In this chat")
    assert any("999" in m.plain_text() for m in worker.messages)  # Bangladesh's emergency number
    async with app.sessions() as s:
        case = await s.scalar(select(Case))
        assert (
            case is not None and case.severity == "critical" and case.reporter_user_id is not None
        )


async def test_replayed_send_creates_one_case(app: BotHarness) -> None:
    await make_worker(app.sessions, 4004, locale="bn")
    await file_report(app, 4004)
    worker = app.user(4004)
    send = next(m for m in reversed(worker.messages) if t("✅ Send report") in str(m.reply_markup))
    data = send.reply_markup["inline_keyboard"][0][0]["callback_data"]  # type: ignore[index]
    await worker.tap_data(data, message_id=send.message_id)  # a second tap on the old button
    await worker.wait_idle()
    async with app.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Case)) == 1


async def test_cancel_keeps_nothing_and_unknown_input_is_reasked(app: BotHarness) -> None:
    await make_worker(app.sessions, 4005, locale="bn")
    worker = app.user(4005, language_code="bn")
    await worker.send("/report")
    await worker.wait_reply()
    await worker.send_sticker()
    assert (await worker.wait_reply()).plain_text() == t("Please use the buttons below.")
    await worker.wait_idle()  # the question is asked again under the hint
    await worker.tap(t("✖️ Cancel"))
    assert (await worker.wait_reply()).plain_text() == t(
        "Your report was not sent. Nothing was kept."
    )
    async with app.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Case)) == 0


async def test_voice_note_and_evidence_are_kept_encrypted_and_bad_files_refused(
    app: BotHarness,
) -> None:
    await make_worker(app.sessions, 4007, locale="bn")
    worker = app.user(4007, language_code="bn")
    await worker.send("/report")
    await worker.wait_reply()
    await worker.tap(answer("No", "bn"))
    await worker.wait_reply()
    await worker.tap(t("Working hours and rest"))
    await worker.wait_reply()
    await worker.tap(t("No weekly day off"))
    await worker.wait_reply()
    await worker.send_voice(content=b"OggS-secret-voice")
    await worker.wait_idle()
    await worker.send_document(file_name="pay.exe", mime_type="application/x-msdownload")
    refused = await worker.wait_reply()
    assert refused.plain_text() == t(
        "This file is too big or of a kind we cannot keep. "
        "Please send a photo, a PDF or a voice note under 10 MB."
    )
    await worker.send_photo(content=b"\xff\xd8\xff-secret-photo")
    await worker.wait_idle()
    await worker.tap(t("➡️ Done"))
    await worker.wait_reply()
    await worker.tap(t("➡️ Done"))  # the evidence step: the photo is already kept
    await worker.wait_reply()
    await worker.tap(answer("No", "bn"))
    await worker.wait_reply()
    await worker.tap(t("🔢 Receipt number only"))
    await worker.wait_reply()
    await worker.tap(answer("Yes", "bn"))
    review = await worker.wait_reply()
    # B5: a voice note is shown as one, not as "—" (her story was not lost).
    assert t("Your words: {value}", value=t("🎤 voice note")) in review.plain_text()
    await worker.tap(t("✅ Send report"))
    await worker.wait_reply()  # the receipt: making it takes two argon2 runs, longer than "idle"
    await worker.wait_idle()
    async with app.sessions() as s:
        case = await s.scalar(select(Case))
        assert case is not None and case.severity == "normal" and case.narrative is None
        items = (await s.scalars(select(CaseEvidence).order_by(CaseEvidence.id))).all()
        assert [(e.kind, e.mime_type) for e in items] == [
            ("voice", "audio/ogg"),
            ("photo", "image/jpeg"),
        ]
        assert b"secret" not in b"".join(e.content for e in items)
        keys = keyring(app.settings)
        assert keys.open(items[0].content, case.key_id) == b"OggS-secret-voice"


async def test_an_album_sent_at_once_is_kept_whole_and_the_file_limit_holds(
    app: BotHarness,
) -> None:
    """Seven photos sent together (an album) arrive as seven updates at once. One update at a
    time per chat: each is stored before the next is read, so none is lost and the sixth and
    seventh are refused by the five-file limit (without isolation every photo read "0 files so
    far", all seven were kept and the limit never held)."""
    await make_worker(app.sessions, 5_300_001)
    worker = app.user(5_300_001)
    await journeys.start_report(worker, "The exit on floor 3 is locked again")
    for n in range(7):
        await worker.send_photo(content=b"\xff\xd8\xff\xe0album-" + bytes([n]))
    await worker.wait_idle()
    async with app.sessions() as s:
        kept = await s.scalar(select(func.count()).select_from(DraftFile))
    assert kept == MAX_EVIDENCE_FILES
    texts = [m.plain_text() for m in worker.messages]
    assert texts.count(journeys.t("That is enough files, thank you.")) == 2


async def test_an_old_reports_cancel_does_not_end_another_conversation(app: BotHarness) -> None:
    """A Cancel button left on a report screen, tapped while the worker follows up another report,
    is refused as no longer active; the follow-up still waits for her receipt."""
    await make_worker(app.sessions, 5_300_002)
    worker = app.user(5_300_002)
    await worker.send("/report")
    report_screen = await worker.wait_reply()
    await worker.send("/menu")  # leaves the report unwritten
    await worker.wait_reply()
    await worker.send("/follow")
    await worker.wait_reply(contains=journeys.t("Type your 16-digit receipt number"))
    await worker.tap(journeys.t("✖️ Cancel"), message=report_screen)
    await worker.wait_idle()
    assert worker.answered_callbacks[-1]["text"] == journeys.t("This button is no longer active.")
    texts = [m.plain_text() for m in worker.messages]
    assert journeys.t("Your report was not sent. Nothing was kept.") not in texts
    context = app.dp.fsm.get_context(app.bot, chat_id=5_300_002, user_id=5_300_002)
    assert await context.get_state() == "FollowUp:receipt"
