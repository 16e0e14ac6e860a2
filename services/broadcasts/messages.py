"""Broadcast messages: compose (one text per language), schedule, fan out, count deliveries.

A broadcast goes only to workers who opted into its topic, narrowed by country, factory and
language, and never to anyone who said /stop. The scheduler claims a due broadcast (one replica at a
time) and queues its recipients in user-id order, batch by batch, remembering the last id queued;
each outbox row's dedupe key (``broadcast:<id>:user:<id>``) makes a repeated batch a no-op, so a
crash mid-way neither loses nor doubles anyone. Messages wait for the day in each factory's time
zone, go out at the outbox's pace (under Telegram's limits, 429 honoured), and each outcome is
counted on the broadcast, so its report outlives the outbox's short retention.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import N_
from bot.i18n.languages import LANGUAGES
from bot.storage.broadcasts import Broadcast, BroadcastNotice, BroadcastSubscription, BroadcastTopic
from bot.storage.db import transaction
from bot.storage.models import Factory, OutboxMessage, OutboxStatus, Staff, StaffRole, User
from services import audit, outbox
from services.broadcasts.topics import access_topic
from services.claims import claim_ids
from services.clock import in_daytime, utcnow
from services.errors import Conflict, DomainError, NotFound
from services.onboarding import optional_audience
from services.previews import PREVIEWS, PreviewRefused, rounded
from services.scope import Scope

BATCH = 2000
TEXT_LIMIT = 3500  # leaves room for the topic line and fits one Telegram message (4096)
TITLE_LIMIT = 120
# Every batch renews the claim (a batch of 2,000 takes well under a second, and on PostgreSQL the
# row is locked while one runs), so a replica that died is taken over within seconds: the
# scheduler looks every 5 s. (Two minutes kept a killed replica's broadcast waiting 115 s.)
CLAIM_TIMEOUT = timedelta(seconds=15)
# News older than this is no longer news: undelivered messages are dropped (and counted).
EXPIRES_AFTER = timedelta(days=2)
LATEST_START = timedelta(days=90)
# After replies, case updates and reminders: a broadcast to thousands must not delay them.
PRIORITY = 200
# An urgent broadcast (a fire, a blocked exit, a factory closing) goes before them all, at once.
URGENT_PRIORITY = 50
# Who may spend the programme's Telegram Stars on an urgent broadcast.
URGENT_ROLES = frozenset({StaffRole.ADMIN, StaffRole.COUNTRY_MANAGER})
# Telegram's price of one paid broadcast message, in tenths of a Star.
STAR_TENTHS_PER_MESSAGE = 1


class BroadcastStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"  # recipients are being queued
    SENT = "sent"  # every recipient is queued; deliveries continue at Telegram's pace
    CANCELLED = "cancelled"


class InvalidBroadcast(DomainError):
    code = "invalid_broadcast"
    message = N_("The message cannot be saved: {reason}")


@dataclass
class BroadcastInput:
    topic_id: int
    title: str
    countries: list[str]
    texts: dict[str, str]
    default_locale: str
    factory_ids: list[int] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    fallback: bool = False


def in_scope(broadcast: Broadcast, scope: Scope) -> bool:
    """Staff see a broadcast only when it reaches nobody outside their countries."""
    return scope.allows_all(broadcast.countries)


async def check_broadcast(
    session: AsyncSession, data: BroadcastInput, *, scope: Scope
) -> BroadcastInput:
    """The input cleaned, or InvalidBroadcast naming the first problem."""
    topic = await access_topic(session, data.topic_id, scope)
    if not topic.active:
        raise InvalidBroadcast(reason=N_("the topic is paused"))
    title = " ".join(data.title.split())
    if not title:
        raise InvalidBroadcast(reason=N_("give the message a title"))
    if len(title) > TITLE_LIMIT:
        raise InvalidBroadcast(reason=N_("the title can have at most 120 characters"))
    countries = sorted({c.strip().upper() for c in data.countries if c.strip()})
    if not countries:
        raise InvalidBroadcast(reason=N_("choose at least one country"))
    if not scope.allows_all(countries):
        raise InvalidBroadcast(reason=N_("you can only reach workers in your own countries"))
    if topic.country_code is not None and countries != [topic.country_code]:
        raise InvalidBroadcast(reason=N_("the topic is offered in one country only"))
    factory_ids = sorted(set(data.factory_ids))
    if factory_ids:
        found = (
            await session.execute(
                select(Factory.id, Factory.country_code).where(Factory.id.in_(factory_ids))
            )
        ).all()
        if len(found) != len(factory_ids) or any(c not in countries for _i, c in found):
            raise InvalidBroadcast(reason=N_("a chosen factory is not in the chosen countries"))
    texts, languages = check_versions(
        data.texts, data.default_locale, data.languages, fallback=data.fallback
    )
    return BroadcastInput(
        topic_id=topic.id,
        title=title,
        countries=countries,
        texts=texts,
        default_locale=data.default_locale,
        factory_ids=factory_ids,
        languages=languages,
        fallback=data.fallback,
    )


def check_versions(
    texts: dict[str, str], default_locale: str, languages: Sequence[str], *, fallback: bool
) -> tuple[dict[str, str], list[str]]:
    """The versions (empty ones dropped) and the chosen languages, or InvalidBroadcast."""
    chosen = sorted(set(languages))
    versions = {code: text.strip() for code, text in texts.items() if text and text.strip()}
    if not set(chosen) <= set(LANGUAGES) or not set(versions) <= set(LANGUAGES):
        raise InvalidBroadcast(reason=N_("unknown language"))
    if not versions:
        raise InvalidBroadcast(reason=N_("write the message in at least one language"))
    if any(len(text) > TEXT_LIMIT for text in versions.values()):
        raise InvalidBroadcast(reason=N_("a version can have at most 3500 characters"))
    if default_locale not in versions:
        raise InvalidBroadcast(reason=N_("write the message in its default language"))
    if chosen and not fallback and not set(chosen) <= set(versions):
        raise InvalidBroadcast(
            reason=N_("write a version for each chosen language, or send the default to the rest")
        )
    return versions, chosen


def _apply(broadcast: Broadcast, data: BroadcastInput) -> None:
    broadcast.topic_id = data.topic_id
    broadcast.title = data.title
    broadcast.countries = data.countries
    broadcast.factory_ids = data.factory_ids
    broadcast.languages = data.languages
    broadcast.texts = data.texts
    broadcast.default_locale = data.default_locale
    broadcast.fallback = data.fallback


async def do_create(
    session: AsyncSession, data: BroadcastInput, *, scope: Scope, actor: Staff | None
) -> Broadcast:
    data = await check_broadcast(session, data, scope=scope)
    broadcast = Broadcast(
        status=BroadcastStatus.DRAFT,
        cursor=0,
        queued_count=0,
        sent_count=0,
        failed_count=0,
        blocked_count=0,
        skipped_count=0,
        created_by_staff_id=actor.id if actor else None,
        created_at=utcnow(),
    )
    _apply(broadcast, data)
    session.add(broadcast)
    await session.flush()
    await audit.record(
        session,
        "broadcast.create",
        actor=actor,
        object_type="broadcast",
        object_id=broadcast.id,
        country_code=data.countries[0] if len(data.countries) == 1 else None,
        countries=data.countries,
    )
    return broadcast


async def do_update(
    session: AsyncSession,
    broadcast: Broadcast,
    data: BroadcastInput,
    *,
    scope: Scope,
    actor: Staff | None,
) -> None:
    if broadcast.status != BroadcastStatus.DRAFT:
        raise Conflict()
    _apply(broadcast, await check_broadcast(session, data, scope=scope))
    await session.flush()
    await audit.record(
        session, "broadcast.update", actor=actor, object_type="broadcast", object_id=broadcast.id
    )


async def do_schedule(
    session: AsyncSession,
    broadcast: Broadcast,
    *,
    scope: Scope,
    actor: Staff | None,
    send_at: datetime | None = None,
    urgent: bool = False,
    paid_broadcasts: bool = False,
) -> None:
    """Send a draft now or at ``send_at``; the audience is taken when it is sent, so workers who
    opt in meanwhile get it and those who opt out do not.

    ``urgent``: day or night, before other messages, and through Telegram's paid broadcasts
    (``paid_broadcasts``, the installation's setting, must be on; it costs Stars, so only a
    country manager or an administrator may choose it)."""
    if broadcast.status != BroadcastStatus.DRAFT:
        raise Conflict()
    if urgent and not paid_broadcasts:
        raise InvalidBroadcast(reason=N_("urgent sending is not switched on for this installation"))
    if urgent and (actor is None or actor.role not in URGENT_ROLES):
        raise InvalidBroadcast(reason=N_("only a country manager can send a message as urgent"))
    # Checked again: the topic may have been paused or a factory moved since the draft was saved.
    await check_broadcast(session, input_of(broadcast), scope=scope)
    now = utcnow()
    if send_at is not None:
        if send_at.tzinfo is None:
            raise InvalidBroadcast(reason=N_("dates need a time zone"))
        if send_at > now + LATEST_START:
            raise InvalidBroadcast(reason=N_("a message can be planned at most 90 days ahead"))
    broadcast.send_at = max(send_at or now, now)
    broadcast.status = BroadcastStatus.SCHEDULED
    broadcast.urgent = urgent
    await session.flush()
    await audit.record(
        session,
        "broadcast.schedule",
        actor=actor,
        object_type="broadcast",
        object_id=broadcast.id,
        send_at=broadcast.send_at.isoformat(),
        languages=sorted(broadcast.texts),
        urgent=urgent,
    )


async def do_cancel(session: AsyncSession, broadcast: Broadcast, *, actor: Staff | None) -> int:
    """Stop a planned or running broadcast: what is not yet delivered is dropped and counted as
    skipped. A draft is deleted. Returns how many queued messages were withdrawn."""
    if broadcast.status == BroadcastStatus.DRAFT:
        await audit.record(
            session,
            "broadcast.delete",
            actor=actor,
            object_type="broadcast",
            object_id=broadcast.id,
        )
        await session.delete(broadcast)
        await session.flush()
        return 0
    if broadcast.status not in (
        BroadcastStatus.SCHEDULED,
        BroadcastStatus.SENDING,
        BroadcastStatus.SENT,
    ):
        raise Conflict()
    withdrawn = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.kind == BroadcastNotice.MESSAGE,
            OutboxMessage.status == OutboxStatus.PENDING,
            # A claimed row is being sent: the delivery sees the cancellation and counts it.
            OutboxMessage.claimed_at.is_(None),
            OutboxMessage.dedupe_key.like(f"broadcast:{broadcast.id}:user:%"),
        )
        .values(status=OutboxStatus.DROPPED, error="cancelled")
        .execution_options(synchronize_session=False)
    )
    count = int(withdrawn.rowcount or 0)  # type: ignore[attr-defined]
    broadcast.status = BroadcastStatus.CANCELLED
    broadcast.cancelled_at = utcnow()
    broadcast.skipped_count += count
    await session.flush()
    await audit.record(
        session,
        "broadcast.cancel",
        actor=actor,
        object_type="broadcast",
        object_id=broadcast.id,
        withdrawn=count,
    )
    return count


def input_of(broadcast: Broadcast) -> BroadcastInput:
    return BroadcastInput(
        topic_id=broadcast.topic_id,
        title=broadcast.title,
        countries=list(broadcast.countries),
        texts=dict(broadcast.texts),
        default_locale=broadcast.default_locale,
        factory_ids=list(broadcast.factory_ids),
        languages=list(broadcast.languages),
        fallback=broadcast.fallback,
    )


async def access_broadcast(session: AsyncSession, broadcast_id: int, scope: Scope) -> Broadcast:
    broadcast = await session.get(Broadcast, broadcast_id)
    if broadcast is None or not in_scope(broadcast, scope):
        raise NotFound()
    return broadcast


async def list_broadcasts(
    session: AsyncSession, scope: Scope, *, limit: int = 200
) -> Sequence[tuple[Broadcast, BroadcastTopic]]:
    rows = (
        await session.execute(
            select(Broadcast, BroadcastTopic)
            .join(BroadcastTopic, BroadcastTopic.id == Broadcast.topic_id)
            .order_by(Broadcast.created_at.desc(), Broadcast.id.desc())
            .limit(limit if scope.is_everywhere else limit * 4)
        )
    ).all()
    return [(b, t) for b, t in rows if in_scope(b, scope)][:limit]


# --- who it reaches -------------------------------------------------------------------------


def audience_query(data: BroadcastInput, *, reachable_only: bool = True) -> Select[Any]:
    """Workers who opted into the topic, onboarded, not blocked, not silenced with /stop, in the
    chosen countries, factories and languages; with ``reachable_only``, only those with a version
    in their language (or everyone, with the fallback on)."""
    query = optional_audience(
        select(User.id, User.locale, Factory.timezone).join(
            BroadcastSubscription,
            and_(
                BroadcastSubscription.user_id == User.id,
                BroadcastSubscription.topic_id == data.topic_id,
            ),
        ),
        countries=data.countries,
        factory_ids=data.factory_ids,
        languages=data.languages,
    )
    if reachable_only and not data.fallback:
        query = query.where(User.locale.in_(sorted(data.texts)))
    return cast(Select[Any], query)


@dataclass
class AudiencePreview:
    """What staff may see before sending (DESIGN §4.2, audit M5): counts rounded to tens, "fewer
    than k" below k (0 included), and no count per language. Which languages still need a version
    is said without numbers, and only for languages at least ``k`` followers speak: "someone here
    reads Burmese" is itself a disclosure when few do, so smaller groups are just "other
    languages". A preview whose audience differs from one the same staff member saw recently by
    fewer than k people is refused (``previews.PREVIEWS``)."""

    opted_in: int | None  # in the audience's countries, factories and languages
    reached: int | None  # of them, those who get a version (their language's, or the default)
    unreached: int | None  # no version in their language and no fallback
    spoken: list[str]  # languages at least k of them read (the form offers these first)
    missing: list[str]  # of those, languages with no version (and no fallback)
    others_missing: bool  # some smaller language groups get no version either
    refused: bool = False  # too close to an earlier preview: nothing counted


async def preview_audience(
    session: AsyncSession, data: BroadcastInput, *, k: int, who: Hashable | None = None
) -> AudiencePreview:
    """``who``: the staff member looking (their recent previews are compared); None for callers
    that show no count (the form's language order)."""
    sub = audience_query(data, reachable_only=False).subquery()
    members: dict[str, list[int]] = defaultdict(list)
    size: dict[str, int] = {}
    if who is None:  # nothing to compare: counts are enough (a big topic has many ids)
        grouped = select(sub.c.locale, func.count()).group_by(sub.c.locale)
        size = {str(locale or "?"): int(n) for locale, n in (await session.execute(grouped)).all()}
    else:
        for user_id, locale in (await session.execute(select(sub.c.id, sub.c.locale))).all():
            members[str(locale or "?")].append(int(user_id))
        size = {code: len(ids) for code, ids in members.items()}

    def gets_it(code: str) -> bool:
        return data.fallback or code in data.texts

    everyone = sum(size.values())
    reached = sum(n for code, n in size.items() if gets_it(code))
    spoken = sorted(
        (c for c, n in size.items() if n >= k and c in LANGUAGES), key=lambda c: (-size[c], c)
    )
    missing = [c for c in spoken if not gets_it(c)]
    others = any(not gets_it(c) for c, n in size.items() if n < k)
    if who is not None:
        audiences = [
            [i for ids in members.values() for i in ids],
            [i for code, ids in members.items() if gets_it(code) for i in ids],
            [i for code, ids in members.items() if not gets_it(code) for i in ids],
        ]
        try:
            PREVIEWS.check(who, audiences, k=k, now=utcnow().timestamp())
        except PreviewRefused:
            return AudiencePreview(None, None, None, spoken, [], False, refused=True)
    return AudiencePreview(
        rounded(everyone, k),
        rounded(reached, k),
        rounded(everyone - reached, k),
        spoken,
        missing,
        others,
    )


# --- the scheduler's side -------------------------------------------------------------------


async def fan_out_due(
    sessions: async_sessionmaker[AsyncSession],
    *,
    worker: str,
    now: datetime | None = None,
    at_night: bool = False,
    paid: bool = False,
) -> list[int]:
    """Queue the recipients of every due broadcast this replica can claim; returns their ids.

    Each batch commits on its own with the cursor, so another replica taking over after a crash
    starts where this one stopped. Messages wait for the day at each factory unless
    ``at_night`` (the demo, whose visitors may be anywhere) or the broadcast is urgent; an urgent
    one goes through the paid lane when ``paid`` (paid broadcasts are switched on)."""
    done: list[int] = []
    while True:
        async with transaction(sessions) as session:
            at = now or utcnow()
            due = and_(
                Broadcast.status.in_((BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING)),
                Broadcast.send_at <= at,
                or_(Broadcast.claimed_at.is_(None), Broadcast.claimed_at < at - CLAIM_TIMEOUT),
            )
            claimed = await claim_ids(
                session,
                Broadcast,
                due,
                order_by=(Broadcast.send_at, Broadcast.id),
                limit=1,
                values={"claimed_at": at, "claimed_by": worker},
            )
        if not claimed:
            return done
        await _fan_out(sessions, claimed[0], worker=worker, now=now, at_night=at_night, paid=paid)
        done.append(claimed[0])


async def _fan_out(
    sessions: async_sessionmaker[AsyncSession],
    broadcast_id: int,
    *,
    worker: str,
    now: datetime | None,
    at_night: bool,
    paid: bool,
) -> None:
    while True:
        async with transaction(sessions) as session:
            # Locked for the batch (PostgreSQL): no replica can take the claim over mid-batch.
            broadcast = await session.get(
                Broadcast, broadcast_id, populate_existing=True, with_for_update=True
            )
            if (
                broadcast is None
                or broadcast.claimed_by != worker
                or broadcast.status not in (BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING)
            ):
                return  # cancelled meanwhile, or the claim passed to another replica
            at = now or utcnow()
            if broadcast.status == BroadcastStatus.SCHEDULED:
                broadcast.status, broadcast.started_at = BroadcastStatus.SENDING, at
            rows = (
                await session.execute(
                    audience_query(input_of(broadcast))
                    .where(User.id > broadcast.cursor)
                    .order_by(User.id)
                    .limit(BATCH)
                )
            ).all()
            urgent = broadcast.urgent
            messages = []
            for user_id, _locale, tz in rows:
                due_at = at if at_night or urgent else in_daytime(at, tz)
                messages.append(
                    dict(
                        kind=BroadcastNotice.MESSAGE,
                        user_id=user_id,
                        params={"broadcast_id": broadcast.id},
                        due_at=due_at,
                        expires_at=due_at + EXPIRES_AFTER,
                        dedupe_key=f"broadcast:{broadcast.id}:user:{user_id}",
                        priority=URGENT_PRIORITY if urgent else PRIORITY,
                        paid=urgent and paid,
                    )
                )
            broadcast.queued_count += await outbox.enqueue_many(session, messages)
            broadcast.claimed_at = at  # still alive: keep the claim
            if rows:
                broadcast.cursor = rows[-1][0]
            if len(rows) < BATCH:
                broadcast.status, broadcast.queued_at = BroadcastStatus.SENT, at
                broadcast.claimed_at = broadcast.claimed_by = None
                return


@dataclass
class Report:
    queued: int
    sent: int
    failed: int
    blocked: int
    skipped: int

    @property
    def waiting(self) -> int:
        return max(0, self.queued - self.sent - self.failed - self.blocked - self.skipped)


def report(broadcast: Broadcast) -> Report:
    return Report(
        broadcast.queued_count,
        broadcast.sent_count,
        broadcast.failed_count,
        broadcast.blocked_count,
        broadcast.skipped_count,
    )
