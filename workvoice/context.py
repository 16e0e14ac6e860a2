"""What a running process holds: settings, the database engine and its session factory, the
ephemeral survey store (drafts and answers waiting for a batch: Redis, or this process's memory),
and what the parts running in this process share with each other (the bot, the demo's phones)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage import import_all_models
from bot.storage.db import create_engine, create_sessionmaker
from services.surveys.store import MemorySurveyStore, SurveyStore, create_survey_store
from workvoice.kernel.context import Runtime
from workvoice.kernel.settings import Settings


class Phone(Protocol):
    """One simulated phone of the demo (``workvoice.demo.Phone``)."""

    @property
    def version(self) -> str: ...

    def summary(self) -> dict[str, Any]: ...

    def transcript(self) -> list[dict[str, Any]]: ...

    async def send(self, text: str) -> None: ...

    async def tap(self, message_id: int, data: str) -> None: ...

    def voice(self, message_id: int) -> bytes | None: ...


class Phones(Protocol):
    """The demo's simulated phones (``workvoice.demo.Phones``), which the console's simulator
    pages drive; typed here so the console needs neither the demo nor aiohttp."""

    def all(self) -> Sequence[Phone]: ...

    def get(self, phone_id: int) -> Phone | None: ...

    def create(self, *, language_code: str, name: str | None = None) -> Phone: ...

    def remove(self, phone_id: int) -> None: ...

    async def committee_code(self, session: AsyncSession) -> str | None: ...


class StepPreview(Protocol):
    @property
    def title(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def rows(self) -> list[list[str]]: ...


class ScreenBook(Protocol):
    """The worker screens that say a message, drawn in any language (``bot.flowdocs.ScreenBook``);
    typed here so the console needs no flow."""

    def where(self, context: str | None, msgid: str) -> list[tuple[str, str]]: ...

    def draw(self, locale: str, flow: str, step: str) -> StepPreview | None: ...


@dataclass
class AppContext(Runtime):
    survey_store: SurveyStore = field(default_factory=MemorySurveyStore)
    # Set by the parts that run in this process, for the others: the bot's Telegram username once
    # it has started (links and posters), and the demo's phones (None outside the demo).
    bot_username: str | None = None
    phones: Phones | None = None
    screens: ScreenBook | None = None  # set where the console runs (workvoice.server)

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
