"""Waves: a published survey version run for an audience between two moments.

The scheduler opens due waves (claimed once across replicas), queues one invitation per worker at
a sensible local hour of their factory (and, while the wave is open, for each worker who joins its
audience later), and one reminder that is dropped at send time for those
who finished; it closes ended waves (``services.surveys.batches`` then settles what was left and
forgets unfinished drafts). A repeating wave queues its successor when it opens.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any, cast
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from sqlalchemy import Select, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.i18n.languages import LANGUAGES
from bot.storage.db import dialect_insert
from bot.storage.models import Factory, Gender, Staff, User
from bot.storage.surveys import (
    Survey,
    SurveyInvitation,
    SurveyNotice,
    SurveyParticipation,
    SurveyVersion,
    SurveyWave,
)
from services import audit, outbox
from services.claims import claim_ids
from services.clock import DAY_ENDS, DAY_STARTS, planned_moment, utcnow
from services.errors import Conflict, DomainError, NotFound
from services.onboarding import AgeBand, optional_audience
from services.previews import PREVIEWS, rounded
from services.scope import Scope
from services.surveys.builder import latest_published, visible_in
from services.surveys.participation import person_key

BATCH = 1000
MAX_DURATION = timedelta(days=92)


class Repeat(StrEnum):
    NONE = "none"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"


REPEATS: dict[str, relativedelta | None] = {
    Repeat.NONE: None,
    Repeat.MONTHLY: relativedelta(months=1),
    Repeat.QUARTERLY: relativedelta(months=3),
}


class WaveStatus(StrEnum):
    SCHEDULED = "scheduled"
    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class InvalidWave(DomainError):
    code = "invalid_wave"
    message = N_("The wave cannot be scheduled: {reason}")


@dataclass
class Audience:
    """Who a wave is for. Empty lists mean anyone; countries are always named."""

    countries: list[str]
    factory_ids: list[int] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    genders: list[str] = field(default_factory=list)
    age_bands: list[str] = field(default_factory=list)


@dataclass
class WaveInput:
    version_id: int
    name: str
    audience: Audience
    starts_at: datetime
    ends_at: datetime
    repeat: str = Repeat.NONE
    invite_hour: int = 12
    reminder_after_hours: int = 72


async def check_audience(session: AsyncSession, audience: Audience, scope: Scope) -> Audience:
    countries = sorted({c.strip().upper() for c in audience.countries if c.strip()})
    if not countries:
        raise InvalidWave(reason=N_("choose at least one country"))
    if not scope.allows_all(countries):
        raise InvalidWave(reason=N_("you can only survey workers in your own countries"))
    factory_ids = sorted(set(audience.factory_ids))
    if factory_ids:
        found = (
            await session.execute(
                select(Factory.id, Factory.country_code).where(Factory.id.in_(factory_ids))
            )
        ).all()
        if len(found) != len(factory_ids) or any(c not in countries for _i, c in found):
            raise InvalidWave(reason=N_("a chosen factory is not in the chosen countries"))
    if not set(audience.languages) <= set(LANGUAGES):
        raise InvalidWave(reason=N_("unknown language"))
    if not set(audience.genders) <= {g.value for g in Gender if g != Gender.UNDISCLOSED}:
        raise InvalidWave(reason=N_("unknown gender"))
    if not set(audience.age_bands) <= {a.value for a in AgeBand if a != AgeBand.UNDISCLOSED}:
        raise InvalidWave(reason=N_("unknown age band"))
    return Audience(
        countries,
        factory_ids,
        sorted(set(audience.languages)),
        sorted(set(audience.genders)),
        sorted(set(audience.age_bands)),
    )


def audience_query(audience: Audience) -> Select[Any]:
    """Workers a wave reaches: onboarded, not blocked, not silenced with /stop, in the audience."""
    query = optional_audience(
        select(User.id, User.telegram_id, Factory.timezone),
        countries=audience.countries,
        factory_ids=audience.factory_ids,
        languages=audience.languages,
    )
    if audience.genders:
        query = query.where(User.gender.in_(audience.genders))
    if audience.age_bands:
        query = query.where(User.age_band.in_(audience.age_bands))
    return cast(Select[Any], query)


async def audience_size(
    session: AsyncSession, audience: Audience, *, k: int, who: Hashable | None = None
) -> int | None:
    """About how many workers a wave would reach (rounded, ``previews.rounded``), or None when
    fewer than ``k`` (it could single someone out, e.g. the only woman over 45 at a small
    factory). With ``who`` (the staff member), a preview whose audience differs from one they saw
    recently by fewer than ``k`` workers raises ``PreviewRefused`` (M5: no subtraction)."""
    sub = audience_query(audience).subquery()
    if who is None:
        count = int(await session.scalar(select(func.count()).select_from(sub)) or 0)
        return rounded(count, k)
    members = [int(i) for i in (await session.scalars(select(sub.c.id))).all()]
    PREVIEWS.check(who, [members], k=k, now=utcnow().timestamp())
    return rounded(len(members), k)


def audience_of(wave: SurveyWave) -> Audience:
    return Audience(
        list(wave.countries),
        list(wave.factory_ids),
        list(wave.languages),
        list(wave.genders),
        list(wave.age_bands),
    )


async def check_wave(
    session: AsyncSession, data: WaveInput, *, scope: Scope, now: datetime | None = None
) -> tuple[SurveyVersion, Audience]:
    now = now or utcnow()
    version = await session.get(SurveyVersion, data.version_id)
    survey = await session.get(Survey, version.survey_id) if version else None
    if version is None or survey is None or not visible_in(survey, scope):
        raise NotFound()
    if version.published_at is None:
        raise InvalidWave(reason=N_("publish the survey first"))
    if not data.name.strip():
        raise InvalidWave(reason=N_("give the wave a name"))
    if data.starts_at.tzinfo is None or data.ends_at.tzinfo is None:
        raise InvalidWave(reason=N_("dates need a time zone"))
    if data.ends_at <= data.starts_at or data.ends_at <= now:
        raise InvalidWave(reason=N_("the end must be after the start and in the future"))
    if data.ends_at - data.starts_at > MAX_DURATION:
        raise InvalidWave(reason=N_("a wave can last at most 92 days"))
    if data.repeat not in REPEATS:
        raise InvalidWave(reason=N_("unknown repetition"))
    period = REPEATS[data.repeat]
    if period is not None and data.starts_at + period < data.ends_at:
        raise InvalidWave(reason=N_("a repeating wave must end before the next one starts"))
    if not DAY_STARTS <= data.invite_hour < DAY_ENDS:
        raise InvalidWave(reason=N_("invitations go out between 8:00 and 20:00"))
    hours = (data.ends_at - data.starts_at).total_seconds() / 3600
    if data.reminder_after_hours < 0 or (
        data.reminder_after_hours and data.reminder_after_hours >= hours
    ):
        raise InvalidWave(reason=N_("the reminder must come before the wave ends"))
    return version, await check_audience(session, data.audience, scope)


async def do_create_wave(
    session: AsyncSession, data: WaveInput, *, scope: Scope, actor: Staff | None
) -> SurveyWave:
    version, audience = await check_wave(session, data, scope=scope)
    wave = _new_wave(version, data.name.strip()[:120], audience, data, actor)
    session.add(wave)
    await session.flush()
    await audit.record(
        session,
        "wave.create",
        actor=actor,
        object_type="wave",
        object_id=wave.id,
        countries=audience.countries,
        starts_at=data.starts_at.isoformat(),
    )
    return wave


def _new_wave(
    version: SurveyVersion,
    name: str,
    audience: Audience,
    data: WaveInput,
    actor: Staff | None,
    previous: SurveyWave | None = None,
) -> SurveyWave:
    return SurveyWave(
        survey_id=version.survey_id,
        version_id=version.id,
        name=name,
        countries=audience.countries,
        factory_ids=audience.factory_ids,
        languages=audience.languages,
        genders=audience.genders,
        age_bands=audience.age_bands,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        repeat=data.repeat,
        invite_hour=data.invite_hour,
        reminder_after_hours=data.reminder_after_hours,
        status=WaveStatus.SCHEDULED,
        invited_count=0,
        previous_wave_id=previous.id if previous else None,
        created_by_staff_id=actor.id
        if actor
        else (previous.created_by_staff_id if previous else None),
        created_at=utcnow(),
    )


async def access_wave(session: AsyncSession, wave_id: int, scope: Scope) -> SurveyWave:
    wave = await session.get(SurveyWave, wave_id)
    if wave is None or not scope.allows_all(wave.countries):
        raise NotFound()
    return wave


async def list_waves(
    session: AsyncSession, scope: Scope, *, survey_id: int | None = None
) -> Sequence[SurveyWave]:
    query = select(SurveyWave).order_by(SurveyWave.starts_at.desc()).limit(500)
    if survey_id is not None:
        query = query.where(SurveyWave.survey_id == survey_id)
    waves = (await session.scalars(query)).all()
    return [w for w in waves if scope.allows_all(w.countries)]


async def do_cancel_wave(session: AsyncSession, wave: SurveyWave, *, actor: Staff | None) -> None:
    """A scheduled wave is cancelled; an open one closes now (no more answers or invitations)."""
    if wave.status == WaveStatus.SCHEDULED:
        wave.status = WaveStatus.CANCELLED
    elif wave.status == WaveStatus.OPEN:
        await _close(session, wave, utcnow())
    else:
        raise Conflict()
    await session.flush()
    await audit.record(session, "wave.cancel", actor=actor, object_type="wave", object_id=wave.id)


# --- the scheduler's side -------------------------------------------------------------------


def invite_at(starts_at: datetime, now: datetime, tz: str, hour: int) -> datetime:
    """When a worker of a factory in ``tz`` should get the invitation: ``hour`` local time on the
    first day of the wave; if that has passed, now while it is day there, else the next morning."""
    zone = ZoneInfo(tz)
    start = max(starts_at, now).astimezone(zone)
    planned = planned_moment(datetime.combine(start.date(), time(hour)), zone)
    if planned >= start:
        return planned.astimezone(starts_at.tzinfo)
    if DAY_STARTS <= start.hour < DAY_ENDS:
        return max(starts_at, now)
    day = start.date() + timedelta(days=1 if start.hour >= DAY_ENDS else 0)
    return planned_moment(datetime.combine(day, time(hour)), zone).astimezone(starts_at.tzinfo)


async def open_due_waves(
    session: AsyncSession, *, worker: str, now: datetime | None = None
) -> list[int]:
    """Open the waves whose start has come (each by one replica) and queue their invitations."""
    now = now or utcnow()
    due = (SurveyWave.status == WaveStatus.SCHEDULED) & (SurveyWave.starts_at <= now)
    opened = await claim_ids(
        session,
        SurveyWave,
        due,
        order_by=(SurveyWave.starts_at, SurveyWave.id),
        limit=5,
        values={
            "status": WaveStatus.OPEN,
            "opened_at": now,
            "claimed_at": now,
            "claimed_by": worker,
        },
    )
    for wave_id in opened:
        wave = await session.get(SurveyWave, wave_id, populate_existing=True)
        assert wave is not None
        wave.invited_count = await _invite(session, wave, now)
        await _schedule_next(session, wave)
    await session.flush()
    return opened


async def invite_late_joiners(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Invite, once, the workers who joined an open wave's audience after it opened (linked their
    factory later, B17): those in its audience whom it has not invited yet. Returns how many."""
    now = now or utcnow()
    waves = (
        await session.scalars(
            select(SurveyWave).where(SurveyWave.status == WaveStatus.OPEN, SurveyWave.ends_at > now)
        )
    ).all()
    invited = 0
    for wave in waves:
        late = await _invite(session, wave, now, only_new=True)
        wave.invited_count += late
        invited += late
    return invited


