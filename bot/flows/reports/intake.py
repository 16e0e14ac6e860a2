"""Filing a report, a wizard (``bot.wizard``): danger now? (helplines at once) → category → what
happened → her own words, in as many messages and voice notes as she needs, until ➡️ Done →
optional photos or PDFs → does it affect others → how to follow up (a warning when nobody could
reach someone in danger) → may the factory be told → review, with ✏️ Change for every answer →
send. The receipt is shown once, only after the case is committed; the messages that carried her
story and the review are deleted from the chat then (a shared phone, review B3).

The narrative is sealed the moment it arrives and files are downloaded and sealed into draft files
at once (``intake_story``); the draft holds only sealed boxes, answers to the buttons, counts and
message ids, so the review screen cannot repeat the worker's words. Leaving the report in any way
(Cancel, /cancel, /start, /menu, 🏠) discards the sealed draft files.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot import wizard
from bot.flows.reports import intake_story
from bot.flows.reports.intake_draft import Answer, Follow, ReportDraft, ReportStep, SealedPart
from bot.flows.reports.intake_send import RECEIPT_ROUTER, review_text, send_report
from bot.flows.reports.labels import category_label, harm_label
from bot.i18n import _, current_locale, pgettext
from bot.storage.models import User
from bot.widgets import MenuAction, MenuCallback, home_markup, link_factory_markup
from bot.wizard import Option, Step, Turn, Wizard
from services import helplines
from services.audio.clips import KeyScreen
from services.reports import submission
from services.reports.protocol import HARMS_BY_CATEGORY, Category, Harm

__all__ = ["MAX_EVIDENCE_FILES", "REPORT", "ReportDraft", "ReportStep", "helplines_text", "leave"]

router = Router(name=__name__)
MAX_EVIDENCE_FILES = intake_story.MAX_EVIDENCE_FILES


class ReviewAction(StrEnum):
    SEND = "send"


def _yes_no(draft: ReportDraft) -> list[Option]:
    return [
        Option(Answer.YES, pgettext("answer button", "Yes")),
        Option(Answer.NO, pgettext("answer button", "No")),
    ]


def _harms(draft: ReportDraft) -> tuple[Harm, ...]:
    return HARMS_BY_CATEGORY[draft.category] if draft.category else ()


async def helplines_text(session: AsyncSession, user: User | None) -> str:
    """Who to call, with names in the worker's language and numbers Telegram links for a tap."""
    country = user.factory.country_code if user and user.factory else None
    lines = await helplines.lines_for(
        session, country, current_locale(), migrant_language=user.locale if user else None
    )
    return helplines.danger_text(lines)


async def _reviewed_edit(turn: Turn[ReportDraft], step: ReportStep) -> bool:
    """While changing an answer from the review, a change that needs another answer asks it next
    (and then the review again). True when it did."""
    if not turn.draft.reviewed:
        return False
    await turn.save()
    await turn.edit(step, then=ReportStep.REVIEW)
    return True


def _warn_receipt_only(draft: ReportDraft) -> bool:
    return draft.danger == Answer.YES and draft.follow == Follow.RECEIPT


async def _danger_answered(turn: Turn[ReportDraft]) -> None:
    if turn.draft.danger == Answer.YES:  # before anything else: who to call
        await turn.message.answer(await helplines_text(turn.data["session"], turn.data.get("user")))
        if _warn_receipt_only(turn.draft):
            await _reviewed_edit(turn, ReportStep.FOLLOW_WARN)


async def _category_answered(turn: Turn[ReportDraft]) -> None:
    harms = _harms(turn.draft)
    if len(harms) == 1:
        turn.draft.harm = harms[0]
    elif turn.draft.harm not in harms:
        turn.draft.harm = None
        await _reviewed_edit(turn, ReportStep.HARM)


async def _follow_answered(turn: Turn[ReportDraft]) -> None:
    if _warn_receipt_only(turn.draft):
        await _reviewed_edit(turn, ReportStep.FOLLOW_WARN)


