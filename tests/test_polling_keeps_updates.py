"""Polling lets go of an update only once it is handled (issue 18, §1 and §2).

The reliability review lost 1,200 of 1,200 updates sent while PostgreSQL was down for 30 s, each
answered "Nothing you sent was lost": aiogram confirmed every update to Telegram as it read it.
Here the database goes away (every new session fails as a dead server makes it fail) while
workers write; Telegram must still hold their updates, nobody may be told "sorry", and once the
database is back each worker gets exactly one real answer. A poller stopped in the middle of a
batch (a crash) leaves the batch with Telegram, and the next poller handles each update once.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiogram.types import Update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import updates as raw_updates
from bot.i18n import gettext
from bot.runtime import UpdateProcessor
from bot.storage.db import transaction
from tests.factories import make_worker
from tests.harness import running_bot

SORRY = gettext(
    "Sorry, something went wrong on our side. Nothing you sent was lost; "
    "please try again in a moment.",
    locale="en",
)


class Outage:
    """A sessionmaker whose sessions fail while the database is "down"."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.down = False

    def __call__(self, *args: Any, **kwargs: Any) -> AsyncSession:
        if self.down:
            raise OperationalError("connect", {}, ConnectionRefusedError("database is down"))
        return self.sessions(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sessions, name)


async def test_updates_sent_while_the_database_is_down_are_kept_and_answered_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    outage = Outage(sessions)
    async with running_bot(outage) as app:  # type: ignore[arg-type]
        workers = [app.user(7100 + i, language_code="en") for i in range(6)]
        for worker in workers:  # known to the bot before the outage
            await worker.send("/start")
            await worker.wait_reply()
            await worker.wait_idle()
        before = {id(w): len(w.messages) for w in workers}
        outage.down = True
        for worker in workers:
            await worker.send("/menu")
        await asyncio.sleep(1.5)  # the poller reads them and tries, and tries again
        waiting = await app.telegram._m_getwebhookinfo({})
        assert waiting["pending_update_count"] == len(workers)  # nothing confirmed to Telegram
        assert all(len(w.messages) == before[id(w)] for w in workers)  # and no "sorry"
        outage.down = False
        for worker in workers:
            await worker.wait_reply()
            replies = await worker.wait_idle()
            new = worker.messages[before[id(worker)] :]
            assert len(new) == 1, [m.text for m in new]  # one answer, not two
            assert all(SORRY not in (m.text or "") for m in [*new, *replies])
        for _ in range(50):  # the handled batch is confirmed with the next poll
            if (await app.telegram._m_getwebhookinfo({}))["pending_update_count"] == 0:
                break
            await asyncio.sleep(0.1)
        assert (await app.telegram._m_getwebhookinfo({}))["pending_update_count"] == 0


async def test_a_batch_read_before_a_crash_is_handled_once_by_the_next_poller(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    outage = Outage(sessions)
    async with running_bot(outage) as app:  # type: ignore[arg-type]
        worker = app.user(7200, language_code="en")
        await worker.send("/start")
        await worker.wait_reply()
        await worker.wait_idle()
        seen = len(worker.messages)
        outage.down = True
        await worker.send("/menu")
        await asyncio.sleep(1.0)  # read, not handled
        app.polling_task().cancel()  # the process dies (kill -9: nothing runs after this)
        outage.down = False
        app.start_polling()  # a new process
        await worker.wait_reply()
        await worker.wait_idle()
        assert len(worker.messages) == seen + 1  # handled, once


async def test_an_update_whose_claim_could_not_be_given_back_is_handled_when_its_batch_returns(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The database went away mid-update and the claim could not be released: the row stays
    'processing' with a fresh claim. When Telegram hands the batch back, the poller (the only
    one handling updates) takes it; before, it skipped the update as if done and lost it (the
    fault test with PostgreSQL stopped under polling found this)."""
    async with running_bot(sessions) as app:
        await make_worker(sessions, 4401)
        app.user(4401)
        payload = app.telegram.make_message_update(4401, "/menu")
        update = Update.model_validate(payload, context={"bot": app.bot})
        async with transaction(sessions) as session:
            await raw_updates.store(session, update.update_id)
            assert await raw_updates.claim(session, update.update_id)  # then the outage
        processor = UpdateProcessor(app.bot, app.dp, sessions)
        await processor.handle(update)
        assert len(app.user(4401).messages) == 1
        async with sessions() as session:
            assert await raw_updates.handled(session, update.update_id)
