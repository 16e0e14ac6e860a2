"""``create_dispatcher``: the one place the bot is wired together, for ``main`` and the tests alike."""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import AsyncGenerator, Callable, Hashable, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from aiogram import Bot, Dispatcher, F, Router
from aiogram.exceptions import TelegramForbiddenError
from aiogram.filters import ExceptionTypeFilter
from aiogram.fsm.storage.base import (
    BaseEventIsolation,
    BaseStorage,
    DefaultKeyBuilder,
    StateType,
    StorageKey,
)
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.types import ErrorEvent
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import chat_trail, wizard
from bot.i18n import _
from bot.middlewares import UpdateMiddleware, install_commit_before_reply
from bot.runtime import is_outage
from bot.storage.db import transaction
from bot.widgets import main_menu_keyboard
from services.errors import DomainError
from services.onboarding import do_mark_blocked, get_user
from workvoice import capabilities
from workvoice.kernel.redis import connect as connect_redis

log = logging.getLogger(__name__)

# One router per conversation, in the order they get a chance at an update (gatekeeping flows
# first, the fallback ``bot.flows.fallback`` last), as the capability manifest declares them.
FLOW_MODULES: tuple[str, ...] = capabilities.FLOW_MODULES


DEFAULT_STATE_TTL = timedelta(hours=2)
SWEEP_EVERY = 60.0  # seconds between sweeps of idle conversations held in memory


