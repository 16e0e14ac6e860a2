"""Broadcast topics in the console: what workers opt into (a union's news, safety tips), named in
their languages, with how many opted in (small numbers hidden) and the link or poster that offers
a topic to workers. Messages to a topic are in ``admin.broadcasts``.

Country staff create topics for their countries; only administrators offer a topic in every
country and rename or pause one. The services check both and audit every change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from admin.broadcasts import BROADCASTS
from admin.factories import bot_username, qr_svg, start_link
from admin.forms import FormState, submit
from admin.web import DB, checked_id, render, staff_locale, suppression_threshold, verify_csrf
from bot.i18n import gettext, is_rtl
from bot.i18n.languages import LANGUAGES
from bot.i18n.phrases import POSTER_SCAN
from bot.storage.broadcasts import BroadcastTopic
from bot.storage.models import Staff
from services.broadcasts import topics
from services.broadcasts.topics import TopicInput
from services.errors import Forbidden
from services.factories import list_countries
from services.scope import Scope
from services.suppression import shown

router = APIRouter(prefix="/broadcasts/topics")


async def scoped(
    topic_id: int, staff: Staff = Depends(BROADCASTS), session: AsyncSession = DB
) -> BroadcastTopic:
    return await topics.access_topic(session, checked_id(topic_id), Scope.of(staff))


def topic_link(request: Request, topic: BroadcastTopic) -> str | None:
    """The link that offers the topic (t.me/<bot>?start=t_<key>), if the bot's name is known."""
    username = bot_username(request)
    return start_link(username, f"t_{topic.key}") if username else None


@dataclass
class TopicForm:
    """The topic form as typed, kept whole when the service refuses it."""

    key: str = ""
    country: str = ""
    default_locale: str = "en"
    names: dict[str, str] = field(default_factory=dict)
    active: bool = True

    @classmethod
    def parse(cls, form: Mapping[str, Any], *, with_active: bool) -> TopicForm:
        """From the typed values (``admin.forms.FormState.values``)."""

        def one(name: str) -> str:
            value = form.get(name)
            return value if isinstance(value, str) else ""

        return cls(
            key=one("key"),
            country=one("country"),
            default_locale=one("default_locale"),
            names={code: one(f"name:{code}") for code in LANGUAGES if one(f"name:{code}")},
            active=one("active") == "on" if with_active else True,
        )

    @classmethod
    def of(cls, topic: BroadcastTopic) -> TopicForm:
        return cls(
            topic.key,
            topic.country_code or "",
            topic.default_locale,
            dict(topic.names),
            topic.active,
        )

    def to_input(self) -> TopicInput:
        return TopicInput(
            key=self.key,
            country_code=self.country or None,
            default_locale=self.default_locale,
            names=dict(self.names),
            active=self.active,
        )


def _name_fields() -> list[tuple[str, str, bool]]:
    return [(code, lang.native_name, is_rtl(code)) for code, lang in LANGUAGES.items()]


