"""News: workers choose the topics they want, get each message in their own
language, and can stop a topic from the message itself (or all news with /stop).

Choosing is private: staff see how many people follow a topic, never who. A poster link
(``?start=t_<key>``, opened through ``bot.deeplinks``) opts a worker into one topic with one tap.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot import deeplinks
from bot.delivery import RenderContext, Rendered, on_outcome, preloader, renderer
from bot.i18n import _, current_locale
from bot.storage.broadcasts import BroadcastNotice
from bot.storage.models import OutboxMessage, OutboxStatus, User
from bot.widgets import (
    MenuAction,
    MenuCallback,
    home_button,
    link_factory_markup,
    remove_buttons,
)
from services import onboarding
from services.broadcasts import deliveries, topics
from services.errors import NotFound

router = Router(name=__name__)
LABEL_LIMIT = 60


class TapSource(StrEnum):
    """Where a topic button was tapped."""

    LIST = "l"  # the topic list: redrawn in place
    MESSAGE = "m"  # a received message: answered with a new message and an undo button


class TopicTap(CallbackData, prefix="bt"):
    """Follow (``on``) or stop a topic, from the list or from a received message."""

    topic: int
    on: bool
    src: TapSource = TapSource.LIST


class NewsOn(CallbackData, prefix="bq"):
    """Turn news back on after /stop, from the topic list."""


# --- the topic list -------------------------------------------------------------------------


async def topics_view(session: AsyncSession, user: User) -> tuple[str, InlineKeyboardMarkup]:
    offered = await topics.topics_for(session, user)
    locale = current_locale()
    builder = InlineKeyboardBuilder()
    if user.quiet_since is not None:
        builder.button(text=_("🔔 Turn news back on"), callback_data=NewsOn())
    for topic, chosen in offered:
        name = topics.topic_name(topic, locale)
        label = f"✅ {name}" if chosen else f"➕ {name}"
        builder.button(
            text=label[:LABEL_LIMIT], callback_data=TopicTap(topic=topic.id, on=not chosen)
        )
    builder.adjust(1)
    builder.row(home_button())
    if not offered:
        text = _(
            "There is no news to follow for your factory yet. Topics will appear here when there "
            "are some."
        )
    else:
        text = _(
            # A neutral header: a "union" word on a worker's screen can expose her (review B7).
            "📰 <b>News</b>\n"
            "Tap a topic to follow it (✅), tap again to stop. Your choice is private: we only "
            "count how many people follow a topic."
        )
    if user.quiet_since is not None:
        text += "\n\n" + _(
            "You used /stop, so no news reaches you now. Turn news back on to get the topics you "
            "follow."
        )
    return text, builder.as_markup()


def _no_factory_text() -> str:
    return _(
        "News is for workers of a factory. Link your factory first: tap 🏭 below, or open the "
        "link on the factory poster."
    )


async def show_topics(message: Message, session: AsyncSession, user: User | None) -> None:
    if user is None or not user.onboarded:
        return  # the onboarding gate answers people who have not finished
    if user.factory_id is None:
        await message.answer(_no_factory_text(), reply_markup=link_factory_markup())
        return
    text, keyboard = await topics_view(session, user)
    await message.answer(text, reply_markup=keyboard)


@router.callback_query(MenuCallback.filter(F.action == MenuAction.NEWS))
async def news_menu(query: CallbackQuery, session: AsyncSession, user: User | None) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await show_topics(query.message, session, user)


@router.message(Command("news"))
async def news_command(message: Message, session: AsyncSession, user: User | None) -> None:
    await show_topics(message, session, user)


@router.callback_query(TopicTap.filter())
async def topic_tapped(
    query: CallbackQuery, callback_data: TopicTap, session: AsyncSession, user: User | None
) -> None:
    if user is None or not user.onboarded or not isinstance(query.message, Message):
        await query.answer(_("This button is no longer active."))
        return
    try:
        if callback_data.on:
            topic = await topics.do_subscribe(session, user, callback_data.topic)
        else:
            topic = await topics.do_unsubscribe(session, user, callback_data.topic)
    except NotFound:
        await query.answer(_("This topic is no longer offered."), show_alert=True)
        return
    name = topics.topic_name(topic, current_locale())
    if callback_data.on:
        done = _("From now on you get “{topic}”.", topic=name)
    else:
        done = _("You will no longer get “{topic}”.", topic=name)
    await query.answer(done)
    if callback_data.src is TapSource.LIST:
        text, keyboard = await topics_view(session, user)
        await query.message.edit_text(text, reply_markup=keyboard)
        return
    await remove_buttons(query.message)
    builder = InlineKeyboardBuilder()
    if not callback_data.on:
        builder.button(
            text=_("↩️ Undo"), callback_data=TopicTap(topic=topic.id, on=True, src=TapSource.MESSAGE)
        )
    builder.row(home_button())
    await query.message.answer(html.escape(done), reply_markup=builder.as_markup())


@router.callback_query(NewsOn.filter())
async def news_on(query: CallbackQuery, session: AsyncSession, user: User | None) -> None:
    if user is None or not user.onboarded or not isinstance(query.message, Message):
        await query.answer(_("This button is no longer active."))
        return
    await onboarding.do_resume_optional_messages(session, user)
    await query.answer(_("News and survey invitations are on again."))
    text, keyboard = await topics_view(session, user)
    await query.message.edit_text(text, reply_markup=keyboard)


async def open_topic(message: Message, state: FSMContext, data: dict[str, Any], key: str) -> None:
    """A poster's topic link (``t_<key>``): follow that topic with one tap."""
    session: AsyncSession = data["session"]
    user: User | None = data.get("user")
    if user is None or not user.onboarded:
        return  # onboarding keeps the link and opens it once the worker is set up
    if user.factory_id is None:
        await message.answer(_no_factory_text(), reply_markup=link_factory_markup())
        return
    topic = await topics.topic_by_key(session, key.strip()) if key.strip() else None
    try:
        if topic is None:
            raise NotFound()
        await topics.do_subscribe(session, user, topic.id)
    except NotFound:
        await message.answer(
            _("This news link is not valid for your factory. Here is what you can follow."),
        )
        await show_topics(message, session, user)
        return
    name = topics.topic_name(topic, current_locale())
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("🔕 Stop this topic"),
        callback_data=TopicTap(topic=topic.id, on=False, src=TapSource.MESSAGE),
    )
    builder.row(home_button())
    text = _(
        "You now follow <b>{topic}</b>. Messages come in your language.", topic=html.escape(name)
    )
    if user.quiet_since is not None:
        text += "\n" + _("You used /stop: turn news back on in 📰 News to receive them.")
    await message.answer(text, reply_markup=builder.as_markup())


