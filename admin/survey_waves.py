"""Surveys in the console, second half: waves with their audience, results that never show a
small group, their CSV and closing the loop. The builder is in ``admin.surveys``.

Results and their CSV pass through the service's suppression untouched: ``None`` reads "fewer than
k" (0 to k−1) and ``HIDDEN`` reads "hidden" (a complement), on the page and in the CSV alike. The
audience preview is rounded and refused when it differs from a recent one by fewer than k (M5).
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.surveys.common import (
    AGE_BANDS,
    DIMENSION_LABELS,
    GENDER_LABELS,
    GENDERS,
    SURVEYS,
    Draft,
    load_draft,
    staff_countries,
)
from admin.web import (
    DB,
    MAX_ID,
    checked_id,
    context,
    render,
    staff_locale,
    suppression_threshold,
    verify_csrf,
)
from bot.i18n import N_, translations
from bot.i18n import gettext as _
from bot.i18n.languages import LANGUAGES
from bot.storage.models import Factory, Staff
from bot.storage.surveys import SurveyResponse, SurveyVersion, SurveyWave
from services.clock import to_utc
from services.errors import DomainError
from services.scope import Scope
from services.suppression import PreviewRefused, Shown, rounded, shown
from services.surveys import builder, results, waves
from services.surveys.batches import batch_status
from services.surveys.definition import (
    SCALE_FACES,
    QuestionType,
    SurveyDefinition,
)

router = APIRouter(prefix="/surveys")


async def _wave(session: AsyncSession, staff: Staff, wave_id: int) -> SurveyWave:
    return await waves.access_wave(session, checked_id(wave_id), Scope.of(staff))


# --- waves ----------------------------------------------------------------------------------


async def _respondent_counts(
    session: AsyncSession, wave_ids: list[int], k: int
) -> dict[int, int | None]:
    if not wave_ids:
        return {}
    rows = (
        await session.execute(
            select(SurveyResponse.wave_id, func.count())
            .where(SurveyResponse.wave_id.in_(wave_ids))
            .group_by(SurveyResponse.wave_id)
        )
    ).all()
    counts = {int(w): int(n) for w, n in rows}
    return {w: shown(counts.get(w, 0), k) for w in wave_ids}


@router.get("/{survey_id}/waves", response_class=HTMLResponse)
async def wave_list(
    request: Request,
    survey_id: int,
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = DB,
) -> Response:
    found = await load_draft(session, staff, survey_id)
    k = suppression_threshold(request)
    listed = await waves.list_waves(session, Scope.of(staff), survey_id=found.survey.id)
    counts = await _respondent_counts(session, [w.id for w in listed], k)
    return render(
        request,
        "surveys/waves.html",
        survey=found.survey,
        rows=[(w, rounded(w.invited_count, k), counts.get(w.id)) for w in listed],
        k=k,
        published=await builder.latest_published(session, found.survey),
    )


def _parse_local(value: str, zone: ZoneInfo, what: str) -> datetime:
    try:
        local = datetime.fromisoformat(value.strip())
    except ValueError:
        raise waves.InvalidWave(reason=what) from None
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    return to_utc(local, zone)


def _int(value: str, default: int) -> int:
    value = value.strip()
    if not value:
        return default
    if not re.fullmatch(r"-?\d{1,6}", value):
        raise waves.InvalidWave(reason=N_("hours must be whole numbers"))
    return int(value)


@dataclass
class WaveForm:
    version_id: str
    name: str
    countries: list[str]
    factory_ids: list[str]
    languages: list[str]
    genders: list[str]
    age_bands: list[str]
    starts: str
    ends: str
    timezone: str
    repeat: str
    invite_hour: str
    reminder_after_hours: str

    def audience(self) -> waves.Audience:
        ids = []
        for raw in self.factory_ids:
            if not raw.strip().isdigit() or int(raw) > MAX_ID:
                raise waves.InvalidWave(
                    reason=N_("a chosen factory is not in the chosen countries")
                )
            ids.append(int(raw))
        return waves.Audience(
            countries=list(self.countries),
            factory_ids=ids,
            languages=list(self.languages),
            genders=list(self.genders),
            age_bands=list(self.age_bands),
        )

    def wave_input(self) -> waves.WaveInput:
        try:
            zone = ZoneInfo(self.timezone.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise waves.InvalidWave(reason=N_("unknown time zone")) from None
        if not self.version_id.strip().isdigit() or int(self.version_id) > MAX_ID:
            raise waves.InvalidWave(reason=N_("publish the survey first"))
        return waves.WaveInput(
            version_id=int(self.version_id),
            name=self.name,
            audience=self.audience(),
            starts_at=_parse_local(self.starts, zone, N_("the start is not a date and time")),
            ends_at=_parse_local(self.ends, zone, N_("the end is not a date and time")),
            repeat=self.repeat,
            invite_hour=_int(self.invite_hour, 12),
            reminder_after_hours=_int(self.reminder_after_hours, 72),
        )


async def _wave_form_page(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    found: Draft,
    *,
    values: dict[str, Any],
    status: int = 200,
    **extra: Any,
) -> Response:
    countries = await staff_countries(session, staff)
    codes = [c.code for c in countries]
    factories = [
        f
        for f in await _factories(session, codes)
        if not values.get("countries") or f.country_code in values["countries"]
    ] or await _factories(session, codes)
    published = [
        v for v in await builder.versions(session, found.survey) if v.published_at is not None
    ]
    return render(
        request,
        "surveys/wave_form.html",
        status_code=status,
        survey=found.survey,
        versions=published,
        values=values,
        countries=countries,
        factories=factories,
        languages=LANGUAGES,
        genders=[(g, _(GENDER_LABELS[g])) for g in GENDERS],
        age_bands=AGE_BANDS,
        repeats=[
            (waves.Repeat.NONE, _("once")),
            (waves.Repeat.MONTHLY, _("every month")),
            (waves.Repeat.QUARTERLY, _("every quarter")),
        ],
        timezones=sorted(available_timezones()),
        k=suppression_threshold(request),
        **extra,
    )


async def _factories(session: AsyncSession, codes: list[str]) -> list[Factory]:
    if not codes:
        return []
    return list(
        (
            await session.scalars(
                select(Factory)
                .where(Factory.country_code.in_(codes), Factory.active.is_(True))
                .order_by(Factory.country_code, Factory.code)
            )
        ).all()
    )


@router.get("/{survey_id}/waves/new", response_class=HTMLResponse)
async def new_wave(
    request: Request,
    survey_id: int,
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = DB,
) -> Response:
    found = await load_draft(session, staff, survey_id)
    countries = await staff_countries(session, staff)
    published = await builder.latest_published(session, found.survey)
    first = countries[0] if countries else None
    if found.survey.country_code:
        first = next((c for c in countries if c.code == found.survey.country_code), first)
    values = {
        "version_id": str(published.id) if published else "",
        "name": found.survey.name,
        "countries": [first.code] if first else [],
        "timezone": first.timezone if first else "UTC",
        "repeat": waves.Repeat.NONE,
        "invite_hour": "12",
        "reminder_after_hours": "72",
    }
    return await _wave_form_page(request, session, staff, found, values=values)


@router.post("/{survey_id}/waves/new", dependencies=[Depends(verify_csrf)])
async def create_wave(
    request: Request,
    survey_id: int,
    action: str = Form("create", max_length=16),
    version_id: str = Form("", max_length=20),
    name: str = Form("", max_length=200),
    countries: list[str] = Form([], max_length=40),
    factory_ids: list[str] = Form([], max_length=500),
    languages: list[str] = Form([], max_length=20),
    genders: list[str] = Form([], max_length=5),
    age_bands: list[str] = Form([], max_length=8),
    starts: str = Form("", max_length=40),
    ends: str = Form("", max_length=40),
    timezone: str = Form("UTC", max_length=64),
    repeat: str = Form(waves.Repeat.NONE, max_length=16),
    invite_hour: str = Form("12", max_length=8),
    reminder_after_hours: str = Form("72", max_length=8),
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = DB,
) -> Response:
    found = await load_draft(session, staff, survey_id)
    form = WaveForm(
        version_id,
        name,
        countries,
        factory_ids,
        languages,
        genders,
        age_bands,
        starts,
        ends,
        timezone,
        repeat,
        invite_hour,
        reminder_after_hours,
    )
    values = dict(form.__dict__)
    k = suppression_threshold(request)
    try:
        if action == "preview":
            audience = await waves.check_audience(session, form.audience(), Scope.of(staff))
            try:
                size = await waves.audience_size(session, audience, k=k, who=staff.id)
            except PreviewRefused:
                return await _wave_form_page(
                    request, session, staff, found, values=values, previewed=True, refused=True
                )
            return await _wave_form_page(
                request, session, staff, found, values=values, previewed=True, size=size
            )
        data = form.wave_input()
        version = await session.get(SurveyVersion, data.version_id)
        if version is None or version.survey_id != found.survey.id:
            raise waves.InvalidWave(reason=N_("publish the survey first"))
        async with session.begin_nested():
            await waves.do_create_wave(session, data, scope=Scope.of(staff), actor=staff)
    except DomainError as exc:
        return await _wave_form_page(
            request, session, staff, found, values=values, status=400, error=exc.translated()
        )
    return RedirectResponse(f"/surveys/{found.survey.id}/waves", status_code=303)


@router.post("/waves/{wave_id}/cancel", dependencies=[Depends(verify_csrf)])
async def cancel_wave(
    request: Request,
    wave_id: int,
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = DB,
) -> Response:
    wave = await _wave(session, staff, wave_id)
    try:
        async with session.begin_nested():
            await waves.do_cancel_wave(session, wave, actor=staff)
    except DomainError as exc:
        return render(request, "error.html", status_code=exc.status, message=exc.translated())
    return RedirectResponse(f"/surveys/{wave.survey_id}/waves", status_code=303)


# --- results --------------------------------------------------------------------------------


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
    wave = await _wave(session, staff, wave_id)
    form = await request.form()
    texts = {
        name[5:]: value
        for name, value in form.multi_items()
        if name.startswith("loop:") and name[5:] in LANGUAGES and isinstance(value, str)
    }
    try:
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
