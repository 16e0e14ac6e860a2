"""Stored texts workers read, reviewed like the catalogs (issue 19 §2): survey texts, broadcast topic
names, committee names and places, helpline names.

Each kind lists its texts as catalog-like messages (the source-language text as the message, the
language's text as its translation, a ``context`` saying which stored thing it is) so the
translation workspace shows and decides them like any catalog message. A change is written where
the text lives (a topic's, committee's or helpline's names per language: in force at the next read),
except in a published survey, which never changes once waves may run it: there the change is an
override keyed by the survey and its source text, which ``SurveyDefinition.text`` applies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.storage.broadcasts import BroadcastTopic
from bot.storage.committees import Committee
from bot.storage.models import Country
from bot.storage.surveys import Survey
from services.broadcasts.topics import NAME_LIMIT
from services.committees.members import NAME_LIMIT as COMMITTEE_NAME_LIMIT
from services.committees.members import PLACE_LIMIT
from services.errors import DomainError, NotFound
from services.helplines import LABEL_LIMIT, stored_lines
from services.surveys.builder import latest_published
from services.surveys.definition import SURVEY_CONTEXT, SurveyDefinition, text_slots
from workvoice.kernel.catalogs import CatalogMessage

Items = Callable[[AsyncSession, str], Awaitable[list[CatalogMessage]]]
# Writes the text where it lives; False when it cannot be written there (an override instead).
Write = Callable[[AsyncSession, str, str, str], Awaitable[bool]]


@dataclass(frozen=True)
class ContentKind:
    name: str
    label: str  # a msgid, for the console
    items: Items
    write: Write


def _item(kind: str, context: str, source: str, text: str, where: str) -> CatalogMessage:
    return CatalogMessage(
        domain=kind,
        context=context,
        msgid=source,
        plural=None,
        strings=(text,),
        locations=(where,),
        comments=(),
    )


def _id_of(context: str, prefix: str) -> int:
    try:
        return int(context.removeprefix(prefix))
    except ValueError:
        raise NotFound() from None


# -- survey texts: the latest published version of every survey -----------------------------------


async def _published(session: AsyncSession) -> list[tuple[Survey, SurveyDefinition]]:
    found = []
    for survey in (await session.scalars(select(Survey).order_by(Survey.id))).all():
        version = await latest_published(session, survey)
        if version is not None:
            found.append((survey, SurveyDefinition.model_validate(version.definition)))
    return found


async def _survey_items(session: AsyncSession, locale: str) -> list[CatalogMessage]:
    items: dict[tuple[str, str], CatalogMessage] = {}
    for survey, definition in await _published(session):
        for path, texts in text_slots(definition):
            source = texts.get(definition.source_locale, "")
            if not source or definition.source_locale == locale:
                continue
            context = f"{SURVEY_CONTEXT}{definition.key}"
            # One survey saying the same words twice (a "Yes" in two questions) is one message.
            items.setdefault(
                (context, source),
                _item(
                    "survey-texts",
                    context,
                    source,
                    texts.get(locale, ""),
                    f"{survey.name} · {path}",
                ),
            )
    return list(items.values())


async def _survey_write(session: AsyncSession, context: str, locale: str, text: str) -> bool:
    return False  # published versions never change: an override (SurveyDefinition.text)


# -- broadcast topic names ----------------------------------------------------------------------


async def _topic_items(session: AsyncSession, locale: str) -> list[CatalogMessage]:
    out = []
    for topic in (await session.scalars(select(BroadcastTopic).order_by(BroadcastTopic.id))).all():
        source = topic.names.get(topic.default_locale, "")
        if source and topic.default_locale != locale:
            where = f"{topic.key} ({topic.country_code or '*'})"
            out.append(
                _item(
                    "topic-names", f"topic:{topic.id}", source, topic.names.get(locale, ""), where
                )
            )
    return out


class TooLong(DomainError):
    code = "too_long"
    status = 422
    message = N_("This name can have at most {limit} characters: it is a button on a small phone.")


async def _topic_write(session: AsyncSession, context: str, locale: str, text: str) -> bool:
    if len(text) > NAME_LIMIT:
        raise TooLong(limit=NAME_LIMIT)
    topic = await session.get(BroadcastTopic, _id_of(context, "topic:"))
    if topic is None:
        raise NotFound()
    topic.names = {**topic.names, locale: text}  # a new dict: JSON columns see no in-place change
    return True


# -- committee names and usual places ------------------------------------------------------------


async def _committee_items(session: AsyncSession, locale: str) -> list[CatalogMessage]:
    out = []
    for committee in (await session.scalars(select(Committee).order_by(Committee.id))).all():
        if committee.default_locale == locale:
            continue
        where = f"{committee.name} (#{committee.id})"
        texts = (
            ("name", committee.name, committee.names),
            ("place", committee.location, committee.places),
        )
        for part, source, translated in texts:
            if source:
                out.append(
                    _item(
                        "committee-names",
                        f"committee:{committee.id}:{part}",
                        source,
                        (translated or {}).get(locale, ""),
                        where,
                    )
                )
    return out


async def _committee_write(session: AsyncSession, context: str, locale: str, text: str) -> bool:
    _, number, part = [*context.split(":"), "", ""][:3]
    committee = await session.get(Committee, int(number)) if number.isdigit() else None
    if committee is None or part not in ("name", "place"):
        raise NotFound()
    limit = COMMITTEE_NAME_LIMIT if part == "name" else PLACE_LIMIT
    if len(text) > limit:
        raise TooLong(limit=limit)
    if part == "name":
        committee.names = {**(committee.names or {}), locale: text}
    else:
        committee.places = {**(committee.places or {}), locale: text}
    return True


# -- helpline names -------------------------------------------------------------------------------


async def _helpline_items(session: AsyncSession, locale: str) -> list[CatalogMessage]:
    out = []
    for country in (await session.scalars(select(Country).order_by(Country.code))).all():
        for index, line in enumerate(stored_lines(country)):
            source = line.labels.get("en", "")
            if source:  # without an English name the kind's name (a catalog message) is shown
                out.append(
                    _item(
                        "helpline-labels",
                        f"helpline:{country.code}:{index}",
                        source,
                        line.labels.get(locale, ""),
                        f"{country.name} · {line.phone}",
                    )
                )
    return out


async def _helpline_write(session: AsyncSession, context: str, locale: str, text: str) -> bool:
    if len(text) > LABEL_LIMIT:
        raise TooLong(limit=LABEL_LIMIT)
    _, code, index = [*context.split(":"), "", ""][:3]
    country = await session.get(Country, code)
    if country is None or not index.isdigit() or int(index) >= len(country.helplines or []):
        raise NotFound()
    lines = [dict(raw) for raw in country.helplines]
    line = stored_lines(country)[int(index)]
    line.labels = {**line.labels, locale: text}
    lines[int(index)] = line.dump()
    country.helplines = lines
    return True


KINDS: dict[str, ContentKind] = {
    kind.name: kind
    for kind in (
        ContentKind("survey-texts", N_("Survey texts"), _survey_items, _survey_write),
        ContentKind("topic-names", N_("News topic names"), _topic_items, _topic_write),
        ContentKind(
            "committee-names", N_("Committee names and places"), _committee_items, _committee_write
        ),
        ContentKind("helpline-labels", N_("Helpline names"), _helpline_items, _helpline_write),
    )
}
