"""Messages the bot is asked to deliver about reports (outbox renderers): news, handler messages
and check-ins to a reporter who follows up in her chat, alerts to staff.

What reaches a reporter is neutral: a notification preview or a glance at the phone shows neither
the report, its number nor its status (review B3). The button opens the follow-up, which asks for
the last 4 digits of the receipt first; a check-in's question is asked only then.
"""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.delivery import RenderContext, Rendered, renderer
from bot.i18n import _
from bot.storage.reports import Case, ReportNotice
from bot.widgets import MenuAction, MenuCallback
from services.reports.alerts import alert_text, case_link


async def _neutral(ctx: RenderContext) -> Rendered | None:
    if await ctx.session.get(Case, ctx.params["case_id"]) is None:
        return None
    return Rendered(_("You have a new message in workvoice."), _open_button())


# News, a handler's message and a check-in all look alike from outside.
render_update = renderer(ReportNotice.UPDATE)(_neutral)
render_message = renderer(ReportNotice.MESSAGE)(_neutral)
render_checkin = renderer(ReportNotice.CHECKIN)(_neutral)


@renderer(ReportNotice.ALERT)
async def render_alert(ctx: RenderContext) -> Rendered | None:
    """A staff alert: "Case 23 needs you" and a link; nothing of the case on a lock screen."""
    case_id = int(ctx.params["case_id"])
    return Rendered(alert_text(case_id, case_link(ctx.settings, case_id))[1])


def _open_button() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("📬 Open"), callback_data=MenuCallback(action=MenuAction.MY_REPORTS))
    return builder.as_markup()
