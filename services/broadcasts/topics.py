"""Broadcast topics and the workers who opted into them.

Staff create topics for their countries (a union's news, safety tips) and name them in workers'
languages; a topic with no country is offered everywhere and only administrators manage it. Workers
see the active topics of their factory's country and opt in or out with a tap.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.i18n.languages import LANGUAGES
from bot.storage.broadcasts import BroadcastSubscription, BroadcastTopic
from bot.storage.models import Country, Factory, Staff, User
from services import audit
from services.clock import utcnow
from services.errors import DomainError, Forbidden, NotFound
from services.scope import Scope

KEY = re.compile(r"^[a-z0-9][a-z0-9-]{1,30}$")
NAME_LIMIT = 60  # a button label on a small phone


class InvalidTopic(DomainError):
    code = "invalid_topic"
    message = N_("The topic cannot be saved: {reason}")


@dataclass
class TopicInput:
    key: str
    country_code: str | None
    default_locale: str
    names: dict[str, str] = field(default_factory=dict)
    active: bool = True


def visible(topic: BroadcastTopic, scope: Scope) -> bool:
    """Every-country topics are visible to all staff (they may send to their own countries)."""
    return topic.country_code is None or scope.allows(topic.country_code)


def can_manage(topic: BroadcastTopic, scope: Scope) -> bool:
    """Renaming or pausing an every-country topic is for administrators."""
    if topic.country_code is None:
        return scope.is_everywhere
    return scope.allows(topic.country_code)


def topic_name(topic: BroadcastTopic, locale: str | None) -> str:
    """The topic's name in ``locale``, else in its default language."""
    return topic.names.get(locale or "", "") or topic.names.get(topic.default_locale, topic.key)


def _clean_names(data: TopicInput) -> dict[str, str]:
    names = {code: " ".join(text.split()) for code, text in data.names.items() if text.strip()}
    if not set(names) <= set(LANGUAGES):
        raise InvalidTopic(reason=N_("unknown language"))
    if data.default_locale not in names:
        raise InvalidTopic(reason=N_("name the topic in its default language"))
    if any(len(text) > NAME_LIMIT for text in names.values()):
        raise InvalidTopic(reason=N_("a name can have at most 60 characters"))
    return names


async def do_create_topic(
    session: AsyncSession, data: TopicInput, *, scope: Scope, actor: Staff | None
) -> BroadcastTopic:
    key = data.key.strip().lower()
    if not KEY.match(key):
        raise InvalidTopic(
            reason=N_("the key is 2 to 31 small letters, digits or dashes, such as union-news")
        )
    country = data.country_code.strip().upper() if data.country_code else None
    if country is None and not scope.is_everywhere:
        raise InvalidTopic(reason=N_("only an administrator can offer a topic in every country"))
    if country is not None:
        if not scope.allows(country):
            raise Forbidden()
        if await session.get(Country, country) is None:
            raise InvalidTopic(reason=N_("unknown country"))
    names = _clean_names(data)
    if await session.scalar(select(BroadcastTopic.id).where(BroadcastTopic.key == key)):
        raise InvalidTopic(reason=N_("another topic already has this key"))
    topic = BroadcastTopic(
        key=key,
        country_code=country,
        names=names,
        default_locale=data.default_locale,
        active=data.active,
        created_by_staff_id=actor.id if actor else None,
        created_at=utcnow(),
    )
    session.add(topic)
    await session.flush()
    await audit.record(
        session,
        "topic.create",
        actor=actor,
        object_type="topic",
        object_id=topic.id,
        country_code=country,
        key=key,
    )
    return topic


async def do_update_topic(
    session: AsyncSession,
    topic: BroadcastTopic,
    data: TopicInput,
    *,
    scope: Scope,
    actor: Staff | None,
) -> None:
    """Rename, translate, pause or resume a topic. Its key and country stay: posters and
    subscriptions depend on them."""
    if not can_manage(topic, scope):
        raise Forbidden()
    topic.names = _clean_names(data)
    topic.default_locale = data.default_locale
    topic.active = data.active
    await session.flush()
    await audit.record(
        session,
        "topic.update",
        actor=actor,
        object_type="topic",
        object_id=topic.id,
        country_code=topic.country_code,
        active=topic.active,
    )


