"""Survey unlinkability by construction (DESIGN §4.1-4.2): the audit's attacks, played again.

H4 (transaction ids join answers to participation), M3 (quasi-identifiers link responses to
finishers), M11 (drafts under a person key in the database files), M4 (two downloads around one
answer), plus the batch rules, the close's remainder, generalisation and the draft store's TTL.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import secrets
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from bot.storage.db import transaction
from bot.storage.models import User
from bot.storage.surveys import SurveyParticipation, SurveyResponse, SurveyWave
from services.surveys import answering
from services.surveys.batches import (
    GENERALISE_ORDER,
    batch_status,
    cell_of,
    flush_batches,
    flush_wave,
    generalise,
)
from services.surveys.participation import person_key
from services.surveys.store import (
    MemorySurveyStore,
    RedisSurveyStore,
    SurveyStore,
    draft_slot,
)
from services.surveys.waves import do_cancel_wave
from tests.conftest import Database, sql_count
from tests.console import ConsoleHarness
from tests.factories import make_worker
from tests.surveys_data import SAMPLE, make_wave
from tests.webhook_route import database_files, files_holding

SECRET = "test-secret"
K = 5


class Clock:
    """An injected clock for the stores: tests move it instead of sleeping."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store() -> Iterator[MemorySurveyStore]:
    yield MemorySurveyStore()


async def answer(
    sessions: Any,
    store: SurveyStore,
    user: User,
    wave_id: int,
    *,
    safe: str = "yes",
    hours: str = "48",
) -> None:
    """One worker answers the sample survey to the end."""
    kw: dict[str, Any] = {"secret_key": SECRET, "store": store}
    async with transaction(sessions) as s:
        step = await answering.do_begin(s, user, wave_id, **kw)
        step = await answering.do_answer(s, user, wave_id, step.index, "4", **kw)
        step = await answering.do_answer(s, user, wave_id, step.index, safe, **kw)
        if safe == "no":
            step = await answering.do_toggle(s, user, wave_id, step.index, "fire", **kw)
            step = await answering.do_finish_choice(s, user, wave_id, step.index, **kw)
        step = await answering.do_answer(s, user, wave_id, step.index, "day", **kw)
        step = await answering.do_answer(s, user, wave_id, step.index, hours, **kw)
        step = await answering.do_skip(s, user, wave_id, step.index, **kw)
        assert step.done


async def flush(sessions: Any, store: SurveyStore, at: datetime) -> int:
    return await flush_batches(sessions, store, secret_key=SECRET, k=K, now=at)


async def close(sessions: Any, wave_id: int) -> None:
    async with transaction(sessions) as s:
        wave = await s.get(SurveyWave, wave_id)
        assert wave is not None
        await do_cancel_wave(s, wave, actor=None)


async def wave_row(sessions: Any, wave_id: int) -> SurveyWave:
    async with sessions() as s:
        wave = await s.get(SurveyWave, wave_id)
        assert wave is not None
        return wave


LATER = timedelta(days=1, minutes=10)


# --- H4: transaction ids ------------------------------------------------------------------------


