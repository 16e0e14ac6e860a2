"""Assembling a running process: bot, scheduler and console, together (``run``) or apart.

Imports of aiogram stay inside the functions that need the bot: ``import aiogram`` costs ~6 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import uvicorn
from sqlalchemy.exc import IntegrityError

from bot.storage import migrate
from bot.storage.db import transaction
from services import translations
from services.surveys.builder import do_install_templates
from workvoice.context import AppContext
from workvoice.kernel.settings import ConfigError, Settings
from workvoice.scheduler import create_scheduler
from workvoice.server import create_web_app

log = logging.getLogger(__name__)


class NotMigrated(ConfigError):
    pass


async def check_schema(ctx: AppContext, *, auto_upgrade: bool) -> None:
    head = migrate.head_revision()
    current = await migrate.current_revision(ctx.engine)
    if current == head:
        return
    if not auto_upgrade:
        raise NotMigrated(
            f"the database is at {current or 'no revision'}, the code needs {head}: "
            "run `workvoice db upgrade` first"
        )
    # Alembic drives its own event loop: run it in a thread so ours keeps going.
    await asyncio.to_thread(
        migrate.upgrade,
        ctx.settings.effective_database_url,
        secret_key=lambda: ctx.settings.effective_secret_key,
    )
    log.info("db.upgraded from=%s to=%s", current, head)


async def install_survey_templates(ctx: AppContext) -> None:
    """The built-in survey templates are there from the first start (idempotent)."""
    # Two replicas starting at once: one inserts, the other's unique key fails; both are fine.
    with contextlib.suppress(IntegrityError):
        async with transaction(ctx.sessions) as session:
            await do_install_templates(session)


# Updates handled at once in polling mode: half of the database pool (bot.storage.db), the rest
# is the scheduler's and the console's.
POLLING_CONCURRENCY = 5
# How long a SIGTERM waits for the batch in hand to be handled and confirmed.
STOP_GRACE = timedelta(seconds=20)


async def start_bot(ctx: AppContext) -> dict[str, Any]:
    """Create the bot and dispatcher and start receiving updates; returns what to stop later."""
    # Here, not at the top: a console-only process or a CLI command never loads aiogram (~6 s).
    from bot.delivery import Deliverer
    from bot.dispatcher import create_dispatcher, create_fsm_storage
    from bot.polling import Poller
    from bot.ratelimit import create_send_limiter
    from bot.runtime import (
        ALLOWED_UPDATES,
        WEBHOOK_PATH,
        UpdateProcessor,
        create_bot,
        webhook_endpoint,
    )

    settings = ctx.settings
    assert settings.bot_token is not None
    bot = create_bot(settings.bot_token.get_secret_value(), settings.telegram_api_url)
    dp = create_dispatcher(
        ctx.sessions,
        default_locale=settings.default_locale,
        storage=create_fsm_storage(
            settings.redis_url, ttl=timedelta(minutes=settings.draft_ttl_minutes)
        ),
        settings=settings,
        survey_store=ctx.survey_store,
    )
    me = await bot.get_me()
    ctx.bot_username = me.username
    await dp.emit_startup(bot=bot)
    # With Redis, every replica draws on one Telegram send budget (and honours one 429 pause).
    limiter = create_send_limiter(settings.redis_url, paid_per_second=settings.paid_broadcast_rate)
    parts: dict[str, Any] = {
        "bot": bot,
        "dp": dp,
        "limiter": limiter,
        "deliverers": [
            Deliverer(
                bot,
                ctx.sessions,
                limiter=limiter,
                settings=settings,
                only_free=settings.paid_broadcasts,
            )
        ],
    }
    if settings.paid_broadcasts:  # urgent broadcasts in a lane of their own
        from bot.paid_delivery import PaidDeliverer

        parts["deliverers"].append(
            PaidDeliverer(bot, ctx.sessions, limiter=limiter, settings=settings)
        )
    if settings.webhook_mode:
        assert settings.webhook_url is not None and settings.webhook_secret is not None
        processor = UpdateProcessor(bot, dp, ctx.sessions, redis_url=settings.redis_url)
        await bot.set_webhook(
            settings.webhook_url + WEBHOOK_PATH,
            secret_token=settings.webhook_secret.get_secret_value(),
            allowed_updates=ALLOWED_UPDATES,
        )
        await processor.recover()
        parts["webhook"] = webhook_endpoint(processor, settings.webhook_secret.get_secret_value())
        parts["processor"] = processor
        parts["keep_up_stop"] = asyncio.Event()
        parts["keep_up"] = asyncio.create_task(processor.keep_up(parts["keep_up_stop"]))
    else:
        # aiogram's polling does not remove a webhook set earlier; Telegram refuses getUpdates then.
        await bot.delete_webhook(drop_pending_updates=False)
        # Our poller, not aiogram's: it confirms a batch to Telegram only once it is handled
        # (bot.polling).
        processor = UpdateProcessor(bot, dp, ctx.sessions, redis_url=settings.redis_url)
        poller = Poller(
            bot, processor, concurrency=POLLING_CONCURRENCY, allowed_updates=ALLOWED_UPDATES
        )
        parts["polling_stop"] = asyncio.Event()
        parts["polling"] = asyncio.create_task(poller.run(parts["polling_stop"]))
        parts["processor"] = processor
    log.info("bot.started mode=%s", "webhook" if settings.webhook_mode else "polling")
    return parts


def check_port_free(host: str, port: int) -> None:
    """Fail early with a clear line instead of uvicorn's exit after the bot already started."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # As uvicorn binds: a connection of the previous process still in TIME_WAIT (Telegram's
        # keep-alive after a crash or a SIGTERM) must not keep a restart out for a minute.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise ConfigError(
                f"WORKVOICE_CONSOLE_PORT: {host}:{port} is already in use (is another workvoice "
                "running?). Stop it or choose another port."
            ) from None