async def access_topic(session: AsyncSession, topic_id: int, scope: Scope) -> BroadcastTopic:
    topic = await session.get(BroadcastTopic, topic_id)
    if topic is None or not visible(topic, scope):
        raise NotFound()
    return topic


async def list_topics(
    session: AsyncSession, scope: Scope, *, active_only: bool = False
) -> Sequence[BroadcastTopic]:
    query = select(BroadcastTopic).order_by(BroadcastTopic.country_code, BroadcastTopic.key)
    if not scope.is_everywhere:
        query = query.where(
            or_(BroadcastTopic.country_code.is_(None), scope.where(BroadcastTopic.country_code))
        )
    if active_only:
        query = query.where(BroadcastTopic.active.is_(True))
    return (await session.scalars(query)).all()


async def subscriber_counts(
    session: AsyncSession, topic_ids: Sequence[int], scope: Scope = Scope.everywhere()
) -> dict[int, int]:
    """Opted-in workers per topic (raw counts: callers suppress small ones before showing).
    ``scope``: count only workers at factories there (a country's staff never count another
    country's followers of an every-country topic)."""
    if not topic_ids:
        return {}
    query = select(BroadcastSubscription.topic_id, func.count()).where(
        BroadcastSubscription.topic_id.in_(topic_ids)
    )
    if not scope.is_everywhere:
        query = (
            query.join(User, User.id == BroadcastSubscription.user_id)
            .join(Factory, Factory.id == User.factory_id)
            .where(scope.where(Factory.country_code))
        )
    rows = await session.execute(query.group_by(BroadcastSubscription.topic_id))
    return {topic_id: int(n) for topic_id, n in rows.all()}


# --- the worker's side ----------------------------------------------------------------------


async def topics_for(session: AsyncSession, user: User) -> list[tuple[BroadcastTopic, bool]]:
    """The active topics offered to this worker (their factory's country, and every-country ones),
    each with whether they opted in."""
    country = user.factory.country_code if user.factory is not None else None
    offered = (
        await session.scalars(
            select(BroadcastTopic)
            .where(
                BroadcastTopic.active.is_(True),
                or_(BroadcastTopic.country_code.is_(None), BroadcastTopic.country_code == country),
            )
            .order_by(BroadcastTopic.country_code.is_(None), BroadcastTopic.id)
        )
    ).all()
    chosen = set(
        (
            await session.scalars(
                select(BroadcastSubscription.topic_id).where(
                    BroadcastSubscription.user_id == user.id
                )
            )
        ).all()
    )
    return [(topic, topic.id in chosen) for topic in offered]


async def offered_topic(session: AsyncSession, user: User, topic_id: int) -> BroadcastTopic:
    """A topic this worker may opt into (the rule of ``topics_for``); a forged or stale id is
    NotFound."""
    topic = await session.get(BroadcastTopic, topic_id)
    country = user.factory.country_code if user.factory is not None else None
    if topic is None or not topic.active or topic.country_code not in (None, country):
        raise NotFound()
    return topic


async def topic_by_key(session: AsyncSession, key: str) -> BroadcastTopic | None:
    return await session.scalar(
        select(BroadcastTopic).where(
            BroadcastTopic.key == key.lower(), BroadcastTopic.active.is_(True)
        )
    )


async def is_subscribed(session: AsyncSession, user_id: int, topic_id: int) -> bool:
    return (await session.get(BroadcastSubscription, (user_id, topic_id))) is not None


async def do_subscribe(session: AsyncSession, user: User, topic_id: int) -> BroadcastTopic:
    topic = await offered_topic(session, user, topic_id)
    if not await is_subscribed(session, user.id, topic.id):
        session.add(BroadcastSubscription(user_id=user.id, topic_id=topic.id, created_at=utcnow()))
        await session.flush()
    return topic


async def do_unsubscribe(session: AsyncSession, user: User, topic_id: int) -> BroadcastTopic:
    """Opting out works for any topic the worker holds, even one paused since."""
    topic = await session.get(BroadcastTopic, topic_id)
    if topic is None:
        raise NotFound()
    await session.execute(
        delete(BroadcastSubscription).where(
            BroadcastSubscription.user_id == user.id, BroadcastSubscription.topic_id == topic_id
        )
    )
    return topic
