"""The console at programme scale (issue 17, "Done when"): server time of the pages staff use most.

    .venv/bin/python -m benchmarks.console_scale                     # SQLite in a temporary file
    .venv/bin/python -m benchmarks.console_scale --database postgresql+asyncpg://postgres@127.0.0.1:5432/wv_bench_console

Builds a fresh, migrated database with 1,600 factories, 5,000 cases over 14 months (states,
severities, categories, deadlines met and missed, assignees, worker replies), about 100,000
audit events (most of them case views) and about 60,000 survey answers (8,500 respondents of one
wave), then sends ``--requests`` GET requests per page through the real console app (httpx
ASGITransport, signed-in sessions, every middleware) and prints the median and 95th percentile
of the server time in milliseconds. Pages: the triage queue (first page and a filtered page), a
case page, the report numbers, each role's landing page, and a wave's results broken down by
factory as its first viewer sees them (suppression not cached). The target is 300 ms for each.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import insert, select

from bot.storage import import_all_models, migrate
from bot.storage.db import create_engine, create_sessionmaker, transaction
from bot.storage.models import AuditEvent, Factory
from bot.storage.reports import Case, CaseEvent
from bot.storage.surveys import SurveyAnswer, SurveyResponse
from services.reports.protocol import ACK_DEADLINE, TRIAGE_DEADLINE, Category, Severity, State
from services.suppression import suppress_cached
from tests.console import ConsoleHarness, make_context
from tests.factories import make_case
from tests.surveys_data import make_wave

TARGET_MS = 300
STATES = [State.NEW] * 2 + [State.ACKNOWLEDGED] * 2 + [State.TRIAGED, State.INVESTIGATING]
STATES += [State.REMEDIATION, State.VERIFICATION] + [State.CLOSED] * 6


async def _fresh_postgres(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def _chunks(session: Any, model: Any, rows: list[dict[str, Any]], size: int = 2000) -> None:
    for i in range(0, len(rows), size):
        await session.execute(insert(model), rows[i : i + size])


async def seed(
    console: ConsoleHarness, *, cases: int, factories: int, audit: int
) -> dict[str, Any]:
    rng = random.Random(17)
    now = datetime.now(UTC)
    sessions = console.sessions
    staff = {
        role: await console.staff(role, ["BD"])
        for role in ("admin", "country_manager", "case_handler", "analyst", "organiser")
    }
    handler = staff["case_handler"]
    template = await make_case(sessions, console.ctx.settings)  # one real case: keys, receipt
    async with transaction(sessions) as s:
        await _chunks(
            s,
            Factory,
            [
                {
                    "code": f"BD-{i:05d}",
                    "name": f"Garment factory {i}",
                    "country_code": "BD" if i % 8 else "KH",
                    "timezone": "Asia/Dhaka" if i % 8 else "Asia/Phnom_Penh",
                    "languages": ["bn"],
                    "active": True,
                    "created_at": now,
                }
                for i in range(factories)
            ],
        )
        factory_ids = list((await s.scalars(select(Factory.id))).all())
        first = await s.get(Case, template.id)
        assert first is not None
        columns = {c.key: getattr(first, c.key) for c in Case.__table__.columns}
        rows = []
        for i in range(cases - 1):
            submitted = now - timedelta(minutes=rng.randint(0, 60 * 24 * 420))
            severity = rng.choice([Severity.NORMAL] * 6 + [Severity.HIGH] * 3 + [Severity.CRITICAL])
            state = rng.choice(STATES)
            ack_due = submitted + ACK_DEADLINE[severity]
            triage_due = submitted + TRIAGE_DEADLINE[severity]
            order = list(State).index(state)
            acked = submitted + timedelta(hours=rng.randint(1, 150)) if order >= 1 else None
            triaged = (
                (acked or submitted) + timedelta(hours=rng.randint(1, 200)) if order >= 2 else None
            )
            closed = (
                (triaged or submitted) + timedelta(days=rng.randint(1, 120))
                if state == State.CLOSED
                else None
            )
            row = dict(columns)
            row.pop("id")
            token = secrets.token_hex(8)
            row.update(
                country_code="BD" if i % 8 else "KH",
                factory_id=rng.choice(factory_ids),
                category=rng.choice(list(Category)).value,
                severity=severity.value,
                state=state.value,
                outcome="resolved" if closed else None,
                submitted_at=submitted,
                ack_due_at=ack_due,
                triage_due_at=triage_due,
                acknowledged_at=acked,
                triaged_at=triaged,
                closed_at=closed,
                overdue=acked is None and ack_due < now,
                assigned_staff_id=handler.id if rng.random() < 0.3 else None,
                receipt_lookup=token * 2,
                submission_token=token * 2,
                reference=token[:12],
                pending_close=None,
            )
            rows.append(row)
        await _chunks(s, Case, rows)
        case_ids = list((await s.scalars(select(Case.id))).all())
        events = []
        for case_id in case_ids:
            events.append({"case_id": case_id, "at": now - timedelta(days=30), "actor": "reporter",
                           "kind": "submitted", "detail": {}})  # fmt: skip
            if rng.random() < 0.2:
                at = now - timedelta(hours=rng.randint(1, 900))
                kind = "message_from_reporter"
                events.append(
                    {"case_id": case_id, "at": at, "actor": "reporter", "kind": kind, "detail": {}}
                )
        await _chunks(s, CaseEvent, events)
        views = []
        for i in range(audit):
            actor = handler if i % 3 else staff["country_manager"]
            views.append(
                {
                    "at": now - timedelta(minutes=rng.randint(0, 60 * 24 * 400)),
                    "actor_staff_id": actor.id,
                    "action": "case.view" if i % 5 else "case.queue",
                    "object_type": "case",
                    "object_id": str(rng.choice(case_ids)),
                    "country_code": "BD",
                    "detail": {},
                }
            )
        await _chunks(s, AuditEvent, views)
    wave = await make_wave(sessions, open_now=False)
    answers, responses = [], []
    next_id = 1
    async with transaction(sessions) as s:
        for _ in range(8_500):
            group = {"factory_id": rng.choice(factory_ids[:400]), "country_code": "BD",
                     "language": rng.choice(["bn", "en", None]),
                     "gender": rng.choice(["woman", "woman", "man", None]),
                     "age_band": rng.choice(["18-24", "25-34", "35-44", "45plus", None])}  # fmt: skip
            responses.append({"id": next_id, "wave_id": wave.id, **group})
            next_id += 1
            values = [("mood", str(rng.randint(1, 5))), ("safe", rng.choice(["yes", "yes", "no"])),
                      ("shift", rng.choice(["day", "night"])), ("why", rng.choice(["fire", "people"])),
                      ("why", "__answered__"), ("hours", None), ("else", None)]  # fmt: skip
            for key, value in values:
                number = float(rng.randint(30, 80)) if key == "hours" else None
                answers.append(
                    {"id": next_id, "wave_id": wave.id, "question_key": key, "value": value,
                     "number": number, **group}
                )  # fmt: skip
                next_id += 1
        await _chunks(s, SurveyResponse, responses)
        await _chunks(s, SurveyAnswer, answers)
    return {
        "staff": staff,
        "case_id": case_ids[len(case_ids) // 2],
        "answers": len(answers),
        "wave_id": wave.id,
    }


def _flush() -> None:
    sys.stdout.flush()


async def measure(client: Any, path: str, requests: int, *, cold: bool) -> tuple[float, float]:
    times = []
    for _ in range(requests + 2):
        if cold:  # a first view: nothing suppressed before (tables are cached per published batch)
            suppress_cached.cache_clear()
        started = time.perf_counter()
        response = await client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    times = sorted(times[2:])  # the first two warm caches (templates, statements)
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95


async def main(database: str | None, requests: int, cases: int, factories: int, audit: int) -> None:
    import_all_models()
    tmp = Path(tempfile.mkdtemp(prefix="wv-console-"))
    url = database or f"sqlite+aiosqlite:///{tmp / 'console.db'}"
    if url.startswith("postgresql"):
        await _fresh_postgres(url)
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_engine(url)
    console = ConsoleHarness(make_context(create_sessionmaker(engine), engine, tmp))
    started = time.perf_counter()
    seeded = await seed(console, cases=cases, factories=factories, audit=audit)
    print(f"seeded in {time.perf_counter() - started:.0f} s: {factories} factories, {cases} cases, "
          f"{audit} audit events, {seeded['answers']} survey answers ({url.split(':')[0]})")  # fmt: skip
    # A live database has planner statistics (autovacuum keeps them); one seeded a second ago has
    # none, and PostgreSQL then plans the landing pages' joins as if the tables were empty.
    async with engine.begin() as conn:
        await conn.exec_driver_sql("ANALYZE")
    staff = seeded["staff"]
    pages = [
        ("case_handler", "/reports", "triage queue, first page"),
        ("case_handler", "/reports?category=harassment&state=all", "triage queue, filtered"),
        ("case_handler", f"/reports/{seeded['case_id']}", "a case page"),
        ("analyst", "/reports/counts", "report numbers (12 months)"),
        ("case_handler", "/", "landing page, case handler"),
        ("country_manager", "/", "landing page, country manager"),
        ("admin", "/", "landing page, administrator"),
        ("analyst", "/", "landing page, analyst"),
        (
            "analyst",
            f"/surveys/waves/{seeded['wave_id']}/results?dim=factory",
            "results by factory, first view (400 factories)",
        ),
        ("organiser", "/", "landing page, organiser"),
    ]
    print(f"| page | median ms | p95 ms | under {TARGET_MS} ms |")
    print("|---|---|---|---|")
    for role, path, words in pages:
        client = console.client_for(staff[role])
        median, p95 = await measure(client, path, requests, cold="first view" in words)
        print(
            f"| {words} (`{path}`) | {median:.0f} | {p95:.0f} | {'yes' if p95 < TARGET_MS else 'NO'} |"
        )
    await console.close()
    await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default=None)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--cases", type=int, default=5_000)
    parser.add_argument("--factories", type=int, default=1_600)
    parser.add_argument("--audit", type=int, default=100_000)
    args = parser.parse_args()
    asyncio.run(main(args.database, args.requests, args.cases, args.factories, args.audit))
