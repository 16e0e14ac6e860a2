"""Report intake as the worker-journeys review found it (issue 16), replayed through the fake Bot
API and shown fixed: danger asked first with helplines at once (B4), a story in several messages,
long texts and voice notes kept, ✏️ Change on the review (B5), the story and review deleted from the
chat after sending and a receipt she can remove (B3), categories by urgency and a Safety list that
names what workers report (B10), and the factory refusal that offers to link one (B1)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text

from bot.flows.reports.intake import REPORT
from bot.i18n import gettext
from bot.storage.reports import Case, DraftFile
from services.reports.crypto import keyring
from services.reports.submission import NARRATIVE_LIMIT, PART_SEPARATOR, open_narrative
from tests import journeys
from tests.console import ConsoleHarness, make_context
from tests.factories import make_worker
from tests.harness import BotHarness
from tests.journeys import answer

DANGER = (
    "Your report is safe: your name is never shown to the factory.\n\n"
    "<b>Are you or someone else in danger right now?</b>"
)
WARN = (
    "⚠️ You said someone is in danger. With the receipt number only, nobody can reach you: we "
    "cannot send you help or questions.\nWe suggest <b>In this chat</b>. You can still choose."
)
FULL = (
    "Your story is now as long as we can keep in one report. Please tap ➡️ Done; you can tell the "
    "case handler more later."
)
LRI, PDI = "\u2066", "\u2069"


def t(message: str, locale: str = "en", **params: object) -> str:
    return gettext(message, locale=locale, **params)


def record_worker_messages(app: BotHarness) -> list[int]:
    """The ids of the messages the worker sends from now on (the fake server does not keep them)."""
    ids: list[int] = []
    push = app.telegram.push_update

    def recording(update: dict[str, Any]) -> int:
        if "message" in update:
            ids.append(int(update["message"]["message_id"]))
        return push(update)

    app.telegram.push_update = recording  # type: ignore[method-assign]
    return ids


def deleted_ids(app: BotHarness, chat_id: int) -> set[int]:
    return {m for c, m in app.telegram.deleted_ids if c == chat_id}


async def to_story(worker: Any, *, locale: str = "en", danger: str = "No") -> None:
    await worker.send("/report")
    await worker.wait_reply()  # danger now? (the first question)
    await worker.tap(answer(danger, locale))
    await worker.wait_reply(contains=t("What is the problem about?", locale))
    await worker.tap(t("Harassment, violence or abuse", locale))
    await worker.wait_reply(contains=t("What happened?", locale))
    await worker.tap(t("Sexual harassment", locale))
    await worker.wait_reply()


async def test_danger_is_asked_first_and_receipt_only_is_warned(app: BotHarness) -> None:
    """B4, transcript-bn §4: danger came at step 5, after four screens. Now it is the first
    question, Yes shows the country's numbers at once, and "receipt only" warns that nobody could
    reach her, suggests this chat, and still lets her choose."""
    await make_worker(app.sessions, 7101, locale="bn")
    worker = app.user(7101, language_code="bn")
    await worker.send("/report")
    first = await worker.wait_reply()
    assert first.text == t(DANGER, "bn")
    assert first.buttons() == [
        answer("Yes", "bn"),
        answer("No", "bn"),
        t("✖️ Cancel", "bn"),
    ]  # no Back
    await worker.tap(answer("Yes", "bn"))
    helplines = await worker.wait_reply()
    assert "999" in helplines.plain_text()  # Bangladesh's emergency number, before anything else
    category = await worker.wait_reply(contains=t("What is the problem about?", "bn"))
    assert t("⬅️ Back", "bn") in category.buttons()
    await worker.tap(t("Harassment, violence or abuse", "bn"))
    await worker.wait_reply()
    await worker.tap(t("Sexual harassment", "bn"))
    await worker.wait_reply()
    await worker.send("সুপারভাইজার রাতে আমাকে স্পর্শ করে")
    await worker.wait_idle()
    await worker.tap(t("➡️ Done", "bn"))
    await worker.wait_reply()
    await worker.tap(t("Skip", "bn"))
    await worker.wait_reply()
    await worker.tap(answer("No", "bn"))
    await worker.wait_reply()
    await worker.tap(t("🔢 Receipt number only", "bn"))
    warning = await worker.wait_reply()
    assert warning.text == t(WARN, "bn")
    assert warning.buttons()[:2] == [t("💬 In this chat", "bn"), t("🔢 Receipt number only", "bn")]
    await worker.tap(t("🔢 Receipt number only", "bn"))  # her choice stands
    await worker.wait_reply()  # may the factory be told?
    await worker.tap(answer("No", "bn"))
    review = await worker.wait_reply()
    assert t("Follow-up: {value}", "bn", value=t("receipt number only", "bn")) in (
        review.plain_text()
    )
    await journeys.send_report(worker, locale="bn")
    async with app.sessions() as s:
        case = await s.scalar(select(Case))
        assert case is not None and case.danger and case.severity == "critical"
        assert case.reporter_user_id is None


async def test_help_now_on_the_menu_still_answers_at_once(app: BotHarness) -> None:
    await make_worker(app.sessions, 7102, locale="bn")
    worker = app.user(7102, language_code="bn")
    await worker.send("/menu")
    await worker.wait_reply()
    await worker.tap(t("🆘 Help now", "bn"))
    reply = await worker.wait_reply()
    assert "999" in reply.plain_text() and reply.buttons() == [t("🏠 Main menu", "bn")]


async def test_a_story_in_several_messages_and_a_voice_note_reaches_the_handler_whole(
    app: BotHarness,
) -> None:
    """B5, transcript-my §4: the second half of a story was answered "use the buttons" and thrown
    away. Now every message and voice note is kept until ➡️ Done, the review says a voice note came
    (not "—") without repeating her words, and the case handler reads both parts in order."""
    first = "ကျွန်မရဲ့ လိုင်းစူပါဗိုက်ဇာက ညဘက်အလုပ်ချိန်မှာ ကျွန်မကို ထိကိုင်ပြ"
    second = "ပြီးတော့ ပြောရင် အလုပ်ထုတ်မယ်လို့ ခြိမ်းခြောက်တယ်"
    await make_worker(app.sessions, 7103, locale="my")
    worker = app.user(7103, language_code="my")
    await to_story(worker, locale="my")
    await worker.send(first)
    await worker.wait_idle()
    await worker.send(second)
    await worker.wait_idle()
    await worker.send_voice(content=b"OggS-voice-of-the-story")
    await worker.wait_idle()
    texts = [m.plain_text() for m in worker.messages]
    assert t("Please use the buttons below.", "my") not in texts  # no part was refused
    await worker.tap(t("➡️ Done", "my"))
    await worker.wait_reply()
    await worker.tap(t("Skip", "my"))
    await worker.wait_reply()
    await worker.tap(answer("Yes", "my"))
    await worker.wait_reply()
    await worker.tap(t(journeys.IN_THIS_CHAT, "my"))
    await worker.wait_reply()
    await worker.tap(answer("No", "my"))
    review = await worker.wait_reply()
    words = t("received and sealed 🔒", "my") + " · " + t("🎤 voice note", "my")
    assert t("Your words: {value}", "my", value=words) in review.plain_text()
    assert first[:10] not in review.plain_text() and second[:10] not in review.plain_text()
    await journeys.send_report(worker, locale="my")
    async with app.sessions() as s:
        case = await s.scalar(select(Case))
        assert case is not None and case.narrative is not None
        raw = repr((await s.execute(text("SELECT * FROM cases"))).all())
        assert first not in raw and second not in raw  # only ciphertext at rest
    console = ConsoleHarness(make_context(app.sessions, None, app.settings.data_dir))
    console.ctx.settings = app.settings
    try:
        handler = await console.staff("case_handler", ["BD"])
        page = await console.client_for(handler).get(f"/reports/{case.id}")
        assert first + PART_SEPARATOR + second in page.text  # both parts, in order
    finally:
        await console.close()


async def test_a_long_story_is_kept_in_parts_and_a_photo_as_the_story_is_kept(
    app: BotHarness,
) -> None:
    """B5, transcript-bn §7: a 4,360-character story was refused whole ("at most 3000"). Telegram
    sends it as two messages; both are kept. A photo sent as the story is kept as evidence, not
    refused (transcript-edge §C). Past 20,000 characters she is told, kindly, and nothing is lost
    of what was kept."""
    await make_worker(app.sessions, 7104, locale="bn")
    worker = app.user(7104, language_code="bn")
    await to_story(worker, locale="bn")
    await worker.send_photo(content=b"\xff\xd8\xff\xe0exit-photo")
    await worker.wait_idle()
    story = ("আগুন বের হওয়ার দরজা তালা দেওয়া থাকে। " * 200)[:4360]
    await worker.send(story[:4096])
    await worker.wait_idle()
    await worker.send(story[4096:])
    await worker.wait_idle()
    texts = [m.plain_text() for m in worker.messages]
    assert not any("3000" in line for line in texts)
    assert t(FULL, "bn") not in texts
    for _ in range(4):  # 4,360 + 4 × 4,096 > 20,000
        await worker.send("ক" * 4096)
        await worker.wait_idle()
    texts = [m.plain_text() for m in worker.messages]
    assert texts.count(t(FULL, "bn")) == 1
    async with app.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(DraftFile)) == 1
    await worker.tap(t("➡️ Done", "bn"))
    evidence = await worker.wait_reply()
    assert (
        t(
            "📎 Files kept: {count}. You can send another photo or PDF, or tap ➡️ Done.",
            "bn",
            count=1,
        )
        == evidence.plain_text()
    )
    await worker.tap(t("➡️ Done", "bn"))
    await worker.wait_reply()
    await worker.tap(answer("Yes", "bn"))
    await worker.wait_reply()
    await worker.tap(t(journeys.RECEIPT_ONLY, "bn"))
    await worker.wait_reply()
    await worker.tap(answer("No", "bn"))
    await worker.wait_reply()
    await journeys.send_report(worker, locale="bn")
    async with app.sessions() as s:
        case = await s.scalar(select(Case))
        assert case is not None and case.narrative is not None
        kept = open_narrative(keyring(app.settings), case.narrative, case.key_id)
    assert kept.startswith(story.strip()[:100])
    assert len(kept.replace(PART_SEPARATOR, "")) == NARRATIVE_LIMIT - (
        len(story) - len(story.strip())
    )


async def test_the_review_changes_any_answer_and_comes_back(app: BotHarness) -> None:
    """B5: the review had only Send and Cancel. Now ✏️ Change asks one question again and returns
    to the review; changing the problem asks what happened for the new one (B10: a locked exit
    is critical)."""
    await make_worker(app.sessions, 7105)
    worker = app.user(7105)
    await journeys.start_report(worker, "The supervisor shouts at us")
    review = await journeys.report_to_review(worker)
    assert t("✏️ Follow-up") in review.buttons() and t("✏️ Problem") in review.buttons()
    await worker.tap(t("✏️ Follow-up"))
    await worker.wait_reply(contains="How do you want to follow your report?")
    await worker.tap(t(journeys.IN_THIS_CHAT))
    review = await worker.wait_reply(contains="Please check your report")
    assert "Follow-up: in this chat" in review.plain_text()
    await worker.tap(t("✏️ Problem"))
    categories = await worker.wait_reply(contains="What is the problem about?")
    assert categories.buttons()[:4] == [
        "Harassment, violence or abuse",
        "Wages, overtime pay or benefits",
        "Safety and health",
        "Working hours and rest",
    ]
    await worker.tap("Safety and health")
    harms = await worker.wait_reply(contains="What happened?")
    for offered in (
        "Exits locked or blocked",
        "Fire risk",
        "Cracks in the building",
        "Someone was injured",
        "No masks, gloves or safety gear",
        "Dangerous chemicals",
        "Too hot to work",
        "No toilets or drinking water",
    ):
        assert offered in harms.buttons()
    await worker.tap("Exits locked or blocked")
    review = await worker.wait_reply(contains="Please check your report")
    assert "What happened: Exits locked or blocked" in review.plain_text()
    assert "Follow-up: in this chat" in review.plain_text()
    await journeys.send_report(worker)
    async with app.sessions() as s:
        case = await s.scalar(select(Case))
        assert case is not None and (case.category, case.harm, case.severity) == (
            "safety",
            "exits_locked",
            "critical",
        )
        assert case.reporter_user_id is not None


async def test_after_sending_the_story_and_review_leave_the_chat_and_the_receipt_can_go(
    app: BotHarness,
) -> None:
    """B3, the history_snapshot of every transcript: her story, the review and the receipt stayed
    on a shared phone. Now the story messages and the review are deleted once the case is stored;
    the receipt (digits kept in order in Arabic, B6) says an in-chat report will ask for its last
    four digits, and ✅ I wrote it down deletes it."""
    await make_worker(app.sessions, 7106, locale="ar", country="JO", factory_code="JO-01")
    worker = app.user(7106, language_code="ar")
    mine = record_worker_messages(app)
    await to_story(worker, locale="ar")
    await worker.send("المشرف يلمسني في المخزن")
    await worker.wait_idle()
    await worker.send("وقال إنه سيطردني")
    await worker.wait_idle()
    story_ids = mine[-2:]
    review = await journeys.report_to_review(worker, follow=journeys.IN_THIS_CHAT, locale="ar")
    receipt = await journeys.send_report(worker, locale="ar")
    assert set(story_ids) | {review.message_id} <= deleted_ids(app, 7106)
    assert review.deleted
    digits = journeys.receipt_digits(receipt)
    grouped = " ".join(digits[i : i + 4] for i in range(0, 16, 4))
    assert f"{LRI}{grouped}{PDI}" in (receipt.text or "")
    assert (
        t(
            "To open this report in this chat later, you will need the last 4 digits of this "
            "number.",
            "ar",
        )
        in receipt.plain_text()
    )
    assert receipt.buttons() == [t("✅ I wrote it down", "ar"), t("🏠 Main menu", "ar")]
    await worker.tap(t("✅ I wrote it down", "ar"))
    await worker.wait_reply()
    assert receipt.message_id in {m.message_id for m in worker.messages if m.deleted}


async def test_a_worker_without_a_factory_is_offered_to_link_it(app: BotHarness) -> None:
    """B1: the refusal ended in the full menu, with no way to link the factory from there."""
    await make_worker(app.sessions, 7107, factory_code=None)
    worker = app.user(7107)
    await worker.send("/report")
    refusal = await worker.wait_reply()
    assert refusal.plain_text().startswith("Please link your factory first")
    assert refusal.buttons() == ["🏭 Link my factory", "🏠 Main menu"]


async def test_back_goes_one_step_and_leaving_drops_the_sealed_files(app: BotHarness) -> None:
    """⬅️ Back on every step after the first; /cancel in the middle of a report discards the files
    already sealed for it, and a button of the left report is no longer active."""
    await make_worker(app.sessions, 7108)
    worker = app.user(7108)
    await to_story(worker)
    await worker.send_photo(content=b"\xff\xd8\xff\xe0to-drop")
    await worker.wait_idle()
    async with app.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(DraftFile)) == 1
    await worker.tap(t("⬅️ Back"))
    harms = await worker.wait_reply(contains="What happened?")
    assert "Sexual harassment" in harms.buttons()
    await worker.send("/cancel")
    await worker.wait_reply(contains="Your report was not sent. Nothing was kept.")
    await worker.wait_idle()
    async with app.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(DraftFile)) == 0
    context = app.dp.fsm.get_context(app.bot, chat_id=7108, user_id=7108)
    assert await REPORT.current(context) is None
    await worker.tap("Sexual harassment", message=harms)
    await worker.wait_idle()
    assert worker.answered_callbacks[-1]["text"] == "This button is no longer active."


async def test_saying_danger_from_the_review_shows_helplines_and_the_receipt_only_warning(
    app: BotHarness,
) -> None:
    """B4 and B5 together: a wrong "No" to danger is changed from the review; the numbers come at
    once, and since she chose receipt only, the warning is asked before the review returns."""
    await make_worker(app.sessions, 7109)
    worker = app.user(7109)
    await journeys.start_report(worker, "He follows me home after the night shift")
    await journeys.report_to_review(worker)
    await worker.tap("✏️ Danger")
    await worker.wait_reply(contains="Are you or someone else in danger right now?")
    await worker.tap("Yes")
    helplines = await worker.wait_reply()
    assert "999" in helplines.plain_text()
    warning = await worker.wait_reply(contains="nobody can reach you")
    await worker.tap(journeys.IN_THIS_CHAT, message=warning)
    review = await worker.wait_reply(contains="Please check your report")
    assert "Danger now: Yes" in review.plain_text()
    assert "Follow-up: in this chat" in review.plain_text()
