"""What a running process holds: settings, the database engine and its session factory, and the
ephemeral survey store (drafts and answers waiting for a batch: Redis, or this process's memory)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.storage import import_all_models
from bot.storage.db import create_engine, create_sessionmaker
from services.surveys.store import MemorySurveyStore, SurveyStore, create_survey_store
from workvoice.kernel.context import Runtime
from workvoice.kernel.settings import Settings


@dataclass
class AppContext(Runtime):
    survey_store: SurveyStore = field(default_factory=MemorySurveyStore)
    # Filled by the parts that run in this process (e.g. "bot", "dispatcher") for the others.
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, settings: Settings) -> AppContext:
        import_all_models()
        if settings.effective_database_url.startswith("sqlite"):
            settings.secure_data_dir()  # 0700 directory, 0600 database (L4)
        engine = create_engine(settings.effective_database_url)
        store = create_survey_store(
            settings.redis_url, draft_ttl_days=settings.survey_draft_ttl_days
        )
        return cls(
            settings=settings,
            engine=engine,
            sessions=create_sessionmaker(engine),
            survey_store=store,
        )

    async def close(self) -> None:
        await self.survey_store.close()
        await self.engine.dispose()
