"""Inbound throughput: updates per second through the whole bot (dedupe, one transaction per
update, user and language loading, a flow, a reply) against the in-process Bot API server.

    .venv/bin/python -m benchmarks.inbound [--updates 2000] [--workers 200] [--database URL]

Compare with DESIGN §9: a bare aiogram echo bot handles about 490 updates/s on these machines.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from aiogram import Dispatcher, Router
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dispatcher import create_dispatcher
from bot.polling import Poller
from bot.runtime import ALLOWED_UPDATES, UpdateProcessor, create_bot
from bot.storage import migrate
from bot.storage.db import create_engine, create_sessionmaker
from tests.factories import make_worker
from workvoice.app import POLLING_CONCURRENCY
from workvoice.demo.simulator.server import FakeTelegram


async def _drive(
    telegram: FakeTelegram,
    dp: Dispatcher,
    updates: int,
    workers: int,
    sessions: async_sessionmaker[AsyncSession] | None = None,
) -> float:
    """Updates per second. With ``sessions``, through the product's poller (``bot.polling``:
    each update stored, claimed, handled and marked done before its batch is confirmed), as
    ``workvoice run`` polls; without, aiogram's own polling (the bare echo bot)."""
    bot = create_bot(telegram.token, telegram.base_url)
    stop = asyncio.Event()
    if sessions is not None:
        await dp.emit_startup(bot=bot)
        processor = UpdateProcessor(bot, dp, sessions)
        poller = Poller(
            bot,
            processor,
            concurrency=POLLING_CONCURRENCY,
            allowed_updates=ALLOWED_UPDATES,
            timeout=1,
        )
        polling = asyncio.create_task(poller.run(stop))
    else:
        polling = asyncio.create_task(
            dp.start_polling(bot, handle_signals=False, close_bot_session=False, polling_timeout=1)
        )
    await asyncio.sleep(1.0)
    baseline = len(telegram.sent)
    users = [telegram.user(10_000 + i) for i in range(workers)]
    started = time.perf_counter()
    for n in range(updates):
        telegram.push_update(telegram.make_message_update(users[n % workers].user_id, "/menu"))
    while len(telegram.sent) - baseline < updates:
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    if sessions is not None:
        stop.set()
    else:
        await dp.stop_polling()
    await polling
    await bot.session.close()
    return updates / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=200)
    parser.add_argument("--database", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    url = args.database or f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    for i in range(args.workers):
        await make_worker(sessions, 10_000 + i, factory_code="BENCH-1")

    telegram = FakeTelegram()
    await telegram.start()
    full = await _drive(telegram, create_dispatcher(sessions), args.updates, args.workers, sessions)

    echo_router = Router()

    @echo_router.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "")

    bare = Dispatcher()
    bare.include_router(echo_router)
    echo_rate = await _drive(telegram, bare, args.updates, args.workers)
    await telegram.stop()
    await engine.dispose()
    print(f"database: {url.split('://')[0]}  updates: {args.updates}  workers: {args.workers}")
    print(f"workvoice full stack: {full:7.1f} updates/s")
    print(f"bare aiogram echo:    {echo_rate:7.1f} updates/s  (same machine, same fake server)")
    print(f"ratio:                {full / echo_rate:7.2f}")


if __name__ == "__main__":
    asyncio.run(main())
