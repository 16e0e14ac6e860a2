"""Survey results in the console: figures that never show a small group, their CSV, and closing
the loop with the respondents.

Results and their CSV pass through the service's suppression untouched: ``None`` reads "fewer than
k" (0 to k−1) and ``HIDDEN`` reads "hidden" (a complement), on the page and in the CSV alike. The
audience preview is rounded and refused when it differs from a recent one by fewer than k (M5).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from admin import charts
from admin.forms import require_confirmation
from admin.surveys.common import (
    AGE_BANDS,
    DIMENSION_LABELS,
    GENDER_LABELS,
    SURVEYS,
    access_wave_of,
)
from admin.web import (
    DB,
    checked_id,
    context,
    render,
    staff_locale,
    suppression_threshold,
    verify_csrf,
)
from bot.i18n import gettext as _
from bot.i18n.languages import LANGUAGES
from bot.storage.models import Staff
from services.errors import DomainError
from services.labels import label
from services.onboarding import AgeBand
from services.scope import Scope
from services.spreadsheets import XLSX_TYPE, Sheet, xlsx_bytes
from services.surveys import results, results_export, waves
from services.surveys.batches import batch_status
from services.surveys.definition import (
    SCALE_FACES,
    QuestionType,
    SurveyDefinition,
)

router = APIRouter(prefix="/surveys")
GROUPS_PER_PAGE = 50  # rows of a breakdown per page: 500 factories stay readable
MAX_SEARCH = 100


def group_label(found: results.WaveResults, dim: str, group: Hashable) -> str:
    if group == results.NOT_GIVEN:
        return _("not given")
    if dim == "factory":
        return found.factory_names.get(group, str(group))
    if dim == "gender" and str(group) in GENDER_LABELS:
        return _(GENDER_LABELS[str(group)])
    if dim == "language" and str(group) in LANGUAGES:
        return LANGUAGES[str(group)].native_name
    if dim == "age_band" and str(group) in AGE_BANDS:
        return label(AgeBand(str(group)))
    return str(group)


def value_label(definition: SurveyDefinition, question: Any, value: str, locale: str) -> str:
    for option in question.options:
        if option.key == value:
            return definition.text(option.text, locale)
    if question.type == QuestionType.SCALE and value in {"1", "2", "3", "4", "5"}:
        return f"{SCALE_FACES[int(value) - 1]} {value}"
    if question.type == QuestionType.YESNO:
        return {"yes": _("yes"), "no": _("no")}.get(value, value)
    return value


def group_rows(
    found: results.WaveResults, qr: results.QuestionResult, dim: str, groups: list[Hashable]
) -> list[dict[str, Any]]:
    """One row per group (factory, gender, ...): answered, then count and share per answer (the
    share of the group's answers, when both are shown), and the mean of a scale."""
    table = qr.breakdowns[dim]
    means = qr.group_means.get(dim, {})
    rows = []
    for g in groups:
        base = table.column_totals.get(g)
        cells = []
        for v in qr.counts:
            n = table.shown(v, g)
            share = n / base if isinstance(n, int) and isinstance(base, int) and base else None
            cells.append((n, share))
        rows.append(
            {"label": group_label(found, dim, g), "n": base, "cells": cells, "mean": means.get(g)}
        )
    return rows


def benchmark_row(found: results.WaveResults, qr: results.QuestionResult) -> dict[str, Any]:
    """The whole wave (every factory of its countries): the row each group is read against."""
    return {
        "label": _("All of {countries}", countries=", ".join(found.wave.countries)),
        "n": qr.answered,
        "cells": [(n, qr.share(str(v))) for v, n in qr.counts.items()],
        "mean": qr.mean,
    }


def matching_groups(found: results.WaveResults, dim: str, search: str) -> list[Hashable]:
    """The breakdown's groups in reading order (factories by code and name, not by id); for
    factories, only those whose code or name holds ``search``."""
    groups = list(found.groups.get(dim, []))
    if dim == "factory":
        groups.sort(key=lambda g: (g == results.NOT_GIVEN, group_label(found, dim, g).casefold()))
        needle = search.strip().casefold()
        if needle:
            groups = [
                g
                for g in groups
                if g != results.NOT_GIVEN and needle in group_label(found, dim, g).casefold()
            ]
    return groups


async def _results_page(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    wave_id: int,
    *,
    dim: str = "gender",
    search: str = "",
    page: int = 1,
    status: int = 200,
    **extra: Any,
) -> Response:
    wave, survey, found = await results.access_results(
        session, checked_id(wave_id), Scope.of(staff), actor=staff, k=suppression_threshold(request)
    )
    k, d = found.k, found.definition
    locale = staff_locale(staff)
    dim = dim if dim in results.DIMENSIONS else "gender"
    groups = matching_groups(found, dim, search)
    pages = max(1, -(-len(groups) // GROUPS_PER_PAGE))
    page = min(max(1, page), pages)
    shown_groups = groups[(page - 1) * GROUPS_PER_PAGE : page * GROUPS_PER_PAGE]
    questions = []
    for qr in found.questions:
        q = qr.question
        entry: dict[str, Any] = {"result": qr, "text": d.text(q.text, locale), "type": q.type}
        if qr.counts:
            values = [str(v) for v in qr.counts]
            entry["chart"] = charts.bar_chart(
                [(value_label(d, q, v, locale), qr.counts[v]) for v in values], qr.answered
            )
            if dim in qr.breakdowns:
                entry["answers"] = [value_label(d, q, v, locale) for v in values]
                entry["scale"] = q.type == QuestionType.SCALE
                entry["benchmark"] = benchmark_row(found, qr)
                entry["rows"] = group_rows(found, qr, dim, shown_groups)
        if qr.numbers is not None:
            entry["chart"] = charts.bar_chart(list(qr.numbers.bins), qr.numbers.answered)
        questions.append(entry)
    respondents_by = {
        name: [
            (group_label(found, name, g), n)
            for g, n in sorted(
                counts.items(), key=lambda item: (item[0] == results.NOT_GIVEN, str(item[0]))
            )
        ]
        for name, counts in found.respondents_by.items()
    }
    # Trends: the waves of this survey that ran, oldest first, on this wave's questions.
    ran = sorted(
        [
            w
            for w in await waves.list_waves(session, Scope.of(staff), survey_id=survey.id)
            if w.status in (waves.WaveStatus.OPEN, waves.WaveStatus.CLOSED)
        ],
        key=lambda w: (w.starts_at, w.id),
    )[-8:]
    trend_rows = []
    if len(ran) >= 2:
        for trend in await results.trends(session, ran, d, k=k):
            trend_rows.append(
                {
                    "text": d.text(trend.question.text, locale),
                    "answers": [
                        (v, value_label(d, trend.question, v, locale))
                        for v in trend.question.values()
                    ],
                    "shares": trend.shares,
                }
            )
    loop_languages = list(dict.fromkeys(["en", *wave.languages]))
    return render(
        request,
        "surveys/results.html",
        status_code=status,
        wave=wave,
        wave_status=waves.WaveStatus(wave.status),
        survey=survey,
        found=found,
        k=k,
        batches=await batch_status(context(request).survey_store, wave, k=k),
        invited=found.invited_shown,
        dim=dim,
        search=search,
        page=page,
        pages=pages,
        group_count=len(groups),
        first_shown=(page - 1) * GROUPS_PER_PAGE + 1,
        last_shown=(page - 1) * GROUPS_PER_PAGE + len(shown_groups),
        dimensions=[(name, _(DIMENSION_LABELS[name])) for name in results.DIMENSIONS],
        questions=questions,
        respondents_by=respondents_by,
        dimension_labels={name: _(label) for name, label in DIMENSION_LABELS.items()},
        trend_waves=ran,
        trends=trend_rows,
        languages=LANGUAGES,
        loop_languages=loop_languages,
        other_languages=[c for c in LANGUAGES if c not in loop_languages],
        **extra,
    )


@router.get("/waves/{wave_id}/results", response_class=HTMLResponse)
async def wave_results_page(
    request: Request,
    wave_id: int,
    dim: str = "gender",
    q: str = "",
    page: int = 1,
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = DB,
) -> Response:
    return await _results_page(
        request, session, staff, wave_id, dim=dim, search=q[:MAX_SEARCH], page=page
    )


def export_words(k: int) -> results_export.ExportWords:
    """The export's words in the staff member's language: the same as on screen."""
    return results_export.ExportWords(
        header=[
            _("Wave"),
            _("Starts"),
            _("Ends"),
            _("Question"),
            _("Breakdown"),
            _("Group"),
            _("Answer"),
            _("Count"),
            _("Not shown"),
            _("Share"),
            _("Mean"),
        ],
        fewer_than=_("fewer than %(k)s") % {"k": k},
        hidden=_("hidden"),
        respondents=_("Respondents"),
        invited=_("Invited"),
        answered=_("Answered"),
        all=_("All"),
        mean=_("Mean"),
        dimension=lambda dim: _(DIMENSION_LABELS[dim]),
        group=group_label,
        value=value_label,
    )


def _download(body: bytes, media: str, name: str) -> Response:
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/waves/{wave_id}/results.csv")
async def wave_results_csv(
    request: Request,
    wave_id: int,
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = DB,
) -> Response:
    locale, k = staff_locale(staff), suppression_threshold(request)
    words = export_words(k)
    wave, body = await results_export.export_results(
        session,
        checked_id(wave_id),
        Scope.of(staff),
        actor=staff,
        k=k,
        fewer_than=words.fewer_than,
        hidden=words.hidden,
        locale=locale,
        words=words,
    )
    return _download(body.encode("utf-8"), "text/csv; charset=utf-8", f"wave-{wave.id}-results.csv")


@router.get("/waves/{wave_id}/results.xlsx")
async def wave_results_xlsx(
    request: Request,
    wave_id: int,
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = DB,
) -> Response:
    locale, k = staff_locale(staff), suppression_threshold(request)
    words = export_words(k)
    wave, rows = await results_export.export_results_rows(
        session,
        checked_id(wave_id),
        Scope.of(staff),
        actor=staff,
        k=k,
        words=words,
        locale=locale,
        kind="xlsx",
    )
    share_column = words.header.index(_("Share"))
    body = xlsx_bytes([Sheet(_("Results"), words.header, rows, frozenset({share_column}))])
    return _download(body, XLSX_TYPE, f"wave-{wave.id}-results.xlsx")


@router.post("/waves/{wave_id}/loop", dependencies=[Depends(verify_csrf)])
async def close_the_loop(
    request: Request,
    wave_id: int,
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = DB,
) -> Response:
    wave = await access_wave_of(session, staff, wave_id)
    form = await request.form()
    texts = {
        name[5:]: value
        for name, value in form.multi_items()
        if name.startswith("loop:") and name[5:] in LANGUAGES and isinstance(value, str)
    }
    try:
        require_confirmation(form)  # sent once to every respondent: it cannot be taken back
        async with session.begin_nested():
            queued = await waves.do_close_the_loop(
                session,
                wave,
                texts,
                secret_key=context(request).settings.effective_secret_key,
                actor=staff,
            )
    except DomainError as exc:
        return await _results_page(
            request,
            session,
            staff,
            wave_id,
            status=exc.status,
            loop_error=exc.translated(),
            loop_typed=texts,
        )
    return await _results_page(request, session, staff, wave_id, loop_queued=queued)
