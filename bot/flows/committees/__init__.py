"""Committee members in the bot: join with an invitation (``join``), see the next meeting, answer
whether they will come, add agenda items, see and close their action items, leave (``seat``); the
secretary writes minutes and adds action items (``secretary``).

Reminders, quorum warnings, changes, minutes and action items arrive from the outbox; the
renderers in ``messages`` write them in each member's own language with the factory's local time.
``texts`` holds the callback data, texts and keyboards they share.
"""

from __future__ import annotations

from aiogram import Router

from bot.flows.committees import join, messages, seat, secretary

router = Router(name=__name__)
router.include_routers(join.router, seat.router, secretary.router)

__all__ = ["messages", "router"]
