"""Reporting a problem and following it up, anonymously (the ``reports`` flow).

``intake`` files a report, ``follow_up`` (a wizard) lets the reporter read and answer her case,
``messages`` renders what the outbox delivers about reports (neutral texts), ``labels`` names
categories, harms and statuses.

Sealed from the first keystroke (DESIGN §4 rule 3): the narrative is sealed with the report public
key the moment it arrives, and files are downloaded and sealed into ``report_draft_files`` at once;
the conversation state (which expires, ``WORKVOICE_DRAFT_TTL_MINUTES``) holds only sealed boxes,
answers to the buttons and a count of files. Cancelling, sending, /menu, /start or an error clears
it.
"""

from __future__ import annotations

from aiogram import Bot, Dispatcher, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.types import ErrorEvent

from bot.flows.reports import follow_up, intake, messages
from bot.flows.reports.follow_up import FOLLOW
from bot.flows.reports.intake import Intake

__all__ = ["messages", "router"]  # ``messages`` registers the outbox renderers when imported

router = Router(name=__name__)
# Intake first, as in one file before: its catch-all for text during a report comes before /follow.
router.include_routers(intake.router, follow_up.router)


@router.error()
async def clear_on_error(event: ErrorEvent, bot: Bot, dispatcher: Dispatcher) -> None:
    """An error in the middle of a report or follow-up ends it (the update's transaction is rolled
    back; sealed files go with the next purge), then the general error reply runs.

    Errors are raised outside the FSM middleware, so the state is looked up here.
    """
    update = event.update
    source = update.message or (update.callback_query.message if update.callback_query else None)
    sender = update.message or update.callback_query
    user = getattr(sender, "from_user", None)
    chat = getattr(source, "chat", None)
    if user is not None and chat is not None:
        state = dispatcher.fsm.get_context(bot, chat_id=chat.id, user_id=user.id)
        current = await state.get_state()
        if current in Intake.__all_states_names__ or current in FOLLOW.states():
            await state.clear()
    raise SkipHandler
