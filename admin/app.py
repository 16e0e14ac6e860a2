"""Console application factory."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from workvoice.context import AppContext


def create_console(ctx: AppContext) -> FastAPI:
    app = FastAPI(title="workvoice console", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ctx = ctx

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        return "<!doctype html><title>workvoice</title><h1>workvoice console</h1>"

    return app
