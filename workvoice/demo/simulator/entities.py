"""Telegram's rules for what a bot sends, as the simulator enforces them.

The HTML parse mode (a few tags, properly nested, known entities only), the text, caption and
callback-data limits, the API error Telegram answers with, and ``SentMessage``: one message as
the bot sent it, with the helpers tests read it through.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
}
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|lt|gt|amp|quot);")


class ApiError(Exception):
    def __init__(self, code: int, description: str, **parameters: Any) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


def bad_request(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


class _EntityParser(HTMLParser):
    """Telegram's HTML parse mode: a few tags, properly nested, and only known entities."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            raise bad_request(f'can\'t parse entities: Unsupported start tag "{tag}"')
        if tag == "a" and not dict(attrs).get("href"):
            raise bad_request('can\'t parse entities: Expected href attribute in an "a" tag')
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise bad_request(f'can\'t parse entities: Unmatched end tag "{tag}"')
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def visible_text(text: str, parse_mode: str | None) -> str:
    """The text a reader sees, validating HTML like Telegram does."""
    if (parse_mode or "").upper() != "HTML":
        return text
    for match in re.finditer(r"&[^\s;<>&]*;?", text):
        if not ENTITY.fullmatch(match.group(0)):
            raise bad_request(
                f"can't parse entities: Unsupported entity at byte offset {match.start()}"
            )
    if re.search(r"<(?![a-zA-Z/])", text):
        raise bad_request("can't parse entities: Unexpected character '<'")
    parser = _EntityParser()
    parser.feed(text)
    parser.close()
    if parser.stack:
        raise bad_request(
            f"can't parse entities: Can't find end tag corresponding to start tag \"{parser.stack[-1]}\""
        )
    return "".join(parser.text)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


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
