"""What a running process holds: settings, the database engine and its session factory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.storage import import_all_models
from bot.storage.db import create_engine, create_sessionmaker
from workvoice.settings import Settings


@dataclass
class AppContext:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    # Filled by the parts that run in this process (e.g. "bot", "dispatcher") for the others.
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, settings: Settings) -> AppContext:
        import_all_models()
        if settings.effective_database_url.startswith("sqlite"):
            settings.secure_data_dir()  # 0700 directory, 0600 database (L4)
        engine = create_engine(settings.effective_database_url)
        return cls(settings=settings, engine=engine, sessions=create_sessionmaker(engine))

    async def close(self) -> None:
        await self.engine.dispose()
