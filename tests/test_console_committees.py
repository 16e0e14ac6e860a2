"""Committees in the console: create, members and gender balance, invitations, schedules with
the friendly form and raw RRULEs, DST messages, cancel and move, holidays, attendance, minutes,
actions; all scoped by country and audited."""

from __future__ import annotations

from datetime import UTC, datetime

import time_machine
from sqlalchemy import func, select

from bot.storage.committees import (
    ActionItem,
    Committee,
    CommitteeInvite,
    CommitteeMember,
    Meeting,
    MeetingResponse,
)
from bot.storage.models import AuditEvent, OutboxMessage
from tests.console import ConsoleHarness
from tests.factories import make_factory, make_worker

NOW = datetime(2027, 2, 20, 12, 0, tzinfo=UTC)


async def count(console: ConsoleHarness, model: object, *where: object) -> int:
    async with console.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


async def test_staff_run_a_committee_from_the_console(console: ConsoleHarness) -> None:
    factory = await make_factory(
        console.sessions, "PAP-1", country="HT", timezone="America/Port-au-Prince"
    )
    worker = await make_worker(console.sessions, 9101, locale="ht", factory_code=None)
    staff = await console.staff("country_manager", ["HT"])
    with time_machine.travel(NOW, tick=False):
        client = console.client_for(staff)  # signed in "now", as the session cookie is dated
        r = await client.post(
            "/committees",
            data={
                "csrf_token": client.csrf,
                "factory_id": factory.id,
                "kind": "osh",
                "name": "OSH",
            },
        )
        assert r.status_code == 303
        url = r.headers["location"]
        cid = int(url.rsplit("/", 1)[1])
        for name, side, role, gender in [
            ("Marie", "worker", "chair", "woman"),
            ("Jean", "worker", "member", "man"),
            ("Paul", "management", "secretary", "man"),
        ]:
            r = await client.post(
                f"{url}/members",
                data={
                    "csrf_token": client.csrf,
                    "display_name": name,
                    "side": side,
                    "role": role,
                    "gender": gender,
                },
            )
            assert r.status_code == 303
        async with console.sessions() as s:
            marie = await s.scalar(
                select(CommitteeMember).where(CommitteeMember.display_name == "Marie")
            )
            assert marie is not None
        # Link Marie to a Telegram worker so she gets messages.
        from bot.storage.db import transaction

        async with transaction(console.sessions) as s:
            seat = await s.get(CommitteeMember, marie.id)
            assert seat is not None
            seat.user_id = worker.id

        # Monthly on the second Sunday at 02:30: 14 March 2027 is the spring-forward day in Haiti.
        r = await client.post(
            f"{url}/schedule",
            data={
                "csrf_token": client.csrf,
                "mode": "simple",
                "freq": "monthly",
                "ordinal": "2",
                "weekday": "SU",
                "first_day": "2027-03-01",
                "at": "02:30",
            },
        )
        assert r.status_code == 400 and "2027-03-14 02:30" in r.text and "does not exist" in r.text

        # Monthly on the first Sunday at 01:30: 7 Nov 2027 happens twice; the console says so.
        r = await client.post(
            f"{url}/schedule",
            data={
                "csrf_token": client.csrf,
                "mode": "raw",
                "rrule": "FREQ=MONTHLY;BYDAY=1SU",
                "first_day": "2027-03-01",
                "at": "01:30",
            },
        )
        assert r.status_code == 303
        page = await client.get(r.headers["location"])
        assert "happen twice" in page.text and "2027-11-07 01:30" in page.text

        r = await client.post(
            f"{url}/schedule",
            data={
                "csrf_token": client.csrf,
                "mode": "raw",
                "rrule": "FREQ=SOMETIMES",
                "first_day": "2027-03-01",
                "at": "14:00",
            },
        )
        assert r.status_code == 400 and "could not be read" in r.text

        # The friendly form: first Tuesday of the month at 14:00, reminders 72/24/2 hours.
        r = await client.post(
            f"{url}/schedule",
            data={
                "csrf_token": client.csrf,
                "mode": "simple",
                "freq": "monthly",
                "ordinal": "1",
                "weekday": "TU",
                "first_day": "2027-03-01",
                "at": "14:00",
                "location": "Canteen",
                "offsets": "72, 24, 2",
                "quorum": "50",
            },
        )
        assert r.status_code == 303
        async with console.sessions() as s:
            committee = await s.get(Committee, cid)
            assert committee is not None and committee.rrule == "FREQ=MONTHLY;BYDAY=1TU"
            starts = (
                await s.scalars(
                    select(Meeting.starts_at)
                    .where(Meeting.status == "planned")
                    .order_by(Meeting.starts_at)
                )
            ).all()
            # The first-Sunday meetings of the replaced schedule were cancelled, not deleted.
            assert await s.scalar(
                select(func.count()).select_from(Meeting).where(Meeting.status == "cancelled")
            )
        # 2 March (before DST: UTC-5) and 6 April (after: UTC-4), both 14:00 on the factory clock.
        assert starts[:2] == [
            datetime(2027, 3, 2, 19, 0, tzinfo=UTC),
            datetime(2027, 4, 6, 18, 0, tzinfo=UTC),
        ]

        page = await client.get(url)
        assert page.status_code == 200
        assert "2027-03-02 14:00" in page.text and "Canteen" in page.text
        assert "Marie" in page.text and "(women: 1)" in page.text.replace("</span>", "")

        # A holiday on 6 April cancels that meeting; Marie hears about it.
        async with console.sessions() as s:
            april = await s.scalar(select(Meeting).where(Meeting.starts_at == starts[1]))
            assert april is not None
        # Two first-Sunday meetings of the replaced schedule were cancelled with notice already.
        told = await count(console, OutboxMessage, OutboxMessage.kind == "committees.changed")
        assert told == 2
        r = await client.post(
            f"{url}/holidays",
            data={"csrf_token": client.csrf, "day": "2027-04-06", "name": "Easter"},
        )
        assert r.status_code == 303
        assert "Meetings cancelled on that day: 1" in (await client.get(url)).text
        assert (
            await count(
                console, Meeting, Meeting.starts_at == starts[1], Meeting.status == "cancelled"
            )
            == 1
        )
        changes = await count(console, OutboxMessage, OutboxMessage.kind == "committees.changed")
        assert changes == told + 1

        # Move the March meeting by an hour.
        async with console.sessions() as s:
            march = await s.scalar(select(Meeting).where(Meeting.starts_at == starts[0]))
            assert march is not None
        r = await client.post(
            f"{url}/meetings/change",
            data={
                "csrf_token": client.csrf,
                "meeting_id": march.id,
                "op": "move",
                "starts": "2027-03-02T15:00",
            },
        )
        assert r.status_code == 303
        # A one-off meeting at a time that does not exist is refused clearly.
        r = await client.post(
            f"{url}/meetings", data={"csrf_token": client.csrf, "starts": "2027-03-14T02:15"}
        )
        assert r.status_code == 400 and "does not exist" in r.text

        # Agenda items members sent in the bot show in the calendar.
        from services.committees.participation import do_add_agenda_item

        async with transaction(console.sessions) as s:
            meeting = await s.get(Meeting, march.id)
            seat = await s.get(CommitteeMember, marie.id)
            assert meeting is not None and seat is not None
            await do_add_agenda_item(s, meeting, seat, "Blocked fire exit, floor 2")
        assert "Blocked fire exit, floor 2" in (await client.get(url)).text

        r = await client.post(f"{url}/invites", data={"csrf_token": client.csrf, "side": "worker"})
        assert r.status_code == 303
        assert await count(console, CommitteeInvite) == 1

    # After the March meeting: attendance, minutes, an action.
    with time_machine.travel(datetime(2027, 3, 3, 12, 0, tzinfo=UTC), tick=False):
        client = console.client_for(staff)
        r = await client.post(
            f"{url}/attendance",
            data={"csrf_token": client.csrf, "meeting_id": march.id, "present": [marie.id]},
        )
        assert r.status_code == 303
        r = await client.post(
            f"{url}/minutes",
            data={"csrf_token": client.csrf, "meeting_id": march.id, "text": "Fire exits cleared."},
        )
        assert r.status_code == 303
        r = await client.post(
            f"{url}/actions",
            data={
                "csrf_token": client.csrf,
                "text": "Buy extinguishers",
                "owner_member_id": marie.id,
                "due_on": "2027-03-20",
            },
        )
        assert r.status_code == 303
        page = await client.get(url)
        assert "Fire exits cleared." in page.text and "Buy extinguishers" in page.text
        assert "attended: 1 of 3" in page.text
        listing = await client.get("/committees")
        assert "1 / 1" in listing.text and "33%" in listing.text and "50%" in listing.text
    assert await count(console, MeetingResponse, MeetingResponse.attended.is_(True)) == 1
    assert await count(console, ActionItem) == 1
    assert await count(console, AuditEvent, AuditEvent.action.like("committee.%")) >= 10


