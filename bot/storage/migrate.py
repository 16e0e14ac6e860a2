"""Alembic driven from code, so ``workvoice db upgrade`` needs no alembic.ini in the working dir."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.db import create_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


SecretKey = Callable[[], str]


def alembic_config(url: str, secret_key: SecretKey | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    # Migrations that seal or unseal data (0011: TOTP seeds) need the process's SECRET_KEY; asked
    # for only when there is something to seal.
    cfg.attributes["secret_key"] = secret_key
    return cfg


def upgrade(url: str, revision: str = "head", *, secret_key: SecretKey | None = None) -> None:
    command.upgrade(alembic_config(url, secret_key), revision)


def downgrade(url: str, revision: str = "-1", *, secret_key: SecretKey | None = None) -> None:
    command.downgrade(alembic_config(url, secret_key), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


def current(url: str) -> str | None:
    async def _run() -> str | None:
        engine = create_engine(url)
        try:
            return await current_revision(engine)
        finally:
            await engine.dispose()

    return asyncio.run(_run())
