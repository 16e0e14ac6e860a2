"""Survey results as files staff download (m10, m11): one row per figure, with the wave's dates,
answers and groups in words, counts that are only numbers (why a count is not shown is its own
column), shares and scale means; as CSV with a byte-order mark, or as rows for a workbook
(``services.spreadsheets``). Every number is the results page's, suppressed the same way
(``services.surveys.results``); exporting is audited.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import Staff
from bot.storage.surveys import SurveyWave
from services.exports import csv_text
from services.scope import Scope
from services.suppression import Shown
from services.surveys.definition import Question, QuestionType, SurveyDefinition
from services.surveys.results import NOT_GIVEN, WaveResults, audit_results, results_in

# --- export ----------------------------------------------------------------------------------


@dataclass
class ExportWords:
    """The words of an export in the reader's language (the console passes them translated)."""

    header: list[str]
    fewer_than: str
    hidden: str
    respondents: str = "respondents"
    invited: str = "invited"
    answered: str = "answered"
    all: str = "all"
    mean: str = "mean"
    dimension: Callable[[str], str] = str
    group: Callable[[WaveResults, str, Hashable], str] = lambda r, d, g: _label(r, d, g)
    value: Callable[[SurveyDefinition, Question, str, str], str] = lambda d, q, v, loc: (
        _value_label(d, q, v, loc)
    )


HEADER = [
    "wave",
    "starts",
    "ends",
    "question",
    "breakdown",
    "group",
    "answer",
    "count",
    "not shown",
    "share",
    "mean",
]


def export_rows(results: WaveResults, words: ExportWords, *, locale: str) -> list[list[Any]]:
    """The aggregated tables, one row per figure: the wave with its dates, the question, the
    breakdown and group, the answer (in words), the count (a number, or empty), why it is not
    shown ("fewer than k" / "hidden", or empty), the share of its base and, for a scale, the
    mean. Every number is the page's, suppressed the same way; no row is about a person."""
    d = results.definition
    wave = results.wave
    head = [wave.name, wave.starts_at.date(), wave.ends_at.date()]
    rows: list[list[Any]] = []

    def add(question: str, dim: str, group: str, answer: str, n: Shown, base: Shown) -> None:
        share = n / base if isinstance(n, int) and isinstance(base, int) and base else None
        why = "" if isinstance(n, int) else words.fewer_than if n is None else words.hidden
        rows.append(
            [
                *head,
                question,
                dim,
                group,
                answer,
                n if isinstance(n, int) else None,
                why,
                share,
                None,
            ]
        )

    def add_mean(question: str, dim: str, group: str, mean: float | None) -> None:
        why = "" if mean is not None else words.hidden
        rows.append([*head, question, dim, group, words.mean, None, why, None, mean])

    add("", "", "", words.respondents, results.respondents, None)
    add("", "", "", words.invited, results.invited_shown, None)
    for dim, counts in results.respondents_by.items():
        for group, n in counts.items():
            label = words.group(results, dim, group)
            add("", words.dimension(dim), label, words.respondents, n, results.respondents)
    for qr in results.questions:
        q = qr.question
        title = d.text(q.text, locale)
        if qr.counts or qr.numbers is not None:
            add(title, "", "", words.answered, qr.answered, None)
        for value, n in qr.counts.items():
            add(title, "", "", words.value(d, q, str(value), locale), n, qr.answered)
        if q.type == QuestionType.SCALE:
            add_mean(title, "", "", qr.mean)
        for dim, table in qr.breakdowns.items():
            dim_words = words.dimension(dim)
            for group in results.groups.get(dim, []):
                label = words.group(results, dim, group)
                base = table.column_totals.get(group)
                add(title, dim_words, label, words.all, base, None)
                for value in qr.counts:
                    answer = words.value(d, q, str(value), locale)
                    add(title, dim_words, label, answer, table.shown(value, group), base)
                if q.type == QuestionType.SCALE:
                    add_mean(title, dim_words, label, qr.group_means.get(dim, {}).get(group))
        if qr.numbers is not None:
            for label, n in qr.numbers.bins:
                add(title, "", "", label, n, qr.numbers.answered)
            add_mean(title, "", "", qr.numbers.mean)
    return rows


def results_csv(
    results: WaveResults,
    *,
    fewer_than: str,
    hidden: str,
    locale: str,
    words: ExportWords | None = None,
) -> str:
    """The export rows as CSV with a byte-order mark (Excel on Windows then reads Bangla or
    Khmer texts right). Text that a spreadsheet would run as a formula is neutralised
    (``services.exports``)."""
    words = words or ExportWords(HEADER, fewer_than, hidden)
    return "\ufeff" + csv_text([words.header, *export_rows(results, words, locale=locale)])


def _label(results: WaveResults, dim: str, group: Hashable) -> str:
    if group == NOT_GIVEN:
        return "not given"
    if dim == "factory":
        return results.factory_names.get(group, str(group))
    return str(group)


def _value_label(d: SurveyDefinition, q: Question, value: Hashable, locale: str) -> str:
    for option in q.options:
        if option.key == value:
            return d.text(option.text, locale)
    return str(value)


# --- staff access, audited ---------------------------------------------------------------------


async def export_results(
    session: AsyncSession,
    wave_id: int,
    scope: Scope,
    *,
    actor: Staff | None,
    k: int,
    fewer_than: str,
    hidden: str,
    locale: str,
    words: ExportWords | None = None,
) -> tuple[SurveyWave, str]:
    """A wave's results as CSV (``results_csv``) for a staff member in ``scope``, audited."""
    wave, _survey, found = await results_in(session, wave_id, scope, k=k)
    body = results_csv(found, fewer_than=fewer_than, hidden=hidden, locale=locale, words=words)
    await audit_results(session, "survey.results.export", wave, actor, format="csv")
    return wave, body


async def export_results_rows(
    session: AsyncSession,
    wave_id: int,
    scope: Scope,
    *,
    actor: Staff | None,
    k: int,
    words: ExportWords,
    locale: str,
    kind: str,
) -> tuple[SurveyWave, list[list[Any]]]:
    """A wave's export rows (for a spreadsheet of ``kind``), audited like the CSV."""
    wave, _survey, found = await results_in(session, wave_id, scope, k=k)
    rows = export_rows(found, words, locale=locale)
    await audit_results(session, "survey.results.export", wave, actor, format=kind)
    return wave, rows