async def test_h4_rule1_no_answer_shares_a_transaction_id_with_a_participation(
    db: Database, store: MemorySurveyStore
) -> None:
    if db.backend != "postgres":
        pytest.skip("xmin is PostgreSQL's")
    sessions = db.sessions
    people = [await make_worker(sessions, 71_000 + i, gender="woman") for i in range(9)]
    wave = await make_wave(sessions)
    # A second wave that never publishes a batch until it closes.
    small = await make_wave(sessions, definition={**SAMPLE, "key": "other"})
    for i, person in enumerate(people[:7]):
        await answer(sessions, store, person, wave.id, safe="no" if i % 3 else "yes")
    await answer(sessions, store, people[7], small.id)
    await answer(sessions, store, people[8], small.id)
    t0 = datetime.now(UTC) + LATER
    assert await flush(sessions, store, t0) == 7
    await close(sessions, small.id)
    assert await flush(sessions, store, t0) == 2  # never published: written at the close
    # The audit's query: a response alone in its transaction, joined to the participation
    # written in that transaction. Nothing.
    audit = """
        with t as (select xmin::text x from survey_responses group by 1 having count(*)=1)
        select p.id from t join survey_participations p on p.xmin::text = t.x
    """
    async with sessions() as s:
        assert (await s.execute(text(audit))).all() == []
        shared = await s.scalar(
            text(
                "select count(*) from survey_answers a join survey_participations p "
                "on a.xmin::text = p.xmin::text"
            )
        )
        assert shared == 0
        # Every transaction that wrote answers of the published wave wrote k or more people.
        sizes = (
            await s.execute(
                text(
                    "select wave_id, xmin::text, count(*) from survey_responses "
                    "group by wave_id, xmin::text"
                )
            )
        ).all()
    assert sorted(n for w, _x, n in sizes if w == wave.id) == [7]
    assert sorted(n for w, _x, n in sizes if w == small.id) == [2]
    async with sessions() as s:
        # The batch transactions hold no participation either.
        xids = {x for _w, x, _n in sizes}
        finished = (await s.execute(text("select xmin::text from survey_participations"))).scalars()
        assert not xids & set(finished)


# --- M3: quasi-identifiers ----------------------------------------------------------------------


FACTORIES = ["DK-01", "DK-02"]
GENDERS = ["woman", "man", None]
AGES = ["18-24", "25-34", "45plus", None]


async def test_m3_rule1_the_link_attack_links_no_response_to_a_telegram_id(
    sessions: Any, store: MemorySurveyStore
) -> None:
    """The audit's link_attack: person keys for every user, finishers' attributes matched to the
    responses; a response compatible with exactly one finisher is linked. None is."""
    import random

    rng = random.Random(14)
    workers = []
    for i in range(24):
        workers.append(
            await make_worker(
                sessions,
                72_000 + i,
                locale=rng.choice(["en", "bn"]),
                factory_code=rng.choice(FACTORIES),
                gender=rng.choice(GENDERS),
                age_band=rng.choice(AGES),
            )
        )
    # The lone man over 45 at DK-02, speaking English: unique by construction.
    workers.append(
        await make_worker(
            sessions, 72_999, locale="en", factory_code="DK-02", gender="man", age_band="45plus"
        )
    )
    wave = await make_wave(sessions)
    for worker in workers[:15]:
        await answer(sessions, store, worker, wave.id)
    t0 = datetime.now(UTC) + LATER
    assert await flush(sessions, store, t0) == 15
    for worker in workers[15:]:
        await answer(sessions, store, worker, wave.id)
    assert await flush(sessions, store, t0 + LATER) == 10
    async with sessions() as s:
        users = (await s.scalars(select(User))).all()
        keys = {person_key(SECRET, u.telegram_id): u for u in users}
        finished = (
            await s.scalars(
                select(SurveyParticipation.person_key).where(
                    SurveyParticipation.wave_id == wave.id,
                    SurveyParticipation.completed_on.is_not(None),
                )
            )
        ).all()
        finishers = [keys[k] for k in finished]
        responses = (
            await s.scalars(select(SurveyResponse).where(SurveyResponse.wave_id == wave.id))
        ).all()
    assert len(finishers) == len(responses) == 25

    def attrs(u: User) -> dict[str, Any]:
        return {
            "factory_id": u.factory_id,
            "language": u.locale,
            "gender": u.gender,
            "age_band": u.age_band,
        }

    linked = []
    for r in responses:
        seen = {name: getattr(r, name) for name in ("factory_id", "language", "gender", "age_band")}
        matches = [
            f
            for f in finishers
            if all(v is None or attrs(f)[name] == v for name, v in seen.items())
        ]
        assert matches, "every response comes from some finisher"
        if len(matches) == 1:
            linked.append(matches[0].telegram_id)
    assert linked == []


# --- generalisation -------------------------------------------------------------------------------

