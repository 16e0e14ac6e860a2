"""Survey unlinkability by construction (DESIGN §4.1-4.2): the audit's attacks, played again.

H4 (transaction ids join answers to participation), M3 (quasi-identifiers link responses to
finishers), M11 (drafts under a person key in the database files), M4 (two downloads around one
answer), plus generalisation. Batches and the draft store: ``test_surveys_batches``.
"""

from __future__ import annotations

import csv
import io
import random
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
from bot.storage.surveys import SurveyParticipation, SurveyResponse
from services.surveys import answering
from services.surveys.batches import (
    GENERALISE_ORDER,
    cell_of,
    flush_batches,
    generalise,
)
from services.surveys.participation import person_key
from services.surveys.store import (
    MemorySurveyStore,
    draft_slot,
)
from tests.conftest import Database, sql_count
from tests.console import ConsoleHarness
from tests.factories import make_worker
from tests.surveys_data import (
    LATER,
    MARKER,
    SAMPLE,
    SECRET,
    K,
    answer,
    close,
    flush,
    make_wave,
    text_first,
)
from tests.webhook_route import database_files, files_holding


@pytest.fixture
def store() -> Iterator[MemorySurveyStore]:
    yield MemorySurveyStore()


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
    overall = [r for r in csv.DictReader(io.StringIO(before.lstrip("\ufeff"))) if not r["Question"]]
    assert {"Answer": "Respondents", "Count": "10"}.items() <= overall[0].items()
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
    overall = [r for r in csv.DictReader(io.StringIO(after.lstrip("\ufeff"))) if not r["Question"]]
    assert {"Answer": "Respondents", "Count": "15"}.items() <= overall[0].items()  # five more
