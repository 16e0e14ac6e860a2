"""Survey results broken down by factory at scale (M12, m9): one row per factory with counts,
shares and the scale's mean, a benchmark row for the whole wave, search by name or code, pages
of 50 in their own scrolling box; groups in words, not codes; an Excel download (m11)."""

from __future__ import annotations

import io
import itertools
import re
from datetime import date

import pytest
from openpyxl import load_workbook

from bot.storage.db import transaction
from bot.storage.surveys import SurveyAnswer, SurveyResponse, SurveyWave
from services import labels
from services.onboarding import AgeBand
from tests.console import ConsoleHarness, tables
from tests.factories import make_factory
from tests.surveys_data import make_wave

_ids = itertools.count(5_000_000)


async def answered(
    console: ConsoleHarness,
    wave: SurveyWave,
    factory_id: int | None,
    moods: list[str],
    *,
    language: str = "bn",
    gender: str | None = "woman",
    age_band: str | None = "25-34",
) -> None:
    """Published anonymous answers (what the batch job writes): one respondent per mood; every
    fifth one feels unsafe (a breakdown with empty cells everywhere costs the suppression
    engine seconds per group: kept for the benchmark, not here)."""
    async with transaction(console.sessions) as s:
        for i, mood in enumerate(moods):
            group = dict(
                factory_id=factory_id,
                country_code="BD",
                language=language,
                gender=gender,
                age_band=age_band,
            )
            s.add(SurveyResponse(id=next(_ids), wave_id=wave.id, **group))
            s.add(
                SurveyAnswer(
                    id=next(_ids), wave_id=wave.id, question_key="mood", value=mood, **group
                )
            )
            s.add(
                SurveyAnswer(
                    id=next(_ids),
                    wave_id=wave.id,
                    question_key="safe",
                    value="no" if i % 5 == 0 else "yes",
                    **group,
                )
            )


async def factories_wave(console: ConsoleHarness) -> tuple[SurveyWave, dict[str, int]]:
    """55 factories with five answers for each mood; a large one with ten of each; a small one
    with six answers ("4" and "5", three of each)."""
    wave = await make_wave(console.sessions, open_now=False)
    ids = {}
    for i in range(55):
        code = f"F-{i:03d}"
        factory = await make_factory(console.sessions, code, name=f"Garments {54 - i:02d}")
        ids[code] = factory.id
        await answered(console, wave, factory.id, [m for m in "12345" for _ in range(5)])
    big = await make_factory(console.sessions, "BIG-1", name="Aaa Big Knitwear")
    ids["BIG-1"] = big.id
    await answered(console, wave, big.id, [m for m in "12345" for _ in range(10)])
    small = await make_factory(console.sessions, "SMALL-1", name="Zz Small Stitching")
    ids["SMALL-1"] = small.id
    await answered(console, wave, small.id, ["4", "4", "4", "5", "5", "5"])
    return wave, ids


def breakdown(html: str, index: int = 0) -> list[list[str]]:
    return tables(html, "factories")[index]


async def test_breakdown_by_factory_is_rows_with_shares_mean_and_a_benchmark(
    console: ConsoleHarness,
) -> None:
    wave, _ids = await factories_wave(console)
    client = console.client_for(await console.staff("analyst", ["BD"]))
    html = (await client.get(f"/surveys/waves/{wave.id}/results?dim=factory")).text
    mood = breakdown(html)
    assert mood[0] == ["factory", "Answered", "😞 1", "🙁 2", "😐 3", "🙂 4", "😄 5", "Mean"]
    benchmark = mood[1]
    assert benchmark[0] == "All of BD" and benchmark[1] == "1431"
    assert benchmark[-1] == "3.0"  # (55·75 + 150 + 27) / 1431
    # Factories in reading order (code, then name), not by id: BIG-1 was added last.
    assert mood[2][0] == "BIG-1 · Aaa Big Knitwear" and mood[3][0] == "F-000 · Garments 54"
    # Each factory: a count and its share per answer, and the mean; a few counts are hidden
    # as complements of the small factory's (which answers they are depends on a stable hash).
    complements = 0
    for row in mood[2:]:
        assert row[1] == ("50" if row[0].startswith("BIG-1") else "25")
        shown = [cell for cell in row[2:7] if cell != "hidden"]
        complements += 5 - len(shown)
        assert all(re.fullmatch(r"(5|10) 20%", cell) for cell in shown), row
        assert row[7] == "3.0" or (len(shown) < 5 and row[7] == "not shown"), row
    assert complements < 50 * 5 // 4  # most of what the factories answered is shown
    assert len(mood) == 2 + 50  # header, benchmark and the first 50 factories
    assert 'class="scroll-box tall"' in html
    assert "Groups 1–50 of 57" in " ".join(re.sub(r"<[^>]+>", " ", html).split())
    second = (await client.get(f"/surveys/waves/{wave.id}/results?dim=factory&page=2")).text
    rows = breakdown(second)
    assert len(rows) == 2 + 7 and rows[-2][0] == "F-054 · Garments 00"
    # The small factory's six answers: no count below 5, no share beside a hidden count, and
    # no mean (it would give the hidden counts back).
    small = rows[-1]
    assert small[0] == "SMALL-1 · Zz Small Stitching"
    assert all(cell in ("fewer than 5", "hidden") for cell in small[2:7]), small
    assert small[7] == "not shown"


