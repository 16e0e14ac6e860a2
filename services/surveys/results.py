"""Results of a wave for staff: every number goes through small-group suppression (DESIGN §4.2).

Counting happens in SQL (one grouped query per breakdown); Python only suppresses and arranges.
Every number the results page and the CSV show for a wave is built here, in this order, each
later table taking the earlier ones' labels as fixed margins so that no two contradict:

- respondents per group (one line per dimension) and the respondents total;
- each question's chart (a line whose total is "Answered", or the ticks' total for a multiple
  choice), which is also the row totals of every breakdown of that question;
- each breakdown (answers by factory, gender, age band or language: options × groups, "not
  given" included) with its column totals; a group hidden among the respondents is hidden here.

Each of those is protected as intervals by ``services.suppression`` (a hidden count below k can
still be anything from 0 to k−1 given all of them). Free text is listed only when at least ``k``
people wrote one, in random order and with nothing beside it. No small number is printed: zeros
read "fewer than k" too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, cast, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.db import is_postgres
from bot.storage.models import Factory, Staff
from bot.storage.surveys import Survey, SurveyAnswer, SurveyResponse, SurveyVersion, SurveyWave
from services import audit
from services.previews import rounded
from services.scope import Scope
from services.suppression import (
    HIDDEN,
    Hidden,
    Shown,
    SuppressedTable,
    shown,
    suppress_cached,
    suppress_line,
)
from services.surveys.answering import ANSWERED
from services.surveys.builder import access_survey
from services.surveys.definition import (
    COUNTED_TYPES,
    Question,
    QuestionType,
    SurveyDefinition,
)
from services.surveys.waves import access_wave

DIMENSIONS = ("factory", "gender", "age_band", "language")
NOT_GIVEN = "-"
NUMBER_BINS = 5
MAX_TEXTS = 200
_COLUMN = {
    "factory": SurveyAnswer.factory_id,
    "gender": SurveyAnswer.gender,
    "age_band": SurveyAnswer.age_band,
    "language": SurveyAnswer.language,
}
_RESPONSE_COLUMN = {
    "factory": SurveyResponse.factory_id,
    "gender": SurveyResponse.gender,
    "age_band": SurveyResponse.age_band,
    "language": SurveyResponse.language,
}


@dataclass
class NumberSummary:
    answered: Shown
    mean: float | None
    bins: list[tuple[str, Shown]]  # "0–60" → count


@dataclass
class QuestionResult:
    question: Question
    answered: Shown  # people who gave an answer (multiple choice: who ticked anything)
    counts: dict[Hashable, Shown] = field(default_factory=dict)  # value → count, suppressed
    breakdowns: dict[str, SuppressedTable] = field(default_factory=dict)
    numbers: NumberSummary | None = None
    texts: list[str] | None = None  # None: fewer than k wrote one
    text_count: int | None = None
    # Scale questions: the mean overall and per group of each breakdown (None: not shown).
    mean: float | None = None
    group_means: dict[str, dict[Hashable, float | None]] = field(default_factory=dict)

    def share(self, value: str) -> float | None:
        n = self.counts.get(value)
        if not isinstance(n, int) or not isinstance(self.answered, int) or not self.answered:
            return None
        return n / self.answered


@dataclass
class WaveResults:
    wave: SurveyWave
    definition: SurveyDefinition
    k: int
    invited: int
    respondents: Shown
    respondents_by: dict[str, dict[Hashable, Shown]]
    groups: dict[str, list[Hashable]]
    questions: list[QuestionResult]
    factory_names: dict[Hashable, str]

    @property
    def invited_shown(self) -> int | None:
        """Who was invited is an audience like any preview's: rounded to tens, so waves for two
        audiences cannot be subtracted to one person (M5)."""
        return rounded(self.invited, self.k)

    @property
    def response_rate(self) -> float | None:
        # From the rounded figure: a rate from the exact one would give it back.
        invited = self.invited_shown
        if not isinstance(self.respondents, int) or invited is None:
            return None
        return min(1.0, self.respondents / invited)


def _group(value: Any) -> Hashable:
    return NOT_GIVEN if value is None else value


async def wave_results(
    session: AsyncSession,
    wave: SurveyWave,
    *,
    k: int,
    with_texts: bool = True,
    raw: dict[str, Any] | None = None,
) -> WaveResults:
    """What staff may see of a wave. ``raw`` (audits and tests only) receives the counts before
    suppression, so an attacker's model of the page can be checked against the truth."""
    version = await session.get(SurveyVersion, wave.version_id)
    assert version is not None
    definition = SurveyDefinition.model_validate(version.definition)

    wave_answers = (SurveyAnswer.wave_id == wave.id) & SurveyAnswer.value.is_not(None)
    # Respondents overall and per group (from responses), value counts overall and per group
    # (from answers): one scan of each table on PostgreSQL (GROUPING SETS), a few on SQLite.
    by_response = await _grouped(session, [], _RESPONSE_COLUMN, SurveyResponse.wave_id == wave.id)
    total = by_response[None].get((), 0)
    respondents_by: dict[str, dict[Hashable, Shown]] = {}
    groups: dict[str, list[Hashable]] = {}
    respondents: Shown = shown(total, k)
    for dim in DIMENSIONS:
        counts = {key[0]: n for key, n in by_response[dim].items()}
        groups[dim] = sorted(counts, key=lambda g: (g == NOT_GIVEN, str(g)))
        respondents_by[dim], line_total = suppress_line(counts, k=k) if counts else ({}, None)
        if line_total is HIDDEN:  # one line needs the total hidden: every line can do with it
            respondents = HIDDEN

    counted = [q for q in definition.questions if q.type in COUNTED_TYPES]
    by_answer = await _grouped(
        session, [SurveyAnswer.question_key, SurveyAnswer.value], _COLUMN, wave_answers
    )
    overall: dict[str, dict[str, int]] = defaultdict(dict)
    for (qkey, value), n in by_answer[None].items():
        overall[str(qkey)][str(value)] = n
    by_dim: dict[str, dict[str, dict[tuple[Hashable, Hashable], int]]] = {}
    for dim in DIMENSIONS:
        cells: dict[str, dict[tuple[Hashable, Hashable], int]] = defaultdict(dict)
        for (qkey, value, group), n in by_answer[dim].items():
            cells[str(qkey)][(value, group)] = n
        by_dim[dim] = cells
    if raw is not None:
        raw.update(total=total, by_response=by_response, overall=overall, by_dim=by_dim)
        raw["bins"] = {}

    results: list[QuestionResult] = []
    for question in definition.questions:
        if question in counted:
            results.append(
                _counted(question, overall.get(question.key, {}), by_dim, groups, respondents_by, k)
            )
        elif question.type == QuestionType.NUMBER:
            numbers = await _numbers(session, wave, question, k, raw)
            results.append(QuestionResult(question, numbers.answered, numbers=numbers))
        else:
            n = await _text_count(session, wave, question)
            texts = await _texts(session, wave, question) if with_texts and n >= k else None
            results.append(
                QuestionResult(question, shown(n, k), texts=texts, text_count=shown(n, k))
            )

    factory_ids = [g for g in groups.get("factory", []) if g != NOT_GIVEN]
    names: dict[Hashable, str] = {
        fid: f"{code} · {name}"
        for fid, code, name in (
            await session.execute(
                select(Factory.id, Factory.code, Factory.name).where(Factory.id.in_(factory_ids))
            )
        ).all()
    }
    return WaveResults(
        wave=wave,
        definition=definition,
        k=k,
        invited=wave.invited_count,
        respondents=respondents,
        respondents_by=respondents_by,
        groups=groups,
        questions=results,
        factory_names=names,
    )


