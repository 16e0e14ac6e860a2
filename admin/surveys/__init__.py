"""Surveys in the console: the list (``listing``), the builder (``builder``), translations and
the preview (``translate``). Waves, results, CSV and closing the loop are in
``admin.survey_waves``; ``router`` holds every page of this package, the list's fixed paths
("/surveys/import") before a survey's own ("/surveys/{survey_id}")."""

from __future__ import annotations

from fastapi import APIRouter

from admin.surveys import builder, listing, translate

router = APIRouter()
for part in (listing, builder, translate):
    router.include_router(part.router)