def _after_category(draft: ReportDraft) -> str:
    return ReportStep.HARM if len(_harms(draft)) > 1 else ReportStep.STORY


def _after_follow(draft: ReportDraft) -> str:
    return ReportStep.FOLLOW_WARN if _warn_receipt_only(draft) else ReportStep.SHARE


# The answers the review can change, in the order of the review screen.
CHANGEABLE: tuple[ReportStep, ...] = (
    ReportStep.DANGER,
    ReportStep.CATEGORY,
    ReportStep.HARM,
    ReportStep.STORY,
    ReportStep.EVIDENCE,
    ReportStep.OTHERS,
    ReportStep.FOLLOW,
    ReportStep.SHARE,
)


def _change_label(step: ReportStep) -> str:
    return {
        ReportStep.DANGER: _("✏️ Danger"),
        ReportStep.CATEGORY: _("✏️ Problem"),
        ReportStep.HARM: _("✏️ What happened"),
        ReportStep.STORY: _("✏️ Your words"),
        ReportStep.EVIDENCE: _("✏️ Files"),
        ReportStep.OTHERS: _("✏️ Others"),
        ReportStep.FOLLOW: _("✏️ Follow-up"),
        ReportStep.SHARE: _("✏️ Factory"),
    }[step]


def _change_rows(draft: ReportDraft) -> list[list[Option]]:
    steps = [s for s in CHANGEABLE if s != ReportStep.HARM or len(_harms(draft)) > 1]
    options = [Option(s, _change_label(s)) for s in steps]
    return [options[i : i + 2] for i in range(0, len(options), 2)]


async def _review_tapped(turn: Turn[ReportDraft]) -> None:
    # The review screen carries her answers: it goes from the chat once the report is sent.
    turn.draft.chat_trail.append(turn.message.message_id)
    action = turn.draft.review_tap
    turn.draft.review_tap = None
    if action == ReviewAction.SEND:
        await send_report(turn)
        return
    turn.draft.reviewed = True
    await turn.save()
    await turn.edit(ReportStep(action or ReportStep.REVIEW), then=ReportStep.REVIEW)


async def _discard(state: FSMContext, draft: ReportDraft, data: dict[str, Any]) -> None:
    """Whatever way she leaves an unsent report, its sealed files go with it."""
    session = data.get("session")
    if session is not None:
        await submission.discard_draft(session, draft.draft)


async def _review_finished(turn: Turn[ReportDraft]) -> None:  # pragma: no cover - review loops
    await turn.ask()


