"""Survey results at programme scale: the data behind a wave's results page, on PostgreSQL.

    .venv/bin/python -m benchmarks.survey_results [--answers 1000000] [--factories 500]
        [--database postgresql+asyncpg://postgres@127.0.0.1:5432/wv_bench_surveys]

Builds a fresh database (dropped and created), one wave of the sample survey with ``--answers``
anonymous answer rows spread over ``--factories`` factories, genders, age bands and languages
(bulk-loaded with COPY), then times ``wave_results`` (every count, breakdown and suppression the
page shows) and counts the SQL statements one answer costs in the survey engine.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from typing import Any

import asyncpg
from sqlalchemy import event, text

from bot.storage import migrate
from bot.storage.db import create_engine, create_sessionmaker, transaction
from bot.storage.surveys import SurveyWave
from services.surveys import answering
from services.surveys.results import wave_results
from services.surveys.store import MemorySurveyStore
from tests.factories import make_factory, make_worker
from tests.surveys_data import SAMPLE, make_wave

GENDERS = ["woman"] * 7 + ["man"] * 2 + [None]
AGES = ["18-24", "25-34", "35-44", "45plus", None]
LANGS = ["bn", "km", "vi", "en", "ar", "my", "si", "ne"]


async def _fresh_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def _load(url: str, wave_id: int, factory_ids: list[int], answers: int) -> int:
    """COPY respondents and their answers: each respondent answers 6-8 rows like the sample."""
    rng = random.Random(7)
    responses: list[tuple[Any, ...]] = []
    rows: list[tuple[Any, ...]] = []
    next_id = 1
    while len(rows) < answers:
        factory = rng.choice(factory_ids)
        group = (factory, "BD", rng.choice(LANGS), rng.choice(GENDERS), rng.choice(AGES))
        responses.append((next_id, wave_id, *group))
        next_id += 1
        safe = rng.random() < 0.8
        picks = [
            ("mood", str(rng.randint(1, 5)), None, None),
            ("safe", "yes" if safe else "no", None, None),
        ]
        if not safe:
            picks.append(("why", "*", None, None))
            picks += [("why", v, None, None) for v in rng.sample(["fire", "machines", "people"], 2)]
        picks += [
            ("shift", rng.choice(["day", "night"]), None, None),
            ("hours", None, float(rng.randint(30, 80)), None),
        ]
        if rng.random() < 0.05:
            picks.append(("else", None, None, "The canteen needs clean water"))
        for qkey, value, number, txt in picks:
            rows.append((next_id * 16 + len(rows) % 16, wave_id, qkey, value, number, txt, *group))
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        await conn.copy_records_to_table(
            "survey_responses",
            records=responses,
            columns=[
                "id",
                "wave_id",
                "factory_id",
                "country_code",
                "language",
                "gender",
                "age_band",
            ],
        )
        await conn.copy_records_to_table(
            "survey_answers",
            records=rows,
            columns=[
                "id",
                "wave_id",
                "question_key",
                "value",
                "number",
                "text",
                "factory_id",
                "country_code",
                "language",
                "gender",
                "age_band",
            ],
        )
        await conn.execute("ANALYZE survey_answers; ANALYZE survey_responses")
    finally:
        await conn.close()
    return len(rows)


async def main(url: str, answers: int, factories: int, repeat: int) -> None:
    await _fresh_database(url)
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    factory_ids = [
        (await make_factory(sessions, f"BF-{i:04d}", country="BD")).id for i in range(factories)
    ]
    worker = await make_worker(sessions, 900_000_001, factory_code="BF-0000")
    wave = await make_wave(sessions, definition=SAMPLE)
    loaded = await _load(url, wave.id, factory_ids, answers)

    timings = []
    for _ in range(repeat):
        async with transaction(sessions) as session:
            fresh = await session.get(SurveyWave, wave.id)
            assert fresh is not None
            started = time.perf_counter()
            found = await wave_results(session, fresh, k=5)
            timings.append(time.perf_counter() - started)
    breakdown_cells = sum(len(t.cells) for q in found.questions for t in q.breakdowns.values())

    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    per_answer = []
    drafts = MemorySurveyStore()  # drafts never reach the database: fewer statements per answer
    async with transaction(sessions) as session:
        step = await answering.do_begin(session, worker, wave.id, secret_key="bench", store=drafts)
    for value in ("4", "yes", "day"):
        statements.clear()
        async with transaction(sessions) as session:
            step = await answering.do_answer(
                session, worker, wave.id, step.index, value, secret_key="bench", store=drafts
            )
        per_answer.append(len(statements))
    await engine.dispose()
    async with create_sessionmaker(create_engine(url))() as s:
        total = (await s.execute(text("SELECT count(*) FROM survey_answers"))).scalar_one()
    print(
        f"answers: {total:,} rows ({loaded:,} loaded), respondents: {found.respondents:,}, "
        f"factories: {factories}"
    )
    print(f"breakdown cells suppressed and arranged: {breakdown_cells:,}")
    print(
        f"wave_results: median {statistics.median(timings) * 1000:.0f} ms, "
        f"min {min(timings) * 1000:.0f} ms, max {max(timings) * 1000:.0f} ms over {repeat} runs"
    )
    print(f"SQL statements per answered question (engine, no bot): {per_answer}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--factories", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--database", default="postgresql+asyncpg://postgres@127.0.0.1:5432/wv_bench_surveys"
    )
    args = parser.parse_args()
    asyncio.run(main(args.database, args.answers, args.factories, args.repeat))
