"""Survey batches and the draft store (DESIGN §4.1): k or more responses at a time, at most
daily and claimed once, shuffled; the close's remainder; drafts on a sliding TTL that a Redis
reader alone can neither read nor attribute; a finish that does not commit counts once."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import select, text

from bot.storage.db import transaction
from bot.storage.surveys import SurveyResponse
from services.surveys import answering, results
from services.surveys.batches import (
    batch_status,
    flush_batches,
    flush_wave,
)
from services.surveys.participation import person_key
from services.surveys.store import (
    MemorySurveyStore,
    RedisSurveyStore,
    draft_slot,
)
from tests.conftest import Database, sql_count
from tests.console import ConsoleHarness
from tests.factories import make_worker
from tests.surveys_data import (
    LATER,
    MARKER,
    SECRET,
    Clock,
    K,
    answer,
    close,
    flush,
    make_wave,
    text_first,
    wave_row,
)
from workvoice.context import AppContext
from workvoice.jobs import survey_batches
from workvoice.kernel.settings import load_settings
from workvoice.scheduler import JOBS


@pytest.fixture
def store() -> Iterator[MemorySurveyStore]:
    yield MemorySurveyStore()


# --- batches ------------------------------------------------------------------------------------------


async def test_rule1_batches_are_k_or_more_at_most_daily_and_claimed_once(
    sessions: Any, store: MemorySurveyStore
) -> None:
    people = [await make_worker(sessions, 75_000 + i) for i in range(12)]
    wave = await make_wave(sessions)
    for person in people[:4]:
        await answer(sessions, store, person, wave.id)
    t0 = datetime.now(UTC) + LATER
    assert await flush(sessions, store, t0) == 0  # 4 < k
    for person in people[4:8]:
        await answer(sessions, store, person, wave.id)
    # Two replicas at once: one claims the wave and writes the 8, the other writes nothing.
    results = await asyncio.gather(
        flush_wave(sessions, store, wave.id, secret_key=SECRET, k=K, now=t0),
        flush_wave(sessions, store, wave.id, secret_key=SECRET, k=K, now=t0),
    )
    assert sorted(results) == [0, 8]
    assert await sql_count(sessions, "SELECT count(*) FROM survey_responses") == 8
    assert await store.pending_count(wave.id) == 0
    for person in people[8:]:
        await answer(sessions, store, person, wave.id)
    assert await flush(sessions, store, t0 + timedelta(hours=23)) == 0  # 4 waiting, and too soon
    status = await batch_status(store, await wave_row(sessions, wave.id), k=K)
    assert status.waiting is None and status.updated_at == t0 and not status.settled


async def test_rule1_a_crash_after_the_commit_writes_nothing_twice(
    sessions: Any, store: MemorySurveyStore
) -> None:
    """Taken from the pool, written, committed, then removed: if removal never happened (crash),
    the next run finds the responses written already and only removes them."""
    people = [await make_worker(sessions, 76_000 + i) for i in range(5)]
    wave = await make_wave(sessions)
    for person in people:
        await answer(sessions, store, person, wave.id)
    kept = await store.pending(wave.id)

    class Crashing(MemorySurveyStore):
        async def remove_pending(self, wave_id: int, response_ids: list[int]) -> None:
            raise RuntimeError("the process died here")

    crashing = Crashing()
    crashing._pools = store._pools
    t0 = datetime.now(UTC) + LATER
    with pytest.raises(RuntimeError):
        await flush(sessions, crashing, t0)
    assert await sql_count(sessions, "SELECT count(*) FROM survey_responses") == 5
    assert await store.pending(wave.id) == kept  # still in the pool
    assert await flush(sessions, store, t0 + LATER) == 0
    assert await store.pending_count(wave.id) == 0
    assert await sql_count(sessions, "SELECT count(*) FROM survey_responses") == 5


async def test_rule1_shuffled_one_persons_answers_are_not_written_side_by_side(
    db: Database, store: MemorySurveyStore
) -> None:
    if db.backend != "postgres":
        pytest.skip("SQLite stores rows by their random id already")
    sessions = db.sessions
    people = [await make_worker(sessions, 77_000 + i) for i in range(12)]
    wave = await make_wave(sessions)
    for i, person in enumerate(people):
        await answer(sessions, store, person, wave.id, hours=str(10 + i))
    assert await flush(sessions, store, datetime.now(UTC) + LATER) == 12
    async with sessions() as s:
        # Physical order of the rows, as a raw reader of the files sees it.
        ordered = (
            await s.execute(
                text(
                    "select question_key, value, number from survey_answers "
                    "where wave_id = :w order by ctid"
                ),
                {"w": wave.id},
            )
        ).all()
    # If rows were written person by person, every "hours" row would sit right after a "shift"
    # row; shuffled, the 12 people's rows interleave.
    keys = [q for q, _v, _n in ordered]
    runs = sum(1 for a, b in itertools.pairwise(keys) if (a, b) == ("shift", "hours"))
    assert runs < 12
    assert keys != sorted(keys)


# --- the close's remainder ------------------------------------------------------------------------


@pytest.mark.parametrize(("late", "written", "dropped"), [(3, 0, 3), (6, 6, 0)])
async def test_rule2_the_remainder_after_a_published_batch(
    console: ConsoleHarness, late: int, written: int, dropped: int
) -> None:
    sessions, store = console.sessions, console.ctx.survey_store
    key = console.ctx.settings.effective_secret_key
    people = [await make_worker(sessions, 78_000 + i) for i in range(6 + late)]
    wave = await make_wave(sessions)
    kw: dict[str, Any] = {"secret_key": key, "store": store}
    for person in people:
        async with transaction(sessions) as s:
            step = await answering.do_begin(s, person, wave.id, **kw)
            for raw in ("3", "yes", "day", "40"):
                step = await answering.do_answer(s, person, wave.id, step.index, raw, **kw)
            await answering.do_skip(s, person, wave.id, step.index, **kw)
        if person is people[5]:
            t0 = datetime.now(UTC) + LATER
            assert await flush_batches(sessions, store, secret_key=key, k=K, now=t0) == 6
    await close(sessions, wave.id)
    at = datetime.now(UTC) + timedelta(minutes=10)
    assert await flush_batches(sessions, store, secret_key=key, k=K, now=at) == written
    row = await wave_row(sessions, wave.id)
    assert row.late_dropped == dropped and row.settled_at is not None
    assert await sql_count(sessions, "SELECT count(*) FROM survey_responses") == 6 + written
    assert await store.pending_count(wave.id) == 0
    page = await console.client_for(await console.staff("analyst", ["BD"])).get(
        f"/surveys/waves/{wave.id}/results"
    )
    note = f"{dropped} late answers were not added, to keep them anonymous."
    assert (note in page.text) == bool(dropped)


async def test_rule2_a_wave_that_never_published_writes_its_few_at_the_close(
    sessions: Any, store: MemorySurveyStore
) -> None:
    people = [await make_worker(sessions, 79_000 + i) for i in range(2)]
    wave = await make_wave(sessions)
    for person in people:
        await answer(sessions, store, person, wave.id)
    # An unfinished draft too: forgotten when the closed wave is settled.
    late = await make_worker(sessions, 79_100)
    async with transaction(sessions) as s:
        step = await answering.do_begin(s, late, wave.id, secret_key=SECRET, store=store)
        await answering.do_answer(s, late, wave.id, step.index, "1", secret_key=SECRET, store=store)
    await close(sessions, wave.id)
    assert await flush(sessions, store, datetime.now(UTC)) == 0  # within the close's grace
    assert len(store._drafts) == 1
    assert await flush(sessions, store, datetime.now(UTC) + timedelta(minutes=10)) == 2
    assert store._drafts == {}
    assert (await wave_row(sessions, wave.id)).late_dropped == 0
    assert await flush(sessions, store, datetime.now(UTC) + LATER) == 0  # settled once


# --- the draft store ------------------------------------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
async def clocked_store(request: pytest.FixtureRequest) -> Any:
    clock = Clock()
    if request.param == "memory":
        yield MemorySurveyStore(draft_ttl=timedelta(days=3), clock=clock), clock
        return
    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")
    redis_store = RedisSurveyStore.from_url(url, prefix=prefix, draft_ttl=timedelta(days=3))
    redis_store.clock = clock
    yield redis_store, clock
    await redis_store.close()


async def test_m11_drafts_expire_on_a_sliding_ttl_capped_by_the_wave_end(
    sessions: Any, clocked_store: Any
) -> None:
    store, clock = clocked_store
    worker = await make_worker(sessions, 80_001)
    wave = await make_wave(sessions, days=5)
    kw: dict[str, Any] = {"secret_key": SECRET, "store": store}

    async def position() -> str | None:
        async with transaction(sessions) as s:
            step = await answering.do_begin(s, worker, wave.id, **kw)
            return step.question.key if step.question else None

    async with transaction(sessions) as s:
        step = await answering.do_begin(s, worker, wave.id, **kw)
        await answering.do_answer(s, worker, wave.id, step.index, "4", **kw)
    # Sliding: two days later it is there; an answer then gives it three more days.
    clock.now += timedelta(days=2)
    assert await position() == "safe"
    async with transaction(sessions) as s:
        await answering.do_answer(s, worker, wave.id, 1, "yes", secret_key=SECRET, store=store)
    clock.now += timedelta(days=2, hours=12)
    assert await position() == "shift"  # 4.5 days after the start: the TTL slid
    # Capped by the wave's end (5 days): an answer now cannot keep it past that.
    async with transaction(sessions) as s:
        await answering.do_answer(s, worker, wave.id, 3, "day", secret_key=SECRET, store=store)
    clock.now = wave.ends_at + timedelta(seconds=1)
    slot = draft_slot(SECRET, wave.id, worker.telegram_id)
    assert await store.get_draft(wave.id, slot) is None


async def test_m11_a_redis_reader_alone_can_neither_read_a_draft_nor_say_whose(
    sessions: Any, redis_url: str, redis_prefix: str
) -> None:
    store = RedisSurveyStore.from_url(redis_url, prefix=redis_prefix)
    worker = await make_worker(sessions, 80_002)
    wave = await make_wave(sessions, definition=text_first())
    async with transaction(sessions) as s:
        step = await answering.do_begin(s, worker, wave.id, secret_key=SECRET, store=store)
        await answering.do_answer(
            s, worker, wave.id, step.index, MARKER, secret_key=SECRET, store=store
        )
    raw = Redis.from_url(redis_url)
    try:
        keys = [k.decode() async for k in raw.scan_iter(match=f"{redis_prefix}:*")]
        assert len(keys) == 1
        pkey = person_key(SECRET, worker.telegram_id)
        assert str(worker.telegram_id) not in keys[0] and pkey not in keys[0]
        value = await raw.get(keys[0])
        assert value is not None and MARKER.encode() not in value and b"answers" not in value
        ttl = await raw.pttl(keys[0])
        assert 0 < ttl <= timedelta(days=3).total_seconds() * 1000
        # Resume through Redis from another connection (another replica, or after a restart).
        other = RedisSurveyStore.from_url(redis_url, prefix=redis_prefix)
        async with transaction(sessions) as s:
            step = await answering.do_begin(s, worker, wave.id, secret_key=SECRET, store=other)
        assert step.answers == {"else": MARKER} and step.question is not None
        # The pool: finished responses under their id, sealed; removal is idempotent.
        blob = secrets.token_bytes(40)
        await other.add_pending(wave.id, 11, blob, keep_until=wave.ends_at)
        await other.add_pending(wave.id, 12, blob, keep_until=wave.ends_at)
        assert await other.pending(wave.id) == {11: blob, 12: blob}
        await other.remove_pending(wave.id, [11, 99])
        await other.remove_pending(wave.id, [11])
        assert await other.pending_count(wave.id) == 1
        assert await other.drop_wave_drafts(wave.id) == 1
        await other.close()
    finally:
        await raw.aclose()
        await store.close()


async def test_the_scheduler_writes_batches_and_logs_only_them(
    sessions: Any, store: MemorySurveyStore, caplog: pytest.LogCaptureFixture
) -> None:

    assert next(j for j in JOBS if j.name == "survey_batches").run is survey_batches
    ctx = AppContext(
        settings=load_settings(secret_key=SECRET),
        engine=None,  # type: ignore[arg-type]
        sessions=sessions,
        survey_store=store,
    )
    people = [await make_worker(sessions, 81_000 + i) for i in range(K)]
    wave = await make_wave(sessions)
    with caplog.at_level("INFO"):
        for person in people:
            await answer(sessions, store, person, wave.id)
        await survey_batches(ctx)
    assert await sql_count(sessions, "SELECT count(*) FROM survey_responses") == K
    assert [r.getMessage() for r in caplog.records if "survey" in r.getMessage()] == [
        f"survey.batch wave={wave.id} n={K}"
    ]


async def test_a_finish_that_does_not_commit_counts_once_when_tried_again(
    sessions: Any, store: MemorySurveyStore
) -> None:
    """The bot withdraws the pooled response when the commit of "finished" fails (as the flow
    does); the worker's next try is then the only response."""
    worker = await make_worker(sessions, 82_001)
    wave = await make_wave(sessions)
    with pytest.raises(RuntimeError):
        async with transaction(sessions) as s:
            kw: dict[str, Any] = {"secret_key": SECRET, "store": store}
            step = await answering.do_begin(s, worker, wave.id, **kw)
            for raw in ("3", "yes", "day", "40"):
                step = await answering.do_answer(s, worker, wave.id, step.index, raw, **kw)
            step = await answering.do_skip(s, worker, wave.id, step.index, **kw)
            assert step.done and await store.pending_count(wave.id) == 1
            await answering.withdraw(store, step)
            raise RuntimeError("the commit failed")
    assert await store.pending_count(wave.id) == 0
    await answer(sessions, store, worker, wave.id)
    assert await store.pending_count(wave.id) == 1


async def test_m3_a_generalised_response_counts_as_not_given_in_results(
    sessions: Any, store: MemorySurveyStore
) -> None:
    women = [await make_worker(sessions, 83_000 + i, locale="bn", gender="woman") for i in range(6)]
    man = await make_worker(sessions, 83_100, locale="km", gender="man", age_band="45plus")
    wave = await make_wave(sessions)
    for person in [*women, man]:
        await answer(sessions, store, person, wave.id)
    assert await flush(sessions, store, datetime.now(UTC) + LATER) == 7
    async with sessions() as s:
        rows = (await s.scalars(select(SurveyResponse))).all()
        assert Counter((r.gender, r.language, r.age_band) for r in rows) == {
            ("woman", "bn", None): 6,
            (None, None, None): 1,  # the lone older Khmer speaker, fully generalised
        }
        found = await results.wave_results(s, await wave_row(sessions, wave.id), k=K)
    assert found.respondents == 7
    assert set(found.respondents_by["gender"]) == {"woman", results.NOT_GIVEN}
    assert set(found.respondents_by["language"]) == {"bn", results.NOT_GIVEN}