async def _invite(
    session: AsyncSession, wave: SurveyWave, now: datetime, *, only_new: bool = False
) -> int:
    """Queue the invitation (and the reminder) of everyone in the wave's audience, or with
    ``only_new`` of those it has not invited yet, and remember whom it invited."""
    if wave.ends_at <= now:
        return 0
    invited = 0
    last_id = 0
    query = audience_query(audience_of(wave)).order_by(User.id)
    if only_new:
        query = query.where(
            ~exists().where(
                SurveyInvitation.wave_id == wave.id, SurveyInvitation.user_id == User.id
            )
        )
    while True:
        rows = (await session.execute(query.where(User.id > last_id).limit(BATCH))).all()
        if not rows:
            return invited
        last_id = rows[-1][0]
        invites, reminders = [], []
        message = {"params": {"wave_id": wave.id}, "expires_at": wave.ends_at}
        for user_id, _telegram_id, tz in rows:
            at = invite_at(wave.starts_at, now, tz, wave.invite_hour)
            key = f"survey:{wave.id}:invite:{user_id}"
            invites.append(
                dict(
                    kind=SurveyNotice.INVITE, user_id=user_id, due_at=at, dedupe_key=key, **message
                )
            )
            if wave.reminder_after_hours:
                remind = at + timedelta(hours=wave.reminder_after_hours)
                if remind < wave.ends_at:
                    key = f"survey:{wave.id}:remind:{user_id}"
                    reminders.append(
                        dict(
                            kind=SurveyNotice.REMINDER,
                            user_id=user_id,
                            due_at=remind,
                            dedupe_key=key,
                            **message,
                        )
                    )
        invited += await outbox.enqueue_many(session, invites)
        await outbox.enqueue_many(session, reminders)
        insert = dialect_insert(session)
        await session.execute(
            insert(SurveyInvitation).on_conflict_do_nothing(index_elements=["wave_id", "user_id"]),
            [{"wave_id": wave.id, "user_id": row[0]} for row in rows],
        )


