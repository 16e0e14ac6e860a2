"""The chat trail: ids of the messages in each private chat, so the bot can take them off a shared
phone ("🧹 Remove my messages here", and a report's story once it is sent; review B3).

Telegram lets a bot delete both sides of a private chat for 48 hours, so the trail keeps each id
for 48 hours and no longer. It holds message ids only, never text: what a message said is not
needed to delete it. With Redis (the FSM storage is Redis) the trail is a sorted set per chat that
expires with its newest id, so every replica sees it; else it lives in this process's memory, with
the same expiry.

Incoming messages are recorded by ``IncomingMessages`` (a message middleware), outgoing ones by
``OutgoingMessages`` (a request middleware on the Bot's session) from the Message a send returns.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from array import array
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.methods import DeleteMessages, Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Message, TelegramObject
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

KEEP_SECONDS = 48 * 3600  # what Telegram allows a bot to delete in a private chat
DELETE_BATCH = 100  # deleteMessages takes at most 100 ids


class TrailStore(Protocol):
    async def add(self, chat_id: int, message_id: int) -> None: ...

    async def ids(self, chat_id: int) -> list[int]: ...

    async def drop(self, chat_id: int, ids: Iterable[int] | None = None) -> None: ...


class MemoryTrail:
    """One process's trail: chat → its (message id, second) pairs in one flat array, pruned on
    every use and swept of idle chats once a minute. An array rather than a dict of floats: a
    chat that got two messages takes about 100 bytes instead of 330 (100,000 new workers held
    about 30 MB as dicts; BENCHMARKS.md)."""

    def __init__(
        self, keep: float = KEEP_SECONDS, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.keep, self.clock = keep, clock
        self._chats: dict[int, array[int]] = {}
        self._swept = clock()

    def _prune(self, chat_id: int) -> array[int]:
        pairs = self._chats.get(chat_id)
        if pairs is None:
            return array("q")
        oldest = self.clock() - self.keep
        if any(pairs[i + 1] <= oldest for i in range(0, len(pairs), 2)):
            pairs = array(
                "q",
                (v for i in range(0, len(pairs), 2) if pairs[i + 1] > oldest
                 for v in (pairs[i], pairs[i + 1])),
            )  # fmt: skip
            self._chats[chat_id] = pairs
        if not pairs:
            self._chats.pop(chat_id, None)
        return pairs

    def _sweep(self) -> None:
        """Forget chats whose newest id is past keeping: workers who never write again."""
        now = self.clock()
        if now - self._swept < 60:
            return
        self._swept, oldest = now, now - self.keep
        for chat_id in [c for c, pairs in self._chats.items() if max(pairs[1::2]) <= oldest]:
            del self._chats[chat_id]

    async def add(self, chat_id: int, message_id: int) -> None:
        self._sweep()
        pairs = self._prune(chat_id)
        if message_id not in pairs[::2]:
            pairs.extend((message_id, math.ceil(self.clock())))
            self._chats[chat_id] = pairs

    async def ids(self, chat_id: int) -> list[int]:
        return sorted(self._prune(chat_id)[::2])

    async def drop(self, chat_id: int, ids: Iterable[int] | None = None) -> None:
        if ids is None:
            self._chats.pop(chat_id, None)
            return
        gone = set(ids)
        pairs = self._chats.get(chat_id)
        if pairs is not None:
            self._chats[chat_id] = array(
                "q",
                (v for i in range(0, len(pairs), 2) if pairs[i] not in gone
                 for v in (pairs[i], pairs[i + 1])),
            )  # fmt: skip
        self._prune(chat_id)

    @property
    def chats(self) -> int:
        return len(self._chats)


class RedisTrail:
    """A sorted set per chat (score: when), expiring 48 h after its newest id."""

    def __init__(self, redis: Redis, *, prefix: str = "workvoice:trail") -> None:
        self.redis, self.prefix = redis, prefix

    def _key(self, chat_id: int) -> str:
        return f"{self.prefix}:{chat_id}"

    async def add(self, chat_id: int, message_id: int) -> None:
        key, now = self._key(chat_id), time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {str(message_id): now})
            pipe.zremrangebyscore(key, "-inf", now - KEEP_SECONDS)
            pipe.expire(key, KEEP_SECONDS)
            await pipe.execute()

    async def ids(self, chat_id: int) -> list[int]:
        members = await self.redis.zrangebyscore(
            self._key(chat_id), time.time() - KEEP_SECONDS, "+inf"
        )
        return sorted(int(str(m, "ascii") if isinstance(m, bytes) else str(m)) for m in members)

    async def drop(self, chat_id: int, ids: Iterable[int] | None = None) -> None:
        if ids is None:
            await self.redis.delete(self._key(chat_id))
            return
        members = [str(i) for i in ids]
        if members:
            await self.redis.zrem(self._key(chat_id), *members)


_store: TrailStore = MemoryTrail()


def configure(storage: BaseStorage | None) -> TrailStore:
    """Keep the trail where the conversation state is kept: Redis when it is Redis."""
    global _store
    _store = RedisTrail(storage.redis) if isinstance(storage, RedisStorage) else MemoryTrail()
    return _store


def store() -> TrailStore:
    return _store


async def remember(chat_id: int, message_id: int) -> None:
    """Keep one message id of a private chat (the trail never fails the update that sends it)."""
    try:
        await _store.add(chat_id, message_id)
    except RedisError:
        log.warning("chat_trail.unavailable")


async def forget_and_delete(bot: Bot, chat_id: int, ids: Sequence[int]) -> None:
    """Delete these messages from the chat, both sides, as far as Telegram still allows (older
    than 48 hours, or already gone: skipped), and forget them."""
    for start in range(0, len(ids), DELETE_BATCH):
        batch = list(ids[start : start + DELETE_BATCH])
        with contextlib.suppress(TelegramAPIError):
            await bot.delete_messages(chat_id=chat_id, message_ids=batch)
    try:
        await _store.drop(chat_id, ids)
    except RedisError:
        log.warning("chat_trail.unavailable")


async def delete_all(bot: Bot, chat_id: int) -> int:
    """Delete every message of the trail of this chat; how many ids were tried."""
    try:
        ids = await _store.ids(chat_id)
    except RedisError:
        log.warning("chat_trail.unavailable")
        return 0
    await forget_and_delete(bot, chat_id, ids)
    with contextlib.suppress(RedisError):
        await _store.drop(chat_id)
    return len(ids)


def _private(message: Any) -> bool:
    return isinstance(message, Message) and message.chat.type == "private"


class IncomingMessages(BaseMiddleware):
    """Outer middleware on messages: the id of each message a worker sends in a private chat."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if _private(event):
            assert isinstance(event, Message)
            await remember(event.chat.id, event.message_id)
        return await handler(event, data)


class OutgoingMessages(BaseRequestMiddleware):
    """Request middleware on the Bot's session: the id of each message the bot sends or edits in
    a private chat, read from what Telegram returns."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        response = await make_request(bot, method)
        if isinstance(method, DeleteMessages):
            return response
        # aiogram's chain hands back the method's result (a Message), though typed as Response.
        result: Any = response.result if isinstance(response, Response) else response
        for message in result if isinstance(result, list) else [result]:
            if isinstance(message, Message) and message.chat.type == "private":
                await remember(message.chat.id, message.message_id)
        return response


def install(bot: Bot) -> None:
    """Record what this bot sends (once per Bot, however often startup runs)."""
    if not any(isinstance(m, OutgoingMessages) for m in bot.session.middleware):
        bot.session.middleware(OutgoingMessages())
