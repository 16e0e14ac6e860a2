"""Case statistics are counted in the database (``services.reports.stats.count_cases``): months,
age bands and deadlines met must come out as calendar arithmetic in Python says, on both
databases, at the exact edges (a case closed on the 90th day to the microsecond is on time, one
microsecond later it is late; the first instant of a month belongs to it)."""

from __future__ import annotations

import random
import secrets
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.storage.db import transaction
from bot.storage.reports import Case
from services.reports import stats
from services.reports.protocol import State
from tests.console import ConsoleHarness
from tests.factories import make_case

NOW = datetime(2026, 7, 15, 12, 0, 0, 250_000, tzinfo=UTC)
EDGES = [timedelta(0), timedelta(microseconds=1), -timedelta(microseconds=1)]


def expected_met(done: datetime | None, due: datetime) -> str | None:
    if done is not None:
        return "1" if done <= due else "0"
    return "0" if due < NOW else None


def expected_age(submitted: datetime) -> str:
    days = (NOW - submitted).days
    for key, low, high in stats.AGE_BANDS:
        if days >= low and (high is None or days <= high):
            return key
    return stats.AGE_BANDS[0][0]


def random_case(rng: random.Random) -> dict[str, object]:
    """Times near the edges the SQL must get right, and anywhere else."""
    month = rng.choice(stats.last_months(NOW))
    submitted = rng.choice(
        [
            stats.month_start(month) + rng.choice(EDGES),
            NOW - timedelta(days=rng.choice([7, 8, 30, 31, 90, 91])) + rng.choice(EDGES),
            NOW - timedelta(seconds=rng.randrange(400 * 86400)),
        ]
    )
    ack_due = submitted + timedelta(hours=rng.choice([24, 72]))
    triage_due = ack_due + timedelta(days=5)
    acked = rng.choice([None, ack_due + rng.choice(EDGES), submitted + timedelta(hours=3)])
    closed = rng.choice(
        [None, None, submitted + stats.CLOSE_TARGET + rng.choice(EDGES), submitted + timedelta(9)]
    )
    if closed is not None and closed > NOW:
        closed = None
    if acked is not None and acked > NOW:
        acked = None
    return {
        "submitted_at": submitted,
        "ack_due_at": ack_due,
        "triage_due_at": triage_due,
        "acknowledged_at": acked,
        "triaged_at": None,
        "closed_at": closed,
        "state": State.CLOSED.value if closed else rng.choice([State.NEW.value, "triaged"]),
    }


async def test_counts_in_sql_match_calendar_arithmetic_at_the_edges(
    console: ConsoleHarness,
) -> None:
    sessions = console.sessions
    template = await make_case(sessions, console.ctx.settings)
    rng = random.Random(90)
    made = [random_case(rng) for _ in range(120)]
    async with transaction(sessions) as s:
        first = await s.get(Case, template.id)
        assert first is not None
        columns = {c.key: getattr(first, c.key) for c in Case.__table__.columns}
        await s.delete(first)
        for values in made:
            token = secrets.token_hex(6)
            row = {**columns, **values, "receipt_lookup": token * 2, "reference": token[:12]}
            row.update(submission_token=token * 2)
            row.pop("id")
            s.add(Case(**row))

    months = stats.last_months(NOW)
    names = ["month", "age", *stats.DEADLINES]
    async with sessions() as s:
        counted = await stats.count_cases(
            s, [Case.submitted_at >= stats.month_start(months[0])], names, now=NOW, months=months
        )
        stored = (await s.execute(select(Case.submitted_at))).scalars().all()
    assert len(stored) == len(made)

    expected: dict[str, Counter[str]] = {name: Counter() for name in names}
    for c in made:
        submitted = c["submitted_at"]
        assert isinstance(submitted, datetime)
        if submitted < stats.month_start(months[0]):
            continue
        expected["month"][stats.month_of(submitted)] += 1
        expected["age"][expected_age(submitted)] += 1
        closed = c["closed_at"]
        for name, done, due in (
            ("ack", c["acknowledged_at"] or closed, c["ack_due_at"]),
            ("triage", c["triaged_at"] or closed, c["triage_due_at"]),
            ("close", closed, submitted + stats.CLOSE_TARGET),
        ):
            met = expected_met(done, due)  # type: ignore[arg-type]
            if met is not None:
                expected[name][met] += 1
    for name in names:
        assert counted.get(("BD", name), Counter()) == expected[name], name
    # The edges were drawn: some cases closed exactly on the 90th day, some a microsecond late.
    on_the_day = [c for c in made if c["closed_at"] == c["submitted_at"] + stats.CLOSE_TARGET]  # type: ignore[operator]
    assert on_the_day and expected["close"]["1"] and expected["close"]["0"]
