"""A Telegram-compatible Bot API server that lives in this process.

It serves two purposes with one engine: the demo's phone simulator (no Telegram needed) and the
tests, where the real aiogram bot talks to it over real HTTP. It speaks the methods workvoice uses
and validates what Telegram validates (message length, HTML entities, 64-byte callback data,
"message is not modified", blocked chats), and can answer 429 with ``retry_after``. The people in
its chats are ``FakeUser`` objects (``people``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from workvoice.demo.simulator.entities import (
    CALLBACK_DATA_LIMIT,
    CAPTION_LIMIT,
    TEXT_LIMIT,
    ApiError,
    SentMessage,
    bad_request,
    utf16_len,
    visible_text,
)
from workvoice.demo.simulator.people import FakeUser

# Telegram's update ids only grow for a bot; one sequence per process keeps a restarted fake from
# reusing ids that the bot already stored as handled.
_UPDATE_IDS = itertools.count(int(time.time()) % 100_000 * 10_000)


@dataclass
class _File:
    file_id: str
    content: bytes
    path: str


class FakeTelegram:
    """The Bot API over HTTP for one bot token, with its chats, files and test controls."""

    def __init__(
        self, *, token: str = "123456:TEST-token", bot_username: str = "workvoice_test_bot"
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        self.bot_id = int(token.split(":", 1)[0])
        self.base_url = ""
        self.sent: list[SentMessage] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.webhook: dict[str, Any] | None = None
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._updates: list[dict[str, Any]] = []
        self._update_ids = _UPDATE_IDS
        self._message_ids: dict[int, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self._current: dict[tuple[int, int], SentMessage] = {}
        # What the people sent: (chat, message id) → deleted (a bot may delete both sides).
        self.incoming: dict[tuple[int, int], bool] = {}
        self._chats: dict[int, FakeUser] = {}
        # Group chats the bot was added to: what it said in each, and the ones it left.
        self.groups: dict[int, list[str]] = {}
        self.left: list[int] = []
        self._blocked: set[int] = set()
        # (chat, message id) deleted with deleteMessages, the worker's own messages included.
        self.deleted_ids: set[tuple[int, int]] = set()
        self._failures: dict[str, list[int]] = defaultdict(list)
        # Paid broadcasts (allow_paid_broadcast) the bot's Stars still pay for; None: no limit.
        self.paid_messages_left: int | None = None
        self._files: dict[str, _File] = {}
        self._file_ids = itertools.count(1)
        self.voice_uploads = 0  # voice messages sent as bytes, not by a file id already known
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sockets = site._server.sockets  # type: ignore[union-attr]
        self.base_url = f"http://{host}:{sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- test controls ---------------------------------------------------------------------
    def user(
        self, user_id: int, *, language_code: str = "en", first_name: str = "Worker"
    ) -> FakeUser:
        if user_id not in self._chats:
            self._chats[user_id] = FakeUser(
                self, user_id, language_code=language_code, first_name=first_name
            )
        return self._chats[user_id]

    def fail_next(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        self._failures[method].extend([retry_after] * times)

    def block(self, chat_id: int) -> None:
        self._blocked.add(chat_id)

    def push_update(self, update: dict[str, Any]) -> int:
        update.setdefault("update_id", next(self._update_ids))
        message = update.get("message")
        if isinstance(message, dict) and "chat" in message:
            self.incoming[(int(message["chat"]["id"]), int(message["message_id"]))] = False
        self._updates.append(update)
        asyncio.get_running_loop().create_task(self._notify())
        return int(update["update_id"])

    def make_message_update(
        self, user_id: int, text: str, *, language_code: str = "en", first_name: str = "Worker"
    ) -> dict[str, Any]:
        user = self.user(user_id, language_code=language_code, first_name=first_name)
        return {"update_id": next(self._update_ids), "message": user._message(text=text)}

    def add_file(self, content: bytes, *, suffix: str = "bin") -> str:
        number = next(self._file_ids)
        file_id = f"FILE{number:06d}"
        self._files[file_id] = _File(file_id, content, f"files/{number}.{suffix}")
        return file_id

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- HTTP ------------------------------------------------------------------------------
    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            body = await request.json()
            return dict(body) if isinstance(body, dict) else {}
        params: dict[str, Any] = {}
        if request.content_type in {"multipart/form-data", "application/x-www-form-urlencoded"}:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    params[key] = {"filename": value.filename, "content": value.file.read()}
                else:
                    params[key] = _decode(str(value))
        params.update({k: _decode(v) for k, v in request.query.items()})
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        handler = getattr(self, f"_m_{method.lower()}", None)
        if handler is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        params = await self._params(request)
        self.calls.append((method, params))
        try:
            if self._failures.get(method):
                retry_after = self._failures[method].pop(0)
                raise ApiError(
                    429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
                )
            result = await handler(params)
        except ApiError as exc:
            body: dict[str, Any] = {
                "ok": False,
                "error_code": exc.code,
                "description": exc.description,
            }
            if exc.parameters:
                body["parameters"] = exc.parameters
            return web.json_response(body, status=exc.code)
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        for stored in self._files.values():
            if stored.path == request.match_info["path"]:
                return web.Response(body=stored.content)
        return web.Response(status=404)

    # -- methods ---------------------------------------------------------------------------
    def _me(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "workvoice",
            "username": self.bot_username,
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _m_getme(self, p: dict[str, Any]) -> Any:
        return self._me()

    async def _m_getupdates(self, p: dict[str, Any]) -> Any:
        offset = int(p.get("offset") or 0)
        limit = int(p.get("limit") or 100)
        timeout = float(p.get("timeout") or 0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        async with self._changed:
            while not self._updates and time.monotonic() < deadline:
                try:
                    await asyncio.wait_for(
                        self._changed.wait(), timeout=deadline - time.monotonic()
                    )
                except TimeoutError:
                    break
        return self._updates[:limit]

    async def _m_deletewebhook(self, p: dict[str, Any]) -> Any:
        self.webhook = None
        return True

    async def _m_setwebhook(self, p: dict[str, Any]) -> Any:
        self.webhook = p
        return True

    async def _m_getwebhookinfo(self, p: dict[str, Any]) -> Any:
        return {
            "url": (self.webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    async def _m_setmycommands(self, p: dict[str, Any]) -> Any:
        self.commands[str(p.get("language_code") or "")] = list(p.get("commands") or [])
        return True

    async def _m_getmycommands(self, p: dict[str, Any]) -> Any:
        return self.commands.get(str(p.get("language_code") or ""), [])

    async def _m_deletemycommands(self, p: dict[str, Any]) -> Any:
        self.commands.pop(str(p.get("language_code") or ""), None)
        return True

    async def _m_setchatmenubutton(self, p: dict[str, Any]) -> Any:
        return True

    async def _m_sendchataction(self, p: dict[str, Any]) -> Any:
        self._chat(p)
        return True

    async def _m_answercallbackquery(self, p: dict[str, Any]) -> Any:
        for user in self._chats.values():
            if str(p.get("callback_query_id", "")).startswith(f"{user.user_id}-"):
                user.answered_callbacks.append(p)
        return True

    def _pay(self, p: dict[str, Any]) -> None:
        """A paid broadcast takes its 0.1 Star, or is refused when the balance is spent."""
        if str(p.get("allow_paid_broadcast")).lower() != "true" or self.paid_messages_left is None:
            return
        if self.paid_messages_left <= 0:
            raise bad_request("not enough Telegram Stars on the bot's balance for paid broadcast")
        self.paid_messages_left -= 1

    def _chat(self, p: dict[str, Any]) -> int:
        try:
            chat_id = int(p.get("chat_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None
        if chat_id not in self._chats:
            raise bad_request("chat not found")
        if chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    @staticmethod
    def _check_markup(markup: Any) -> dict[str, Any] | None:
        if not markup:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if not button.get("text"):
                    raise bad_request("text buttons are unallowed in the inline keyboard")
                data = button.get("callback_data")
                if data is not None and not (0 < len(str(data).encode()) <= CALLBACK_DATA_LIMIT):
                    raise bad_request("BUTTON_DATA_INVALID")
                if data is None and not button.get("url"):
                    raise bad_request("text buttons are unallowed in the inline keyboard")
        return markup

    def _store(
        self, chat_id: int, method: str, text: str | None, p: dict[str, Any], **extra: Any
    ) -> dict[str, Any]:
        message = SentMessage(
            chat_id=chat_id,
            message_id=next(self._message_ids[chat_id]),
            text=text,
            parse_mode=p.get("parse_mode"),
            reply_markup=self._check_markup(p.get("reply_markup")),
            method=method,
            **extra,
        )
        self.sent.append(message)
        self._current[(chat_id, message.message_id)] = message
        self._chats[chat_id]._arrived()
        return self._message_json(message)

    def _message_json(self, message: SentMessage) -> dict[str, Any]:
        user = self._chats[message.chat_id]
        body: dict[str, Any] = {
            "message_id": message.message_id,
            "date": int(time.time()),
            "chat": {"id": message.chat_id, "type": "private", "first_name": user.first_name},
            "from": self._me(),
        }
        if message.is_voice:
            body["voice"] = {
                "file_id": message.file_id,
                "file_unique_id": f"{message.file_id}u",
                "duration": 1,
                "mime_type": "audio/ogg",
            }
            if message.text:
                body["caption"] = visible_text(message.text, message.parse_mode)
        elif message.document is not None:
            body["document"] = {
                "file_id": f"DOC{message.message_id}",
                "file_unique_id": f"D{message.message_id}",
                "file_name": message.filename,
            }
            if message.text:
                body["caption"] = visible_text(message.text, message.parse_mode)
        elif message.text is not None:
            body["text"] = visible_text(message.text, message.parse_mode)
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            body["reply_markup"] = message.reply_markup
        return body

    def group_update(
        self,
        chat_id: int,
        *,
        sender: int,
        text: str | None = None,
        added: bool = False,
        sender_is_bot: bool = False,
    ) -> int:
        """A message in a group chat (or, ``added``, the bot being added to it)."""
        self.groups.setdefault(chat_id, [])
        chat = {"id": chat_id, "type": "group", "title": "Line 4 friends"}
        person = {"id": sender, "is_bot": sender_is_bot, "first_name": "Someone"}
        if added:
            bot = {"id": 1, "is_bot": True, "first_name": "workvoice"}
            return self.push_update({"my_chat_member": {
                "chat": chat, "from": person, "date": int(time.time()),
                "old_chat_member": {"status": "left", "user": bot},
                "new_chat_member": {"status": "member", "user": bot},
            }})  # fmt: skip
        message_id = next(self._message_ids[chat_id])
        return self.push_update({"message": {
            "message_id": message_id, "date": int(time.time()), "chat": chat, "from": person,
            "text": text or "",
        }})  # fmt: skip

    async def _m_leavechat(self, p: dict[str, Any]) -> Any:
        self.left.append(int(p["chat_id"]))
        return True

    async def _m_sendmessage(self, p: dict[str, Any]) -> Any:
        group = self.groups.get(int(p.get("chat_id") or 0))
        if group is not None:
            group.append(str(p.get("text") or ""))
            chat = {"id": int(p["chat_id"]), "type": "group", "title": "Line 4 friends"}
            return {"message_id": len(group), "date": int(time.time()), "chat": chat,
                    "text": str(p.get("text") or "")}  # fmt: skip
        chat_id = self._chat(p)
        self._pay(p)
        text = str(p.get("text") or "")
        if not text.strip():
            raise bad_request("message text is empty")
        if utf16_len(visible_text(text, p.get("parse_mode"))) > TEXT_LIMIT:
            raise bad_request("message is too long")
        return self._store(chat_id, "sendMessage", text, p)

    async def _send_file(self, p: dict[str, Any], method: str, field_name: str) -> Any:
        chat_id = self._chat(p)
        caption = p.get("caption")
        if caption and utf16_len(visible_text(str(caption), p.get("parse_mode"))) > CAPTION_LIMIT:
            raise bad_request("message caption is too long")
        upload = p.get(field_name)
        content = upload["content"] if isinstance(upload, dict) else str(upload).encode()
        filename = upload["filename"] if isinstance(upload, dict) else str(upload)
        return self._store(chat_id, method, caption, p, document=content, filename=filename)

    async def _m_senddocument(self, p: dict[str, Any]) -> Any:
        return await self._send_file(p, "sendDocument", "document")

    async def _m_sendphoto(self, p: dict[str, Any]) -> Any:
        return await self._send_file(p, "sendPhoto", "photo")

    async def _m_sendvoice(self, p: dict[str, Any]) -> Any:
        """A voice message: an upload is kept under a new file id (as Telegram does, so the bot
        can send it again by that id), a file id must name a file this server has."""
        upload = p.get("voice")
        if isinstance(upload, str) and upload.startswith("attach://"):  # aiogram's file part
            upload = p.get(upload.removeprefix("attach://"))
        if isinstance(upload, dict):
            content = upload["content"]
            file_id = self.add_file(content, suffix="ogg")
        else:
            stored = self._files.get(str(upload))
            if stored is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
            content, file_id = stored.content, stored.file_id
        self.voice_uploads += isinstance(upload, dict)
        chat_id = self._chat(p)
        caption = p.get("caption")
        if caption and utf16_len(visible_text(str(caption), p.get("parse_mode"))) > CAPTION_LIMIT:
            raise bad_request("message caption is too long")
        return self._store(
            chat_id,
            "sendVoice",
            caption,
            p,
            document=content,
            filename="voice.ogg",
            file_id=file_id,
        )

    def _existing(self, p: dict[str, Any], action: str) -> SentMessage:
        chat_id = self._chat(p)
        message = self._current.get((chat_id, int(p.get("message_id") or 0)))
        if message is None or message.deleted:
            raise bad_request(f"message to {action} not found")
        return message

    async def _m_editmessagetext(self, p: dict[str, Any]) -> Any:
        old = self._existing(p, "edit")
        text = str(p.get("text") or "")
        if not text.strip():
            raise bad_request("message text is empty")
        if utf16_len(visible_text(text, p.get("parse_mode"))) > TEXT_LIMIT:
            raise bad_request("message is too long")
        markup = self._check_markup(p.get("reply_markup"))
        if text == old.text and markup == old.reply_markup:
            raise bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        return self._replace(
            old, "editMessageText", text=text, markup=markup, parse_mode=p.get("parse_mode")
        )

    async def _m_editmessagereplymarkup(self, p: dict[str, Any]) -> Any:
        old = self._existing(p, "edit")
        markup = self._check_markup(p.get("reply_markup"))
        if markup == old.reply_markup:
            raise bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        return self._replace(
            old, "editMessageReplyMarkup", text=old.text, markup=markup, parse_mode=old.parse_mode
        )

    def _replace(
        self,
        old: SentMessage,
        method: str,
        *,
        text: str | None,
        markup: dict[str, Any] | None,
        parse_mode: str | None,
    ) -> dict[str, Any]:
        new = SentMessage(
            chat_id=old.chat_id,
            message_id=old.message_id,
            text=text,
            parse_mode=parse_mode,
            reply_markup=markup,
            method=method,
            document=old.document,
            filename=old.filename,
            file_id=old.file_id,
        )
        self.sent.append(new)
        self._current[(old.chat_id, old.message_id)] = new
        self._chats[old.chat_id]._arrived()
        return self._message_json(new)

    def _delete(self, chat_id: int, message_id: int) -> bool:
        """Delete one message of either side; False when there is none (or it is gone)."""
        if self.incoming.get((chat_id, message_id)) is False:
            self.incoming[(chat_id, message_id)] = True
            self.deleted_ids.add((chat_id, message_id))
            return True
        message = self._current.get((chat_id, message_id))
        if message is None or message.deleted:
            return False
        for sent in self.sent:
            if sent.chat_id == chat_id and sent.message_id == message_id:
                sent.deleted = True
        self.deleted_ids.add((chat_id, message_id))
        return True

    def incoming_deleted(self, chat_id: int, message_id: int) -> bool:
        return self.incoming.get((chat_id, message_id), False)

    async def _m_deletemessage(self, p: dict[str, Any]) -> Any:
        chat_id = self._chat(p)
        if not self._delete(chat_id, int(p.get("message_id") or 0)):
            raise bad_request("message to delete not found")
        self._chats[chat_id]._arrived()
        return True

    async def _m_deletemessages(self, p: dict[str, Any]) -> Any:
        # Telegram: 1 to 100 ids; those it cannot find (or may no longer delete) are skipped.
        chat_id = self._chat(p)
        ids = p.get("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise bad_request("message identifiers are not specified")
        for message_id in ids:
            self._delete(chat_id, int(message_id))
        self._chats[chat_id]._arrived()
        return True

    async def _m_getfile(self, p: dict[str, Any]) -> Any:
        stored = self._files.get(str(p.get("file_id")))
        if stored is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_id + "u",
            "file_size": len(stored.content),
            "file_path": stored.path,
        }

    async def _m_close(self, p: dict[str, Any]) -> Any:
        return True

    async def _m_logout(self, p: dict[str, Any]) -> Any:
        return True


def _decode(value: str) -> Any:
    """aiogram sends nested objects (reply_markup, commands) as JSON strings in form fields."""
    if value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
