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

from admin.forms import require_confirmation
from admin.surveys.common import (
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
from bot.i18n import translations
from bot.i18n.languages import LANGUAGES
from bot.storage.models import Staff
from services.errors import DomainError
from services.scope import Scope
from services.suppression import Shown
from services.surveys import results, waves
from services.surveys.batches import batch_status
from services.surveys.definition import (
    SCALE_FACES,
    QuestionType,
    SurveyDefinition,
)

router = APIRouter(prefix="/surveys")


def group_label(found: results.WaveResults, dim: str, group: Hashable) -> str:
    if group == results.NOT_GIVEN:
        return _("not given")
    if dim == "factory":
        return found.factory_names.get(group, str(group))
    if dim == "gender" and str(group) in GENDER_LABELS:
        return _(GENDER_LABELS[str(group)])
    if dim == "language" and str(group) in LANGUAGES:
        return LANGUAGES[str(group)].native_name
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


def bars(items: list[tuple[str, Shown]], base: Shown) -> list[dict[str, Any]]:
    """Rows of a bar chart: label, count (not an int: hidden), share of ``base`` and bar width."""
    known = [n for _label, n in items if isinstance(n, int)]
    total = base if isinstance(base, int) else 0
    scale = total or (max(known) if known else 0)
    return [
        {
            "label": label,
            "count": n,
            "share": (n / total) if isinstance(n, int) and total else None,
            "width": (n / scale) if isinstance(n, int) and scale else 0.0,
        }
        for label, n in items
    ]


async def _results_page(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    wave_id: int,
    *,
    dim: str = "gender",
    status: int = 200,
    **extra: Any,
) -> Response:
    wave, survey, found = await results.access_results(
        session, checked_id(wave_id), Scope.of(staff), actor=staff, k=suppression_threshold(request)
    )
    k, d = found.k, found.definition
    locale = staff_locale(staff)
    dim = dim if dim in results.DIMENSIONS else "gender"
    questions = []
    for qr in found.questions:
        q = qr.question
        entry: dict[str, Any] = {"result": qr, "text": d.text(q.text, locale), "type": q.type}
        if qr.counts:
            values = [str(v) for v in qr.counts]
            entry["bars"] = bars(
                [(value_label(d, q, v, locale), qr.counts[v]) for v in values], qr.answered
            )
            table = qr.breakdowns.get(dim)
            if table is not None:
                entry["table"] = {
                    "columns": [(g, group_label(found, dim, g)) for g in found.groups.get(dim, [])],
                    "rows": [(v, value_label(d, q, v, locale)) for v in values],
                    "data": table,
                }
        if qr.numbers is not None:
            entry["bars"] = bars(list(qr.numbers.bins), qr.numbers.answered)
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
        survey=survey,
        found=found,
        k=k,
        batches=await batch_status(context(request).survey_store, wave, k=k),
        invited=found.invited_shown,
        dim=dim,
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
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = DB,
) -> Response:
    return await _results_page(request, session, staff, wave_id, dim=dim)


@router.get("/waves/{wave_id}/results.csv")
async def wave_results_csv(
    request: Request,
    wave_id: int,
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = DB,
) -> Response:
    locale, k = staff_locale(staff), suppression_threshold(request)
    # The same words as on screen (the templates' "fewer than %(k)s").
    wave, body = await results.export_results(
        session,
        checked_id(wave_id),
        Scope.of(staff),
        actor=staff,
        k=k,
        fewer_than=translations(locale).ugettext("fewer than %(k)s") % {"k": k},
        hidden=translations(locale).ugettext("hidden"),
        locale=locale,
    )
    return Response(
        body.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="wave-{wave.id}-results.csv"',
            "Cache-Control": "no-store",
        },
    )


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
