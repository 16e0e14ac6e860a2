"""SQLAlchemy 2 async storage: models, engine and session factories, Alembic migrations.

Every capability keeps its models in its own module here (``bot.storage.reports`` ...), named like
the capability everywhere else. ``MODEL_MODULES`` lists them so Alembic and the tests see all tables.
It is the capability manifest's list (``workvoice.capabilities.MODEL_MODULES``, a test checks the
two are equal), written out here because storage is the bottom layer: Alembic's environment and the
tests load every table without importing the application. Nothing here imports aiogram, a service,
web code or ``workvoice`` (checked by import-linter).
"""

from __future__ import annotations

import importlib

MODEL_MODULES: tuple[str, ...] = (
    "bot.storage.models",
    "bot.storage.surveys",
    "bot.storage.reports",
    "bot.storage.committees",
    "bot.storage.broadcasts",
    "bot.storage.audio",
)


def import_all_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)
