"""Writing a broadcast in the console: the form for a new message or a draft, one version per
language (all sixteen, the audience's first), audience by country, factory and language.

Every field comes back as typed when the service refuses the form, with its reason; a forged id
(a topic of another country, a factory that is not one) is refused the same way. Text is stored
as typed and shown escaped. Sending, the audience and the report are in ``admin.broadcasts``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from admin.broadcasts import BROADCASTS, DONE, scoped
from admin.forms import FormState, submit
from admin.web import DB, MAX_ID, render, staff_locale, suppression_threshold, verify_csrf
from bot.i18n import N_, gettext, is_rtl
from bot.i18n.languages import LANGUAGES, Language
from bot.storage.broadcasts import Broadcast, BroadcastTopic
from bot.storage.models import Factory, Staff
from services.broadcasts import messages, topics
from services.broadcasts.messages import BroadcastInput, BroadcastStatus, InvalidBroadcast
from services.errors import Conflict
from services.factories import list_countries, list_factories
from services.scope import Scope

router = APIRouter(prefix="/broadcasts")


def _parse_id(raw: str) -> int | None:
    raw = raw.strip()
    return int(raw) if raw.isdigit() and 0 < int(raw) <= MAX_ID else None


class MessageFields(BaseModel):
    """The fields the form sends; ``text:<code>`` per language come as extra fields."""

    model_config = ConfigDict(extra="allow")

    topic_id: str = Field("", max_length=24)
    title: str = Field("", max_length=400)
    countries: list[str] = Field(default_factory=list, max_length=100)
    factory_ids: list[str] = Field(default_factory=list, max_length=5000)
    languages: list[str] = Field(default_factory=list, max_length=len(LANGUAGES))
    default_locale: str = Field("en", max_length=8)
    fallback: str = ""

    def message(self) -> MessageForm:
        return MessageForm.parse(self.model_dump() | dict(self.model_extra or {}))


@dataclass
class MessageForm:
    """The form as it was sent, every field kept as typed so a refused form comes back whole."""

    topic_id: str = ""
    title: str = ""
    countries: list[str] = field(default_factory=list)
    factory_ids: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    default_locale: str = "en"
    fallback: bool = False

    @classmethod
    def parse(cls, form: Mapping[str, Any]) -> MessageForm:
        """From the typed values (``admin.forms.FormState.values``)."""

        def one(name: str) -> str:
            value = form.get(name)
            return value if isinstance(value, str) else ""

        def many(name: str) -> list[str]:
            value = form.get(name) or []
            return [value] if isinstance(value, str) else [str(v) for v in value]

        return cls(
            topic_id=one("topic_id"),
            title=one("title"),
            countries=many("countries"),
            factory_ids=many("factory_ids"),
            languages=many("languages"),
            texts={code: one(f"text:{code}") for code in LANGUAGES if one(f"text:{code}")},
            default_locale=one("default_locale"),
            fallback=one("fallback") == "on",
        )

    @classmethod
    def of(cls, broadcast: Broadcast) -> MessageForm:
        return cls(
            topic_id=str(broadcast.topic_id),
            title=broadcast.title,
            countries=list(broadcast.countries),
            factory_ids=[str(i) for i in broadcast.factory_ids],
            languages=list(broadcast.languages),
            texts=dict(broadcast.texts),
            default_locale=broadcast.default_locale,
            fallback=broadcast.fallback,
        )

    def to_input(self, offered: Mapping[int, BroadcastTopic]) -> BroadcastInput:
        """The service's input, or InvalidBroadcast for what no honest form sends."""
        topic_id = _parse_id(self.topic_id)
        topic = offered.get(topic_id) if topic_id is not None else None
        if topic is None:
            raise InvalidBroadcast(reason=N_("choose one of the topics"))
        factory_ids = [_parse_id(raw) for raw in self.factory_ids]
        if any(i is None for i in factory_ids):
            raise InvalidBroadcast(reason=N_("a chosen factory is not in the chosen countries"))
        return BroadcastInput(
            topic_id=topic.id,
            title=self.title,
            # A topic of one country reaches that country only: the form cannot say otherwise.
            countries=[topic.country_code] if topic.country_code else list(self.countries),
            texts=dict(self.texts),
            default_locale=self.default_locale,
            factory_ids=[i for i in factory_ids if i is not None],
            languages=list(self.languages),
            fallback=self.fallback,
        )


async def _offered_topics(
    session: AsyncSession, staff: Staff, broadcast: Broadcast | None
) -> dict[int, BroadcastTopic]:
    offered = {
        t.id: t for t in await topics.list_topics(session, Scope.of(staff), active_only=True)
    }
    if broadcast is not None and broadcast.topic_id not in offered:
        # Paused since the draft was saved: shown, so the service's reason makes sense.
        topic = await session.get(BroadcastTopic, broadcast.topic_id)
        if topic is not None:
            offered[topic.id] = topic
    return offered


@dataclass(frozen=True)
class VersionField:
    code: str
    language: Language
    rtl: bool
    expected: bool  # spoken by the audience (opted-in workers, or their factories)


