"""The review screen and sending a report: the case is committed, then the messages that carried
her story and her answers are deleted from the chat (a shared phone, review B3), then the receipt
is shown once, with "✅ I wrote it down", which deletes the receipt too."""

from __future__ import annotations

import base64
import contextlib
import logging

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot import voice
from bot.flows.reports.intake_draft import Answer, Follow, ReportDraft
from bot.flows.reports.intake_story import delete_messages, story_words
from bot.flows.reports.labels import category_label, harm_label
from bot.i18n import _, ltr_isolate, pgettext
from bot.widgets import home_button, home_markup, main_menu_text
from bot.wizard import Turn
from services.audio.clips import KeyScreen
from services.reports import submission
from services.reports.crypto import keyring

log = logging.getLogger(__name__)
RECEIPT_ROUTER = Router(name=__name__)


class ReceiptNoted(CallbackData, prefix="rn"):
    """The tap on ✅ I wrote it down under a receipt: the receipt message goes."""


def review_text(draft: ReportDraft) -> str:
    # Values in a summary line ("Danger now: Yes"), not answers: some languages word them apart.
    yes, no = pgettext("summary value", "Yes"), pgettext("summary value", "No")
    others = {Answer.YES: yes, Answer.NO: no}.get(draft.others or Answer.UNSURE, _("I don't know"))
    lines = [
        _("Danger now: {value}", value=yes if draft.danger == Answer.YES else no),
        _("Problem: {value}", value=category_label(draft.category) if draft.category else "—"),
        _("What happened: {value}", value=harm_label(draft.harm) if draft.harm else "—"),
        _("Your words: {value}", value=story_words(draft)),
        _("Files: {value}", value=draft.files + draft.voices),  # all she sent, sealed
        _("Others too: {value}", value=others),
        _(
            "Follow-up: {value}",
            value=_("in this chat") if draft.follow == Follow.CHAT else _("receipt number only"),
        ),
        _("Factory may be told: {value}", value=yes if draft.share == Answer.YES else no),
    ]
    return _("<b>Please check your report</b>\n{summary}", summary="\n".join(lines))


async def send_report(turn: Turn[ReportDraft]) -> None:
    data, draft = turn.data, turn.draft
    session, user, settings = data["session"], data.get("user"), data["settings"]
    factory = user.factory if user is not None else None
    if user is None or factory is None or draft.category is None:
        await turn.end()
        await submission.discard_draft(session, draft.draft)
        await turn.message.answer(
            _("Your report was not sent. Nothing was kept."), reply_markup=home_markup()
        )
        return
    intake = submission.Intake(
        category=draft.category,
        harm=draft.harm,
        narrative=None,
        sealed_parts=tuple((base64.b64decode(p.box), p.kid) for p in draft.story),
        danger=draft.danger == Answer.YES,
        affects_others={Answer.YES: True, Answer.NO: False}.get(draft.others or Answer.UNSURE),
        follow_up_in_chat=draft.follow == Follow.CHAT,
        consent_to_share=draft.share == Answer.YES,
        consent_to_name=False,
        language=data["locale"],
        submission_token=draft.token,
    )
    _case, receipt = await submission.do_submit_report(
        session,
        intake,
        keys=keyring(settings),
        secret_key=settings.effective_secret_key,
        reporter_user_id=user.id,
        factory=factory,
        country_code=factory.country_code,
        draft=draft.draft,
    )
    # The receipt is shown only once the case is safely stored.
    await session.commit()
    await turn.end()
    # Nothing that names the case or the worker (H2): a log reader could join either to the other.
    log.info("report.submitted")
    await delete_messages(data["bot"], turn.message.chat.id, draft.chat_trail)
    if receipt is None:  # the same report again (a double tap or a replayed update)
        await turn.message.answer(_("This report was already sent."), reply_markup=home_markup())
        return
    text = _(
        "<b>Your report was received.</b>\nYour receipt number:\n<code>{receipt}</code>\n\n"
        "Write it down and keep it safe. With it you can check your report and talk to the case "
        "handler without giving your name. We will not show it again.\n"
        "You can clear this chat now.",
        receipt=ltr_isolate(receipt),
    )
    if draft.follow == Follow.CHAT:
        text += "\n\n" + _(
            "To open this report in this chat later, you will need the last 4 digits of this "
            "number."
        )
    await voice.answer(turn.message, turn.data, text, receipt_markup(), KeyScreen.RECEIPT)


def receipt_markup() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("✅ I wrote it down"), callback_data=ReceiptNoted().pack()
                )
            ],
            [home_button()],
        ]
    )


@RECEIPT_ROUTER.callback_query(ReceiptNoted.filter())
async def receipt_noted(query: CallbackQuery) -> None:
    await query.answer()
    if not isinstance(query.message, Message):
        return
    with contextlib.suppress(TelegramBadRequest):  # already gone, or too old to delete
        await query.message.delete()
    await query.message.answer(main_menu_text(), reply_markup=home_markup())
