"""Driving the bot through its webhook endpoint, as Telegram does in production, and reading the
database files afterwards as a backup, a replica or a stolen disk would (DESIGN §4.7, issue 14)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from bot.runtime import UpdateProcessor, webhook_endpoint
from tests.conftest import Database
from tests.console import make_context
from tests.files import read_from_outside
from tests.harness import BotHarness
from workvoice.server import create_web_app


def webhook_client(
    app: BotHarness, db: Database, data_dir: Path, secret: str
) -> tuple[httpx.AsyncClient, UpdateProcessor]:
    """The web app with only the webhook endpoint (no console), on the bot's dispatcher."""
    processor = UpdateProcessor(app.bot, app.dp, app.sessions)
    web = create_web_app(
        make_context(db.sessions, db.engine, data_dir),
        console=False,
        webhook=webhook_endpoint(processor, secret),
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://bot.test")
    return client, processor


def route_through_webhook(
    app: BotHarness, client: httpx.AsyncClient, secret: str
) -> list[asyncio.Task[Any]]:
    """Every update a fake phone sends is POSTed to the webhook endpoint instead of waiting for
    polling (the endpoint stores it before answering 200, then handles it). Returns the posts, to
    gather and check their status codes."""
    posts: list[asyncio.Task[Any]] = []
    telegram = app.telegram

    def push(update: dict[str, Any]) -> int:
        update.setdefault("update_id", next(telegram._update_ids))
        posts.append(
            asyncio.get_running_loop().create_task(
                client.post(
                    "/telegram/webhook",
                    json=update,
                    headers={"X-Telegram-Bot-Api-Secret-Token": secret},
                )
            )
        )
        return int(update["update_id"])

    telegram.push_update = push  # type: ignore[method-assign]
    return posts


def files_holding(paths: list[Path], needle: bytes) -> list[str]:
    """Which of the files hold ``needle`` anywhere in their bytes (missing files hold nothing)."""
    found = []
    for path in paths:
        try:
            if needle in read_from_outside(path):
                found.append(str(path))
        except (FileNotFoundError, PermissionError):
            continue
    return found


async def database_files(db: Database, since: float) -> list[Path]:
    """Every file a database reader would take: the SQLite file and its journals, or this
    PostgreSQL database's relation files and the cluster's WAL written since ``since``."""
    if db.backend == "sqlite":
        base = Path(db.url.split("///", 1)[1])
        return [base, Path(f"{base}-wal"), Path(f"{base}-journal")]
    async with db.engine.connect() as conn:
        await conn.execute(text("CHECKPOINT"))  # table pages from memory to their files
        data_dir = Path((await conn.execute(text("SHOW data_directory"))).scalar_one())
        oid = (
            await conn.execute(
                text("SELECT oid FROM pg_database WHERE datname = current_database()")
            )
        ).scalar_one()
    try:
        relations = list((data_dir / "base" / str(oid)).iterdir())
        wal = [p for p in (data_dir / "pg_wal").iterdir() if p.is_file()]
    except PermissionError:
        pytest.skip(f"the PostgreSQL data directory {data_dir} is not readable by this test")
    return relations + [p for p in wal if p.stat().st_mtime >= since - 1]