def _base(question: Question, counts: dict[str, int]) -> int:
    """Who answered a counted question. Ticks of a multiple choice are not parts of one whole:
    its base is the ``ANSWERED`` row each respondent adds once."""
    if question.type == QuestionType.MULTI:
        return counts.get(ANSWERED, 0)
    return sum(n for v, n in counts.items() if v != ANSWERED)


async def _grouped(
    session: AsyncSession,
    keys: list[Any],
    dimensions: dict[str, Any],
    where: Any,
) -> dict[str | None, dict[tuple[Hashable, ...], int]]:
    """Counts by ``keys`` overall (under None) and by ``keys`` plus each dimension (under its name).

    PostgreSQL does it in one pass with GROUPING SETS; ``GROUPING()`` tells which set a row is
    from. SQLite runs one GROUP BY per set. Missing groups come back as ``NOT_GIVEN``.
    """
    found: dict[str | None, dict[tuple[Hashable, ...], int]] = {None: {}}
    found.update({dim: {} for dim in dimensions})
    if is_postgres(session):
        columns = list(dimensions.values())
        sets = (
            [tuple_(*keys)] + [tuple_(*keys, column) for column in columns]
            if keys
            else [tuple_()] + [tuple_(column) for column in columns]
        )
        query = (
            select(*keys, *columns, func.grouping(*columns), func.count())
            .where(where)
            .group_by(func.grouping_sets(*sets))
        )
        width = len(columns)
        for row in (await session.execute(query)).all():
            key, groups, mask, n = row[: len(keys)], row[len(keys) : -2], row[-2], row[-1]
            if mask == (1 << width) - 1:
                found[None][tuple(key)] = int(n)
                continue
            index = next(i for i in range(width) if not mask & (1 << (width - 1 - i)))
            found[list(dimensions)[index]][(*key, _group(groups[index]))] = int(n)
        return found
    for dim, column in [(None, None), *dimensions.items()]:
        group_by = [*keys] + ([column] if column is not None else [])
        query = select(*group_by, func.count()).where(where)
        if group_by:
            query = query.group_by(*group_by)
        for row in (await session.execute(query)).all():
            key = tuple(row[: len(keys)])
            if column is not None:
                key = (*key, _group(row[len(keys)]))
            found[dim][key] = int(row[-1])
    return found


