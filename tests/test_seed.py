"""Demo seed data: made through the real services, idempotent, and realistic enough to show
survey results with suppression."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.storage.models import OutboxMessage, User
from bot.storage.surveys import Survey, SurveyWave
from services.surveys.results import trends, wave_results
from tests.conftest import sql_count
from workvoice.seed import SYNTHETIC_IDS, seed_demo


async def test_seed_is_idempotent_and_shows_survey_results(console) -> None:  # type: ignore[no-untyped-def]
    ctx = console.ctx
    await seed_demo(ctx)
    counts = [
        await sql_count(ctx.sessions, f"SELECT count(*) FROM {table}")
        for table in ("surveys", "survey_waves", "survey_answers", "users", "cases")
    ]
    await seed_demo(ctx)  # a second start changes nothing
    again = [
        await sql_count(ctx.sessions, f"SELECT count(*) FROM {table}")
        for table in ("surveys", "survey_waves", "survey_answers", "users", "cases")
    ]
    assert counts == again
    async with ctx.sessions() as s:
        keys = set((await s.scalars(select(Survey.key))).all())
        assert {"wellbeing-pulse", "worker-wellbeing"} <= keys
        waves = (await s.scalars(select(SurveyWave).order_by(SurveyWave.id))).all()
        assert [w.status for w in waves] == ["closed", "open"]
        found = await wave_results(s, waves[1], k=5)
        assert found.respondents is not None and found.respondents > 200
        # Some small group is suppressed somewhere (so the demo shows what suppression looks like).
        assert any(
            n is None
            for q in found.questions
            for t in q.breakdowns.values()
            for n in t.cells.values()
        )
        trend = await trends(s, waves, found.definition, k=5)
        assert trend and all(len(t.shares) == 2 for t in trend)
        seeded = select(User.id).where(User.telegram_id >= SYNTHETIC_IDS)
        queued = await s.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.user_id.in_(seeded))
        )
        assert queued == 0  # nothing waits for workers who have no phone