async def _list_page(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    *,
    values: TopicForm | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    scope, k, locale = Scope.of(staff), suppression_threshold(request), staff_locale(staff)
    found = await topics.list_topics(session, scope)
    counts = await topics.subscriber_counts(session, [t.id for t in found], scope)
    return render(
        request,
        "broadcasts/topics.html",
        status_code=status,
        rows=[
            {
                "topic": t,
                "name": topics.topic_name(t, locale),
                "subscribers": shown(counts.get(t.id, 0), k),
                "link": topic_link(request, t),
                "can_manage": topics.can_manage(t, scope),
            }
            for t in found
        ],
        k=k,
        bot_known=bot_username(request) is not None,
        countries=[c for c in await list_countries(session) if scope.allows(c.code)],
        every_country=scope.is_everywhere,
        values=values or TopicForm(country=min(scope.countries or (), default="")),
        names=_name_fields(),
        languages=LANGUAGES,
        name_limit=topics.NAME_LIMIT,
        error=error,
    )


@router.get("", response_class=HTMLResponse)
async def topic_list(
    request: Request, staff: Staff = Depends(BROADCASTS), session: AsyncSession = DB
) -> Response:
    return await _list_page(request, session, staff)


class TopicFields(BaseModel):
    """The fields the topic form sends; ``name:<code>`` per language come as extra fields."""

    model_config = ConfigDict(extra="allow")

    key: str = Field("", max_length=64)
    country: str = Field("", max_length=8)
    default_locale: str = Field("", max_length=8)
    active: str = ""


def _typed(values: Mapping[str, Any], *, with_active: bool) -> TopicForm:
    return TopicForm.parse(values, with_active=with_active)


@router.post("", dependencies=[Depends(verify_csrf)])
async def create_topic(
    request: Request, staff: Staff = Depends(BROADCASTS), session: AsyncSession = DB
) -> Response:
    async def create(fields: TopicFields) -> BroadcastTopic:
        values = _typed(fields.model_dump() | dict(fields.model_extra or {}), with_active=False)
        return await topics.do_create_topic(
            session, values.to_input(), scope=Scope.of(staff), actor=staff
        )

    async def again(form: FormState) -> Response:
        values = _typed(form.values, with_active=False)
        return await _list_page(
            request, session, staff, values=values, error=form.error, status=form.status
        )

    return await submit(
        request,
        session,
        TopicFields,
        verb=create,
        done_url=lambda topic: f"/broadcasts/topics/{topic.id}",
        message=gettext("The topic is created. Workers can follow it from its poster."),
        again=again,
    )


async def _topic_page(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    topic: BroadcastTopic,
    *,
    values: TopicForm | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    counts = await topics.subscriber_counts(session, [topic.id], Scope.of(staff))
    count = counts.get(topic.id, 0)
    k = suppression_threshold(request)
    return render(
        request,
        "broadcasts/topic.html",
        status_code=status,
        topic=topic,
        name=topics.topic_name(topic, staff_locale(staff)),
        subscribers=shown(count, k),
        k=k,
        link=topic_link(request, topic),
        can_manage=topics.can_manage(topic, Scope.of(staff)),
        values=values or TopicForm.of(topic),
        names=_name_fields(),
        languages=LANGUAGES,
        name_limit=topics.NAME_LIMIT,
        error=error,
    )


@router.get("/{topic_id}", response_class=HTMLResponse)
async def topic_page(
    request: Request,
    topic: BroadcastTopic = Depends(scoped),
    staff: Staff = Depends(BROADCASTS),
    session: AsyncSession = DB,
) -> Response:
    return await _topic_page(request, session, staff, topic)


@router.post("/{topic_id}", dependencies=[Depends(verify_csrf)])
async def update_topic(
    request: Request,
    topic: BroadcastTopic = Depends(scoped),
    staff: Staff = Depends(BROADCASTS),
    session: AsyncSession = DB,
) -> Response:
    if not topics.can_manage(topic, Scope.of(staff)):
        raise Forbidden()  # an every-country topic: for administrators

    async def update(fields: TopicFields) -> None:
        values = _typed(fields.model_dump() | dict(fields.model_extra or {}), with_active=True)
        await topics.do_update_topic(
            session, topic, values.to_input(), scope=Scope.of(staff), actor=staff
        )

    async def again(form: FormState) -> Response:
        await session.refresh(topic)  # the page shows the stored topic beside the typed form
        return await _topic_page(
            request,
            session,
            staff,
            topic,
            values=_typed(form.values, with_active=True),
            error=form.error,
            status=form.status,
        )

    return await submit(
        request,
        session,
        TopicFields,
        verb=update,
        done_url=f"/broadcasts/topics/{topic.id}",
        message=gettext("Saved."),
        again=again,
    )


@router.get("/{topic_id}/poster", response_class=HTMLResponse)
async def poster(
    request: Request,
    topic: BroadcastTopic = Depends(scoped),
    staff: Staff = Depends(BROADCASTS),
) -> Response:
    """A printable poster: the QR code, and the topic's name in each of its languages."""
    link = topic_link(request, topic)
    lines = [
        {
            "code": code,
            "rtl": is_rtl(code),
            "name": name,
            "scan": gettext(POSTER_SCAN, locale=code),
        }
        for code, name in sorted(
            topic.names.items(), key=lambda item: item[0] != topic.default_locale
        )
        if code in LANGUAGES
    ]
    return render(
        request,
        "broadcasts/poster.html",
        topic=topic,
        link=link,
        qr=qr_svg(link, scale=10) if link else None,
        lines=lines,
    )
