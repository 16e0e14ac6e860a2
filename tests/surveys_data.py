"""A small survey that uses every question type and skip logic, for the survey tests."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage.db import transaction
from bot.storage.models import AuditEvent, User
from bot.storage.surveys import Survey, SurveyWave
from services.scope import Scope
from services.surveys import answering
from services.surveys.batches import flush_batches
from services.surveys.builder import do_create_survey, do_publish
from services.surveys.definition import validate
from services.surveys.store import SurveyStore
from services.surveys.waves import (
    Audience,
    WaveInput,
    do_cancel_wave,
    do_create_wave,
    open_due_waves,
)
from tests.console import ConsoleHarness


def texts(en: str, **others: str) -> dict[str, str]:
    return {"en": en, **others}


SAMPLE: dict[str, Any] = {
    "key": "sample",
    "title": texts("Sample pulse", bn="নমুনা জরিপ", km="ការស្ទង់មតិគំរូ"),
    "thanks": texts("Thank you!", bn="ধন্যবাদ!", km="អរគុណ!"),
    "questions": [
        {
            "key": "mood",
            "type": "scale",
            "text": texts("How do you feel?", bn="আপনি কেমন আছেন?", km="អ្នកសុខសប្បាយទេ?"),
        },
        {
            "key": "safe",
            "type": "yesno",
            "text": texts(
                "Do you feel safe?", bn="আপনি কি নিরাপদ বোধ করেন?", km="តើអ្នកមានសុវត្ថិភាពទេ?"
            ),
        },
        {
            "key": "why",
            "type": "multi",
            "show_if": {"question": "safe", "equals": ["no"]},
            "text": texts(
                "What makes you feel unsafe?",
                bn="কী আপনাকে অনিরাপদ করে?",
                km="អ្វីធ្វើឱ្យអ្នកមិនមានសុវត្ថិភាព?",
            ),
            "options": [
                {"key": "fire", "text": texts("Fire exits", bn="অগ্নি নির্গমন", km="ច្រកចេញភ្លើង")},
                {"key": "machines", "text": texts("Machines", bn="মেশিন", km="ម៉ាស៊ីន")},
                {"key": "people", "text": texts("People", bn="মানুষ", km="មនុស្ស")},
            ],
        },
        {
            "key": "shift",
            "type": "single",
            "text": texts("Which shift?", bn="কোন শিফট?", km="វេនណា?"),
            "options": [
                {"key": "day", "text": texts("Day", bn="দিন", km="ថ្ងៃ")},
                {"key": "night", "text": texts("Night", bn="রাত", km="យប់")},
            ],
        },
        {
            "key": "hours",
            "type": "number",
            "min": 0,
            "max": 100,
            "text": texts("Hours last week?", bn="গত সপ্তাহে কত ঘণ্টা?", km="ម៉ោងប៉ុន្មានសប្តាហ៍មុន?"),
        },
        {
            "key": "else",
            "type": "text",
            "required": False,
            "max_length": 50,
            "text": texts("Anything else?", bn="আর কিছু?", km="មានអ្វីទៀតទេ?"),
        },
    ],
}


async def make_wave(
    sessions: async_sessionmaker[AsyncSession],
    *,
    countries: tuple[str, ...] = ("BD",),
    definition: dict[str, Any] | None = None,
    start: datetime | None = None,
    days: int = 14,
    open_now: bool = True,
    **audience: Any,
) -> SurveyWave:
    """A published sample survey and a wave for it, opened (invitations queued) unless told not to."""
    start = start or datetime.now(UTC) - timedelta(minutes=1)
    async with transaction(sessions) as session:
        survey = await do_create_survey(
            session, validate(definition or SAMPLE), country_code=countries[0], actor=None
        )
        version = await do_publish(session, survey, scope=Scope.everywhere(), actor=None)
        wave = await do_create_wave(
            session,
            WaveInput(
                version_id=version.id,
                name="Pulse",
                audience=Audience(list(countries), **audience),
                starts_at=start,
                ends_at=start + timedelta(days=days),
                reminder_after_hours=min(72, days * 12),
            ),
            scope=Scope.everywhere(),
            actor=None,
        )
        if open_now:
            await open_due_waves(session, worker="test", now=max(start, datetime.now(UTC)))
        return wave


async def publish(
    sessions: async_sessionmaker[AsyncSession],
    store: SurveyStore,
    *,
    secret_key: str,
    k: int = 5,
    close: int | None = None,
) -> int:
    """The scheduler's batch job, run as a day later would (past the daily rule and the close's
    grace); with ``close=wave_id`` the wave is cancelled (closed) first, so its remainder settles.
    Returns how many responses reached the anonymous tables."""
    if close is not None:
        async with transaction(sessions) as session:
            wave = await session.get(SurveyWave, close)
            assert wave is not None
            await do_cancel_wave(session, wave, actor=None)
    later = datetime.now(UTC) + timedelta(days=1)
    return await flush_batches(sessions, store, secret_key=secret_key, k=k, now=later)


# --- console tests ---------------------------------------------------------------------------


async def audit_count(console: ConsoleHarness, action: str) -> int:
    async with console.sessions() as s:
        return int(
            await s.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
            )
            or 0
        )


async def survey_in(console: ConsoleHarness, country: str, key: str) -> Survey:
    data = {**SAMPLE, "key": key}
    async with transaction(console.sessions) as s:
        return await do_create_survey(s, validate(data), country_code=country, actor=None)


# --- answering and batches, as the privacy tests play them --------------------------------------

SECRET = "test-secret"
K = 5


class Clock:
    """An injected clock for the stores: tests move it instead of sleeping."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def answer(
    sessions: Any,
    store: SurveyStore,
    user: User,
    wave_id: int,
    *,
    safe: str = "yes",
    reasons: Sequence[str] = ("fire",),
    shift: str = "day",
    hours: str = "48",
    secret_key: str = SECRET,
) -> None:
    """One worker answers the sample survey to the end (``reasons`` ticked when not safe)."""
    kw: dict[str, Any] = {"secret_key": secret_key, "store": store}
    async with transaction(sessions) as s:
        step = await answering.do_begin(s, user, wave_id, **kw)
        step = await answering.do_answer(s, user, wave_id, step.index, "4", **kw)
        step = await answering.do_answer(s, user, wave_id, step.index, safe, **kw)
        if safe == "no":
            for reason in reasons:
                step = await answering.do_toggle(s, user, wave_id, step.index, reason, **kw)
            step = await answering.do_finish_choice(s, user, wave_id, step.index, **kw)
        step = await answering.do_answer(s, user, wave_id, step.index, shift, **kw)
        step = await answering.do_answer(s, user, wave_id, step.index, hours, **kw)
        step = await answering.do_skip(s, user, wave_id, step.index, **kw)
        assert step.done


async def flush(sessions: Any, store: SurveyStore, at: datetime) -> int:
    return await flush_batches(sessions, store, secret_key=SECRET, k=K, now=at)


async def close(sessions: Any, wave_id: int) -> None:
    async with transaction(sessions) as s:
        wave = await s.get(SurveyWave, wave_id)
        assert wave is not None
        await do_cancel_wave(s, wave, actor=None)


async def wave_row(sessions: Any, wave_id: int) -> SurveyWave:
    async with sessions() as s:
        wave = await s.get(SurveyWave, wave_id)
        assert wave is not None
        return wave


LATER = timedelta(days=1, minutes=10)


MARKER = "kanteen-water-7731"


def text_first() -> dict[str, Any]:
    """The sample with its free-text question asked first, so a draft holds typed words."""
    data = copy.deepcopy(SAMPLE)
    data["questions"] = [data["questions"][-1], *data["questions"][:-1]]
    return data
