"""Finished responses reach the anonymous tables in shuffled batches of at least k (DESIGN §4.1).

Finishing a wave writes no answer: it marks the participation and leaves the sealed response in
the wave's pending pool (``services.surveys.store``). This module's scheduler job writes the pool
into ``survey_responses`` and ``survey_answers`` in a transaction of its own, so that

- no answer row shares a transaction id (PostgreSQL ``xmin``), a neighbouring transaction id,
  a position on disk or a time with anyone's participation row: a batch holds k or more people,
  its rows are inserted in shuffled order (answers of different people interleaved) under random
  ids, and it runs long after any one of them finished;
- results and CSV exports, which read only these tables, change at most once a day per wave and
  only by k or more new responses ("results are published from closed batches"): two downloads
  around one person's answer cannot differ by that person.

**The rules.**

- While a wave is open, a batch is written when k or more responses wait and the last batch is at
  least a day old (claimed by a conditional update of the wave row, so replicas never both write).
- When the wave has closed (after a short grace for answers in flight), the remainder is settled
  once: k or more are written; fewer than k are written only if the wave never published
  anything (its results then suppress the small total anyway); otherwise they are dropped and only
  their number is kept (``late_dropped``): published results plus a difference of fewer than k
  people could single them out. Unfinished drafts of the wave are forgotten then too.
- Crash safety: the pool is read, the batch written and committed, and only then are those
  responses removed from the pool. Writing is idempotent by response id (chosen when the worker
  finished), so a crash between commit and removal writes nothing twice.

**Demographics are generalised when written.** A response's cell is (wave × factory × gender ×
age band × language). If it would be the only one in its cell among the wave's written rows and
this batch, it is generalised one step at a time, in this order, until it is not alone: the age
band is dropped first, then the gender, then the language, then the factory (and last the country
it implies). A dropped demographic reads as "not given" in results. Only a response with nothing
left to drop may stay alone.
"""

from __future__ import annotations

import logging
import random
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage.db import transaction
from bot.storage.surveys import SurveyAnswer, SurveyResponse, SurveyWave
from services.clock import utcnow
from services.suppression import shown
from services.surveys.store import SurveyStore, open_response
from services.surveys.waves import WaveStatus

log = logging.getLogger(__name__)

BATCH_EVERY = timedelta(days=1)
# Answers in flight when a wave closes (finished a moment before) still reach the pool.
CLOSE_GRACE = timedelta(minutes=5)
# The cell's fields, and the order in which they are dropped when a response would be alone.
GENERALISE_ORDER = ("age_band", "gender", "language", "factory_id", "country_code")
Cell = tuple[Any, ...]
_shuffle = random.SystemRandom().shuffle


def cell_of(group: dict[str, Any]) -> Cell:
    return tuple(group.get(name) for name in GENERALISE_ORDER)


