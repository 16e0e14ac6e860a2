"""Irreversible actions need a ticked box (review M13): closing a survey wave, cancelling a
meeting, removing a committee member, sending a broadcast now, sending results to respondents.
Each page shows the box with what will happen; a POST without it (forged, or a hurried script)
changes nothing and says why; with it, the action runs and the page confirms it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.storage.broadcasts import Broadcast
from bot.storage.committees import CommitteeMember, Meeting
from bot.storage.db import transaction
from bot.storage.models import OutboxMessage
from bot.storage.surveys import SurveyWave
from services.committees import meetings, members
from services.surveys.waves import open_due_waves
from tests.console import ConsoleHarness
from tests.factories import make_factory, make_worker
from tests.surveys_data import make_wave
from tests.test_console_broadcasts import make_draft, make_topic, subscribers
from tests.test_console_survey_waves import _answered_wave

BOX = 'name="confirm_action"'
REFUSED = "Nothing was done: tick the box to confirm first."


async def _committee(console: ConsoleHarness) -> tuple[int, int, int]:
    """A committee in BD with one member and a meeting next week: (committee, member, meeting)."""
    factory = await make_factory(console.sessions, "CF-1", country="BD")
    async with transaction(console.sessions) as s:
        committee = await members.do_create_committee(
            s, factory, kind="osh", name="OSH", actor=None
        )
        member = await members.do_add_member(
            s, committee, display_name="Rahima", side="worker", role="member", actor=None
        )
        week = (datetime.now(UTC) + timedelta(days=7)).astimezone(meetings.zone(committee))
        meeting, _twice = await meetings.do_add_meeting(
            s, committee, local_start=week.strftime("%Y-%m-%dT10:00"), actor=None
        )
        return committee.id, member.id, meeting.id


async def test_removing_a_member_needs_the_box(console: ConsoleHarness) -> None:
    committee_id, member_id, _meeting = await _committee(console)
    client = console.client_for(await console.staff("country_manager", ["BD"]))
    url = f"/committees/{committee_id}"
    page = await client.get(url)
    assert "Yes, remove Rahima: they stop getting reminders and minutes" in page.text
    data = {"csrf_token": client.csrf, "member_id": member_id, "op": "remove"}  # type: ignore[attr-defined]
    refused = await client.post(f"{url}/members/change", data=data)
    assert refused.status_code == 400 and REFUSED in refused.text
    assert "Rahima" in refused.text  # the committee page itself, not an error page
    async with console.sessions() as s:
        member = await s.get(CommitteeMember, member_id)
        assert member is not None and member.status == "active"
    done = await client.post(f"{url}/members/change", data={**data, "confirm_action": "1"})
    assert done.status_code == 303
    assert "The member is removed from the committee." in (await client.get(url)).text
    async with console.sessions() as s:
        member = await s.get(CommitteeMember, member_id)
        assert member is not None and member.status == "left"


async def test_cancelling_a_meeting_needs_the_box(console: ConsoleHarness) -> None:
    committee_id, _member, meeting_id = await _committee(console)
    client = console.client_for(await console.staff("case_handler", ["BD"]))
    url = f"/committees/{committee_id}"
    page = await client.get(url)
    assert "Yes, cancel this meeting: every member is told at once" in page.text
    data = {"csrf_token": client.csrf, "meeting_id": meeting_id, "op": "cancel"}  # type: ignore[attr-defined]
    refused = await client.post(f"{url}/meetings/change", data=data)
    assert refused.status_code == 400 and REFUSED in refused.text
    async with console.sessions() as s:
        assert (await s.get(Meeting, meeting_id)).status == "planned"  # type: ignore[union-attr]
    done = await client.post(f"{url}/meetings/change", data={**data, "confirm_action": "1"})
    assert done.status_code == 303
    assert "The meeting is cancelled; members are told." in (await client.get(url)).text
    async with console.sessions() as s:
        assert (await s.get(Meeting, meeting_id)).status == "cancelled"  # type: ignore[union-attr]


async def test_closing_an_open_wave_now_says_unfinished_answers_go(
    console: ConsoleHarness,
) -> None:
    wave = await make_wave(console.sessions, open_now=False)
    await make_worker(console.sessions, 8800)
    async with transaction(console.sessions) as s:
        await open_due_waves(s, worker="t")
    client = console.client_for(await console.staff("analyst", ["BD"]))
    page = await client.get(f"/surveys/{wave.survey_id}/waves")
    assert "Close now" in page.text and BOX in page.text
    assert "answers people have started but not finished are deleted" in page.text
    url = f"/surveys/waves/{wave.id}/cancel"
    refused = await client.post(url, data={"csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert refused.status_code == 400 and REFUSED in refused.text
    async with console.sessions() as s:
        assert (await s.get(SurveyWave, wave.id)).status == "open"  # type: ignore[union-attr]
    done = await client.post(
        url,
        data={"csrf_token": client.csrf, "confirm_action": "1"},  # type: ignore[attr-defined]
    )
    assert done.status_code == 303
    assert "The wave is closed" in (await client.get(done.headers["location"])).text
    async with console.sessions() as s:
        assert (await s.get(SurveyWave, wave.id)).status == "closed"  # type: ignore[union-attr]


async def test_sending_a_broadcast_now_says_how_many_and_needs_the_box(
    console: ConsoleHarness,
) -> None:
    topic = await make_topic(console)
    await subscribers(console, topic.id, ["en"] * 12, first_id=6100)
    draft = await make_draft(console, topic)
    client = console.client_for(await console.staff("organiser", ["BD"]))
    url = f"/broadcasts/{draft.id}"
    page = await client.get(url)
    assert "Yes, send it now to about 10 workers" in page.text  # 12, rounded like the preview
    refused = await client.post(f"{url}/send", data={"csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert refused.status_code == 400 and REFUSED in refused.text
    async with console.sessions() as s:
        assert (await s.get(Broadcast, draft.id)).status == "draft"  # type: ignore[union-attr]
    done = await client.post(
        f"{url}/send",
        data={"csrf_token": client.csrf, "confirm_action": "1"},  # type: ignore[attr-defined]
    )
    assert done.status_code == 303
    assert "The message is on its way." in (await client.get(url)).text


async def test_a_small_audience_is_not_counted_in_the_warning(console: ConsoleHarness) -> None:
    topic = await make_topic(console)
    await subscribers(console, topic.id, ["en"] * 2, first_id=6200)
    draft = await make_draft(console, topic)
    client = console.client_for(await console.staff("organiser", ["BD"]))
    page = await client.get(f"/broadcasts/{draft.id}")
    assert "Yes, send it now to fewer than 5 workers" in page.text
    assert "to about 2 workers" not in page.text


async def test_sending_to_respondents_needs_the_box(console: ConsoleHarness) -> None:
    wave, _people = await _answered_wave(console)
    client = console.client_for(await console.staff("country_manager", ["BD"]))
    page = await client.get(f"/surveys/waves/{wave.id}/results")
    assert "it goes once and cannot be taken back" in page.text and BOX in page.text
    url = f"/surveys/waves/{wave.id}/loop"
    typed = {"csrf_token": client.csrf, "loop:en": "We fixed the fire exits."}  # type: ignore[attr-defined]
    refused = await client.post(url, data=typed)
    assert refused.status_code == 400 and REFUSED in refused.text
    assert "We fixed the fire exits." in refused.text  # what was typed is kept
    async with console.sessions() as s:
        queued = await s.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind == "surveys.loop")
        )
    assert queued == 0
    done = await client.post(url, data={**typed, "confirm_action": "1"})
    assert done.status_code == 200 and "Queued for 12 people" in done.text
