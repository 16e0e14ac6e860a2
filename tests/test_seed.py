"""Demo seed data: made through the real services, idempotent, and realistic enough to show
survey results with suppression."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.storage.audio import AudioClip
from bot.storage.broadcasts import Broadcast, BroadcastTopic
from bot.storage.committees import Committee, CommitteeMember, Meeting
from bot.storage.models import OutboxMessage, User
from bot.storage.surveys import Survey, SurveyWave
from services.audio.media import synthesis_available
from services.clock import utcnow
from services.committees.names import committee_name, meeting_place
from services.surveys.results import trends, wave_results
from tests.conftest import sql_count
from workvoice.demo.seed import (
    DEMO_COMMITTEE_NAMES,
    SYNTHETIC_IDS,
    demo_committee_code,
    seed_demo,
)

TABLES = (
    "surveys",
    "survey_waves",
    "survey_answers",
    "users",
    "cases",
    "committees",
    "committee_members",
    "committee_meetings",
    "committee_invites",
    "broadcast_topics",
    "broadcast_subscriptions",
    "broadcasts",
)


async def test_seed_is_idempotent_and_shows_survey_results(console) -> None:  # type: ignore[no-untyped-def]
    ctx = console.ctx
    await seed_demo(ctx)
    counts = [await sql_count(ctx.sessions, f"SELECT count(*) FROM {table}") for table in TABLES]
    await seed_demo(ctx)  # a second start changes nothing
    again = [await sql_count(ctx.sessions, f"SELECT count(*) FROM {table}") for table in TABLES]
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

    # A committee at the Dhaka factory meets tomorrow at 14:00 there; a code lets a worker join.
    async with ctx.sessions() as s:
        committee = (await s.scalars(select(Committee))).one()
        members = (await s.scalars(select(CommitteeMember))).all()
        assert committee.kind == "pc" and len(members) == 6
        assert {m.side for m in members} == {"worker", "management"}
        now = utcnow()
        soon = (
            await s.scalars(
                select(Meeting).where(Meeting.starts_at.between(now, now + timedelta(days=2)))
            )
        ).all()
        assert len(soon) == 1 and soon[0].starts_at.astimezone(ZoneInfo("Asia/Dhaka")).hour == 14
        assert await demo_committee_code(s)
        # Named in every demo factory's languages, the meeting place too (B13).
        for code in ("bn", "km", "ar", "am", "my", "ne", "hi", "si", "vi", "ht", "fr"):
            name, place = DEMO_COMMITTEE_NAMES[code]
            assert committee_name(committee, code) == name and name != committee.name
            assert meeting_place(soon[0], code) == place

    # Organisers' topics are followed by some workers; a message to migrants in Jordan was
    # delivered (its report shows), and a draft for Dhaka waits for the tour to send it.
    async with ctx.sessions() as s:
        topics = (await s.scalars(select(BroadcastTopic).order_by(BroadcastTopic.key))).all()
        assert [(t.key, t.country_code) for t in topics] == [
            ("dhaka-union", "BD"),
            ("migrant-rights", "JO"),
        ]
        assert await sql_count(ctx.sessions, "SELECT count(*) FROM broadcast_subscriptions") > 40
        sent, draft = (await s.scalars(select(Broadcast).order_by(Broadcast.id))).all()
        assert sent.status == "sent" and sent.queued_count > 20
        assert sent.sent_count == sent.queued_count and {"ar", "bn", "my"} <= set(sent.texts)
        assert draft.status == "draft" and draft.countries == ["BD"]


@pytest.mark.skipif(not synthesis_available(), reason="espeak-ng or ffmpeg not installed")
async def test_the_demo_reads_the_menu_and_a_question_aloud(console) -> None:  # type: ignore[no-untyped-def]
    """espeak-ng's clips at seed time, so 🔊 can be tried in the simulator (not Khmer: no voice)."""
    await seed_demo(console.ctx)
    async with console.ctx.sessions() as s:
        made = {(c.target, c.locale) for c in (await s.scalars(select(AudioClip))).all()}
        clips = (await s.scalars(select(AudioClip))).all()
    for locale in ("bn", "ar", "hi"):
        assert ("screen:menu", locale) in made
        assert ("survey:wellbeing-pulse:mood", locale) in made
    assert all(c.synthetic and c.duration_ms > 500 for c in clips)