def generalise(existing: Counter[Cell], groups: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The groups to write: each generalised until its cell is not unique among ``existing`` (the
    wave's written cells) and the batch, or until nothing is left to drop."""
    levels = [0] * len(groups)

    def at(i: int) -> dict[str, Any]:
        group = dict(groups[i])
        for name in GENERALISE_ORDER[: levels[i]]:
            group[name] = None
        return group

    while True:
        cells = [cell_of(at(i)) for i in range(len(groups))]
        counts = existing + Counter(cells)
        alone = [
            i
            for i, cell in enumerate(cells)
            if counts[cell] == 1 and levels[i] < len(GENERALISE_ORDER)
        ]
        if not alone:
            return [at(i) for i in range(len(groups))]
        # Only lone responses move, so no other cell shrinks: this ends.
        for i in alone:
            levels[i] += 1


@dataclass
class Taken:
    new: dict[int, dict[str, Any]]  # opened responses not written yet, by id
    ids: list[int]  # every id taken from the pool (to remove once committed)


async def _take(session: AsyncSession, store: SurveyStore, wave_id: int, secret_key: str) -> Taken:
    pool = await store.pending(wave_id)
    opened = {rid: open_response(secret_key, wave_id, blob) for rid, blob in pool.items()}
    written = set()
    ids = list(pool)
    for start in range(0, len(ids), 500):
        written |= set(
            (
                await session.scalars(
                    select(SurveyResponse.id).where(SurveyResponse.id.in_(ids[start : start + 500]))
                )
            ).all()
        )
    # Unreadable (sealed under an older secret key) or already written: removed, not written.
    new = {rid: data for rid, data in opened.items() if data is not None and rid not in written}
    return Taken(new, ids)


async def _write(session: AsyncSession, wave_id: int, responses: list[dict[str, Any]]) -> None:
    existing: Counter[Cell] = Counter()
    fields = [getattr(SurveyResponse, name) for name in GENERALISE_ORDER]
    for *cell, n in (
        await session.execute(
            select(*fields, func.count()).where(SurveyResponse.wave_id == wave_id).group_by(*fields)
        )
    ).all():
        existing[tuple(cell)] = int(n)
    _shuffle(responses)
    groups = generalise(existing, [r["group"] for r in responses])
    response_rows, answer_rows = [], []
    for response, group in zip(responses, groups, strict=True):
        group = {name: group.get(name) for name in GENERALISE_ORDER}
        response_rows.append({"id": int(response["id"]), "wave_id": wave_id, **group})
        for answer in response["answers"]:
            answer_rows.append(
                {
                    "id": secrets.randbits(62) + 1,
                    "wave_id": wave_id,
                    "question_key": answer["question_key"],
                    "value": answer.get("value"),
                    "number": answer.get("number"),
                    "text": answer.get("text"),
                    **group,
                }
            )
    # Different people's answers interleaved: nothing on disk groups one response's rows.
    _shuffle(answer_rows)
    await session.execute(insert(SurveyResponse), response_rows)
    for start in range(0, len(answer_rows), 1000):
        await session.execute(insert(SurveyAnswer), answer_rows[start : start + 1000])


class _NotEnough(Exception):
    pass


async def flush_wave(
    sessions: async_sessionmaker[AsyncSession],
    store: SurveyStore,
    wave_id: int,
    *,
    secret_key: str,
    k: int,
    now: datetime | None = None,
) -> int:
    """Write an open wave's pending responses if k or more wait and the last batch is a day old;
    returns how many were written (0 if not due, or another replica claimed it)."""
    now = now or utcnow()
    if await store.pending_count(wave_id) < k:
        return 0
    taken: Taken | None = None
    try:
        async with transaction(sessions) as session:
            claimed = await session.execute(
                update(SurveyWave)
                .where(
                    SurveyWave.id == wave_id,
                    SurveyWave.status == WaveStatus.OPEN,
                    or_(
                        SurveyWave.batched_at.is_(None), SurveyWave.batched_at <= now - BATCH_EVERY
                    ),
                )
                .values(batched_at=now)
                .execution_options(synchronize_session=False)
            )
            if not claimed.rowcount:  # type: ignore[attr-defined]
                return 0
            taken = await _take(session, store, wave_id, secret_key)
            if len(taken.new) < k:
                raise _NotEnough()  # leftovers of a crash: not a batch; roll the claim back
            await _write(session, wave_id, list(taken.new.values()))
    except _NotEnough:
        assert taken is not None
        await store.remove_pending(wave_id, [i for i in taken.ids if i not in taken.new])
        return 0
    await store.remove_pending(wave_id, taken.ids)
    log.info("survey.batch wave=%s n=%s", wave_id, len(taken.new))
    return len(taken.new)


async def settle_wave(
    sessions: async_sessionmaker[AsyncSession],
    store: SurveyStore,
    wave_id: int,
    *,
    secret_key: str,
    k: int,
    now: datetime | None = None,
) -> tuple[int, int] | None:
    """Once a wave has closed: write or drop what is left (see the module's rules) and forget its
    unfinished drafts. Returns (written, dropped), or None if not closed or already settled."""
    now = now or utcnow()
    async with transaction(sessions) as session:
        published = await session.scalar(
            select(SurveyWave.batched_at.is_not(None)).where(SurveyWave.id == wave_id)
        )
        claimed = await session.execute(
            update(SurveyWave)
            .where(
                SurveyWave.id == wave_id,
                SurveyWave.status == WaveStatus.CLOSED,
                SurveyWave.settled_at.is_(None),
            )
            .values(settled_at=now)
            .execution_options(synchronize_session=False)
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            return None
        taken = await _take(session, store, wave_id, secret_key)
        written = dropped = 0
        if len(taken.new) >= k or (taken.new and not published):
            await _write(session, wave_id, list(taken.new.values()))
            written = len(taken.new)
            await session.execute(
                update(SurveyWave).where(SurveyWave.id == wave_id).values(batched_at=now)
            )
        elif taken.new:
            dropped = len(taken.new)
            await session.execute(
                update(SurveyWave)
                .where(SurveyWave.id == wave_id)
                .values(late_dropped=SurveyWave.late_dropped + dropped)
            )
    await store.remove_pending(wave_id, taken.ids)
    await store.drop_wave_drafts(wave_id)
    if written:
        log.info("survey.batch wave=%s n=%s", wave_id, written)
    if dropped:
        log.info("survey.batch_dropped wave=%s n=%s", wave_id, dropped)
    return written, dropped


async def flush_batches(
    sessions: async_sessionmaker[AsyncSession],
    store: SurveyStore,
    *,
    secret_key: str,
    k: int,
    now: datetime | None = None,
    close_grace: timedelta = CLOSE_GRACE,
) -> int:
    """The scheduler job: batch every open wave that is due, settle every wave closed since.
    Returns how many responses were written."""
    now = now or utcnow()
    async with sessions() as session:
        open_ids = (
            await session.scalars(select(SurveyWave.id).where(SurveyWave.status == WaveStatus.OPEN))
        ).all()
        closed_ids = (
            await session.scalars(
                select(SurveyWave.id).where(
                    SurveyWave.status == WaveStatus.CLOSED,
                    SurveyWave.settled_at.is_(None),
                    SurveyWave.closed_at <= now - close_grace,
                )
            )
        ).all()
    written = 0
    for wave_id in open_ids:
        written += await flush_wave(sessions, store, wave_id, secret_key=secret_key, k=k, now=now)
    for wave_id in closed_ids:
        settled = await settle_wave(sessions, store, wave_id, secret_key=secret_key, k=k, now=now)
        written += settled[0] if settled else 0
    return written


@dataclass
class BatchStatus:
    """What the results page says about freshness: when they last changed, how many answers wait
    (None: "fewer than k"), and how many late answers were dropped to keep them anonymous."""

    updated_at: datetime | None
    waiting: int | None
    late_dropped: int
    settled: bool


async def batch_status(store: SurveyStore, wave: SurveyWave, *, k: int) -> BatchStatus:
    waiting = 0 if wave.settled_at is not None else await store.pending_count(wave.id)
    return BatchStatus(
        wave.batched_at, shown(waiting, k), wave.late_dropped or 0, wave.settled_at is not None
    )
