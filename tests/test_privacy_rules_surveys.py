"""DESIGN §4 rules 1 and 2 and the staff party: survey answers carry no person, and small groups
stay suppressed under arithmetic (the rest of the rules: ``test_privacy_rules``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect

from tests import journeys
from tests.factories import make_worker
from tests.harness import BotHarness
from tests.privacy_rules import (  # noqa: F401 (backend, _daytime: fixtures)
    FIRST_NAME,
    RUN,
    SURVEY,
    _daytime,
    all_rows,
    answer_survey,
    backend,
    console_of,
    t,
)
from tests.surveys_data import make_wave

# --- rule 1 ------------------------------------------------------------------------------------


async def test_rule_1_survey_answers_carry_no_person(app: BotHarness) -> None:
    """Answer rows hold no user, chat or person key and no time finer than the wave; the answers
    so far (a draft) never sit in the database next to the person key (M3, M11)."""
    worker_id = 8_700_101
    await make_worker(app.sessions, worker_id, gender="woman", age_band="25-34")
    app.user(worker_id, first_name=FIRST_NAME)
    await make_wave(app.sessions, definition=SURVEY)
    await app.deliver()
    worker = app.user(worker_id)
    await worker.wait_reply(contains="Rules pulse")
    await worker.tap(t("▶️ Start"))
    await worker.wait_reply(contains="Tell us one thing")
    draft = f"DRAFT-{RUN} the canteen manager shouts at pregnant workers"
    await worker.send(draft)
    await worker.wait_reply(contains="Do you feel safe?")
    await worker.wait_idle()  # the reply leaves before the update's transaction commits
    # Half-way: a database reader finds the answer so far nowhere (it is not an answer yet).
    assert draft not in await all_rows(app), "the draft sits in the database next to a person key"
    await worker.tap(journeys.answer("Yes"))
    await worker.wait_reply(contains=t("Thank you!"))
    await journeys.run_survey_batch_jobs(app)
    async with app.sessions() as s:
        conn = await s.connection()

        def columns(c: Any) -> dict[str, dict[str, str]]:
            found = {}
            for table in ("survey_answers", "survey_responses"):
                if table in inspect(c).get_table_names():
                    found[table] = {
                        col["name"]: str(col["type"]) for col in inspect(c).get_columns(table)
                    }
            return found

        anonymous = await conn.run_sync(columns)
    assert anonymous, "no anonymous answer tables"
    for table, cols in anonymous.items():
        people = {c for c in cols if c in {"user_id", "chat_id", "telegram_id", "person_key"}}
        assert not people, f"{table} names a person: {people}"
        times = {c for c, kind in cols.items() if kind.upper() in {"DATE", "DATETIME", "TIMESTAMP"}}
        assert not times, f"{table} dates answers finer than the wave: {times}"


# --- rule 2 and the staff party ------------------------------------------------------------------


async def test_rule_2_small_groups_stay_suppressed_under_arithmetic(app: BotHarness) -> None:
    """M4: an analyst downloads the results, one known person answers, the analyst downloads again.
    The two downloads must not differ by that person (results come from closed batches)."""
    people = [8_700_201 + i for i in range(6)]
    for telegram_id in people:
        await make_worker(app.sessions, telegram_id)
        app.user(telegram_id, first_name=FIRST_NAME)
    wave = await make_wave(app.sessions, definition=SURVEY)
    await app.deliver()
    for i, telegram_id in enumerate(people[:5]):
        await answer_survey(app, telegram_id, f"comment {i}")
    await journeys.run_survey_batch_jobs(app)
    console = console_of(app)
    try:
        analyst = await console.staff("analyst", ["BD"])
        client = console.client_for(analyst)
        before = await client.get(f"/surveys/waves/{wave.id}/results.csv")
        await answer_survey(app, people[5], "the one I watched answer")
        await journeys.run_survey_batch_jobs(app)
        after = await client.get(f"/surveys/waves/{wave.id}/results.csv")
    finally:
        await console.close()
    assert before.status_code == after.status_code == 200
    assert before.text == after.text, "two downloads around one answer give that answer away"


async def test_threat_staff_with_a_role_cannot_single_anyone_out(app: BotHarness) -> None:
    """H5: an analyst takes the results CSV of a wave where one man answered among five women and
    subtracts: the overall count minus the groups shown leaves the hidden ones; with zeros printed,
    every hidden cell is at least 1. No hidden cell may come out pinned."""
    people = [(8_700_301 + i, "woman" if i < 5 else "man") for i in range(6)]
    for telegram_id, gender in people:
        await make_worker(app.sessions, telegram_id, gender=gender)
        app.user(telegram_id, first_name=FIRST_NAME)
    wave = await make_wave(app.sessions, definition=SURVEY)
    await app.deliver()
    for telegram_id, _gender in people:
        await answer_survey(app, telegram_id, "ok")
    await journeys.run_survey_batch_jobs(app)
    console = console_of(app)
    try:
        analyst = await console.staff("analyst", ["BD"])
        csv_text = (
            await console.client_for(analyst).get(f"/surveys/waves/{wave.id}/results.csv")
        ).text
    finally:
        await console.close()
    assert "fewer than" in csv_text, csv_text  # the lone man's cells are hidden
    assert pinned_cells(csv_text) == [], csv_text


def test_the_subtraction_attack_pins_what_it_should() -> None:
    """The attack above is real: one hidden man beside printed totals is found."""
    rows = [
        "wave,question,breakdown,group,answer,count",
        "Pulse,Safe?,,,yes,6",
        "Pulse,Safe?,gender,woman,yes,5",
        "Pulse,Safe?,gender,man,yes,fewer than 5",
    ]
    assert pinned_cells("\n".join(rows)) == ["Safe? by gender, yes: 1"]


def pinned_cells(csv_text: str) -> list[str]:
    """The audit's subtraction attack on one CSV: hidden cells whose value follows from the rest."""
    import csv
    import io

    reader = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))
    rows = [{key.lower(): value for key, value in row.items()} for row in reader]
    for r in rows:
        # Today's CSV keeps numbers apart from why a figure is not shown ("not shown"); the
        # attacker reads them as one cell, as the older CSV printed them.
        r["count"] = r.get("count") or r.get("not shown") or ""
    zeros_printed = any(r["count"] == "0" for r in rows)
    overall = {(r["question"], r["answer"]): r["count"] for r in rows if not r["breakdown"]}
    lines: dict[tuple[str, str, str], list[str]] = {}
    for r in rows:
        if r["breakdown"]:
            lines.setdefault((r["question"], r["breakdown"], r["answer"]), []).append(r["count"])
    pinned = []
    for (question, dim, answer), cells in lines.items():
        total = overall.get((question, answer), "")
        if not total.isdecimal():
            continue
        hidden = [c for c in cells if not c.isdecimal()]
        rest = int(total) - sum(int(c) for c in cells if c.isdecimal())
        if hidden and (len(hidden) == 1 or (zeros_printed and rest == len(hidden))):
            pinned.append(f"{question or 'respondents'} by {dim}, {answer}: {rest}")
    return pinned