async def test_scope_and_roles(console: ConsoleHarness) -> None:
    from bot.storage.db import transaction
    from services.committees.members import do_create_committee

    kh = await make_factory(console.sessions, "KH-9", country="KH")
    async with transaction(console.sessions) as s:
        committee = await do_create_committee(s, kh, kind="picc", name="PICC KH", actor=None)
    bd_manager = console.client_for(await console.staff("country_manager", ["BD"]))
    assert (await bd_manager.get(f"/committees/{committee.id}")).status_code == 404
    assert "PICC KH" not in (await bd_manager.get("/committees")).text
    analyst = console.client_for(await console.staff("analyst", ["KH"]))
    listing = await analyst.get("/committees")
    assert listing.status_code == 200 and "PICC KH" in listing.text
    assert (await analyst.get(f"/committees/{committee.id}")).status_code == 403
    organiser = console.client_for(await console.staff("organiser", ["KH"]))
    # Committee business stays apart from union business.
    assert (await organiser.get("/committees")).status_code == 403


async def test_a_refused_committee_form_keeps_the_page_and_what_was_typed(
    console: ConsoleHarness,
) -> None:
    """m8: the reason is on the committee page, next to the field, in words (never
    "display_name"), with every typed value kept; no "Back to the start" page."""
    from tests.test_console_confirmations import _committee

    committee_id, _member, _meeting = await _committee(console)
    client = console.client_for(await console.staff("country_manager", ["BD"]))
    url = f"/committees/{committee_id}"
    r = await client.post(
        f"{url}/members",
        data={
            "csrf_token": client.csrf,
            "display_name": "   ",
            "side": "management",
            "role": "secretary",
            "gender": "woman",
            "language": "bn",
        },
    )
    assert r.status_code == 400
    assert "Back to the start" not in r.text and "display_name" not in r.text.split("<form")[0]
    assert 'id="display_name-error">Please fill this in.' in r.text
    assert '<option value="management" selected>' in r.text  # the side chosen stays chosen
    assert '<option value="secretary" selected>' in r.text
    assert '<option value="bn" selected>' in r.text
    assert "Some fields were missing or not valid" not in r.text

    # Schedule refused by the service: the page again, the typed place and hours kept.
    r = await client.post(
        f"{url}/schedule",
        data={
            "csrf_token": client.csrf,
            "mode": "raw",
            "rrule": "FREQ=SOMETIMES",
            "first_day": "2027-03-01",
            "at": "14:00",
            "location": "Canteen, floor 2",
            "offsets": "48, 3",
        },
    )
    assert r.status_code == 400 and 'id="rrule-error">This schedule could not be read' in r.text
    assert 'value="Canteen, floor 2"' in r.text and 'value="48, 3"' in r.text
    assert 'value="FREQ=SOMETIMES"' in r.text


