"""The triage queue a handler can trust (issue 17, M1–M3, m1, m5): lateness from the current
deadline, danger and critical first, pages with a total, the columns a handler needs in her own
time zone, filters she can save, and search by case number."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from bot.i18n import format_datetime
from bot.storage.db import transaction
from bot.storage.models import Staff
from bot.storage.reports import Case, SavedFilter
from services.reports import queue as queue_service
from services.reports.cases import access_case, do_assign, do_close, do_reject_close
from services.reports.conversation import do_reporter_message
from services.reports.crypto import keyring
from services.reports.protocol import Category, Harm, Outcome
from tests.console import ConsoleHarness, csrf_of, tables
from tests.factories import make_case

DAY = timedelta(days=1)


def rows(html: str) -> list[list[str]]:
    """The queue's body rows (cells as text)."""
    found = tables(html, "queue")
    assert found, "no queue table on the page"
    return found[0][1:]


def row_of(html: str, case: Any) -> list[str]:
    for row in rows(html):
        if row[0].split()[0] == f"#{case.id}":
            return row
    raise AssertionError(f"case {case.id} is not listed")


def shown(moment: datetime, zone: str) -> str:
    """A moment as the queue shows it in English (cell text with its spaces normalised)."""
    return " ".join(format_datetime(moment, tz=zone, locale="en", format="short").split())


def order(html: str) -> list[int]:
    return [int(row[0].split()[0].lstrip("#")) for row in rows(html) if row[0].startswith("#")]


async def test_a_case_handled_late_stops_being_late_and_never_tops_a_critical_one(
    console: ConsoleHarness,
) -> None:
    """M1: the late flag was set once and never cleared, so a case acknowledged and triaged late
    stayed red and sorted above new critical cases."""
    settings = console.ctx.settings
    handler = await console.staff("case_handler", ["BD"])
    late = await make_case(console.sessions, settings, telegram_id=11, harm=Harm.VERBAL_ABUSE)
    with time_machine.travel(datetime.now(UTC) + 2 * DAY + timedelta(hours=2)):
        from services.reports.jobs import run_case_tasks

        await run_case_tasks(console.ctx)  # the acknowledgement deadline escalates
        critical = await make_case(
            console.sessions, settings, telegram_id=12, harm=Harm.PHYSICAL_VIOLENCE
        )
        client = console.client_for(handler)
        page = (await client.get("/reports")).text
        assert order(page) == [critical.id, late.id]
        assert "late" in row_of(page, late)[-1] and "Acknowledge by" in row_of(page, late)[-1]
        assert "late" not in row_of(page, critical)[-1]
        assert order((await client.get("/reports?overdue=1")).text) == [late.id]

        token = csrf_of(page)
        answer = await client.post(
            f"/reports/{late.id}/transition", data={"to": "acknowledged", "csrf_token": token}
        )
        assert answer.status_code == 303
        page = (await client.get("/reports")).text
        cell = row_of(page, late)[-1]
        # m1: the met acknowledgement is no longer shown; the triage deadline (5 days) is next.
        assert "late" not in cell and "Acknowledge by" not in cell and "Triage by" in cell
        assert order(page) == [critical.id, late.id]
        assert order((await client.get("/reports?overdue=1")).text) == []


async def test_danger_reported_comes_first_then_severity_then_the_next_deadline(
    console: ConsoleHarness,
) -> None:
    settings = console.ctx.settings
    normal = await make_case(
        console.sessions, settings, telegram_id=21, category=Category.WORKING_TIME, harm=Harm.OTHER
    )
    high = await make_case(console.sessions, settings, telegram_id=22, harm=Harm.VERBAL_ABUSE)
    critical = await make_case(
        console.sessions, settings, telegram_id=23, harm=Harm.PHYSICAL_VIOLENCE
    )
    danger = await make_case(
        console.sessions, settings, telegram_id=24, harm=Harm.VERBAL_ABUSE, danger=True
    )
    handler = await console.staff("case_handler", ["BD"])
    page = (await console.client_for(handler).get("/reports")).text
    assert order(page) == [danger.id, critical.id, high.id, normal.id]
    assert "danger reported" in row_of(page, danger)[0]
    assert "danger reported" not in row_of(page, critical)[0]