group_strategy = st.fixed_dictionaries(
    {
        "factory_id": st.sampled_from([1, 2, 3, None]),
        "country_code": st.sampled_from(["BD", "KH"]),
        "language": st.sampled_from(["en", "bn", "km", None]),
        "gender": st.sampled_from(["woman", "man", None]),
        "age_band": st.sampled_from(["18-24", "25-34", "35-44", "45plus", None]),
    }
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(group_strategy, min_size=1, max_size=12), min_size=1, max_size=5))
def test_m3_rule1_after_each_batch_no_cell_is_unique_unless_fully_generalised(
    batches: list[list[dict[str, Any]]],
) -> None:
    written: Counter[tuple[Any, ...]] = Counter()
    for batch in batches:
        out = generalise(written, batch)
        assert len(out) == len(batch)
        for before, after in zip(batch, out, strict=True):
            # Only ever dropped, never changed, and in the documented order (a prefix of it).
            assert any(
                after
                == {n: None if i < level else before[n] for i, n in enumerate(GENERALISE_ORDER)}
                for level in range(len(GENERALISE_ORDER) + 1)
            ), (before, after)
        written += Counter(cell_of(g) for g in out)
        for cell, n in written.items():
            assert n >= 2 or all(v is None for v in cell), (cell, written)


def test_m3_generalisation_drops_the_age_band_first_then_gender_language_factory() -> None:
    base = {"factory_id": 1, "country_code": "BD", "language": "bn"}
    women = [{**base, "gender": "woman", "age_band": "25-34"} for _ in range(3)]
    older = {**base, "gender": "woman", "age_band": "45plus"}
    out = generalise(Counter(), [*women, older])
    # The lone 45+ woman loses her age band, then joins no one: her gender goes too, and so on
    # until she is alone only when nothing is left.
    assert out[:3] == women
    assert out[3] == dict.fromkeys(GENERALISE_ORDER)
    two = generalise(Counter(), [older, {**older, "age_band": "18-24"}])
    assert two == [{**base, "gender": "woman", "age_band": None}] * 2  # age dropped: together


# --- M11: drafts never in the database ------------------------------------------------------------

MARKER = "kanteen-water-7731"


def text_first() -> dict[str, Any]:
    """The sample with its free-text question asked first, so a draft holds typed words."""
    data = copy.deepcopy(SAMPLE)
    data["questions"] = [data["questions"][-1], *data["questions"][:-1]]
    return data


async def test_m11_rule1_no_draft_reaches_the_database_files(
    db: Database, store: MemorySurveyStore
) -> None:
    sessions = db.sessions
    worker = await make_worker(sessions, 73_001, locale="en")
    wave = await make_wave(sessions, definition=text_first())
    kw: dict[str, Any] = {"secret_key": SECRET, "store": store}
    async with transaction(sessions) as s:
        step = await answering.do_begin(s, worker, wave.id, **kw)
        assert step.question is not None and step.question.key == "else"
        step = await answering.do_answer(s, worker, wave.id, step.index, MARKER, **kw)
        step = await answering.do_answer(s, worker, wave.id, step.index, "2", **kw)
        step = await answering.do_back(s, worker, wave.id, step.index, **kw)
        step = await answering.do_answer(s, worker, wave.id, step.index, "3", **kw)
    key = person_key(SECRET, worker.telegram_id)
    assert not {"draft", "position"} & set(SurveyParticipation.__table__.columns.keys())
    # The draft is in the store, sealed and filed under neither the id nor the person key.
    (slot_key, (blob, _expires)), *_ = store._drafts.items()
    assert slot_key == (wave.id, draft_slot(SECRET, wave.id, worker.telegram_id))
    assert MARKER.encode() not in blob and b"answers" not in blob
    assert str(worker.telegram_id) not in slot_key[1] and key not in slot_key[1]
    # Finishing: still nothing in the database but "finished" (the response waits in the pool).
    async with transaction(sessions) as s:
        step = await answering.do_begin(s, worker, wave.id, **kw)
        step = await answering.do_answer(s, worker, wave.id, step.index, "yes", **kw)
        step = await answering.do_answer(s, worker, wave.id, step.index, "day", **kw)
        step = await answering.do_answer(s, worker, wave.id, step.index, "40", **kw)
        assert step.done
    assert store._drafts == {}
    assert MARKER.encode() not in next(iter(store._pools[wave.id].values()))
    assert await sql_count(sessions, "SELECT count(*) FROM survey_answers") == 0
    if db.backend == "sqlite":
        files = await database_files(db, since=0.0)
        assert any(f.exists() for f in files) and files_holding(files, MARKER.encode()) == []
    else:
        async with sessions() as s:
            await s.execute(text("CHECKPOINT"))
            await s.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
            await s.commit()
            pages = int(
                await s.scalar(text("select pg_relation_size('survey_participations') / 8192")) or 0
            )
            # Every row version on disk, dead ones included (what the audit read).
            for page in range(pages):
                rows = (
                    await s.execute(
                        text(
                            "select t_data from heap_page_items("
                            "get_raw_page('survey_participations', :p))"
                        ),
                        {"p": page},
                    )
                ).scalars()
                for data in rows:
                    assert data is None or MARKER.encode() not in bytes(data)
                    assert data is None or b"answers" not in bytes(data)


