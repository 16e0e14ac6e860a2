"""Private chats only (issue 18, §7; DESIGN §9): in a group the reliability review saw the bot
answer /start and /menu, start the harassment intake in front of everyone, and store strangers
and another bot as users. Now it says once where to find it, leaves, and stores nobody."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.i18n import gettext
from bot.storage.models import User
from tests.harness import BotHarness

NOTICE = gettext(
    "I only talk with people one by one, in a private chat, so that what you tell me stays "
    "private. Tap my name, then Start, to talk with me.",
    locale="en",
)


async def settle(app: BotHarness) -> None:
    for _ in range(50):
        if (await app.telegram._m_getwebhookinfo({}))["pending_update_count"] == 0:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)


async def users(app: BotHarness) -> int:
    async with app.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(User)) or 0)


async def test_in_a_group_the_bot_says_once_where_to_find_it_and_leaves(app: BotHarness) -> None:
    group = -100_4242
    app.telegram.group_update(group, sender=81_001, added=True)
    await settle(app)
    assert app.telegram.groups[group] == [NOTICE] and app.telegram.left == [group]
    # Messages that reach it anyway (before Telegram took it out): /report, /start, a bot.
    app.telegram.group_update(group, sender=81_002, text="/report")
    app.telegram.group_update(group, sender=81_003, text="/start")
    app.telegram.group_update(group, sender=81_999, text="hello", sender_is_bot=True)
    await settle(app)
    said = app.telegram.groups[group]
    assert all(text == NOTICE for text in said)  # never the intake, never the menu
    assert await users(app) == 0  # nobody met in a group is stored


async def test_a_group_notice_is_in_the_senders_language(app: BotHarness) -> None:
    group = -100_4343
    app.telegram.group_update(group, sender=81_010, text="/start")
    await settle(app)
    assert app.telegram.groups[group] == [NOTICE]  # the fake's people write in English
    assert gettext(NOTICE, locale="bn") != NOTICE  # and it is translated for everyone else


async def test_private_chats_are_unchanged(app: BotHarness) -> None:
    worker = app.user(81_100, language_code="en")
    await worker.send("/start")
    reply = await worker.wait_reply()
    assert gettext("Choose your language:", locale="en") in (reply.text or "")
    assert app.telegram.left == []