async def _schedule_next(session: AsyncSession, wave: SurveyWave) -> None:
    period = REPEATS.get(wave.repeat)
    if period is None:
        return
    survey = await session.get(Survey, wave.survey_id)
    version = await latest_published(session, survey) if survey else None
    if version is None:
        return
    data = WaveInput(
        version_id=version.id,
        name=wave.name,
        audience=audience_of(wave),
        starts_at=wave.starts_at + period,
        ends_at=wave.ends_at + period,
        repeat=wave.repeat,
        invite_hour=wave.invite_hour,
        reminder_after_hours=wave.reminder_after_hours,
    )
    session.add(_new_wave(version, wave.name, data.audience, data, None, previous=wave))


async def close_ended_waves(session: AsyncSession, *, now: datetime | None = None) -> int:
    now = now or utcnow()
    ended = (
        await session.scalars(
            select(SurveyWave).where(
                SurveyWave.status == WaveStatus.OPEN, SurveyWave.ends_at <= now
            )
        )
    ).all()
    for wave in ended:
        await _close(session, wave, now)
    return len(ended)


async def _close(session: AsyncSession, wave: SurveyWave, now: datetime) -> None:
    wave.status, wave.closed_at = WaveStatus.CLOSED, now
    if wave.ends_at > now:
        wave.ends_at = now
    # Unfinished answers are never counted: they wait only in the survey store, expire by the
    # wave's end, and the batch job forgets them when it settles the closed wave's remainder.
    await session.flush()


