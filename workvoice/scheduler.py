"""Periodic jobs on APScheduler 3. Jobs are thin: the database says what is due and who claimed it,
so any number of replicas can run the same jobs and each piece of due work happens once."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import updates as raw_updates
from bot.storage.db import transaction
from services.clock import utcnow
from workvoice.context import AppContext
from workvoice.kernel import metrics

log = logging.getLogger(__name__)
WORKER = f"{socket.gethostname()}:{os.getpid()}"
JobFn = Callable[[AppContext], Awaitable[Any]]


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: float
    run: JobFn


async def purge_raw_updates(ctx: AppContext) -> None:
    older = utcnow() - timedelta(days=ctx.settings.raw_update_retention_days)
    async with transaction(ctx.sessions) as session:
        removed = await raw_updates.purge(session, older_than=older)
    if removed:
        log.info("raw_updates.purged count=%s", removed)


async def purge_outbox(ctx: AppContext) -> None:
    from services.outbox import purge_handled

    older = utcnow() - timedelta(days=ctx.settings.outbox_retention_days)
    async with transaction(ctx.sessions) as session:
        removed = await purge_handled(session, older_than=older)
    if removed:
        log.info("outbox.purged count=%s", removed)


async def case_tasks(ctx: AppContext) -> None:
    from services.reports.jobs import run_case_tasks

    await run_case_tasks(ctx)


async def purge_closed_cases(ctx: AppContext) -> None:
    from services.reports.jobs import purge_closed_cases as purge

    await purge(ctx)


async def reporter_messages(ctx: AppContext) -> None:
    from services.reports.jobs import attach_reporter_messages

    await attach_reporter_messages(ctx)


async def report_drafts(ctx: AppContext) -> None:
    from services.reports.jobs import purge_draft_files

    await purge_draft_files(ctx)


async def survey_waves(ctx: AppContext) -> None:
    from services.surveys.waves import close_ended_waves, open_due_waves

    async with transaction(ctx.sessions) as session:
        opened = await open_due_waves(session, worker=WORKER)
        closed = await close_ended_waves(session)
    if opened or closed:
        log.info("survey_waves opened=%s closed=%s", len(opened), closed)


async def survey_batches(ctx: AppContext) -> None:
    """Finished responses into the anonymous tables, k or more at a time (logged per batch)."""
    from services.surveys.batches import flush_batches

    await flush_batches(
        ctx.sessions,
        ctx.survey_store,
        secret_key=ctx.settings.effective_secret_key,
        k=ctx.settings.suppression_k,
    )


async def committees(ctx: AppContext) -> None:
    from services.committees.jobs import run_committees

    await run_committees(ctx)


async def broadcasts(ctx: AppContext) -> None:
    from services.broadcasts.messages import fan_out_due

    sent = await fan_out_due(ctx.sessions, worker=WORKER, at_night=ctx.settings.news_at_night)
    if sent:
        log.info("broadcasts.queued count=%s", len(sent))


# Every capability adds its jobs here (deadlines, reminders, invitations, retention).
JOBS: list[Job] = [
    Job("purge_raw_updates", 3600, purge_raw_updates),
    Job("purge_outbox", 3600, purge_outbox),
    Job("case_tasks", 30, case_tasks),
    Job("purge_closed_cases", 6 * 3600, purge_closed_cases),
    Job("reporter_messages", 30, reporter_messages),
    Job("report_drafts", 600, report_drafts),
    Job("survey_waves", 60, survey_waves),
    Job("survey_batches", 300, survey_batches),
    Job("committees", 1, committees),
    Job("broadcasts", 5, broadcasts),
]


async def run_job(ctx: AppContext, job: Job) -> None:
    try:
        await job.run(ctx)
        metrics.JOB_RUNS.labels(job.name, "ok").inc()
    except Exception:
        metrics.JOB_RUNS.labels(job.name, "error").inc()
        log.exception("job.failed job=%s", job.name)


def create_scheduler(ctx: AppContext, jobs: list[Job] | None = None) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    for job in jobs if jobs is not None else JOBS:
        scheduler.add_job(
            run_job,
            "interval",
            seconds=job.every_seconds,
            args=(ctx, job),
            id=job.name,
            max_instances=1,
            coalesce=True,
            next_run_time=utcnow(),
        )
    return scheduler
