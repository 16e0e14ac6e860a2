"""SQLAlchemy 2 async storage: models, engine and session factories, Alembic migrations.

Every capability keeps its models in its own module here (``bot.storage.reports`` ...), named like
the capability everywhere else. ``MODEL_MODULES`` lists them so Alembic and the tests see all tables.
Nothing here imports aiogram, a service or web code (checked by import-linter).
"""

from __future__ import annotations

import importlib

MODEL_MODULES: tuple[str, ...] = (
    "bot.storage.models",
    "bot.storage.reports",
    "bot.storage.surveys",
    "bot.storage.committees",
    "bot.storage.broadcasts",
)


def import_all_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)
