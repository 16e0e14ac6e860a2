"""Her story and her files, in as many messages as she needs (review B5): texts, voice notes,
photos and PDFs are taken at the story step and at the evidence step alike, until ➡️ Done.

Each text is sealed the moment it arrives and kept as one sealed part; a text longer than what is
left of ``submission.NARRATIVE_LIMIT`` is kept up to the limit (never refused whole) and she is
told, kindly, that the story is as long as we can keep. Files are downloaded and sealed into draft
files at once; the draft counts them. The ids of her messages go to ``chat_trail`` so they can be
deleted from the chat once the report is sent.
"""

from __future__ import annotations

import base64
import io

from aiogram import Bot
from aiogram.types import Message

from bot import chat_trail
from bot.flows.reports.intake_draft import ReportDraft, SealedPart
from bot.i18n import _
from bot.wizard import Option, Turn
from services.reports import submission
from services.reports.crypto import keyring

EVIDENCE_MIME = {"application/pdf", "image/jpeg", "image/png"}
MAX_EVIDENCE_FILES = 5  # photos and documents one report may carry
DONE = "done"

__all__ = ["MAX_EVIDENCE_FILES", "SealedPart", "story_message"]


def story_prompt(draft: ReportDraft) -> str:
    if draft.has_story or draft.files:
        return _("🔒 Received and sealed. You can send more, or tap ➡️ Done.")
    return _(
        "Tell us what happened in your own words: when, where, who. You can write several "
        "messages, or send voice notes, photos or a PDF. Only the case handler can read them.\n"
        "Tap ➡️ Done when you have told everything."
    )


def done_option(draft: ReportDraft) -> list[Option]:
    told = draft.has_story or draft.files
    return [Option(DONE, _("➡️ Done") if told else _("Skip"))]


def evidence_prompt(draft: ReportDraft) -> str:
    if draft.files:
        return _(
            "📎 Files kept: {count}. You can send another photo or PDF, or tap ➡️ Done.",
            count=draft.files,
        )
    return _("You can add a photo or a PDF as evidence now, or tap Skip.")


def evidence_done_option(draft: ReportDraft) -> list[Option]:
    return [Option(DONE, _("➡️ Done") if draft.files else _("Skip"))]


def story_words(draft: ReportDraft) -> str:
    """What the review says about her words, never the words themselves."""
    parts = []
    if draft.story:
        # Sealed when it arrived: not even this screen can read it back.
        parts.append(_("received and sealed 🔒"))
    if draft.voices:
        parts.append(_("🎤 voice note") + (f" ×{draft.voices}" if draft.voices > 1 else ""))
    if not parts and draft.files:
        parts.append(_("📎 files: {count}", count=draft.files))
    return " · ".join(parts) or "—"


async def story_message(turn: Turn[ReportDraft], message: Message) -> None:
    """A message at the story or evidence step: keep it sealed, or say what we can keep."""
    if message.text:
        kept = await _keep_text(turn, message.text)
    elif message.voice is not None:
        kept = await _keep_voice(turn, message)
    elif message.photo or message.document is not None:
        kept = await _keep_file(turn, message)
    else:
        await message.answer(_("Please send text, a voice note, a photo or a PDF, or tap ➡️ Done."))
        kept = False
    if kept:
        turn.draft.chat_trail.append(message.message_id)
    await _ask_again(turn)


async def _ask_again(turn: Turn[ReportDraft]) -> None:
    """The step again, under her last message; the "received" note before it goes, so one
    ➡️ Done stays in the chat and not one per message."""
    draft, bot = turn.draft, turn.data["bot"]
    if draft.prompt_id is not None:
        await delete_messages(bot, turn.message.chat.id, [draft.prompt_id])
    sent = await turn.show(turn.wizard.screen(turn.step, draft))
    draft.prompt_id = sent.message_id
    draft.chat_trail.append(sent.message_id)
    await turn.save()


async def delete_messages(bot: Bot, chat_id: int, ids: list[int]) -> None:
    """Delete these messages from both sides of the chat, as far as Telegram still allows (48 h in
    a private chat); what cannot be deleted any more stays, without an error for her."""
    await chat_trail.forget_and_delete(bot, chat_id, sorted(set(ids)))


async def _keep_text(turn: Turn[ReportDraft], text: str) -> bool:
    draft = turn.draft
    room = submission.NARRATIVE_LIMIT - draft.story_chars
    if room <= 0 or len(draft.story) >= submission.NARRATIVE_PARTS_LIMIT:
        await turn.message.answer(_full())
        return True  # nothing more kept, but the message carries her words: it goes too
    text = text.strip()
    if not text:
        return False
    keys = keyring(turn.data["settings"])  # sealed before it touches the conversation state (H1)
    part = text[:room]
    sealed = base64.b64encode(keys.seal_text(part)).decode()
    draft.story.append(SealedPart(box=sealed, kid=keys.current_id))
    draft.story_chars += len(part)
    if len(part) < len(text):
        await turn.message.answer(_full())
    return True


def _full() -> str:
    return _(
        "Your story is now as long as we can keep in one report. Please tap ➡️ Done; "
        "you can tell the case handler more later."
    )


async def _keep_voice(turn: Turn[ReportDraft], message: Message) -> bool:
    assert message.voice is not None
    if (message.voice.file_size or 0) > submission.EVIDENCE_LIMIT:
        await message.answer(
            _("This file is too big. Please send a photo, a PDF or a voice note under 10 MB.")
        )
        return False
    await _download_sealed(turn, "voice", "audio/ogg", message.voice.file_id)
    turn.draft.voices += 1
    return True


async def _keep_file(turn: Turn[ReportDraft], message: Message) -> bool:
    if message.photo:
        photo = message.photo[-1]
        kind, mime, file_id, size = "photo", "image/jpeg", photo.file_id, photo.file_size or 0
    else:
        assert message.document is not None
        kind, mime = "document", message.document.mime_type or ""
        file_id, size = message.document.file_id, message.document.file_size or 0
    if mime not in EVIDENCE_MIME or size > submission.EVIDENCE_LIMIT:
        await message.answer(
            _(
                "This file is too big or of a kind we cannot keep. Please send a photo, "
                "a PDF or a voice note under 10 MB."
            )
        )
        return False
    if turn.draft.files >= MAX_EVIDENCE_FILES:
        await message.answer(_("That is enough files, thank you."))
        return True  # not kept, but it shows what happened: it goes from the chat too
    await _download_sealed(turn, kind, mime, file_id)
    turn.draft.files += 1
    return True


async def _download_sealed(turn: Turn[ReportDraft], kind: str, mime: str, file_id: str) -> None:
    """Download a file now and keep it only sealed; the draft just counts it."""
    bot: Bot = turn.data["bot"]
    buffer = io.BytesIO()
    await bot.download(file_id, destination=buffer)
    await submission.add_draft_file(
        turn.data["session"],
        turn.draft.draft,
        kind,
        mime,
        buffer.getvalue(),
        keys=keyring(turn.data["settings"]),
    )