async def _text_count(session: AsyncSession, wave: SurveyWave, question: Question) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(
                SurveyAnswer.wave_id == wave.id,
                SurveyAnswer.question_key == question.key,
                SurveyAnswer.text.is_not(None),
            )
        )
        or 0
    )


def _counted(
    question: Question,
    overall: dict[str, int],
    by_dim: dict[str, dict[str, dict[tuple[Hashable, Hashable], int]]],
    groups: dict[str, list[Hashable]],
    respondents_by: dict[str, dict[Hashable, Shown]],
    k: int,
) -> QuestionResult:
    values = question.values()
    chart, chart_total = suppress_line({v: overall.get(v, 0) for v in values}, k=k)
    breakdowns = {}
    for dim in DIMENSIONS:
        if not groups.get(dim):
            continue
        cells = by_dim[dim].get(question.key, {})
        breakdowns[dim] = _breakdown(
            cells, list(values), groups[dim], chart, chart_total, respondents_by[dim], k
        )
    if question.type == QuestionType.MULTI:  # people, not ticks: a number of its own
        answered: Shown = shown(_base(question, overall), k)
    else:  # the chart's total, as the chart's protection left it
        answered = chart_total
    found = QuestionResult(question, answered, counts=chart, breakdowns=breakdowns)
    if question.type == QuestionType.SCALE:
        found.mean = scale_mean(
            {v: overall.get(v, 0) for v in values}, [chart[v] for v in values], chart_total, k
        )
        for dim, table in breakdowns.items():
            cells = by_dim[dim].get(question.key, {})
            found.group_means[dim] = {
                g: scale_mean(
                    {v: cells.get((v, g), 0) for v in values},
                    [table.shown(v, g) for v in values],
                    table.column_totals.get(g),
                    k,
                )
                for g in groups[dim]
            }
    return found


SCALE_SPAN = 4  # a scale runs from 1 to 5
MEAN_STEP = 0.1  # means are shown to one decimal


def scale_mean(counts: dict[str, int], cells: list[Shown], total: Shown, k: int) -> float | None:
    """A scale's mean, when it tells no hidden count. The mean adds the answers weighted by their
    value, so beside hidden counts it could pin them down ("a share of a hidden count is hidden
    too"): it is shown when every count under it is shown, or when there are so many answers
    that, to one decimal, it cannot move by the whole range a hidden count may take (k−1 people
    moved across the scale shift it by less than its rounding). Never for fewer than k answers
    or a hidden total."""
    n = sum(counts.values())
    if not isinstance(total, int) or n < k or not n:
        return None
    mean = sum(int(v) * c for v, c in counts.items()) / n
    if all(isinstance(c, int) for c in cells) or n * MEAN_STEP >= (k - 1) * SCALE_SPAN:
        return round(mean, 1)
    return None


def _breakdown(
    cells: dict[tuple[Hashable, Hashable], int],
    rows: list[Hashable],
    columns: list[Hashable],
    chart: dict[Hashable, Shown],
    chart_total: Shown,
    respondents: dict[Hashable, Shown],
    k: int,
) -> SuppressedTable:
    """Options × groups. Its row totals are the chart; a group hidden among the respondents is
    hidden here too (else its answers would add up to it); other column totals are shown."""
    column_totals: dict[Hashable, Shown] = {}
    for g in columns:
        n = sum(cells.get((v, g), 0) for v in rows)
        if isinstance(respondents.get(g), int):
            column_totals[g] = n
        else:
            column_totals[g] = None if n < k and respondents.get(g) is None else HIDDEN
    return suppress_cached(
        tuple(sorted(((r, c, n) for (r, c), n in cells.items() if r in chart), key=str)),
        tuple(rows),
        tuple(columns),
        tuple(chart[r] for r in rows),
        tuple(column_totals[c] for c in columns),
        chart_total,
        k,
    )