# --- M4: results change only by batches of k --------------------------------------------------------


async def test_m4_rule2_two_downloads_around_one_answer_are_identical_until_k_more(
    console: ConsoleHarness,
) -> None:
    store = console.ctx.survey_store
    sessions = console.sessions
    key = console.ctx.settings.effective_secret_key
    people = [await make_worker(sessions, 74_000 + i, gender="woman") for i in range(16)]
    wave = await make_wave(sessions)

    async def answered(person: User, safe: str = "yes") -> None:
        kw: dict[str, Any] = {"secret_key": key, "store": store}
        async with transaction(sessions) as s:
            step = await answering.do_begin(s, person, wave.id, **kw)
            while not step.done:
                q = step.question
                assert q is not None
                raw = {"mood": "4", "safe": safe, "shift": "day", "hours": "40"}.get(q.key)
                if q.key == "why":
                    step = await answering.do_toggle(s, person, wave.id, step.index, "fire", **kw)
                    step = await answering.do_finish_choice(s, person, wave.id, step.index, **kw)
                elif raw is None:
                    step = await answering.do_skip(s, person, wave.id, step.index, **kw)
                else:
                    step = await answering.do_answer(s, person, wave.id, step.index, raw, **kw)

    async def job(at: datetime) -> int:
        return await flush_batches(sessions, store, secret_key=key, k=K, now=at)

    for person in people[:10]:
        await answered(person)
    t0 = datetime.now(UTC) + LATER
    assert await job(t0) == 10
    client = console.client_for(await console.staff("analyst", ["BD"]))
    url = f"/surveys/waves/{wave.id}/results.csv"
    before = (await client.get(url)).text
    assert "Pulse,,,,respondents,10" in before
    # One more worker answers "not safe"; the job runs (even days later): nothing changes.
    await answered(people[10], safe="no")
    assert await job(t0 + timedelta(days=3)) == 0
    assert (await client.get(url)).text == before
    page = await client.get(f"/surveys/waves/{wave.id}/results")
    assert 'Waiting: <span class="hidden-n">fewer than 5</span>.' in page.text
    # Four more: five new, but within a day of the last batch: still nothing.
    for person in people[11:15]:
        await answered(person, safe="no")
    assert await job(t0 + timedelta(hours=12)) == 0
    assert (await client.get(url)).text == before
    # A day on: the five arrive together.
    assert await job(t0 + LATER) == 5
    after = (await client.get(url)).text
    assert after != before
    assert "Pulse,,,,respondents,15" in after  # five more, not one


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
    from redis.asyncio import Redis

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
    from workvoice.context import AppContext
    from workvoice.kernel.settings import load_settings
    from workvoice.scheduler import JOBS, survey_batches

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
    from services.surveys import results

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