# --- closing the loop -------------------------------------------------------------------------

LOOP_TEXT_LIMIT = 1000


async def do_close_the_loop(
    session: AsyncSession,
    wave: SurveyWave,
    texts: dict[str, str],
    *,
    secret_key: str,
    actor: Staff | None,
) -> int:
    """Send the people who answered a wave "what we learned / what changes", once, each in their
    language (the survey's source language where no version in theirs was written).

    Who answered is known only by HMAC, so the audience is walked and each worker's key checked;
    returns how many messages were queued.
    """
    texts = {
        code: text.strip() for code, text in texts.items() if code in LANGUAGES and text.strip()
    }
    if not texts:
        raise InvalidWave(reason=N_("write the message in at least one language"))
    if any(len(t) > LOOP_TEXT_LIMIT for t in texts.values()):
        raise InvalidWave(reason=N_("the message is too long"))
    if wave.loop_sent_at is not None:
        raise Conflict(N_("This message was already sent to this wave."))
    finished = set(
        (
            await session.scalars(
                select(SurveyParticipation.person_key).where(
                    SurveyParticipation.wave_id == wave.id,
                    SurveyParticipation.completed_on.is_not(None),
                )
            )
        ).all()
    )
    wave.loop_message, wave.loop_sent_at = texts, utcnow()
    queued, last_id = 0, 0
    # Respondents may since have said /stop; closing the loop still reaches them, as it answers
    # something they gave, unless they blocked the bot or deleted their data.
    query = (
        select(User.id, User.telegram_id)
        .join(Factory, Factory.id == User.factory_id)
        .where(User.active.is_(True), Factory.country_code.in_(wave.countries))
        .order_by(User.id)
    )
    now = utcnow()
    while finished:
        rows = (await session.execute(query.where(User.id > last_id).limit(BATCH))).all()
        if not rows:
            break
        last_id = rows[-1][0]
        queued += await outbox.enqueue_many(
            session,
            [
                dict(
                    kind=SurveyNotice.LOOP,
                    user_id=user_id,
                    params={"wave_id": wave.id},
                    dedupe_key=f"survey:{wave.id}:loop:{user_id}",
                    due_at=now,
                )
                for user_id, telegram_id in rows
                if person_key(secret_key, telegram_id) in finished
            ],
        )
    await session.flush()
    await audit.record(
        session,
        "wave.close_the_loop",
        actor=actor,
        object_type="wave",
        object_id=wave.id,
        queued=queued,
        languages=sorted(texts),
    )
    return queued
