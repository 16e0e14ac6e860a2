"""The audit log (review m13): dates that cannot be used are said plainly, actions are chosen from
the ones the log holds (in words), details read as words, paging keeps the filters, and the
filtered events download as CSV, a download that is audited itself."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.storage.db import transaction
from bot.storage.models import AuditEvent
from services import audit
from tests.console import ConsoleHarness, tables


async def _events(console: ConsoleHarness, n: int = 0) -> None:
    handler = await console.staff("case_handler", ["BD"], email="karim@example.org")
    async with transaction(console.sessions) as s:
        await audit.record(
            s,
            "case.transition",
            actor=handler,
            object_type="case",
            object_id=23,
            country_code="BD",
            to="triaged",
        )
        await audit.record(
            s,
            "case.assign",
            actor=handler,
            object_type="case",
            object_id=23,
            country_code="BD",
            to_staff=handler.id,
        )
        for i in range(n):
            await audit.record(s, "case.view", actor=handler, object_type="case", object_id=i)


async def test_dates_that_cannot_be_used_are_said_plainly(console: ConsoleHarness) -> None:
    await _events(console)
    client = console.client_for(await console.staff("admin"))
    bad = await client.get("/audit", params={"since": "2026-13-45"})
    assert bad.status_code == 400
    assert 'id="f-since-error">This is not a date. Please use the form 2026-12-31.' in bad.text
    assert "karim@example.org" not in bad.text  # nothing listed rather than everything
    inverted = await client.get("/audit", params={"since": "2026-12-10", "until": "2026-12-01"})
    assert inverted.status_code == 400
    assert "This day is before the first day. Please swap the two dates." in inverted.text
    today = datetime.now(UTC).date()
    fine = await client.get(
        "/audit", params={"since": str(today - timedelta(days=1)), "until": str(today)}
    )
    assert fine.status_code == 200 and "karim@example.org" in fine.text
    one_day = await client.get("/audit", params={"since": str(today), "until": str(today)})
    assert one_day.status_code == 200 and "karim@example.org" in one_day.text


async def test_actions_are_chosen_by_their_words_and_details_read_as_words(
    console: ConsoleHarness,
) -> None:
    await _events(console)
    client = console.client_for(await console.staff("admin"))
    page = await client.get("/audit")
    assert '<select id="f-action" name="action">' in page.text
    assert '<option value="case.assign">Assigned a case</option>' in page.text
    assert '<option value="case.transition">Moved a case to another state</option>' in page.text
    rows = tables(page.text, "audit")[0]
    texts = [" | ".join(row) for row in rows]
    assert any("Moved a case to another state" in t and "to: Triaged" in t for t in texts), texts
    assert any("to staff member: karim@example.org" in t for t in texts), texts
    assert not any("to=triaged" in t or "to_staff=" in t for t in texts)
    only = await client.get("/audit", params={"action": "case.assign"})
    listed = tables(only.text, "audit")[0][1:]
    assert len(listed) == 1 and "Assigned a case" in listed[0]


async def test_paging_keeps_the_filters(console: ConsoleHarness) -> None:
    await _events(console, n=120)
    client = console.client_for(await console.staff("admin"))
    first = await client.get("/audit", params={"action": "case.view", "actor": "karim"})
    assert len(tables(first.text, "audit")[0]) == 101  # header + 100
    assert 'href="?action=case.view&amp;actor=karim&amp;page=2"' in first.text
    second = await client.get("/audit", params={"action": "case.view", "actor": "karim", "page": 2})
    assert len(tables(second.text, "audit")[0]) == 21
    assert 'href="?action=case.view&amp;actor=karim&amp;page=1"' in second.text


async def test_the_filtered_events_download_as_csv_and_the_download_is_audited(
    console: ConsoleHarness,
) -> None:
    await _events(console, n=3)
    admin = await console.staff("admin")
    client = console.client_for(admin)
    page = await client.get("/audit", params={"action": "case.transition"})
    assert 'href="/audit/export.csv?action=case.transition"' in page.text
    r = await client.get("/audit/export.csv", params={"action": "case.transition"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert r.text.startswith("\ufeff")  # Excel reads it as UTF-8
    rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["When (UTC)", "Who", "Action"]
    assert len(rows) == 2  # the header and the one transition, not the views
    assert rows[1][1:4] == ["karim@example.org", "Moved a case to another state", "case.transition"]
    assert "to: Triaged" in rows[1][6]
    async with console.sessions() as s:
        exported = (
            await s.scalars(select(AuditEvent).where(AuditEvent.action == "audit.export"))
        ).all()
    assert len(exported) == 1 and exported[0].actor_staff_id == admin.id
    assert exported[0].detail == {"count": 1, "filter_action": "case.transition"}
    # Dates that cannot be used download nothing: the page says why.
    bad = await client.get("/audit/export.csv", params={"since": "yesterday"})
    assert bad.status_code == 400 and "This is not a date" in bad.text
    async with console.sessions() as s:
        assert (
            await s.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "audit.export")
            )
            == 1
        )


async def test_a_manager_exports_only_their_countries(console: ConsoleHarness) -> None:
    await _events(console)
    async with transaction(console.sessions) as s:
        await audit.record(s, "case.view", actor=None, object_type="case", country_code="KH")
    manager = console.client_for(await console.staff("country_manager", ["KH"]))
    rows = list(csv.reader(io.StringIO((await manager.get("/audit/export.csv")).text)))
    assert len(rows) == 2 and "karim@example.org" not in str(rows)
    assert (
        await console.client_for(await console.staff("analyst", ["KH"])).get("/audit/export.csv")
    ).status_code == 403


async def test_a_bad_id_in_an_address_is_a_missing_page(console: ConsoleHarness) -> None:
    client = console.client_for(await console.staff("country_manager", ["BD"]))
    for path in ("/reports/abc", "/committees/abc", "/broadcasts/topics/xyz"):
        r = await client.get(path)
        assert r.status_code == 404, path
        assert "does not exist" in r.text and "case_id" not in r.text, path
    r = await client.get("/audit", params={"page": "many"})
    assert r.status_code == 400 and "was not filled in as expected" in r.text
    assert "Some fields were missing" not in r.text and ": page" not in r.text