deeplinks.register(deeplinks.LinkKind.TOPIC, open_topic)


# --- delivery -------------------------------------------------------------------------------


@renderer(BroadcastNotice.MESSAGE)
async def render_broadcast(ctx: RenderContext) -> Rendered | None:
    if ctx.user is None:
        return None
    delivery = await deliveries.message_for(ctx.session, ctx.params["broadcast_id"], ctx.user)
    if delivery is None:
        return None  # cancelled, stopped, or no version in their language: counted as skipped
    name = topics.topic_name(delivery.topic, ctx.locale)
    # Shorten the name, not the label: the verb and the closing quote must stay on the button.
    short = name if len(name) <= 32 else name[:31] + "…"
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("🔕 Stop “{topic}”", topic=short),
        callback_data=TopicTap(topic=delivery.topic.id, on=False, src=TapSource.MESSAGE),
    )
    text = _(
        "📰 <b>{topic}</b>\n\n{message}",
        topic=html.escape(name),
        message=html.escape(delivery.text),
    )
    return Rendered(text, builder.as_markup())


@on_outcome(BroadcastNotice.MESSAGE)
async def count_deliveries(
    session: AsyncSession, delivered: Sequence[OutboxMessage], status: OutboxStatus
) -> None:
    for broadcast_id, count in Counter(m.params["broadcast_id"] for m in delivered).items():
        await deliveries.record_outcome(session, broadcast_id, status, count)


@preloader(BroadcastNotice.MESSAGE)
async def load_deliveries(session: AsyncSession, queued: Sequence[OutboxMessage]) -> list[Any]:
    return await deliveries.preload_deliveries(
        session, [(m.params["broadcast_id"], m.user_id) for m in queued if m.user_id is not None]
    )
