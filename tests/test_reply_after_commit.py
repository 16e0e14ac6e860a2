"""What the bot shows a worker is stored before it is shown (issue 17, "save before answering"):
the worker's next tap, another replica, or a crash right after the reply can never meet a promise
that the database does not hold."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from bot.i18n import gettext
from bot.storage.models import User
from tests.harness import BotHarness


async def test_the_reply_to_consent_leaves_after_the_consent_is_stored(app: BotHarness) -> None:
    worker = app.user(4401, language_code="en")
    stored_when_shown: list[int] = []
    original_send = app.telegram._m_sendmessage
    original_edit = app.telegram._m_editmessagetext

    async def users_now() -> int:
        async with app.sessions() as other:
            found = await other.scalar(
                select(func.count())
                .select_from(User)
                .where(User.telegram_id == 4401, User.consent_at.is_not(None))
            )
            return int(found or 0)

    async def send(p: dict[str, Any]) -> Any:
        stored_when_shown.append(await users_now())
        return await original_send(p)

    async def edit(p: dict[str, Any]) -> Any:
        stored_when_shown.append(await users_now())
        return await original_edit(p)

    await worker.send("/start")
    await worker.wait_reply(contains=gettext("Choose your language:", locale="en"))
    await worker.tap("English")
    await worker.wait_reply()
    await worker.wait_idle()
    app.telegram._m_sendmessage = send  # type: ignore[method-assign]
    app.telegram._m_editmessagetext = edit  # type: ignore[method-assign]
    await worker.tap(gettext("✅ I agree", locale="en"))
    await worker.wait_reply()
    await worker.wait_idle()
    assert stored_when_shown, "the bot answered the consent"
    assert all(count == 1 for count in stored_when_shown), stored_when_shown