def _version_fields(
    factories: Mapping[str, list[Factory]],
    countries: list[str],
    audience: list[str],
    values: MessageForm,
) -> tuple[list[VersionField], list[VersionField]]:
    """The sixteen languages in two groups: first those the audience speaks (the opted-in workers'
    languages, ``audience``, and those of the factories in ``countries``) or already written, with
    the audience's first; then the rest, which the form folds away."""
    expected = set(audience)
    for code in countries:
        for factory in factories.get(code, []):
            expected.update(factory.languages or [])
            expected.add(factory.country.default_locale)
    fields = [
        VersionField(code, lang, is_rtl(code), code in expected) for code, lang in LANGUAGES.items()
    ]
    first = [
        f
        for f in fields
        if f.expected or values.texts.get(f.code) or f.code == values.default_locale
    ]
    return sorted(first, key=lambda f: not f.expected), [f for f in fields if f not in first]


async def _form_page(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    *,
    values: MessageForm,
    broadcast: Broadcast | None,
    offered: Mapping[int, BroadcastTopic] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    scope = Scope.of(staff)
    locale = staff_locale(staff)
    countries = [c for c in await list_countries(session) if scope.allows(c.code)]
    factories: dict[str, list[Factory]] = {}
    for factory in await list_factories(session, scope):
        if factory.active:
            factories.setdefault(factory.country_code, []).append(factory)
    offered = offered if offered is not None else await _offered_topics(session, staff, broadcast)
    chosen = [c for c in values.countries if c in factories] or list(factories)
    audience: list[str] = []
    if broadcast is not None:
        preview = await messages.preview_audience(
            session, messages.input_of(broadcast), k=suppression_threshold(request)
        )
        audience = preview.spoken  # no counts: only languages at least k followers read
    versions, more_versions = _version_fields(factories, chosen, audience, values)
    return render(
        request,
        "broadcasts/form.html",
        status_code=status,
        broadcast=broadcast,
        values=values,
        error=error,
        topics=[
            {"id": t.id, "name": topics.topic_name(t, locale), "country": t.country_code}
            for t in offered.values()
        ],
        countries=countries,
        country_names={c.code: c.name for c in countries},
        factories=factories,
        versions=versions,
        more_versions=more_versions,
        languages=LANGUAGES,
        text_limit=messages.TEXT_LIMIT,
        title_limit=messages.TITLE_LIMIT,
    )


@router.get("/new", response_class=HTMLResponse)
async def new_broadcast(
    request: Request,
    topic: int = 0,
    staff: Staff = Depends(BROADCASTS),
    session: AsyncSession = DB,
) -> Response:
    countries = Scope.of(staff).countries
    values = MessageForm(
        topic_id=str(topic) if topic else "",
        countries=sorted(countries) if countries is not None and len(countries) == 1 else [],
        default_locale="en",
    )
    return await _form_page(request, session, staff, values=values, broadcast=None)


async def _save(
    request: Request, session: AsyncSession, staff: Staff, broadcast: Broadcast | None
) -> Response:
    offered = await _offered_topics(session, staff, broadcast)

    async def save(fields: MessageFields) -> Broadcast:
        data = fields.message().to_input(offered)
        if broadcast is None:
            return await messages.do_create(session, data, scope=Scope.of(staff), actor=staff)
        await messages.do_update(session, broadcast, data, scope=Scope.of(staff), actor=staff)
        return broadcast

    async def again(form: FormState) -> Response:
        return await _form_page(
            request,
            session,
            staff,
            values=MessageForm.parse(form.values),
            broadcast=broadcast,
            offered=offered,
            error=form.error,
            status=form.status,
        )

    return await submit(
        request,
        session,
        MessageFields,
        verb=save,
        done_url=lambda saved: f"/broadcasts/{saved.id}",
        message=gettext(DONE["saved"]),
        again=again,
    )


@router.post("/new", dependencies=[Depends(verify_csrf)])
async def create_broadcast(
    request: Request, staff: Staff = Depends(BROADCASTS), session: AsyncSession = DB
) -> Response:
    return await _save(request, session, staff, None)


@router.get("/{broadcast_id}/edit", response_class=HTMLResponse)
async def edit_broadcast(
    request: Request,
    broadcast: Broadcast = Depends(scoped),
    staff: Staff = Depends(BROADCASTS),
    session: AsyncSession = DB,
) -> Response:
    if broadcast.status != BroadcastStatus.DRAFT:
        return RedirectResponse(f"/broadcasts/{broadcast.id}", status_code=303)
    return await _form_page(
        request, session, staff, values=MessageForm.of(broadcast), broadcast=broadcast
    )


@router.post("/{broadcast_id}/edit", dependencies=[Depends(verify_csrf)])
async def update_broadcast(
    request: Request,
    broadcast: Broadcast = Depends(scoped),
    staff: Staff = Depends(BROADCASTS),
    session: AsyncSession = DB,
) -> Response:
    if broadcast.status != BroadcastStatus.DRAFT:
        raise Conflict()  # sent meanwhile, from another tab or by a colleague
    return await _save(request, session, staff, broadcast)
