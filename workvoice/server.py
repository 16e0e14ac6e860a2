"""The HTTP side of a process: health, metrics, the Telegram webhook and the console, one server.

``/healthz`` is public and says only ok or that the database is unreachable; ``/metrics`` needs
``WORKVOICE_METRICS_TOKEN`` as a bearer token (404 when none is set).
"""

from __future__ import annotations

import hmac
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from workvoice.context import AppContext


def create_web_app(ctx: AppContext, *, console: bool, webhook: Any = None) -> Starlette:
    """``webhook`` is the endpoint from ``bot.runtime.webhook_endpoint`` (webhook mode only)."""

    async def healthz(request: Request) -> Response:
        try:
            async with ctx.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
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
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    routes: list[Any] = [Route("/healthz", healthz), Route("/metrics", metrics)]
    if webhook is not None:
        from bot.runtime import WEBHOOK_PATH  # only with the bot: keeps aiogram out otherwise

        routes.append(Route(WEBHOOK_PATH, webhook, methods=["POST"]))
    if console:
        from admin.app import create_console  # only with the console: a bot replica needs none

        routes.append(Mount("/", app=create_console(ctx)))
    return Starlette(routes=routes)