async def test_the_queue_pages_with_a_total_and_keeps_its_filters(
    console: ConsoleHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """M2: no silent cap. (Pages of 2 here; 50 in the product.)"""
    assert queue_service.PAGE_SIZE == 50
    monkeypatch.setattr(queue_service, "PAGE_SIZE", 2)
    made = [
        await make_case(console.sessions, console.ctx.settings, telegram_id=30 + n)
        for n in range(5)
    ]
    handler = await console.staff("case_handler", ["BD"])
    client = console.client_for(handler)
    page = (await client.get("/reports?category=harassment")).text
    assert "Showing 1–2 of 5 cases" in page and "Page 1 of 3" in page
    assert 'href="/reports?category=harassment&amp;page=2" rel="next"' in page
    assert 'rel="prev"' not in page
    page = (await client.get("/reports?category=harassment&page=2")).text
    assert "Showing 3–4 of 5 cases" in page and 'rel="prev"' in page and 'rel="next"' in page
    page = (await client.get("/reports?category=harassment&page=3")).text
    assert "Showing 5–5 of 5 cases" in page and 'rel="next"' not in page
    seen = set()
    for n in (1, 2, 3):
        seen |= set(order((await client.get(f"/reports?page={n}")).text))
    assert seen == {c.id for c in made}
    # A page past the end shows the last one, not an empty list.
    assert "Showing 5–5 of 5 cases" in (await client.get("/reports?page=99")).text


async def test_columns_show_assignee_language_unread_replies_and_local_deadline(
    console: ConsoleHarness,
) -> None:
    settings = console.ctx.settings
    keys = keyring(settings)
    case = await make_case(console.sessions, settings, telegram_id=41, language="bn")
    handler = await console.staff("case_handler", ["BD"], name="Rahima Akter")
    manager = await console.staff("country_manager", ["BD"])
    client = console.client_for(handler)

    row = row_of((await client.get("/reports")).text, case)
    assert row[5] == "nobody yet" and row[6] == "Bangla" and row[7] == ""
    # m1: the deadline at the staff member's wall-clock time: her country's zone (Dhaka) ...
    dhaka = shown(case.ack_due_at, "Asia/Dhaka")
    assert row[8] == f"Acknowledge by {dhaka}"
    # ... or the zone she chose on her Account page.
    account = await client.get("/account")
    answer = await client.post(
        "/account/timezone", data={"timezone": "Asia/Amman", "csrf_token": csrf_of(account.text)}
    )
    assert answer.status_code == 303
    assert "Asia/Amman" in (await client.get("/account")).text
    amman = shown(case.ack_due_at, "Asia/Amman")
    page = (await client.get("/reports")).text
    assert row_of(page, case)[8] == f"Acknowledge by {amman}" and amman != dhaka
    assert "Times are in Asia/Amman" in page
    refused = await client.post(
        "/account/timezone", data={"timezone": "Mars/Olympus", "csrf_token": csrf_of(page)}
    )
    assert refused.status_code == 303
    async with console.sessions() as s:
        stored = await s.get(Staff, handler.id)
        assert stored is not None and stored.timezone == "Asia/Amman"

    async with transaction(console.sessions) as s:
        loaded = await access_case(s, manager, case.id, audit_view=False)
        await do_assign(s, loaded, await s.get(Staff, handler.id), actor=manager)
        await do_reporter_message(s, loaded, "Night shift, line 7.", keys=keys)
        await do_reporter_message(s, loaded, "Please hurry.", keys=keys)
    row = row_of((await client.get("/reports")).text, case)
    assert row[5] == "Rahima Akter" and row[7] == "2"
    # A manager looking in leaves the replies unread for the handler; the handler's view reads them.
    assert (await console.client_for(manager).get(f"/reports/{case.id}")).status_code == 200
    assert row_of((await client.get("/reports")).text, case)[7] == "2"
    assert (await client.get(f"/reports/{case.id}")).status_code == 200
    assert row_of((await client.get("/reports")).text, case)[7] == ""
    async with transaction(console.sessions) as s:
        loaded = await access_case(s, handler, case.id, audit_view=False)
        await do_reporter_message(s, loaded, "One more thing.", keys=keys)
    assert row_of((await client.get("/reports")).text, case)[7] == "1"


async def test_filters_mine_unassigned_late_second_person_and_country(
    console: ConsoleHarness,
) -> None:
    settings = console.ctx.settings
    keys = keyring(settings)
    mine = await make_case(console.sessions, settings, telegram_id=51)
    nobody = await make_case(
        console.sessions, settings, telegram_id=52, category=Category.WORKING_TIME, harm=Harm.OTHER
    )
    closing = await make_case(
        console.sessions, settings, telegram_id=53, harm=Harm.PHYSICAL_VIOLENCE
    )
    cambodia = await make_case(console.sessions, settings, telegram_id=54, country="KH")
    rejected = await make_case(
        console.sessions, settings, telegram_id=55, harm=Harm.PHYSICAL_VIOLENCE
    )
    handler = await console.staff("case_handler", ["BD", "KH"])
    manager = await console.staff("country_manager", ["BD"])
    async with transaction(console.sessions) as s:
        me = await s.get(Staff, handler.id)
        assert me is not None
        await do_assign(s, await access_case(s, me, mine.id, audit_view=False), me, actor=me)
        await do_assign(s, await access_case(s, me, closing.id, audit_view=False), me, actor=me)
        await do_close(
            s,
            await access_case(s, me, closing.id, audit_view=False),
            Outcome.RESOLVED,
            actor=me,
            note="Wages paid in full.",
            keys=keys,
        )
        # A closing proposed and rejected waits for nobody any more (JSON null, not SQL NULL).
        await do_assign(s, await access_case(s, me, rejected.id, audit_view=False), me, actor=me)
        proposal = await access_case(s, me, rejected.id, audit_view=False)
        await do_close(s, proposal, Outcome.RESOLVED, actor=me, note="Wages paid.", keys=keys)
        second = await s.get(Staff, manager.id)
        assert second is not None
        await do_reject_close(s, proposal, actor=second, keys=keys)
    client = console.client_for(handler)
    assert set(order((await client.get("/reports?mine=1")).text)) == {
        mine.id,
        closing.id,
        rejected.id,
    }
    assert set(order((await client.get("/reports?unassigned=1")).text)) == {nobody.id, cambodia.id}
    assert order((await client.get("/reports?second=1")).text) == [closing.id]
    assert order((await client.get("/reports?overdue=1")).text) == []
    page = (await client.get("/reports")).text
    # m5: the country is chosen from her countries by name, so "Bangladesh" cannot become "BA".
    assert '<option value="BD" >Bangladesh</option>' in page or 'value="BD"' in page
    assert "Cambodia" in page and "Jordan" not in page
    assert order((await client.get("/reports?country=KH")).text) == [cambodia.id]
    assert set(order((await client.get("/reports?country=BD&unassigned=1")).text)) == {nobody.id}
    assert order((await client.get("/reports?category=working_time")).text) == [nobody.id]
    assert order((await client.get("/reports?factory=kh-c1")).text) == [cambodia.id]
    assert order((await client.get("/reports?state=closed")).text) == []
    # A country outside her scope lists nothing rather than another country's cases.
    assert order((await client.get("/reports?country=JO")).text) == []


async def test_saved_filters_are_listed_above_the_queue_and_can_be_deleted(
    console: ConsoleHarness,
) -> None:
    handler = await console.staff("case_handler", ["BD"])
    other = await console.staff("case_handler", ["BD"])
    client = console.client_for(handler)
    page = (await client.get("/reports?mine=1&overdue=1")).text
    answer = await client.post(
        "/reports/filters",
        data={
            "name": "My late ones",
            "query": "mine=1&overdue=1&bogus=2",
            "csrf_token": csrf_of(page),
        },
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/reports?mine=1&overdue=1"
    page = (await client.get(answer.headers["location"])).text
    assert "Filter saved." in page
    assert '<a href="/reports?mine=1&amp;overdue=1">My late ones</a>' in page
    # An empty name is refused on the same page with the reason, nothing saved.
    refused = await client.post(
        "/reports/filters", data={"name": " ", "query": "mine=1", "csrf_token": csrf_of(page)}
    )
    assert refused.status_code == 400 and "Please fill this in." in refused.text
    assert "My late ones" not in (await console.client_for(other).get("/reports")).text
    async with console.sessions() as s:
        saved = (await s.scalars(select(SavedFilter))).all()
        assert [(f.staff_id, f.name, f.query) for f in saved] == [
            (handler.id, "My late ones", "mine=1&overdue=1")
        ]
    # Someone else cannot delete it; its owner can.
    other_client = console.client_for(other)
    other_page = (await other_client.get("/reports")).text
    refused = await other_client.post(
        f"/reports/filters/{saved[0].id}/delete", data={"csrf_token": csrf_of(other_page)}
    )
    assert refused.status_code == 404
    assert "My late ones" in (await client.get("/reports")).text
    gone = await client.post(
        f"/reports/filters/{saved[0].id}/delete", data={"csrf_token": csrf_of(page)}
    )
    assert gone.status_code == 303
    page = (await client.get("/reports")).text
    assert "Filter deleted." in page and "My late ones" not in page


async def test_a_case_number_leads_to_the_case_if_in_scope(console: ConsoleHarness) -> None:
    settings = console.ctx.settings
    here = await make_case(console.sessions, settings, telegram_id=61)
    there = await make_case(console.sessions, settings, telegram_id=62, country="KH")
    handler = await console.staff("case_handler", ["BD"])
    client = console.client_for(handler)
    for typed in (str(here.id), f"#{here.id}", " " + str(here.id).translate(BANGLA) + " "):
        answer = await client.get("/reports", params={"number": typed})
        assert answer.status_code == 303 and answer.headers["location"] == f"/reports/{here.id}"
    for typed in (str(there.id), "999999", "abc"):
        page = await client.get("/reports", params={"number": typed})
        assert page.status_code == 200
        assert "in your countries" in page.text and f'href="/reports/{there.id}"' not in page.text
    async with console.sessions() as s:
        assert await s.get(Case, there.id) is not None


BANGLA = str.maketrans("0123456789", "০১২৩৪৫৬৭৮৯")


async def test_the_case_page_says_late_only_while_the_current_deadline_is_missed(
    console: ConsoleHarness,
) -> None:
    """The case page reads lateness as the queue does (the stored flag is gone): late before
    the acknowledgement, not once the case is acknowledged and the triage deadline is ahead."""
    handler = await console.staff("case_handler", ["BD"])
    case = await make_case(console.sessions, console.ctx.settings, telegram_id=31)
    with time_machine.travel(datetime.now(UTC) + 2 * DAY + timedelta(hours=2)):
        client = console.client_for(handler)
        page = (await client.get(f"/reports/{case.id}")).text
        assert "Next deadline" in page and '<span class="badge critical">overdue</span>' in page
        answer = await client.post(
            f"/reports/{case.id}/transition",
            data={"to": "acknowledged", "csrf_token": csrf_of(page)},
        )
        assert answer.status_code == 303
        page = (await client.get(f"/reports/{case.id}")).text
        assert "Next deadline" in page and "overdue</span>" not in page
