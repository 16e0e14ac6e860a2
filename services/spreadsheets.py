"""Excel workbooks of figures staff download (m11): typed cells, a header row, frozen panes.

Numbers are numbers and dates are dates, so a spreadsheet sorts and sums them; a suppressed
count is the text "fewer than k" (or "hidden"), never a number. Text is always stored as text:
a cell that starts with ``=`` would otherwise be a formula (audit L3, as ``services.exports``
guards the CSV files).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

Value = str | int | float | date | datetime | None
MAX_WIDTH = 60
PERCENT = "0%"
DATE = "yyyy-mm-dd"


@dataclass
class Sheet:
    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[Value]]
    # Columns (0-based) whose numbers are shares (0..1), shown as percentages.
    percent_columns: frozenset[int] = frozenset()


def _sheet_title(title: str) -> str:
    # Excel refuses titles over 31 characters or with []:*?/\ in them.
    cleaned = "".join(" " if ch in "[]:*?/\\" else ch for ch in title).strip()
    return cleaned[:31] or "Sheet"


def _put(cell: Cell, value: Value) -> None:
    if isinstance(value, datetime):
        # Excel has no time zones: times are written as UTC wall-clock times.
        cell.value = (value.astimezone(UTC) if value.tzinfo else value).replace(tzinfo=None)
        cell.number_format = "yyyy-mm-dd hh:mm"
    elif isinstance(value, date):
        cell.value = value
        cell.number_format = DATE
    elif isinstance(value, str):
        cell.value = value
        cell.data_type = "s"  # never a formula, whatever it starts with
    else:
        cell.value = value


def xlsx_bytes(sheets: Sequence[Sheet]) -> bytes:
    """A workbook with one sheet per ``Sheet``: bold header row frozen above the data, columns
    as wide as their longest text (up to a limit)."""
    book = Workbook()
    book.remove(book.active)
    for spec in sheets:
        sheet = book.create_sheet(_sheet_title(spec.title))
        sheet.append([str(h) for h in spec.header])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        widths = [len(str(h)) for h in spec.header]
        for r, row in enumerate(spec.rows, start=2):
            for c, value in enumerate(row, start=1):
                cell = sheet.cell(row=r, column=c)
                _put(cell, value)
                if c - 1 in spec.percent_columns and isinstance(value, int | float):
                    cell.number_format = PERCENT
                if c - 1 < len(widths):
                    widths[c - 1] = max(widths[c - 1], len(str(value)) if value is not None else 0)
        for i, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = min(MAX_WIDTH, width + 2)
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
