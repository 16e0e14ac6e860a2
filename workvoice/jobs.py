"""The capability jobs that need more than a domain verb: the survey store of the application
context, or a log line around the verb. The manifest (``workvoice.capabilities``) points at them;
jobs that are a domain verb alone are named there directly (``services.reports.jobs:...``)."""

from __future__ import annotations

import logging
import os
import socket

from bot.storage.db import transaction
from services.broadcasts.messages import fan_out_due
from services.surveys.batches import flush_batches
from services.surveys.waves import close_ended_waves, invite_late_joiners, open_due_waves
from workvoice.context import AppContext

log = logging.getLogger(__name__)
WORKER = f"{socket.gethostname()}:{os.getpid()}"


async def survey_waves(ctx: AppContext) -> None:
    """Open the waves that are due, invite workers who joined an open wave's audience since it
    opened, and close the waves that ended."""
    async with transaction(ctx.sessions) as session:
        opened = await open_due_waves(session, worker=WORKER)
        late = await invite_late_joiners(session)
        closed = await close_ended_waves(session)
    if opened or closed or late:
        log.info("survey_waves opened=%s late_invited=%s closed=%s", len(opened), late, closed)


async def survey_batches(ctx: AppContext) -> None:
    """Finished responses into the anonymous tables, k or more at a time (logged per batch)."""
    await flush_batches(
        ctx.sessions,
        ctx.survey_store,
        secret_key=ctx.settings.effective_secret_key,
        k=ctx.settings.suppression_k,
    )


async def broadcasts(ctx: AppContext) -> None:
    """Queue the messages of broadcasts whose time has come."""
    sent = await fan_out_due(
        ctx.sessions,
        worker=WORKER,
        at_night=ctx.settings.news_at_night,
        paid=ctx.settings.paid_broadcasts,
    )
    if sent:
        log.info("broadcasts.queued count=%s", len(sent))
