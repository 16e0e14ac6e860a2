"""Query counts on the committees' hot paths (review §4.5 #12), so an N+1 pattern fails a test:
the console's committee page does not grow with the number of meetings or members, recording
attendance does not grow with the committee, and an RSVP stays one lookup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage.committees import Committee, CommitteeMember, Meeting
from bot.storage.db import transaction
from bot.storage.models import AuditEvent
from services.committees import meetings, members, participation
from services.committees.members import Rsvp
from services.errors import NotFound
from services.scope import Scope
from tests.console import ConsoleHarness
from tests.factories import make_factory
from tests.queries import count_queries

NOW = datetime(2027, 2, 20, 12, 0, tzinfo=UTC)
TZ = "Asia/Phnom_Penh"


async def make_committee(
    sessions: async_sessionmaker[AsyncSession], code: str, *, seats: int, meetings_ahead: int
) -> int:
    """A committee with ``seats`` members and ``meetings_ahead`` one-off meetings, every member
    answering and adding to the agenda of each."""
    factory = await make_factory(sessions, code, country="KH", timezone=TZ)
    async with transaction(sessions) as s:
        committee = await members.do_create_committee(
            s, factory, kind="picc", name=f"PICC {code}", actor=None
        )
        seated = [
            await members.do_add_member(
                s,
                committee,
                display_name=f"Member {n}",
                side="worker" if n % 2 else "management",
                gender="woman" if n % 3 else "man",
                actor=None,
            )
            for n in range(seats)
        ]
        for day in range(meetings_ahead):
            local = (NOW + timedelta(days=day + 1)).strftime("%Y-%m-%dT14:00")
            meeting, _ = await meetings.do_add_meeting(
                s, committee, local_start=local, actor=None, now=NOW
            )
            for seat in seated:
                await participation.do_rsvp(s, meeting, seat, Rsvp.YES)
                await participation.do_add_agenda_item(s, meeting, seat, f"Item {seat.id}")
        return committee.id


async def test_the_console_committee_page_does_not_grow_with_meetings_or_members(
    console: ConsoleHarness,
) -> None:
    staff = await console.staff("country_manager", ["KH"])
    with time_machine.travel(NOW, tick=False):
        small = await make_committee(console.sessions, "QC-S", seats=2, meetings_ahead=1)
        large = await make_committee(console.sessions, "QC-L", seats=8, meetings_ahead=6)
        client = console.client_for(staff)
        selects = []
        for committee_id in (small, large):
            with count_queries(console.sessions) as counted:
                r = await client.get(f"/committees/{committee_id}")
            assert r.status_code == 200 and "Item" in r.text
            selects.append(counted.selects)
    assert selects[0] == selects[1], f"{selects}: the page grows with the calendar"
    assert selects[1] <= 14, str(counted)


async def _record_attendance(sessions: async_sessionmaker[AsyncSession], committee_id: int) -> int:
    async with transaction(sessions) as s:
        committee = await s.get(Committee, committee_id)
        assert committee is not None
        meeting = (await meetings.upcoming(s, committee_id, now=NOW))[0]
        seats = await members.members_of(s, committee_id)
        s.expunge_all()  # the verb loads what it needs, as a console request does
        meeting = await s.get(Meeting, meeting.id)  # type: ignore[assignment]
        assert meeting is not None
        with count_queries(sessions) as counted:
            await participation.do_record_attendance(
                s, meeting, {seat.id for seat in seats[::2]}, actor=None
            )
    return counted.selects


async def test_recording_attendance_is_constant_in_members(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    with time_machine.travel(NOW, tick=False):
        small = await make_committee(sessions, "QA-S", seats=2, meetings_ahead=1)
        large = await make_committee(sessions, "QA-L", seats=12, meetings_ahead=1)
        selects = [await _record_attendance(sessions, cid) for cid in (small, large)]
    assert selects[0] == selects[1] <= 2, selects


async def test_an_rsvp_is_one_lookup(sessions: async_sessionmaker[AsyncSession]) -> None:
    with time_machine.travel(NOW, tick=False):
        committee_id = await make_committee(sessions, "QR-1", seats=10, meetings_ahead=2)
        async with transaction(sessions) as s:
            meeting = (await meetings.upcoming(s, committee_id, now=NOW))[0]
            seat = (await members.members_of(s, committee_id))[3]
            with count_queries(sessions) as counted:
                await participation.do_rsvp(s, meeting, seat, Rsvp.NO)
    assert counted.selects == 1, str(counted)


async def test_staff_changes_are_audited_by_the_verbs(
    sessions: async_sessionmaker[AsyncSession], console: ConsoleHarness
) -> None:
    """The verbs write the audit row (the console only calls them); members in the bot do not,
    and a look refused for scope leaves none either."""
    staff = await console.staff("country_manager", ["KH"])
    with time_machine.travel(NOW, tick=False):
        factory = await make_factory(console.sessions, "QV-1", country="KH", timezone=TZ)
        async with transaction(console.sessions) as s:
            committee = await members.do_create_committee(
                s, factory, kind="picc", name="PICC", actor=staff, ip="192.0.2.1"
            )
            seat = await members.do_add_member(
                s, committee, display_name="Sok", side="worker", actor=None
            )
            await members.do_leave(s, seat)
        async with transaction(console.sessions) as s:
            with pytest.raises(NotFound):  # another country's committee does not exist
                await members.access_committee(s, Scope.only("BD"), committee.id, actor=staff)
            assert await members.access_committee(s, Scope.only("KH"), committee.id)
        async with console.sessions() as s:
            rows = (
                (await s.execute(AuditEvent.__table__.select().order_by(AuditEvent.id)))
                .mappings()
                .all()
            )
            left = await s.get(CommitteeMember, seat.id)
    assert [(r["action"], r["object_id"], r["ip"]) for r in rows] == [
        ("committee.create", str(committee.id), "192.0.2.1")
    ]
    assert left is not None and left.status == "left"