class ExpiringMemoryStorage(MemoryStorage):
    """aiogram's MemoryStorage, but a conversation's state and data vanish ``ttl`` after their
    last change, as with Redis's ``state_ttl``/``data_ttl`` (an abandoned report draft must not
    live as long as the process). ``clock`` is injectable for tests."""

    def __init__(
        self, ttl: timedelta = DEFAULT_STATE_TTL, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.ttl = ttl.total_seconds()
        self.clock = clock
        self._changed: dict[StorageKey, float] = {}
        self._swept = clock()

    def _expire(self, key: StorageKey) -> None:
        changed = self._changed.get(key)
        if changed is not None and self.clock() - changed >= self.ttl:
            self.storage.pop(key, None)
            self._changed.pop(key, None)

    def _sweep(self) -> None:
        """Drop every conversation left idle past the TTL, not only those touched again: the
        workers who never come back would otherwise stay in memory for the life of the process.
        At most once a minute, so a write costs O(1) on average."""
        now = self.clock()
        if now - self._swept < SWEEP_EVERY:
            return
        self._swept = now
        for key in [k for k, changed in self._changed.items() if now - changed >= self.ttl]:
            self.storage.pop(key, None)
            self._changed.pop(key, None)

    def _touch(self, key: StorageKey) -> None:
        self._sweep()
        record = self.storage.get(key)
        if record is None or (record.state is None and not record.data):
            self.storage.pop(key, None)  # nothing left: forget the key itself too
            self._changed.pop(key, None)
        else:
            self._changed[key] = self.clock()

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        self._expire(key)
        await super().set_state(key, state)
        self._touch(key)

    async def get_state(self, key: StorageKey) -> str | None:
        self._expire(key)
        return self.storage[key].state if key in self.storage else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        self._expire(key)
        await super().set_data(key, data)
        self._touch(key)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        self._expire(key)
        return self.storage[key].data.copy() if key in self.storage else {}

    async def get_value(
        self, storage_key: StorageKey, dict_key: str, default: Any | None = None
    ) -> Any | None:
        return (await self.get_data(storage_key)).get(dict_key, default)


def create_fsm_storage(
    redis_url: str | None, *, prefix: str = "workvoice", ttl: timedelta = DEFAULT_STATE_TTL
) -> BaseStorage:
    """Conversation state that expires ``ttl`` after its last change (``WORKVOICE_DRAFT_TTL_MINUTES``).

    One TTL serves every flow: two hours is long for a report draft left open and still ample for
    a survey or a committee step, which are saved elsewhere as they go.
    """
    if not redis_url:
        return ExpiringMemoryStorage(ttl)
    return RedisStorage(
        connect_redis(redis_url),
        key_builder=DefaultKeyBuilder(prefix=prefix, with_destiny=True),
        state_ttl=ttl,
        data_ttl=ttl,
    )


class ChatLocks(BaseEventIsolation):
    """aiogram's ``SimpleEventIsolation`` keeps one lock per chat for the life of the process (its
    own TODO says so): a lock per worker who ever wrote. This one drops a chat's lock as soon as no
    update holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncGenerator[None, None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            held = self._locks.get(key)  # close() may have dropped it while this update ran
            if held is not None:
                lock, users = held
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)

    @property
    def chats(self) -> int:
        """Chats with an update in hand or waiting (not ``__len__``: aiogram tests the isolation
        for truth, and an empty one would read as none at all)."""
        return len(self._locks)

    async def close(self) -> None:
        self._locks.clear()


def create_isolation(storage: BaseStorage) -> BaseEventIsolation:
    """One update at a time per chat, held until its transaction has committed: a worker's next
    tap (or the next photo of an album) is handled only after the previous one is stored, so it
    never reads a state or a row from before. With Redis the lock holds across replicas."""
    if isinstance(storage, RedisStorage):
        return storage.create_isolation()
    return ChatLocks()


def create_dispatcher(
    sessions: async_sessionmaker[AsyncSession],
    *,
    default_locale: str = "en",
    storage: BaseStorage | None = None,
    **workflow_data: Any,
) -> Dispatcher:
    storage = storage or ExpiringMemoryStorage()
    dp = Dispatcher(
        storage=storage,
        events_isolation=create_isolation(storage),
        sessions=sessions,
        **workflow_data,
    )
    dp.update.outer_middleware(UpdateMiddleware(sessions, default_locale=default_locale))
    dp.startup.register(_on_startup)
    chat_trail.configure(storage)  # message ids for 🧹 Remove my messages here (B3)
    dp.message.outer_middleware(chat_trail.IncomingMessages())
    dp.include_router(wizard.router)  # /cancel ends whatever conversation the worker is in
    for name in FLOW_MODULES:
        module = importlib.import_module(name)
        dp.include_router(module.router)
    dp.include_router(_errors_router(sessions))
    return dp


async def _on_startup(bot: Bot) -> None:
    install_commit_before_reply(bot)  # what a reply promises is stored before it is sent


def _errors_router(sessions: async_sessionmaker[AsyncSession]) -> Router:
    router = Router(name="errors")

    @router.error(ExceptionTypeFilter(TelegramForbiddenError))
    async def blocked(event: ErrorEvent) -> None:
        tg_user = _event_user(event)
        if tg_user is None:
            return
        async with transaction(sessions) as session:
            user = await get_user(session, tg_user)
            if user is not None:
                await do_mark_blocked(session, user.id)
        log.info("user.blocked_bot")

    @router.error(ExceptionTypeFilter(DomainError), F.update.message | F.update.callback_query)
    async def domain_error(event: ErrorEvent) -> None:
        exc = event.exception
        assert isinstance(exc, DomainError)
        await _reply(event, exc.translated())

    @router.error()
    async def anything_else(event: ErrorEvent) -> None:
        if is_outage(event.exception):
            # The database or Redis is out: no "sorry", the update stays stored and is handled
            # when they are back (bot.polling, UpdateProcessor), so what the reply below
            # promises is true.
            raise event.exception
        # Type and update id only: the exception text may quote what the worker wrote. The
        # traceback keeps frames and types; workvoice.kernel.logs.SafeFormatter drops every message.
        log.error(
            "update.failed update_id=%s error=%s",
            event.update.update_id,
            type(event.exception).__name__,
            exc_info=event.exception,
        )
        await _reply(
            event,
            _(
                "Sorry, something went wrong on our side. Nothing you sent was lost; "
                "please try again in a moment."
            ),
        )

    return router


def _event_user(event: ErrorEvent) -> int | None:
    update = event.update
    source = update.message or update.callback_query or update.edited_message
    user = getattr(source, "from_user", None)
    return user.id if user is not None else None


async def _reply(event: ErrorEvent, text: str) -> None:
    update = event.update
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text[:200], show_alert=True)
        elif update.message is not None:
            await update.message.answer(text, reply_markup=main_menu_keyboard())
    except Exception:  # the error reply itself failed (blocked, network): nothing more to do
        log.warning("update.error_reply_failed update_id=%s", update.update_id)