async def _numbers(
    session: AsyncSession,
    wave: SurveyWave,
    question: Question,
    k: int,
    raw: dict[str, Any] | None = None,
) -> NumberSummary:
    assert question.min is not None and question.max is not None
    low, high = question.min, question.max
    where = (SurveyAnswer.wave_id == wave.id) & (SurveyAnswer.question_key == question.key)
    n, mean = (
        await session.execute(
            select(func.count(SurveyAnswer.number), func.avg(SurveyAnswer.number)).where(where)
        )
    ).one()
    width = (high - low) / NUMBER_BINS
    bin_expr = cast((SurveyAnswer.number - low) / width, Integer)
    counts: dict[int, int] = defaultdict(int)
    for b, c in (
        await session.execute(select(bin_expr, func.count()).where(where).group_by(bin_expr))
    ).all():
        counts[min(int(b), NUMBER_BINS - 1)] += int(c)
    labels = [f"{_fmt(low + i * width)}–{_fmt(low + (i + 1) * width)}" for i in range(NUMBER_BINS)]
    binned: dict[Hashable, int] = {labels[i]: counts.get(i, 0) for i in range(NUMBER_BINS)}
    bins, answered = suppress_line(binned, k=k)
    if raw is not None:
        raw["bins"][question.key] = binned
    n = int(n or 0)
    return NumberSummary(
        answered=answered,
        mean=float(mean) if n >= k and mean is not None else None,
        bins=[(label, bins[label]) for label in labels],
    )


def _fmt(value: float) -> str:
    return str(round(value)) if abs(value - round(value)) < 1e-9 else f"{value:.1f}"


async def _texts(session: AsyncSession, wave: SurveyWave, question: Question) -> list[str]:
    return [
        text
        for text in (
            await session.scalars(
                select(SurveyAnswer.text)
                .where(
                    SurveyAnswer.wave_id == wave.id,
                    SurveyAnswer.question_key == question.key,
                    SurveyAnswer.text.is_not(None),
                )
                .order_by(func.random())
                .limit(MAX_TEXTS)
            )
        ).all()
        if text is not None
    ]


# --- trends ----------------------------------------------------------------------------------


@dataclass
class Trend:
    question: Question
    waves: list[SurveyWave]
    # wave id → value → share of answers; None: "fewer than k", HIDDEN: a hidden complement
    shares: dict[int, dict[str, float | Hidden | None]]


async def trends(
    session: AsyncSession, waves: Sequence[SurveyWave], definition: SurveyDefinition, *, k: int
) -> list[Trend]:
    """How each counted question's answers moved across waves of one survey (same keys)."""
    ids = [w.id for w in waves]
    counts: dict[tuple[int, str], dict[str, int]] = defaultdict(dict)
    if ids:
        for wave_id, qkey, value, n in (
            await session.execute(
                select(
                    SurveyAnswer.wave_id,
                    SurveyAnswer.question_key,
                    SurveyAnswer.value,
                    func.count(),
                )
                .where(SurveyAnswer.wave_id.in_(ids), SurveyAnswer.value.is_not(None))
                .group_by(SurveyAnswer.wave_id, SurveyAnswer.question_key, SurveyAnswer.value)
            )
        ).all():
            counts[(wave_id, qkey)][str(value)] = int(n)
    found = []
    for question in definition.questions:
        if question.type not in COUNTED_TYPES:
            continue
        shares: dict[int, dict[str, float | Hidden | None]] = {}
        for wave in waves:
            raw = counts.get((wave.id, question.key), {})
            values = question.values()
            # The same chart as on that wave's page: a bar hidden there is hidden here.
            chart, chart_total = suppress_line({v: raw.get(v, 0) for v in values}, k=k)
            base = _base(question, raw)
            if question.type != QuestionType.MULTI and not isinstance(chart_total, int):
                base = 0  # "Answered" is hidden on that page: no share may give it back
            shares[wave.id] = {v: _share(chart[v], base, k) for v in values}
        found.append(Trend(question, list(waves), shares))
    return found


def _share(count: Shown, base: int, k: int) -> float | Hidden | None:
    if isinstance(count, int) and base >= k:
        return count / base
    return None if count is None else HIDDEN


# --- staff access, audited ---------------------------------------------------------------------


async def access_results(
    session: AsyncSession, wave_id: int, scope: Scope, *, actor: Staff | None, k: int
) -> tuple[SurveyWave, Survey, WaveResults]:
    """A wave's results for a staff member in ``scope``; the viewing is audited."""
    wave, survey, found = await results_in(session, wave_id, scope, k=k)
    await audit_results(session, "survey.results.view", wave, actor)
    return wave, survey, found


async def results_in(
    session: AsyncSession, wave_id: int, scope: Scope, *, k: int
) -> tuple[SurveyWave, Survey, WaveResults]:
    wave = await access_wave(session, wave_id, scope)
    survey = await access_survey(session, wave.survey_id, scope)
    return wave, survey, await wave_results(session, wave, k=k)


async def audit_results(
    session: AsyncSession, action: str, wave: SurveyWave, actor: Staff | None, **detail: Any
) -> None:
    await audit.record(
        session,
        action,
        actor=actor,
        object_type="wave",
        object_id=wave.id,
        country_code=wave.countries[0] if len(wave.countries) == 1 else None,
        **detail,
    )