async def serve(
    settings: Settings,
    *,
    bot: bool,
    console: bool,
    scheduler: bool,
    auto_upgrade: bool = False,
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
    prepare: Callable[[AppContext], Awaitable[None]] | None = None,
) -> None:
    """Run until SIGINT/SIGTERM (or ``stop`` is set). ``ready`` is set once everything listens.

    ``prepare`` runs after the schema is current and before anything starts (demo seeding).
    """
    check_port_free(settings.console_host, settings.console_port)
    ctx = AppContext.create(settings)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    tasks: list[asyncio.Task[Any]] = []
    parts: dict[str, Any] = {}
    sched = None
    try:
        await check_schema(ctx, auto_upgrade=auto_upgrade)
        await install_survey_templates(ctx)
        if prepare is not None:
            await prepare(ctx)
        # Reviewed translations in force before the first message, then kept current.
        watcher = translations.Watcher(ctx.sessions)
        await watcher.refresh()
        tasks.append(asyncio.create_task(watcher.run(stop)))
        if bot and not scheduler and not settings.redis_url:
            # Finished survey answers wait in this process's memory for the batch job.
            log.warning(
                "surveys.pool_local hint='without WORKVOICE_REDIS_URL run the scheduler in the "
                "bot process (workvoice run), or survey answers never reach the results'"
            )
        if bot and settings.bot_token is not None:
            parts = await start_bot(ctx)
            if scheduler:
                tasks.extend(asyncio.create_task(d.run_forever()) for d in parts["deliverers"])
        elif bot:
            log.warning(
                "bot.disabled reason=no_token hint='set WORKVOICE_BOT_TOKEN to talk to Telegram'"
            )
        if scheduler:
            sched = create_scheduler(ctx)
            sched.start()
        web = create_web_app(ctx, console=console, webhook=parts.get("webhook"))
        config = uvicorn.Config(
            web,
            host=settings.console_host,
            port=settings.console_port,
            log_config=None,
            access_log=False,
            lifespan="off",
        )
        server = uvicorn.Server(config)
        tasks.append(asyncio.create_task(server.serve()))
        while not server.started:
            if tasks[-1].done():
                await tasks[-1]
                raise ConfigError(
                    f"WORKVOICE_CONSOLE_PORT: could not listen on "
                    f"{settings.console_host}:{settings.console_port}"
                )
            await asyncio.sleep(0.05)
        log.info("web.listening url=http://%s:%s", settings.console_host, settings.console_port)
        if ready is not None:
            ready.set()
        await stop.wait()
        server.should_exit = True
    finally:
        if sched is not None:
            sched.shutdown(wait=False)
        if "polling" in parts:
            # SIGTERM: the batch in hand is finished and confirmed before the bot closes.
            parts["polling_stop"].set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(parts["polling"], timeout=STOP_GRACE.total_seconds())
        if "keep_up" in parts:
            parts["keep_up_stop"].set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(parts["keep_up"], timeout=STOP_GRACE.total_seconds())
        if "processor" in parts:
            await parts["processor"].close()
        for task in tasks:
            if not task.done() and task is not tasks[-1]:
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if "limiter" in parts:  # after the delivery loop above has stopped using it
            await parts["limiter"].close()
        if "bot" in parts:
            await parts["bot"].session.close()
        await ctx.close()
