"""What domain jobs need from a running process: its settings and its database.

The application's ``AppContext`` (``workvoice.context``) extends this with what only the composition
root builds (the survey store, the bot); domain jobs take a ``Runtime`` so they never import it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from workvoice.kernel.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
