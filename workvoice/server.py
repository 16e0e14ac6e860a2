"""The HTTP side of a process: health, metrics, the Telegram webhook and the console, one server.

``/healthz`` is public and says only ok, or which dependency (the database, Redis) did not answer
within ``CHECK_TIMEOUT``; ``/metrics`` needs ``WORKVOICE_METRICS_TOKEN`` as a bearer token (404
when none is set) and reports the same checks and the updates still waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from bot.storage.models import RawUpdate, UpdateStatus
from workvoice.context import AppContext
from workvoice.kernel import metrics as counters
from workvoice.kernel.redis import connect as connect_redis

CHECK_TIMEOUT = 3.0  # a dependency slower than this is as good as down for a Telegram update


async def check_dependencies(ctx: AppContext) -> dict[str, bool]:
    """Whether each dependency this process uses answers now: the database always, Redis when
    configured. Checked concurrently, each bounded by ``CHECK_TIMEOUT`` (a hung one must not
    hang the health check)."""

    async def database() -> None:
        async with ctx.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def redis() -> None:
        url = ctx.settings.redis_url
        assert url is not None
        client = connect_redis(url, timeout=CHECK_TIMEOUT, connect_timeout=CHECK_TIMEOUT)
        try:
            await client.ping()
        finally:
            await client.aclose()

    async def answers(check: Callable[[], Awaitable[None]]) -> bool:
        try:
            await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT)
        except Exception:
            return False
        return True

    names: list[tuple[str, Callable[[], Awaitable[None]]]] = [("database", database)]
    if ctx.settings.redis_url:
        names.append(("redis", redis))
    results = await asyncio.gather(*(answers(check) for _, check in names))
    return {name: up for (name, _), up in zip(names, results, strict=True)}


async def _updates_waiting(ctx: AppContext) -> int:
    async with ctx.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(RawUpdate)
            .where(RawUpdate.status.in_([UpdateStatus.PENDING, UpdateStatus.PROCESSING]))
        )
    return int(count or 0)


def create_web_app(ctx: AppContext, *, console: bool, webhook: Any = None) -> Starlette:
    """``webhook`` is the endpoint from ``bot.runtime.webhook_endpoint`` (webhook mode only)."""

    async def healthz(request: Request) -> Response:
        down = [name for name, up in (await check_dependencies(ctx)).items() if not up]
        if down:
            return JSONResponse({"status": "error", "unreachable": down}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def metrics(request: Request) -> Response:
        # Not for anyone who can reach the console port: only a scraper holding METRICS_TOKEN.
        token = ctx.settings.metrics_token
        if token is None or not token.get_secret_value():
            return PlainTextResponse("Not Found", status_code=404)
        expected = f"Bearer {token.get_secret_value()}".encode()
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return PlainTextResponse(
                "Unauthorized", status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
        checks = await check_dependencies(ctx)
        for name, up in checks.items():
            counters.DEPENDENCY_UP.labels(name).set(1 if up else 0)
        if checks["database"]:
            with contextlib.suppress(Exception):  # the database just answered; a blip skips it
                counters.UPDATES_WAITING.set(await _updates_waiting(ctx))
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    routes: list[Any] = [Route("/healthz", healthz), Route("/metrics", metrics)]
    if webhook is not None:
        from bot.runtime import WEBHOOK_PATH  # only with the bot: keeps aiogram out otherwise

        routes.append(Route(WEBHOOK_PATH, webhook, methods=["POST"]))
    if console:
        from admin.app import create_console  # only with the console: a bot replica needs none
        from bot.flowdocs import ScreenBook

        ctx.screens = ctx.screens or ScreenBook()
        routes.append(Mount("/", app=create_console(ctx)))
    return Starlette(routes=routes)
