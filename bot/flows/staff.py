"""Staff linking their own Telegram account to receive urgent case alerts (``/staff CODE``).

The code comes from the console's account page; nothing here touches worker data.
"""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import _
from services.staff_telegram import do_link_telegram

log = logging.getLogger(__name__)
router = Router(name=__name__)


@router.message(Command("staff"))
async def link_staff_account(
    message: Message, command: CommandObject, session: AsyncSession
) -> None:
    assert message.from_user is not None
    staff = await do_link_telegram(session, command.args or "", message.from_user.id)
    if staff is None:
        await message.answer(
            _("This code is not valid or has expired. Create a new one in the console.")
        )
        return
    log.info("staff.telegram_linked staff=%s", staff.id)
    await message.answer(
        _("Your staff account is linked. Urgent case alerts will come to this chat.")
    )
