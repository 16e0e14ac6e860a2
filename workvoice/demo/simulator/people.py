"""Simulated people: workers in a private chat with the bot.

A ``FakeUser`` sends text, voice, photos and documents, taps buttons, and waits for the bot's
replies. It talks to the server through the small ``ChatServer`` interface below, so this module
does not import the server that creates its people.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from typing import Any, Protocol

from workvoice.demo.simulator.entities import SentMessage, utf16_len


class ChatServer(Protocol):
    """What a simulated person needs from the Telegram server it is talking to."""

    sent: list[SentMessage]
    _current: dict[tuple[int, int], SentMessage]

    def push_update(self, update: dict[str, Any]) -> int: ...

    def add_file(self, content: bytes, *, suffix: str = "bin") -> str: ...

    def _message_json(self, message: SentMessage) -> dict[str, Any]: ...


class FakeUser:
    """A simulated worker in a private chat with the bot."""

    def __init__(
        self, server: ChatServer, user_id: int, *, language_code: str, first_name: str
    ) -> None:
        self.server, self.user_id, self.chat_id = server, user_id, user_id
        self.language_code, self.first_name = language_code, first_name
        self.answered_callbacks: list[dict[str, Any]] = []
        self._mark = 0  # index into server.sent at the last user action
        self._seq = itertools.count(1)
        self._arrival = asyncio.Event()
        self._callbacks = itertools.count(1)
        self.last_message_id = 0  # of the last message this person sent

    # -- what the bot showed -------------------------------------------------------------
    @property
    def messages(self) -> list[SentMessage]:
        return [m for m in self.server.sent if m.chat_id == self.chat_id]

    @property
    def last(self) -> SentMessage:
        current = [
            m for m in self.server._current.values() if m.chat_id == self.chat_id and not m.deleted
        ]
        if not current:
            raise AssertionError("the bot has not sent anything to this chat")
        return max(current, key=lambda m: m.message_id)

    def _arrived(self) -> None:
        self._arrival.set()

    def _since_mark(self) -> list[SentMessage]:
        return [m for m in self.server.sent[self._mark :] if m.chat_id == self.chat_id]

    def transcript(self) -> str:
        return "\n".join(
            f"  [{m.method} #{m.message_id}] {m.plain_text()!r} {m.buttons()}"
            for m in self.messages
        )

    # -- actions -------------------------------------------------------------------------
    def _from(self) -> dict[str, Any]:
        return {
            "id": self.user_id,
            "is_bot": False,
            "first_name": self.first_name,
            "language_code": self.language_code,
        }

    def _message(self, **content: Any) -> dict[str, Any]:
        self.last_message_id = 100_000 + next(self._seq)
        message = {
            "message_id": self.last_message_id,
            "date": int(time.time()),
            "from": self._from(),
            "chat": {"id": self.chat_id, "type": "private", "first_name": self.first_name},
            **content,
        }
        text = content.get("text")
        if isinstance(text, str) and text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
            ]
        return message

    def _push(self, update: dict[str, Any]) -> None:
        self._mark = len(self.server.sent)
        self._arrival.clear()
        self.server.push_update(update)

    async def send(self, text: str) -> None:
        self._push({"message": self._message(text=text)})

    async def send_voice(
        self, *, duration: int = 3, content: bytes = b"OggS\x00fake-voice"
    ) -> None:
        file_id = self.server.add_file(content, suffix="ogg")
        self._push(
            {
                "message": self._message(
                    voice={
                        "file_id": file_id,
                        "file_unique_id": file_id + "u",
                        "duration": duration,
                        "mime_type": "audio/ogg",
                        "file_size": len(content),
                    }
                )
            }
        )

    async def send_sticker(self) -> None:
        self._push(
            {
                "message": self._message(
                    sticker={
                        "file_id": "STICKER1",
                        "file_unique_id": "S1",
                        "type": "regular",
                        "width": 512,
                        "height": 512,
                        "is_animated": False,
                        "is_video": False,
                    }
                )
            }
        )

    async def send_photo(
        self, *, caption: str | None = None, content: bytes = b"\xff\xd8\xff\xe0fake-jpeg"
    ) -> None:
        file_id = self.server.add_file(content, suffix="jpg")
        photo = [
            {
                "file_id": file_id,
                "file_unique_id": file_id + "u",
                "width": 800,
                "height": 600,
                "file_size": len(content),
            }
        ]
        extra = {"caption": caption} if caption else {}
        self._push({"message": self._message(photo=photo, **extra)})

    async def send_document(
        self,
        *,
        file_name: str = "doc.pdf",
        mime_type: str = "application/pdf",
        file_size: int | None = None,
        content: bytes = b"%PDF-1.4 test",
    ) -> None:
        file_id = self.server.add_file(
            content, suffix=file_name.rsplit(".", 1)[-1] if "." in file_name else "bin"
        )
        document = {
            "file_id": file_id,
            "file_unique_id": file_id + "u",
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": file_size if file_size is not None else len(content),
        }
        self._push({"message": self._message(document=document)})

    async def tap(self, button_text: str, *, message: SentMessage | None = None) -> None:
        candidates = (
            [message]
            if message is not None
            else sorted(
                (
                    m
                    for m in self.server._current.values()
                    if m.chat_id == self.chat_id and not m.deleted
                ),
                key=lambda m: m.message_id,
                reverse=True,
            )
        )
        for candidate in candidates:
            markup = candidate.reply_markup or {}
            for row in markup.get("inline_keyboard", []):
                for button in row:
                    if button.get("text") == button_text and "callback_data" in button:
                        await self.tap_data(
                            button["callback_data"], message_id=candidate.message_id
                        )
                        return
            for row in markup.get("keyboard", []):
                for button in row:
                    if (button.get("text") if isinstance(button, dict) else button) == button_text:
                        await self.send(button_text)
                        return
        visible = [b for m in candidates for b in m.buttons()]
        raise AssertionError(f"no button {button_text!r}; visible buttons: {visible}")

    async def tap_data(self, callback_data: str, *, message_id: int | None = None) -> None:
        message = self.server._current.get((self.chat_id, message_id or 0))
        if message is None:
            current = [m for m in self.server._current.values() if m.chat_id == self.chat_id]
            message = max(current, key=lambda m: m.message_id) if current else None
        query: dict[str, Any] = {
            "id": f"{self.user_id}-{next(self._callbacks)}",
            "from": self._from(),
            "chat_instance": str(self.chat_id),
            "data": callback_data,
        }
        if message is not None:
            query["message"] = self.server._message_json(message)
        self._push({"callback_query": query})

    # -- waiting -------------------------------------------------------------------------
    async def wait_reply(
        self, *, timeout: float = 10.0, contains: str | None = None
    ) -> SentMessage:
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            fresh = self._since_mark()
            for message in fresh[seen:]:
                if message.method == "editMessageReplyMarkup":
                    continue  # buttons taken off an old message: not something the worker reads
                if contains is None or contains in message.plain_text():
                    return message
            seen = len(fresh)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                wanted = f" containing {contains!r}" if contains else ""
                raise AssertionError(
                    f"no reply{wanted} within {timeout}s; transcript:\n{self.transcript()}"
                )
            self._arrival.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrival.wait(), timeout=min(remaining, 0.5))

    async def wait_button(self, label: str, *, timeout: float = 10.0) -> SentMessage:
        """Until the newest message shows a button ``label``: an edit that ticks an option has
        no reply to wait for, and a quiet spell proves nothing on a busy machine."""
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(AssertionError):
                if label in self.last.buttons():
                    return self.last
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"no button {label!r} within {timeout}s; transcript:\n{self.transcript()}"
                )
            self._arrival.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrival.wait(), timeout=min(remaining, 0.5))

    async def wait_idle(self, *, quiet: float = 0.3, timeout: float = 10.0) -> list[SentMessage]:
        deadline = time.monotonic() + timeout
        count = -1
        while time.monotonic() < deadline:
            now = len(self._since_mark())
            if now == count and now > 0:
                break
            count = now
            await asyncio.sleep(quiet)
        # Buttons taken off old messages are bookkeeping, not replies: leave them out.
        return [m for m in self._since_mark() if m.method != "editMessageReplyMarkup"]
