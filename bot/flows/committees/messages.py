"""Committee messages from the outbox, each in the member's own language with the factory's local
time: reminders, changes, minutes, the chair's quorum warning and join requests, the answer to a
request, and action items."""

from __future__ import annotations

import html

from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.delivery import RenderContext, Rendered, renderer
from bot.flows.committees.texts import (
    Decide,
    action_text,
    done_keyboard,
    meeting_text,
    name_text,
    rsvp_keyboard,
    when_text,
)
from bot.i18n import _, use_locale
from bot.storage.committees import ActionItem, CommitteeMember, CommitteeNotice, Meeting
from bot.widgets import home_markup, split_text
from services.committees import members, participation
from services.committees.members import ActionStatus, MeetingStatus, MemberStatus, Side


async def _meeting_and_seat(
    ctx: RenderContext,
) -> tuple[Meeting, CommitteeMember] | None:
    meeting = await ctx.session.get(Meeting, ctx.params["meeting_id"])
    member = await ctx.session.get(CommitteeMember, ctx.params["member_id"])
    if meeting is None or member is None or member.status != MemberStatus.ACTIVE:
        return None
    return meeting, member


@renderer(CommitteeNotice.REMINDER)
async def render_reminder(ctx: RenderContext) -> Rendered | None:
    found = await _meeting_and_seat(ctx)
    if found is None:
        return None
    meeting, member = found
    if meeting.status != MeetingStatus.PLANNED:
        return None
    with use_locale(ctx.params.get("locale")):
        text = _("⏰ <b>Reminder</b>") + "\n" + await meeting_text(ctx.session, meeting)
        text += "\n\n" + _("Will you come?")
        chosen = await participation.rsvp_of(ctx.session, meeting.id, member.id)
        return Rendered(text, rsvp_keyboard(meeting, member, chosen))


@renderer(CommitteeNotice.CHANGED)
async def render_changed(ctx: RenderContext) -> Rendered | None:
    found = await _meeting_and_seat(ctx)
    if found is None:
        return None
    meeting, member = found
    with use_locale(ctx.params.get("locale")):
        name = name_text(meeting.committee)
        when = when_text(meeting.starts_at, meeting.committee)
        if ctx.params.get("change") == MeetingStatus.CANCELLED:
            return Rendered(
                _(
                    "❗ <b>{committee}</b>: the meeting on {when} is cancelled.",
                    committee=name,
                    when=when,
                )
            )
        text = _("❗ <b>{committee}</b>: the meeting has moved.", committee=name)
        text += "\n" + await meeting_text(ctx.session, meeting)
        chosen = await participation.rsvp_of(ctx.session, meeting.id, member.id)
        return Rendered(text, rsvp_keyboard(meeting, member, chosen))


@renderer(CommitteeNotice.MINUTES)
async def render_minutes(ctx: RenderContext) -> list[Rendered] | None:
    found = await _meeting_and_seat(ctx)
    if found is None or not (found[0].minutes or found[0].minutes_document):
        return None
    meeting, _member = found
    with use_locale(ctx.params.get("locale")):
        head = _(
            "📄 <b>{committee}</b>: minutes of the meeting on {when}",
            committee=name_text(meeting.committee),
            when=when_text(meeting.starts_at, meeting.committee),
        )
        # Minutes are written by the secretary in the committee's working language: as typed.
        body = html.escape(meeting.minutes or "")
        if meeting.minutes_document:
            parts = [Rendered(head, document=meeting.minutes_document)]
            return parts + [Rendered(text) for text in split_text(body)] if body else parts
        return [Rendered(text) for text in split_text(f"{head}\n\n{body}")]


@renderer(CommitteeNotice.QUORUM)
async def render_quorum(ctx: RenderContext) -> Rendered | None:
    meeting = await ctx.session.get(Meeting, ctx.params["meeting_id"])
    if meeting is None or meeting.status != MeetingStatus.PLANNED:
        return None
    p = ctx.params
    return Rendered(
        _(
            "⚠️ <b>{committee}</b>: too few members have confirmed the meeting on {when}.\n"
            "Workers: {workers} of {workers_needed} needed.\n"
            "Management: {managers} of {managers_needed} needed.\n"
            "Please remind them, or move the meeting.",
            committee=name_text(meeting.committee),
            when=when_text(meeting.starts_at, meeting.committee),
            workers=p["workers"],
            workers_needed=p["workers_needed"],
            managers=p["managers"],
            managers_needed=p["managers_needed"],
        )
    )


@renderer(CommitteeNotice.JOIN_REQUEST)
async def render_join_request(ctx: RenderContext) -> Rendered | None:
    member = await ctx.session.get(CommitteeMember, ctx.params["member_id"])
    if member is None or member.status != MemberStatus.PENDING:
        return None
    committee = await members.committee_of(ctx.session, member.committee_id)
    side = _("workers") if member.side == Side.WORKER else _("management")
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ Approve"), callback_data=Decide(member_id=member.id, approve=True))
    builder.button(text=_("✖️ Refuse"), callback_data=Decide(member_id=member.id, approve=False))
    return Rendered(
        _(
            "<b>{committee}</b>: {name} asks to join (side: {side}).",
            committee=name_text(committee),
            name=html.escape(member.display_name),
            side=side,
        ),
        builder.as_markup(),
    )


@renderer(CommitteeNotice.JOINED)
async def render_joined(ctx: RenderContext) -> Rendered | None:
    member = await ctx.session.get(CommitteeMember, ctx.params["member_id"])
    if member is None:
        return None
    committee = await members.committee_of(ctx.session, member.committee_id)
    name = name_text(committee)
    if ctx.params.get("approved"):
        return Rendered(
            _(
                "Welcome to <b>{committee}</b>. You will get meeting reminders here.",
                committee=name,
            ),
            home_markup(),
        )
    return Rendered(_("Your request to join <b>{committee}</b> was not accepted.", committee=name))


@renderer(CommitteeNotice.ACTION)
async def render_action(ctx: RenderContext) -> Rendered | None:
    action = await ctx.session.get(ActionItem, ctx.params["action_id"])
    if action is None or action.status != ActionStatus.OPEN:
        return None
    committee = await members.committee_of(ctx.session, action.committee_id)
    head = (
        _("📌 <b>{committee}</b>: a new action for you.", committee=name_text(committee))
        if ctx.params.get("new")
        else _("⏰ <b>{committee}</b>: your action is due soon.", committee=name_text(committee))
    )
    return Rendered(f"{head}\n{await action_text(ctx.session, action)}", done_keyboard(action))
