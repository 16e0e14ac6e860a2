"""Messages the bot is asked to deliver about reports (outbox renderers): news and handler
messages to a reporter who follows up in her chat, check-ins after closure, alerts to managers."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.delivery import RenderContext, Rendered, renderer
from bot.flows.reports.follow_up import CaseAction, CaseActionKind
from bot.flows.reports.labels import status_label
from bot.i18n import _
from bot.storage.reports import Case, ReportNotice
from services.reports.protocol import CHECKIN_OUTCOME, CRITICAL_ALERT_REASON, TaskKind


@renderer(ReportNotice.UPDATE)
async def render_update(ctx: RenderContext) -> Rendered | None:
    case = await ctx.session.get(Case, ctx.params["case_id"])
    if case is None:
        return None
    return Rendered(
        _(
            "There is news about your report {number}: it is now {status}.",
            number=case.reference,
            status=status_label(case),
        ),
        _open_button(case),
    )


@renderer(ReportNotice.MESSAGE)
async def render_message(ctx: RenderContext) -> Rendered | None:
    case = await ctx.session.get(Case, ctx.params["case_id"])
    if case is None:
        return None
    return Rendered(
        _(
            "The case handler wrote about your report {number}. Open it to read and answer.",
            number=case.reference,
        ),
        _open_button(case),
    )


@renderer(ReportNotice.CHECKIN)
async def render_checkin(ctx: RenderContext) -> Rendered | None:
    case = await ctx.session.get(Case, ctx.params["case_id"])
    if case is None:
        return None
    builder = InlineKeyboardBuilder()
    if ctx.params.get("kind") == CHECKIN_OUTCOME:
        text = _("Your report {number} was closed. Did this help you?", number=case.reference)
        builder.button(
            text=_("Yes"),
            callback_data=CaseAction(action=CaseActionKind.CHECKIN, ref=case.reference, value="ok"),
        )
        builder.button(
            text=_("No"),
            callback_data=CaseAction(action=CaseActionKind.CHECKIN, ref=case.reference, value="no"),
        )
    else:
        text = _(
            "Since your report {number}, has anyone treated you badly because of it?",
            number=case.reference,
        )
        builder.button(
            text=_("Yes"),
            callback_data=CaseAction(
                action=CaseActionKind.CHECKIN, ref=case.reference, value="retaliation"
            ),
        )
        builder.button(
            text=_("No"),
            callback_data=CaseAction(action=CaseActionKind.CHECKIN, ref=case.reference, value="ok"),
        )
    return Rendered(text, builder.as_markup())


@renderer(ReportNotice.ALERT)
async def render_alert(ctx: RenderContext) -> Rendered | None:
    reason = {
        CRITICAL_ALERT_REASON: _("a critical report arrived"),
        TaskKind.ACK_DEADLINE: _("not acknowledged in time"),
        TaskKind.TRIAGE_DEADLINE: _("not triaged in time"),
        TaskKind.FOLLOWUP_DEADLINE: _("no follow-up in time"),
    }.get(ctx.params.get("reason", ""), "")
    return Rendered(
        _(
            "⚠️ Case {number} needs attention: {reason}. Open the console to act.",
            number=ctx.params["case_id"],
            reason=reason,
        )
    )


def _open_button(case: Case) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("Open my report"),
        callback_data=CaseAction(action=CaseActionKind.OPEN, ref=case.reference),
    )
    return builder.as_markup()