REPORT: Wizard[ReportDraft] = Wizard(
    "report",
    [
        Step(
            name=ReportStep.DANGER,
            prompt=lambda d: _(
                "Your report is safe: your name is never shown to the factory.\n\n"
                "<b>Are you or someone else in danger right now?</b>"
            ),
            options=_yes_no,
            per_row=2,
            on_answer=_danger_answered,
            next=ReportStep.CATEGORY,
            audio=KeyScreen.DANGER,
        ),
        Step(
            name=ReportStep.CATEGORY,
            prompt=lambda d: _("What is the problem about?"),
            options=lambda d: [Option(c, category_label(c)) for c in Category],
            on_answer=_category_answered,
            next=_after_category,
            audio=KeyScreen.REPORT,
            leads_to=(ReportStep.HARM, ReportStep.STORY),
        ),
        Step(
            name=ReportStep.HARM,
            prompt=lambda d: _("What happened?"),
            options=lambda d: [Option(h, harm_label(h)) for h in _harms(d)],
            next=ReportStep.STORY,
        ),
        Step(
            name=ReportStep.STORY,
            prompt=intake_story.story_prompt,
            options=intake_story.done_option,
            store="story_tap",
            on_message=intake_story.story_message,
            next=ReportStep.EVIDENCE,
        ),
        Step(
            name=ReportStep.EVIDENCE,
            prompt=intake_story.evidence_prompt,
            options=intake_story.evidence_done_option,
            store="evidence_tap",
            on_message=intake_story.story_message,
            next=ReportStep.OTHERS,
        ),
        Step(
            name=ReportStep.OTHERS,
            prompt=lambda d: _("Does this also happen to other workers?"),
            options=lambda d: [*_yes_no(d), Option(Answer.UNSURE, _("I don't know"))],
            per_row=2,  # "I don't know" on its own row: three do not fit a 360 dp phone
            next=ReportStep.FOLLOW,
        ),
        Step(
            name=ReportStep.FOLLOW,
            prompt=lambda d: _(
                "How do you want to follow your report?\n"
                "• <b>Receipt number only</b>: the most private. Nothing links the report to this "
                "phone.\n"
                "• <b>In this chat</b>: we can send you news and questions here."
            ),
            options=lambda d: [
                Option(Follow.RECEIPT, _("🔢 Receipt number only")),
                Option(Follow.CHAT, _("💬 In this chat")),
            ],
            on_answer=_follow_answered,
            next=_after_follow,
            leads_to=(ReportStep.FOLLOW_WARN, ReportStep.SHARE),
        ),
        Step(
            name=ReportStep.FOLLOW_WARN,
            prompt=lambda d: _(
                "⚠️ You said someone is in danger. With the receipt number only, nobody can reach "
                "you: we cannot send you help or questions.\n"
                "We suggest <b>In this chat</b>. You can still choose."
            ),
            options=lambda d: [
                Option(Follow.CHAT, _("💬 In this chat")),
                Option(Follow.RECEIPT, _("🔢 Receipt number only")),
            ],
            store="follow",
            next=ReportStep.SHARE,
        ),
        Step(
            name=ReportStep.SHARE,
            prompt=lambda d: _(
                "May we tell the factory about the problem so it can be fixed? "
                "We never give your name."
            ),
            options=_yes_no,
            per_row=2,
            next=ReportStep.REVIEW,
        ),
        Step(
            name=ReportStep.REVIEW,
            prompt=review_text,
            options=lambda d: [Option(ReviewAction.SEND, _("✅ Send report"))],
            more_rows=_change_rows,
            store="review_tap",
            on_answer=_review_tapped,
            next=ReportStep.REVIEW,  # only after a change; sending ends the conversation
        ),
    ],
    draft=ReportDraft,
    finish=_review_finished,
    cancelled=lambda: _("Your report was not sent. Nothing was kept."),
    on_exit=_discard,
    title="Report a problem",
    sample=ReportDraft(
        danger=Answer.YES,
        category=Category.SAFETY,
        harm=Harm.EXITS_LOCKED,
        story=[SealedPart(box="c2VhbGVk", kid="k")],
        voices=1,
        files=2,
        others=Answer.YES,
        follow=Follow.RECEIPT,
        share=Answer.NO,
    ),
)


async def start_report(message: Message, state: FSMContext, data: dict[str, Any]) -> None:
    user: User | None = data.get("user")
    if user is None or user.factory is None:
        # A case belongs to a country and its deadlines to its rules: we need the factory first.
        await message.answer(
            _(
                "Please link your factory first: open the link on the factory poster, "
                "or send /start and type the factory code."
            ),
            reply_markup=link_factory_markup(),
        )
        return
    await REPORT.start(message, state, data)


@router.message(Command("report"))
async def report_command(message: Message, state: FSMContext, **data: Any) -> None:
    await start_report(message, state, data)


@router.callback_query(MenuCallback.filter(F.action == MenuAction.REPORT))
async def report_menu(query: CallbackQuery, state: FSMContext, **data: Any) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await start_report(query.message, state, data)


@router.callback_query(MenuCallback.filter(F.action == MenuAction.HELP_NOW))
async def help_now(query: CallbackQuery, session: AsyncSession, user: User | None) -> None:
    """Who to call, at once, from the menu: a worker in danger should not go through a form."""
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(await helplines_text(session, user), reply_markup=home_markup())


async def leave(state: FSMContext, session: AsyncSession | None = None) -> None:
    """End a report draft or a follow-up: the state goes, and so do sealed files not sent."""
    await wizard.leave(state, {"session": session} if session is not None else {})


router.include_routers(RECEIPT_ROUTER, REPORT.router)
