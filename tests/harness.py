"""The real bot, in-process, long-polling the fake Telegram Bot API over real HTTP.

One Dispatcher serves the whole test process (aiogram routers attach to one parent, and importing
aiogram costs seconds); each test gets a fresh fake server, Bot, FSM storage and database.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.fsm.storage.base import BaseStorage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery import Deliverer
from bot.dispatcher import ExpiringMemoryStorage, create_dispatcher
from bot.polling import Poller
from bot.ratelimit import RateLimiter
from bot.runtime import ALLOWED_UPDATES, UpdateProcessor, create_bot
from services.surveys.store import MemorySurveyStore, SurveyStore
from tests.console import TEST_SECRET
from tests.telegram_fake import FakeTelegram, FakeUser
from workvoice.kernel.settings import Settings, load_settings


class SessionsProxy:
    """Stands in for the session factory so the one dispatcher can use each test's database."""

    def __init__(self) -> None:
        self.current: async_sessionmaker[AsyncSession] | None = None

    def __call__(self, **kw: Any) -> AsyncSession:
        assert self.current is not None, "no test database bound"
        return self.current(**kw)


_proxy = SessionsProxy()
_dispatcher: Dispatcher | None = None


def shared_dispatcher() -> tuple[Dispatcher, SessionsProxy]:
    global _dispatcher
    if _dispatcher is None:
        settings = load_settings(
            data_dir=Path(tempfile.mkdtemp(prefix="wv-bot-")), secret_key=TEST_SECRET
        )
        _dispatcher = create_dispatcher(
            _proxy,  # type: ignore[arg-type]
            default_locale="en",
            settings=settings,
            survey_store=MemorySurveyStore(),
        )
    return _dispatcher, _proxy


class BotHarness:
    def __init__(
        self,
        telegram: FakeTelegram,
        bot: Bot,
        dp: Dispatcher,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        self.telegram, self.bot, self.dp, self.sessions = telegram, bot, dp, sessions
        # No pacing in tests: the limiter is tested on its own.
        self.deliverer = Deliverer(
            bot,
            sessions,
            limiter=RateLimiter(per_second=10_000, per_chat_interval=0),
            settings=dp.workflow_data["settings"],
        )

    async def restart(self, *, survey_store: SurveyStore | None = None) -> None:
        """Stop polling and start again, as a restarted process would: new FSM memory and the
        given survey store (a fresh memory one unless given). The fake Telegram keeps its chats."""
        assert self._stop is not None and self._start is not None
        await self._stop()
        self.dp.fsm.storage = ExpiringMemoryStorage()
        self.dp.workflow_data["survey_store"] = survey_store or MemorySurveyStore()
        self._start()

    _stop: Any = None
    _start: Any = None
    _polling: Any = None

    def polling_task(self) -> Any:
        """The running poller's task (cancel it to kill the "process" without a goodbye)."""
        return self._polling[-1]

    def start_polling(self) -> None:
        """A new poller, as a restarted process starts one."""
        self._start()

    @property
    def survey_store(self) -> SurveyStore:
        """Where this test's survey drafts and finished responses wait (memory unless given)."""
        return self.dp.workflow_data["survey_store"]  # type: ignore[no-any-return]

    @property
    def settings(self) -> Settings:
        return self.dp.workflow_data["settings"]  # type: ignore[no-any-return]

    def user(
        self, user_id: int, *, language_code: str = "en", first_name: str = "Worker"
    ) -> FakeUser:
        return self.telegram.user(user_id, language_code=language_code, first_name=first_name)

    async def deliver(self) -> int:
        """Send everything due in the outbox now (what the scheduler loop does every second)."""
        total = 0
        while handled := await self.deliverer.run_once():
            total += handled
        return total


@contextlib.asynccontextmanager
async def running_bot(
    sessions: async_sessionmaker[AsyncSession],
    *,
    storage: BaseStorage | None = None,
    survey_store: SurveyStore | None = None,
) -> AsyncIterator[BotHarness]:
    telegram = FakeTelegram()
    await telegram.start()
    dp, proxy = shared_dispatcher()
    proxy.current = sessions
    dp.fsm.storage = storage or ExpiringMemoryStorage()
    dp.workflow_data["survey_store"] = survey_store or MemorySurveyStore()
    bot = create_bot(telegram.token, telegram.base_url)
    polling: list[asyncio.Task[Any]] = []

    stopping: list[asyncio.Event] = []

    def start() -> None:
        # The product's poller (bot.polling), as `workvoice run` uses it with a token.
        processor = UpdateProcessor(bot, dp, sessions)
        poller = Poller(bot, processor, concurrency=5, allowed_updates=ALLOWED_UPDATES, timeout=1)
        stopping.append(asyncio.Event())

        async def run(stop: asyncio.Event) -> None:
            await dp.emit_startup(bot=bot)  # commands, the reply-after-commit middleware
            await poller.run(stop)

        polling.append(asyncio.create_task(run(stopping[-1])))

    async def stop() -> None:
        stopping[-1].set()
        try:
            await asyncio.wait_for(polling[-1], timeout=5)
        except (TimeoutError, asyncio.CancelledError):
            polling[-1].cancel()

    start()
    harness = BotHarness(telegram, bot, dp, sessions)
    harness._start, harness._stop = start, stop
    harness._polling = polling
    try:
        yield harness
    finally:
        await stop()
        await dp.fsm.storage.close()
        await bot.session.close()
        await telegram.stop()
        proxy.current = None