async def test_factories_are_found_by_name_or_code(console: ConsoleHarness) -> None:
    wave, _ids = await factories_wave(console)
    client = console.client_for(await console.staff("analyst", ["BD"]))
    url = f"/surveys/waves/{wave.id}/results?dim=factory"
    rows = breakdown((await client.get(f"{url}&q=f-05")).text)
    assert [r[0][:5] for r in rows[2:]] == [f"F-{i:03d}" for i in range(50, 55)]
    rows = breakdown((await client.get(f"{url}&q=knitwear")).text)
    assert [r[0] for r in rows[2:]] == ["BIG-1 · Aaa Big Knitwear"]
    assert rows[1][0] == "All of BD"  # the benchmark stays: a factory is read against it
    page = (await client.get(f"{url}&q=nowhere")).text
    assert "No factory matches." in page and len(breakdown(page)) == 2


async def test_groups_read_as_words_not_codes(
    console: ConsoleHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The page takes age bands' words from the label registry (filled for every enum elsewhere).
    monkeypatch.setitem(
        labels._WORDS, AgeBand, {AgeBand.FROM_25: "25 to 34", AgeBand.FROM_45: "45 or older"}
    )
    wave = await make_wave(console.sessions, open_now=False)
    factory = await make_factory(console.sessions, "DK-01")
    await answered(console, wave, factory.id, ["4"] * 6, language="bn", age_band="45plus")
    await answered(console, wave, factory.id, ["3"] * 6, language="km", gender="man")
    client = console.client_for(await console.staff("analyst", ["BD"]))
    base = f"/surveys/waves/{wave.id}/results"
    languages = [r[0] for r in breakdown((await client.get(f"{base}?dim=language")).text)[2:]]
    assert languages == ["বাংলা", "ខ្មែរ"]
    genders = [r[0] for r in breakdown((await client.get(f"{base}?dim=gender")).text)[2:]]
    assert genders == ["men", "women"]
    ages = [r[0] for r in breakdown((await client.get(f"{base}?dim=age_band")).text)[2:]]
    assert ages == ["25 to 34", "45 or older"]


async def test_results_in_excel_have_typed_cells_and_words(console: ConsoleHarness) -> None:
    wave, _ids = await factories_wave(console)
    client = console.client_for(await console.staff("analyst", ["BD"]))
    r = await client.get(f"/surveys/waves/{wave.id}/results.xlsx")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    sheet = load_workbook(io.BytesIO(r.content)).active
    assert sheet is not None and sheet.freeze_panes == "A2"
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["Wave", "Starts", "Ends"] and header[7:10] == [
        "Count",
        "Not shown",
        "Share",
    ]
    rows = list(sheet.iter_rows(min_row=2))
    assert all(row[1].is_date for row in rows)
    assert rows[0][1].value.date() == wave.starts_at.date() or isinstance(rows[0][1].value, date)
    respondents = rows[0]
    assert respondents[6].value == "Respondents" and respondents[7].value == 1431
    big = [
        row for row in rows if row[5].value == "BIG-1 · Aaa Big Knitwear" and row[6].value == "🙂 4"
    ]
    assert big and big[0][7].value == 10 and big[0][9].value == 0.2
    assert big[0][9].number_format == "0%"
    hidden = [row for row in rows if row[8].value in ("fewer than 5", "hidden")]
    assert hidden and all(row[7].value is None for row in hidden)
    means = [row[10].value for row in rows if row[6].value == "Mean" and row[4].value]
    assert 3.0 in means and all(m in (3.0, None) for m in means)  # a number, or not shown
