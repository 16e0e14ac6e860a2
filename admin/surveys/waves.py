"""Survey waves in the console: their audience, planning and cancelling. Results, their CSV and
closing the loop are in ``admin.surveys.results``; the builder in ``admin.surveys.builder``.

Results and their CSV pass through the service's suppression untouched: ``None`` reads "fewer than
k" (0 to k−1) and ``HIDDEN`` reads "hidden" (a complement), on the page and in the CSV alike. The
audience preview is rounded and refused when it differs from a recent one by fewer than k (M5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.forms import FormState, read_form, submit
from admin.surveys.common import (
    AGE_BANDS,
    GENDER_LABELS,
    GENDERS,
    SURVEYS,
    Draft,
    access_wave_of,
    load_draft,
    staff_countries,
)
from admin.web import (
    DB,
    MAX_ID,
    render,
    suppression_threshold,
    verify_csrf,
)
from bot.i18n import N_
from bot.i18n import gettext as _
from bot.i18n.languages import LANGUAGES
from bot.storage.models import Factory, Staff
from bot.storage.surveys import SurveyResponse, SurveyVersion
from services.clock import to_utc
from services.errors import DomainError
from services.labels import label
from services.previews import PreviewRefused, rounded
from services.scope import Scope
from services.suppression import shown
from services.surveys import builder, waves

router = APIRouter(prefix="/surveys")


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
    return await _wave_list(request, session, staff, found)


async def _wave_list(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    found: Draft,
    *,
    form: FormState | None = None,
    refused: int | None = None,
) -> Response:
    k = suppression_threshold(request)
    listed = await waves.list_waves(session, Scope.of(staff), survey_id=found.survey.id)
    counts = await _respondent_counts(session, [w.id for w in listed], k)
    return render(
        request,
        "surveys/waves.html",
        status_code=form.status if form else 200,
        survey=found.survey,
        rows=[(w, rounded(w.invited_count, k), counts.get(w.id)) for w in listed],
        k=k,
        published=await builder.latest_published(session, found.survey),
        form=form,
        refused=refused,
        wave_status=lambda key: label(waves.WaveStatus(key)),
        repeat_words=lambda key: dict(_repeats()).get(key, key),
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
        repeats=_repeats(),
        timezones=sorted(available_timezones()),
        k=suppression_threshold(request),
        **extra,
    )


def _repeats() -> list[tuple[str, str]]:
    return [
        (waves.Repeat.NONE, _("once")),
        (waves.Repeat.MONTHLY, _("every month")),
        (waves.Repeat.QUARTERLY, _("every quarter")),
    ]


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


class WaveFields(BaseModel):
    """The wave form as sent (checked further by ``WaveForm``, with reasons in words)."""

    action: str = Field("create", max_length=16)
    version_id: str = Field("", max_length=20)
    name: str = Field("", max_length=200)
    countries: list[str] = Field(default_factory=list, max_length=40)
    factory_ids: list[str] = Field(default_factory=list, max_length=500)
    languages: list[str] = Field(default_factory=list, max_length=20)
    genders: list[str] = Field(default_factory=list, max_length=5)
    age_bands: list[str] = Field(default_factory=list, max_length=8)
    starts: str = Field("", max_length=40)
    ends: str = Field("", max_length=40)
    timezone: str = Field("UTC", max_length=64)
    repeat: str = Field(waves.Repeat.NONE, max_length=16)
    invite_hour: str = Field("12", max_length=8)
    reminder_after_hours: str = Field("72", max_length=8)

    def wave_form(self) -> WaveForm:
        return WaveForm(**self.model_dump(exclude={"action"}))


@router.post("/{survey_id}/waves/new", dependencies=[Depends(verify_csrf)])
async def create_wave(
    request: Request,
    survey_id: int,
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = DB,
) -> Response:
    found = await load_draft(session, staff, survey_id)

    async def again(form: FormState) -> Response:
        return await _wave_form_page(
            request, session, staff, found, values=form.values, status=form.status, error=form.error
        )

    fields, state = await read_form(request, WaveFields)
    if fields is not None and fields.action == "preview":
        values, k = state.values, suppression_threshold(request)
        try:
            audience = await waves.check_audience(
                session, fields.wave_form().audience(), Scope.of(staff)
            )
            size = await waves.audience_size(session, audience, k=k, who=staff.id)
        except PreviewRefused:
            return await _wave_form_page(
                request, session, staff, found, values=values, previewed=True, refused=True
            )
        except DomainError as exc:
            state.error, state.status = exc.translated(), exc.status
            return await again(state)
        return await _wave_form_page(
            request, session, staff, found, values=values, previewed=True, size=size
        )

    async def create(fields: WaveFields) -> None:
        data = fields.wave_form().wave_input()
        version = await session.get(SurveyVersion, data.version_id)
        if version is None or version.survey_id != found.survey.id:
            raise waves.InvalidWave(reason=N_("publish the survey first"))
        await waves.do_create_wave(session, data, scope=Scope.of(staff), actor=staff)

    return await submit(
        request,
        session,
        WaveFields,
        verb=create,
        done_url=f"/surveys/{found.survey.id}/waves",
        message=_("The wave is planned: invitations go out when it starts."),
        again=again,
    )


class WaveEnd(BaseModel):
    """Cancelling or closing a wave: only the ticked confirmation box (``confirm_action``)."""


@router.post("/waves/{wave_id}/cancel", dependencies=[Depends(verify_csrf)])
async def cancel_wave(
    request: Request,
    wave_id: int,
    staff: Staff = Depends(SURVEYS),
    session: AsyncSession = DB,
) -> Response:
    """Cancel a planned wave or close an open one now; either needs the box ticked, since closing
    deletes the answers people have started and neither can be undone."""
    wave = await access_wave_of(session, staff, wave_id)
    was_open = wave.status == waves.WaveStatus.OPEN

    async def end(_data: WaveEnd) -> None:
        await waves.do_cancel_wave(session, wave, actor=staff)

    async def again(form: FormState) -> Response:
        found = await load_draft(session, staff, wave.survey_id)
        return await _wave_list(request, session, staff, found, form=form, refused=wave.id)

    return await submit(
        request,
        session,
        WaveEnd,
        verb=end,
        done_url=f"/surveys/{wave.survey_id}/waves",
        message=_("The wave is closed: no more answers are taken.")
        if was_open
        else _("The wave is cancelled: no one will be invited."),
        again=again,
        confirm=True,
    )


# --- results --------------------------------------------------------------------------------
