"""Periodic jobs on APScheduler 3. Jobs are thin: the database says what is due and who claimed it,
so any number of replicas can run the same jobs and each piece of due work happens once."""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import updates as raw_updates
from bot.storage.db import transaction
from services.clock import utcnow
from services.outbox import purge_handled
from workvoice import capabilities
from workvoice.context import AppContext
from workvoice.kernel import metrics
from workvoice.kernel.outage import is_outage

log = logging.getLogger(__name__)
# A job takes the application context: ``(ctx) -> Any``.
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
    older = utcnow() - timedelta(days=ctx.settings.outbox_retention_days)
    async with transaction(ctx.sessions) as session:
        removed = await purge_handled(session, older_than=older)
    if removed:
        log.info("outbox.purged count=%s", removed)


def capability_job(job: capabilities.Job) -> Job:
    """A manifest job with its ``"module:function"`` resolved."""
    module, _, function = job.run.partition(":")
    run: JobFn = getattr(importlib.import_module(module), function)
    return Job(job.name, job.every_seconds, run)


# The platform's own purges, then every capability's jobs as the manifest declares them.
JOBS: list[Job] = [
    Job("purge_raw_updates", 3600, purge_raw_updates),
    Job("purge_outbox", 3600, purge_outbox),
    *(capability_job(job) for job in capabilities.JOBS),
]


async def run_job(ctx: AppContext, job: Job) -> None:
    try:
        await job.run(ctx)
        metrics.JOB_RUNS.labels(job.name, "ok").inc()
    except asyncio.CancelledError:
        # The process is stopping (SIGTERM) mid-run: the job's transaction is rolled back and the
        # next process runs it again. Said in one line; APScheduler would log a traceback.
        log.info("job.stopped job=%s", job.name)
    except Exception as exc:
        metrics.JOB_RUNS.labels(job.name, "error").inc()
        if is_outage(exc):  # the database or Redis is out: the next run tries again
            log.warning("job.outage job=%s error=%s", job.name, type(exc).__name__)
        else:
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
