"""Committee rules on both databases: materialising is idempotent (also on two replicas),
holidays are skipped, moves re-plan reminders, closed meetings refuse RSVPs and agenda items,
members' languages fall back sensibly, and /delete leaves no row naming the worker."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage.committees import (
    ActionItem,
    Committee,
    CommitteeMember,
    CommitteeTask,
    Meeting,
)
from bot.storage.db import transaction
from bot.storage.models import Factory, OutboxMessage, User
from services.committees import actions, jobs, meetings, members, participation, planning
from services.committees.members import MeetingClosed, member_locale
from services.onboarding import do_delete_user
from tests.factories import make_factory, make_worker
from workvoice.context import AppContext

NOW = datetime(2027, 1, 1, 3, 0, tzinfo=UTC)
FIRST = datetime(2027, 1, 5, 7, 0, tzinfo=UTC)  # first Tuesday 14:00 in Phnom Penh


def ctx(sessions: async_sessionmaker[AsyncSession]) -> AppContext:
    from workvoice.kernel.settings import load_settings

    return AppContext(settings=load_settings(), engine=None, sessions=sessions)  # type: ignore[arg-type]


async def scheduled(sessions: async_sessionmaker[AsyncSession], *, telegram_id: int = 6001) -> int:
    factory = await make_factory(sessions, "KH-S", country="KH", timezone="Asia/Phnom_Penh")
    worker = await make_worker(sessions, telegram_id, locale="km", factory_code=None)
    async with transaction(sessions) as session:
        committee = await members.do_create_committee(
            session, factory, kind="picc", name="PICC", actor=None
        )
        await members.do_add_member(
            session,
            committee,
            display_name="Srey Mom",
            side="worker",
            role="secretary",
            gender="woman",
            user_id=worker.id,
            actor=None,
        )
        committee.rrule, committee.local_start = "FREQ=MONTHLY;BYDAY=1TU", "2027-01-05T14:00"
        return committee.id


async def count(sessions: async_sessionmaker[AsyncSession], model: object) -> int:
    async with sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)  # type: ignore[arg-type]


async def test_materialising_is_idempotent_even_on_two_replicas(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await scheduled(sessions)
    with time_machine.travel(NOW, tick=False):
        made = await asyncio.gather(
            jobs.extend_horizons(ctx(sessions), now=NOW),
            jobs.extend_horizons(ctx(sessions), now=NOW),
        )
        assert sorted(made) == [0, 2]  # one replica claimed the committee, the other skipped it
        await jobs.extend_horizons(ctx(sessions), now=NOW + timedelta(hours=1))
    assert await count(sessions, Meeting) == 2
    assert await count(sessions, CommitteeTask) == 2 * 4  # 3 reminders + quorum check each
    # A day later than the refill point, the horizon grows by one more month, without repeats.
    later = NOW + timedelta(days=30)
    with time_machine.travel(later, tick=False):
        await jobs.extend_horizons(ctx(sessions), now=later)
    assert await count(sessions, Meeting) == 3


async def test_holidays_skip_and_cancel_meetings(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    committee_id = await scheduled(sessions)
    async with transaction(sessions) as session:
        committee = await session.get(Committee, committee_id)
        assert committee is not None
        assert (
            await meetings.do_mark_holiday(
                session, committee, day="2027-02-02", actor=None, now=NOW
            )
            == 0
        )
        await planning.do_materialise(session, committee, now=NOW)
    async with sessions() as s:
        starts = (await s.scalars(select(Meeting.starts_at))).all()
    assert starts == [FIRST]  # 2 February is a holiday: skipped
    async with transaction(sessions) as session:
        committee = await session.get(Committee, committee_id)
        assert committee is not None
        assert (
            await meetings.do_mark_holiday(
                session, committee, day="2027-01-05", actor=None, now=NOW
            )
            == 1
        )
    async with sessions() as s:
        assert (await s.scalar(select(Meeting.status))) == "cancelled"
        kinds = (await s.scalars(select(OutboxMessage.kind))).all()
        assert kinds == ["committees.changed"]  # members hear at once
        assert (
            await s.scalar(
                select(func.count())
                .select_from(CommitteeTask)
                .where(CommitteeTask.done_at.is_(None))
            )
            == 0
        )


async def test_move_replans_reminders_and_closed_meetings_refuse(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    committee_id = await scheduled(sessions)
    async with transaction(sessions) as session:
        committee = await session.get(Committee, committee_id)
        assert committee is not None
        await planning.do_materialise(session, committee, now=NOW)
        meeting = await session.scalar(select(Meeting).where(Meeting.starts_at == FIRST))
        assert meeting is not None
        ambiguous = await meetings.do_move_meeting(
            session, meeting, local_start="2027-01-06T09:00", actor=None, now=NOW
        )
        assert not ambiguous and meeting.starts_at == datetime(2027, 1, 6, 2, 0, tzinfo=UTC)
        keys = (
            await session.scalars(
                select(CommitteeTask.key).where(CommitteeTask.meeting_id == meeting.id)
            )
        ).all()
        assert keys and all(str(int(meeting.starts_at.timestamp())) in k for k in keys)
        member = (await members.members_of(session, committee_id))[0]
        # Past meetings refuse RSVPs and agenda items with a clear error.
        with time_machine.travel(meeting.starts_at + timedelta(minutes=1), tick=False):
            with pytest.raises(MeetingClosed):
                await participation.do_rsvp(session, meeting, member, "yes")
            with pytest.raises(MeetingClosed):
                await participation.do_add_agenda_item(session, meeting, member, "Late point")
        await meetings.do_cancel_meeting(session, meeting, actor=None, now=NOW)
        with pytest.raises(MeetingClosed):
            await participation.do_rsvp(session, meeting, member, "yes")
        with pytest.raises(MeetingClosed):
            await meetings.do_cancel_meeting(session, meeting, actor=None, now=NOW)


def test_member_language_falls_back_to_factory_then_english() -> None:
    factory = Factory(languages=["km", "en"])
    member = CommitteeMember(language=None)
    assert member_locale(member, User(locale="vi"), factory) == "vi"
    assert member_locale(member, User(locale=None), factory) == "km"
    assert member_locale(member, None, Factory(languages=[])) == "en"
    assert member_locale(CommitteeMember(language="ta"), User(locale="vi"), factory) == "ta"
    assert member_locale(CommitteeMember(language="xx"), None, Factory(languages=["zz"])) == "en"


async def test_delete_leaves_no_row_naming_the_worker(
    sessions: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    committee_id = await scheduled(sessions, telegram_id=6002)
    newcomer = await make_worker(sessions, 6003, locale="bn", factory_code="KH-S")
    async with transaction(sessions) as session:
        committee = await session.get(Committee, committee_id)
        assert committee is not None
        invite = await members.do_create_invite(session, committee, side="worker", actor=None)
    caplog.set_level(logging.INFO)
    async with transaction(sessions) as session:
        user = await session.get(User, newcomer.id)
        assert user is not None
        await members.do_request_join(session, user, invite.code, display_name="Nasrin Akter")
    assert "Nasrin" not in caplog.text and "6003" not in caplog.text
    async with transaction(sessions) as session:
        seat = await session.scalar(
            select(CommitteeMember).where(CommitteeMember.display_name == "Srey Mom")
        )
        assert seat is not None
        committee = await session.get(Committee, committee_id)
        assert committee is not None
        await actions.do_add_action(
            session,
            committee,
            text="Check exits",
            owner_member_id=seat.id,
            due_on="2030-01-01",
            actor=None,
        )
    async with transaction(sessions) as session:
        for telegram_id in (6002, 6003):
            user = await session.scalar(select(User).where(User.telegram_id == telegram_id))
            assert user is not None
            await do_delete_user(session, user)
    async with sessions() as s:
        rows = (await s.execute(text("SELECT display_name FROM committee_members"))).all()
        assert rows == []
        action = await s.scalar(select(ActionItem))
        assert action is not None and action.owner_member_id is None  # the committee keeps its work


async def test_changing_the_schedule_keeps_shared_meetings_and_cancels_the_rest(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    committee_id = await scheduled(sessions)
    async with transaction(sessions) as session:
        committee = await session.get(Committee, committee_id)
        assert committee is not None
        await meetings.do_set_schedule(
            session,
            committee,
            rule="FREQ=MONTHLY;BYDAY=1TU",
            local_start="2027-01-05T14:00",
            actor=None,
            now=NOW,
        )
        first = await session.scalar(select(Meeting).where(Meeting.starts_at == FIRST))
        assert first is not None
        member = (await members.members_of(session, committee_id))[0]
        await participation.do_rsvp(session, first, member, "yes")
        # Same meetings, other reminder offsets: RSVPs stay, reminders are re-planned.
        await meetings.do_set_schedule(
            session,
            committee,
            rule="FREQ=MONTHLY;BYDAY=1TU",
            local_start="2027-01-05T14:00",
            offsets=[60],
            actor=None,
            now=NOW,
        )
        assert (await participation.rsvp_counts(session, first.id)) == {("worker", "yes"): 1}
        keys = (
            await session.scalars(
                select(CommitteeTask.key).where(CommitteeTask.meeting_id == first.id)
            )
        ).all()
        assert sorted(k.rsplit(":", 1)[1] for k in keys) == ["q", "r60"]
        # Another weekday: the Tuesday meetings are cancelled and members are told.
        await meetings.do_set_schedule(
            session,
            committee,
            rule="FREQ=MONTHLY;BYDAY=1WE",
            local_start="2027-01-05T14:00",
            actor=None,
            now=NOW,
        )
        statuses = dict((await session.execute(select(Meeting.occurrence, Meeting.status))).all())
    assert statuses["2027-01-05T14:00"] == "cancelled" and statuses["2027-01-06T14:00"] == "planned"
    async with sessions() as s:
        assert (
            await s.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.kind == "committees.changed")
            )
            == 2
        )  # the two Tuesday meetings within the horizon


async def test_after_downtime_only_the_latest_useful_reminder_goes(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    committee_id = await scheduled(sessions)
    async with transaction(sessions) as session:
        committee = await session.get(Committee, committee_id)
        assert committee is not None
        await planning.do_materialise(session, committee, now=NOW)
    # Down from before the 3-day reminder until 20 hours before the meeting.
    back = FIRST - timedelta(hours=20)
    with time_machine.travel(back, tick=False):
        await jobs.run_due(ctx(sessions), now=back)
    async with sessions() as s:
        results = dict((await s.execute(select(CommitteeTask.key, CommitteeTask.result))).all())
        reminders = (
            await s.scalars(
                select(OutboxMessage.dedupe_key).where(OutboxMessage.kind == "committees.reminder")
            )
        ).all()
    stamp = int(FIRST.timestamp())
    first = await _meeting_id(sessions, FIRST)
    assert results[f"m:{first}:{stamp}:r4320"] == "superseded"
    assert results[f"m:{first}:{stamp}:r1440"] == "sent"
    assert results[f"m:{first}:{stamp}:r120"] is None  # not due yet
    assert len(reminders) == 1  # one member, one reminder


async def _meeting_id(sessions: async_sessionmaker[AsyncSession], starts_at: datetime) -> int:
    async with sessions() as s:
        meeting_id = await s.scalar(select(Meeting.id).where(Meeting.starts_at == starts_at))
        assert meeting_id is not None
        return int(meeting_id)
