"""Demo mode: the whole product on a laptop, with no Telegram token.

An in-process Telegram-compatible server (``workvoice.demo.simulator``) stands in for Telegram; the
bot runs unchanged against it through ``telegram_api_url``, and the console's phone simulator shows
simulated workers talking to it (``Phones``, which the demo hands to the console through the app
context). ``seed`` fills the database with realistic data (idempotent).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from workvoice import app as application
from workvoice.context import AppContext
from workvoice.demo.seed import demo_committee_code, seed_demo
from workvoice.demo.simulator.entities import SentMessage
from workvoice.demo.simulator.people import FakeUser
from workvoice.demo.simulator.server import FakeTelegram
from workvoice.kernel.settings import Settings

log = logging.getLogger(__name__)
DEMO_TOKEN = "100000001:DEMO-workvoice-simulator-token"  # noqa: S105 (talks only to the simulator)
DEMO_BOT = "workvoice_demo_bot"
FIRST_PHONE_ID = 7_000_001


class Phone:
    """One simulated worker: what they typed and what the bot showed them, in order."""

    def __init__(self, telegram: FakeTelegram, user: FakeUser, phone_id: int, title: str) -> None:
        self.telegram, self.user, self.id, self.title = telegram, user, phone_id, title
        # (position in telegram.sent when typed, text, message id): orders the worker's lines among
        # the bot's; the id tells when the bot deleted one (🧹 Remove my messages here).
        self.typed: list[tuple[int, str, int]] = []

    @property
    def language_code(self) -> str:
        return self.user.language_code

    @property
    def version(self) -> str:
        bot = [m for m in self.telegram.sent if m.chat_id == self.id]
        gone = sum(m.deleted for m in bot) + sum(
            self.telegram.incoming_deleted(self.id, mid) for _, _, mid in self.typed
        )
        return f"{len(self.typed)}:{len(bot)}:{gone}"

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "language_code": self.language_code}

    async def send(self, text: str) -> None:
        position = len(self.telegram.sent)
        await self.user.send(text)
        self.typed.append((position, text, self.user.last_message_id))

    async def tap(self, message_id: int, data: str) -> None:
        await self.user.tap_data(data, message_id=message_id)

    def voice(self, message_id: int) -> bytes | None:
        """The sound of a voice message the bot sent this phone (OGG/Opus), for its player."""
        for m in self.telegram.sent:
            if m.chat_id == self.id and m.message_id == message_id and m.is_voice and not m.deleted:
                return m.document
        return None

    def transcript(self) -> list[dict[str, Any]]:
        """The chat as the phone shows it: each bot message in its latest edit, deletions gone."""
        latest: dict[int, tuple[int, SentMessage]] = {}
        for index, message in enumerate(self.telegram.sent):
            if message.chat_id != self.id:
                continue
            first = latest.get(message.message_id, (index, message))[0]
            latest[message.message_id] = (first, message)
        entries: list[tuple[int, int, dict[str, Any]]] = []
        for first, message in latest.values():
            if message.deleted:
                continue
            entries.append((first, 1, _bot_entry(message)))
        for position, text, message_id in self.typed:
            if self.telegram.incoming_deleted(self.id, message_id):
                continue
            entries.append((position, 0, {"from": "user", "text": text}))
        entries.sort(key=lambda e: (e[0], e[1]))
        return [entry for _, _, entry in entries]


def _bot_entry(message: SentMessage) -> dict[str, Any]:
    markup = message.reply_markup or {}
    inline = [
        [
            {"text": b.get("text", ""), "data": b.get("callback_data"), "url": b.get("url")}
            for b in row
        ]
        for row in markup.get("inline_keyboard", [])
    ]
    keyboard = [
        [b.get("text", "") if isinstance(b, dict) else str(b) for b in row]
        for row in markup.get("keyboard", [])
    ]
    text = message.text or ""
    if message.filename and not message.is_voice:
        text = f"{text}\n📎 {message.filename}".strip()
    return {
        "from": "bot",
        "message_id": message.message_id,
        "voice": message.is_voice,  # played from /simulator/api/phones/<id>/voice/<message id>
        "html": text.replace("\n", "<br>"),
        "inline": inline,
        "keyboard": keyboard or None,
        "remove_keyboard": bool(markup.get("remove_keyboard")),
    }


class Phones:
    """The demo's simulated phones, and what the console's simulator page shows around them."""

    def __init__(self, telegram: FakeTelegram) -> None:
        self.telegram = telegram
        self._phones: dict[int, Phone] = {}
        self._ids = itertools.count(FIRST_PHONE_ID)

    def all(self) -> list[Phone]:
        return list(self._phones.values())

    def get(self, phone_id: int) -> Phone | None:
        return self._phones.get(phone_id)

    def create(self, *, language_code: str, name: str | None = None) -> Phone:
        phone_id = next(self._ids)
        number = phone_id - FIRST_PHONE_ID + 1
        title = name or f"Worker {number} ({language_code})"
        user = self.telegram.user(
            phone_id, language_code=language_code, first_name=f"Worker{number}"
        )
        phone = Phone(self.telegram, user, phone_id, title)
        self._phones[phone_id] = phone
        return phone

    def remove(self, phone_id: int) -> None:
        self._phones.pop(phone_id, None)

    async def committee_code(self, session: AsyncSession) -> str | None:
        """The seeded committee's current worker invitation code, for the simulator's tour."""
        return await demo_committee_code(session)


async def run_demo(
    settings: Settings,
    *,
    seed: bool = True,
    announce: Callable[[str], None] = print,
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    telegram = FakeTelegram(token=DEMO_TOKEN, bot_username=DEMO_BOT)
    await telegram.start()
    demo_settings = settings.model_copy(
        update={
            "bot_token": SecretStr(DEMO_TOKEN),
            "telegram_api_url": telegram.base_url,
            "demo": True,
            "news_at_night": True,
            "webhook_url": None,
            "webhook_secret": None,
            # The demo's accounts and codes are public: it never holds the real server's secrets
            # (L8); it generates its own into its data directory.
            "secret_key": None,
            "report_public_key": None,
            "report_private_key": None,
            "report_old_private_keys": None,
        }
    )
    demo_settings.__dict__.pop("effective_secret_key", None)  # a cached copy of the real one
    phones = Phones(telegram)
    data_dir = os.path.abspath(settings.data_dir)  # noqa: ASYNC240 (once, at start-up)

    async def prepare(ctx: AppContext) -> None:
        ctx.phones = phones
        if seed:
            accounts = await seed_demo(ctx)
        else:
            accounts = []
        url = f"http://{settings.console_host}:{settings.console_port}"
        lines = [
            f"workvoice demo is running (data in {data_dir})",
            f"  phone simulator: {url}/simulator",
            f"  console:         {url}/login",
        ]
        lines += [
            f"  {role:<16} {email}  password: {password}" for role, email, password in accounts
        ]
        lines.append("Press Ctrl+C to stop.")
        announce("\n".join(lines))

    try:
        await application.serve(
            demo_settings,
            bot=True,
            console=True,
            scheduler=True,
            auto_upgrade=True,
            prepare=prepare,
            ready=ready,
            stop=stop,
        )
    finally:
        await telegram.stop()
