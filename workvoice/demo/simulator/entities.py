"""``SentMessage``: one message as the bot sent it to the simulator, with the helpers tests read it
through; Telegram's rules for what a bot sends (``workvoice.kernel.telegram_html``) re-exported."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from workvoice.kernel.telegram_html import (
    CALLBACK_DATA_LIMIT,
    CAPTION_LIMIT,
    TEXT_LIMIT,
    ApiError,
    bad_request,
    utf16_len,
    visible_text,
)

__all__ = [
    "CALLBACK_DATA_LIMIT",
    "CAPTION_LIMIT",
    "TEXT_LIMIT",
    "ApiError",
    "SentMessage",
    "bad_request",
    "utf16_len",
    "visible_text",
]


@dataclass
class SentMessage:
    chat_id: int
    message_id: int
    text: str | None
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    method: str
    document: bytes | None = None
    filename: str | None = None
    deleted: bool = False
    file_id: str | None = None  # a voice message's file, as Telegram names it

    @property
    def is_voice(self) -> bool:
        return self.method == "sendVoice"

    def buttons(self) -> list[str]:
        markup = self.reply_markup or {}
        rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
        return [b["text"] if isinstance(b, dict) else str(b) for row in rows for b in row]

    def plain_text(self) -> str:
        return html.unescape(re.sub(r"<[^>]+>", "", self.text or ""))
