"""Screens read aloud: a recorded clip (``services.audio.clips``) sent as a Telegram voice message
with the screen's text, for a worker who does not read.

A worker who chose "🔊 Listen" gets the clip of every screen that has one in her language, as a
voice message just before the text (the text keeps its buttons, so she answers as everyone does).
Anyone else sees a 🔊 button on such a screen and hears the clip by tapping it. The first send
uploads the clip; Telegram's file id is kept and later sends name it instead.

Used by the flows and the wizard, which pass the handler data (``session``, ``user``); its router
(🔊 taps on key screens) is included by the onboarding flow.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import _, current_locale
from bot.storage.audio import AudioClip
from bot.storage.models import User
from services.audio import clips
from services.audio.clips import KeyScreen

log = logging.getLogger(__name__)
router = Router(name=__name__)


class ListenTap(CallbackData, prefix="ear"):
    """🔊 under a key screen: play its clip."""

    screen: KeyScreen


# No words on the play button: it means the same to a reader of any script, or of none.
PLAY = "🔊"


def listening(data: dict[str, Any]) -> bool:
    user: User | None = data.get("user")
    return user is not None and user.listen


async def send_clip(bot: Bot, chat_id: int, session: AsyncSession, clip: AudioClip) -> None:
    """One clip as a voice message: by Telegram's file id once it has the file, else uploaded
    (and its id kept). A file id Telegram no longer knows is dropped and the bytes sent again."""
    seconds = max(1, round(clip.duration_ms / 1000))
    if clip.telegram_file_id:
        try:
            await bot.send_voice(chat_id, clip.telegram_file_id, duration=seconds)
            return
        except TelegramBadRequest:
            log.info("audio.file_id_refused")
    upload = BufferedInputFile(clip.content, filename="voice.ogg")
    sent = await bot.send_voice(chat_id, upload, duration=seconds)
    if sent.voice is not None:
        clip.telegram_file_id = sent.voice.file_id
        await clips.remember_file_id(session, clip.id, sent.voice.file_id)


async def play(message: Message, data: dict[str, Any], found: Sequence[AudioClip]) -> None:
    if message.bot is None:
        return
    for clip in found:
        await send_clip(message.bot, message.chat.id, data["session"], clip)


def with_listen_row(
    markup: InlineKeyboardMarkup | None, button: InlineKeyboardButton
) -> InlineKeyboardMarkup:
    """``markup`` with 🔊 as its first row: the first thing a worker who cannot read looks for."""
    rows = list(markup.inline_keyboard) if markup is not None else []
    return InlineKeyboardMarkup(inline_keyboard=[[button], *rows])


async def answer(
    message: Message,
    data: dict[str, Any],
    text: str,
    reply_markup: InlineKeyboardMarkup | None,
    screen: KeyScreen,
) -> Message:
    """Show a key screen: its clip first for a worker who listens, else 🔊 under it when it has
    one in her language."""
    session: AsyncSession | None = data.get("session")
    clip = None
    if session is not None:
        clip = await clips.clip_for(session, clips.screen_target(screen), current_locale())
    if clip is not None and listening(data):
        await play(message, data, [clip])
    elif clip is not None:
        reply_markup = with_listen_row(reply_markup, play_button(screen))
    return await message.answer(text, reply_markup=reply_markup)


async def language_clips(session: AsyncSession) -> list[AudioClip]:
    """The language picker's clips, one per recorded language ("for Bangla, tap বাংলা")."""
    return await clips.clips_in_every_language(session, clips.screen_target(KeyScreen.LANGUAGE))


def play_button(screen: KeyScreen) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=PLAY, callback_data=ListenTap(screen=screen).pack())


@router.callback_query(ListenTap.filter())
async def listen_tapped(query: CallbackQuery, callback_data: ListenTap, **data: Any) -> None:
    await query.answer()
    if not isinstance(query.message, Message):
        return
    session: AsyncSession = data["session"]
    if callback_data.screen is KeyScreen.LANGUAGE:
        found = await language_clips(session)
    else:
        clip = await clips.clip_for(
            session, clips.screen_target(callback_data.screen), current_locale()
        )
        found = [clip] if clip is not None else []
    if not found:  # deleted since the screen was shown
        await query.message.answer(_("There is no recording for this screen yet."))
        return
    await play(query.message, data, found)
