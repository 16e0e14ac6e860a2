"""Steps shared by the follow-up tests (``test_reports_follow_up*.py``): a report filed through the
real service (fast: no intake screens), and the worker opening it."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import text

from bot.i18n import gettext
from bot.storage.db import transaction
from services.reports.crypto import keyring
from services.reports.protocol import Category, Harm
from services.reports.submission import Intake, do_submit_report
from tests.factories import make_factory, make_worker
from tests.harness import BotHarness


def t(message: str, locale: str = "en", **params: object) -> str:
    return gettext(message, locale=locale, **params)


async def file_case(
    app: BotHarness, telegram_id: int, *, in_chat: bool = False, locale: str = "en"
) -> tuple[Any, str]:
    """A Bangladesh worker's report; returns the case and its 16-digit receipt (no spaces)."""
    factory = await make_factory(app.sessions)
    user = await make_worker(app.sessions, telegram_id, locale=locale)
    async with transaction(app.sessions) as s:
        case, receipt = await do_submit_report(
            s,
            Intake(
                category=Category.HARASSMENT,
                harm=Harm.SEXUAL_HARASSMENT,
                narrative="He touched me on the night shift.",
                danger=False,
                affects_others=None,
                follow_up_in_chat=in_chat,
                consent_to_share=False,
                consent_to_name=False,
                language=locale,
                submission_token=secrets.token_hex(12),
            ),
            keys=keyring(app.settings),
            secret_key=app.settings.effective_secret_key,
            reporter_user_id=user.id,
            factory=factory,
            country_code="BD",
        )
    assert receipt is not None
    return case, receipt.replace(" ", "")


async def attempts(app: BotHarness) -> int:
    """Wrong receipt or PIN guesses counted, over every chat."""
    async with app.sessions() as s:
        return int(await s.scalar(text("SELECT coalesce(sum(failures), 0) FROM receipt_attempts")))


async def state_of(app: BotHarness, chat: int) -> tuple[str | None, dict[str, Any]]:
    context = app.dp.fsm.get_context(app.bot, chat_id=chat, user_id=chat)
    return await context.get_state(), await context.get_data()