async def test_a_meeting_in_the_past_is_called_that(console: ConsoleHarness) -> None:
    from tests.test_console_confirmations import _committee

    committee_id, _member, meeting_id = await _committee(console)
    client = console.client_for(await console.staff("case_handler", ["BD"]))
    url = f"/committees/{committee_id}"
    r = await client.post(
        f"{url}/meetings",
        data={"csrf_token": client.csrf, "starts": "2020-01-07T10:00", "location": "Gate 3"},
    )
    assert r.status_code == 400
    assert 'id="mt-starts-error">This time has already passed.' in r.text
    assert "cancelled or has already taken place" not in r.text
    assert 'value="2020-01-07T10:00"' in r.text and 'value="Gate 3"' in r.text
    r = await client.post(
        f"{url}/meetings/change",
        data={
            "csrf_token": client.csrf,
            "meeting_id": meeting_id,
            "op": "move",
            "starts": "2020-01-07T10:00",
        },
    )
    assert r.status_code == 400 and "This time has already passed." in r.text
    assert await count(console, Meeting, Meeting.starts_at < datetime(2021, 1, 1, tzinfo=UTC)) == 0


async def test_the_schedule_form_opens_with_the_schedule_in_words(
    console: ConsoleHarness,
) -> None:
    from admin.committee_forms import schedule_words, simple_parts
    from tests.test_console_confirmations import _committee

    committee_id, _member, _meeting = await _committee(console)
    client = console.client_for(await console.staff("country_manager", ["BD"]))
    url = f"/committees/{committee_id}"
    r = await client.post(
        f"{url}/schedule",
        data={
            "csrf_token": client.csrf,
            "mode": "simple",
            "freq": "monthly",
            "interval": "1",
            "ordinal": "-1",
            "weekday": "TH",
            "first_day": "2099-01-01",
            "at": "15:30",
            "location": "Canteen",
            "offsets": "48, 3",
            "quorum": "60",
        },
    )
    assert r.status_code == 303
    page = await client.get(url)
    assert "Every month on the last Thursday at 15:30" in page.text
    assert "FREQ=MONTHLY" not in page.text.split('id="schedule-words"')[1].split("</p>")[0]
    for prefilled in (
        'name="first_day" type="date" value="2099-01-01"',
        'name="at" type="time" value="15:30"',
        '<option value="TH" selected>Thursday</option>',
        '<option value="-1" selected>last</option>',
        'name="offsets" type="text" value="48, 3"',
        'name="quorum" type="number" value="60"',
    ):
        assert prefilled in page.text, prefilled
    # Sides, roles and statuses in words, not stored keys.
    assert ">Workers&#39; side<" in page.text and ">worker<" not in page.text
    # Read back, every simple choice gives its own rule and words.
    for freq, ordinal, interval in [("weekly", 0, 1), ("weekly", 0, 2), ("monthly", 2, 3)]:
        from services.committees.schedule import friendly_rrule

        rule = friendly_rrule(freq=freq, weekday="MO", ordinal=ordinal, interval=interval)
        parts = simple_parts(rule)
        assert parts == {"freq": freq, "weekday": "MO", "ordinal": ordinal, "interval": interval}
        assert "Monday" in schedule_words(rule, "09:00") and "FREQ" not in schedule_words(
            rule, "09:00"
        )
    assert simple_parts("FREQ=DAILY") is None
    assert "FREQ=DAILY" in schedule_words("FREQ=DAILY", "09:00")  # a custom rule says itself
