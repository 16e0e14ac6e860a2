"""Report numbers over a period, and the downloads staff take to a spreadsheet (m10, m11): CSV
with a byte-order mark and a count column that holds only numbers, Excel with typed cells, a
header row, frozen panes and suppressed cells as text; both audited."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select

from bot.i18n import use_locale
from bot.storage.db import transaction
from bot.storage.models import AuditEvent
from bot.storage.reports import Case
from services.labels import label
from services.reports.protocol import Category, Harm
from tests.console import ConsoleHarness, tables
from tests.factories import make_case


async def copies(console: ConsoleHarness, case: Any, n: int, **values: Any) -> None:
    """``n`` more cases like ``case`` written directly (statistics need many)."""
    async with transaction(console.sessions) as s:
        template = await s.get(Case, case.id)
        assert template is not None
        columns = {c.key: getattr(template, c.key) for c in Case.__table__.columns}
        for _ in range(n):
            row = dict(columns)
            row.pop("id")
            token = secrets.token_hex(6)
            row.update(
                receipt_lookup=token * 2, submission_token=token * 2, reference=token[:12], **values
            )
            s.add(Case(**row))


def month(at: datetime) -> str:
    return f"{at.year:04d}-{at.month:02d}"


async def seeded(console: ConsoleHarness) -> datetime:
    """12 cases this month: 6 closed (acknowledged after 10 h, closed after 4 days), 6 open
    (acknowledged after 30 h); and 1 lone safety case."""
    now = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    first = await make_case(console.sessions, console.ctx.settings)
    await copies(
        console,
        first,
        6,
        submitted_at=now,
        state="closed",
        outcome="resolved",
        acknowledged_at=now + timedelta(hours=10),
        closed_at=now + timedelta(days=4),
    )
    await copies(
        console,
        first,
        5,
        submitted_at=now,
        state="acknowledged",
        acknowledged_at=now + timedelta(hours=30),
    )
    async with transaction(console.sessions) as s:
        case = await s.get(Case, first.id)
        assert case is not None
        case.submitted_at, case.state = now, "acknowledged"
        case.acknowledged_at = now + timedelta(hours=30)
    await make_case(
        console.sessions,
        console.ctx.settings,
        telegram_id=2,
        category=Category.SAFETY,
        harm=Harm.OTHER,
    )
    return now


async def test_report_numbers_over_a_period_with_labels_and_medians(
    console: ConsoleHarness,
) -> None:
    now = await seeded(console)
    analyst = await console.staff("analyst", ["BD"])
    client = console.client_for(analyst)
    page = (await client.get("/reports/counts")).text
    open_closed = dict((row[0], row[1]) for row in tables(page, "counts")[0][1:])
    assert open_closed == {"open": "7", "closed": "6", "All": "13"}
    by_category = dict((row[0], row[1]) for row in tables(page, "counts")[2][1:])
    # The words for each category (``services.labels``), never its key.
    assert "working_time" not in by_category
    with use_locale("en"):
        assert by_category[label(Category.WORKING_TIME)] == "fewer than 5"
        # 12 harassment cases and 1 safety case: 13 − 12 would give the lone one back.
        assert by_category[label(Category.HARASSMENT)] == "hidden"
        assert by_category[label(Category.SAFETY)] == "fewer than 5"
    assert "20 hours" in page  # median time to acknowledge: between 10 h (6) and 30 h (6)
    assert "4 days" in page  # median time to close
    # A period that holds none of the cases: every count hidden, nothing small printed.
    last_year = f"{now.year - 1:04d}-{now.month:02d}"
    empty = (await client.get(f"/reports/counts?first={last_year}&last={last_year}")).text
    assert "<td>13</td>" not in empty and "<td>0</td>" not in empty
    bad = await client.get("/reports/counts?first=2026-13&last=2026-01")
    assert bad.status_code == 422 and "such as 2026-03" in bad.text
    inverted = await client.get("/reports/counts?first=2026-05&last=2026-01")
    assert inverted.status_code == 422 and "after the last month" in inverted.text


async def test_report_numbers_csv_and_excel_are_typed_suppressed_and_audited(
    console: ConsoleHarness,
) -> None:
    await seeded(console)
    manager = await console.staff("country_manager", ["BD"])
    client = console.client_for(manager)
    r = await client.get("/reports/counts.csv?country=BD")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == ["Figure", "Group", "Count", "Not shown", "Share"]
    for row in rows[1:]:
        assert row[2] == "" or float(row[2]) >= 0, row  # numbers only in the count column
        assert row[2] or row[3] or row[0] in ("Period", "Country"), row
    assert ["All cases", "", "13", "", ""] in rows
    closed = next(row for row in rows if row[1] == "closed")
    assert closed[2] == "6" and abs(float(closed[4]) - 6 / 13) < 1e-9
    assert any(row[3] == "fewer than 5" for row in rows)

    r = await client.get("/reports/counts.xlsx?country=BD")
    assert r.status_code == 200 and "spreadsheetml" in r.headers["content-type"]
    sheet = load_workbook(io.BytesIO(r.content)).active
    assert sheet is not None and sheet.freeze_panes == "A2"
    assert [c.value for c in sheet[1]] == ["Figure", "Group", "Count", "Not shown", "Share"]
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert ["All cases", None, 13, None, None] in values
    closed_row = next(row for row in sheet.iter_rows(min_row=2) if row[1].value == "closed")
    assert closed_row[2].data_type == "n" and closed_row[4].number_format == "0%"
    hidden = [row for row in values if row[3] == "fewer than 5"]
    assert hidden and all(row[2] is None for row in hidden)
    async with console.sessions() as s:
        formats = [
            e.detail["format"]
            for e in (
                await s.scalars(select(AuditEvent).where(AuditEvent.action == "case.counts.export"))
            ).all()
        ]
    assert sorted(formats) == ["csv", "xlsx"]  # one audit event per download (any order)


async def test_excel_cells_never_become_formulas() -> None:
    from services.spreadsheets import Sheet, xlsx_bytes

    body = xlsx_bytes(
        [
            Sheet(
                "a/b:c",
                ["Text", "When"],
                [['=HYPERLINK("http://x")', datetime(2026, 3, 1, tzinfo=UTC)]],
            )
        ]
    )
    sheet = load_workbook(io.BytesIO(body)).active
    assert sheet is not None and sheet.title == "a b c"
    cell = sheet["A2"]
    assert cell.data_type == "s" and cell.value == '=HYPERLINK("http://x")'
    assert sheet["B2"].is_date and sheet["B2"].value == datetime(2026, 3, 1)
