"""Following a report up, a wizard (``bot.wizard``): the receipt (or, for a report followed in
this chat, the last 4 digits of it) → the case → writing to the case handler.

A receipt-only reporter's case id is never kept under her Telegram id. After she types the receipt
the state holds only a box sealed to the report public key naming the case (the bot cannot open
it); what she sends (text, voice notes, photos, PDFs) is stored sealed together with that box, and
the console attaches it.

Text that is no receipt ("hi", "👍") is never a wrong guess (review B2.1). An "in this chat" case
opens only with the last 4 digits of its receipt, and nothing before them names the report or its
status (B3): someone else holding the phone learns only that there is one. Every step has
✖️ Cancel and 🏠, Back goes from writing to the case.
"""

from __future__ import annotations

import asyncio
import html
import io
import secrets
from datetime import timedelta
from enum import StrEnum
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from pydantic import BaseModel

from bot.flows.reports.labels import status_line
from bot.i18n import N_, _, current_locale, format_date, is_rtl, ltr_isolate, pgettext
from bot.storage.reports import Case
from bot.widgets import (
    MenuAction,
    MenuCallback,
    home_markup,
    main_menu_keyboard,
    main_menu_text,
    menu_label,
    split_text,
)
from bot.wizard import Option, Step, Turn, Wizard, leave, markup_of
from services.clock import utcnow
from services.errors import DomainError
from services.reports import receipts
from services.reports.cases import MESSAGE_LIMIT
from services.reports.conversation import (
    PIN_DIGITS,
    RECEIPT_DIGITS,
    FileNotKept,
    NotAReceipt,
    WrongPin,
    access_own_case,
    access_own_case_by_pin,
    do_answer_checkin,
    do_queue_reporter_file,
    do_queue_reporter_message,
    has_own_cases,
    messages_for_reporter,
    pending_checkin,
    reporter_key,
    seal_case_ref,
    typed_digits,
)
from services.reports.crypto import keyring
from services.reports.protocol import CHECKIN_OUTCOME
from services.reports.protocol import State as CaseState
from services.reports.submission import EVIDENCE_LIMIT, do_reopen_as_retaliation

router = Router(name=__name__)
# How long after opening her case a reporter may write to the handler without opening it again.
REPLY_WINDOW = timedelta(minutes=30)
CONVERSATION_SHOWN = 10  # the latest messages of a case shown to its reporter
RECEIPT_EXAMPLE = "1234 5678 9012 3456"
HOME, DONE, CHECKIN_YES, CHECKIN_NO = "home", "done", "ci-yes", "ci-no"
# What text that is no receipt gets when the chat follows a report: its last 4 digits also open it.
OWN_HINT = N_(
    "Please type the last 4 digits of your report's number, or a whole receipt number: 16 digits, "
    "like {example}."
)


class FollowStep(StrEnum):
    RECEIPT = "receipt"
    CASE = "case"
    REPLY = "reply"


class FollowDraft(BaseModel):
    """What the conversation keeps: never the case id, its reference (for a receipt-only case) or
    anything the worker wrote."""

    own: bool = False  # this chat follows a report: the last 4 digits open it
    tapped: str = ""  # the last button tapped on a step
    reply_to: str = ""  # a box sealed to the report public key naming the case
    reply_nonce: str = ""  # the ✍️ button of this opening, not of an older one
    reply_until: str = ""
    closed: bool = False
    checkin: str = ""  # a check-in to ask (cases followed in this chat only)
    own_ref: str = ""  # the reference of a case already linked to this chat, for the check-in
    sent: int = 0


class CaseActionKind(StrEnum):
    OPEN = "open"
    REPLY = "reply"
    CHECKIN = "checkin"


class CaseAction(CallbackData, prefix="rc"):
    """Buttons on report messages sent before follow-up became a wizard: each now opens the
    follow-up, which asks for the receipt or its last 4 digits first."""

    action: CaseActionKind
    ref: str
    value: str = ""


def ltr(text: str) -> str:
    """Receipts and report numbers keep their order in Arabic and Urdu (review B6)."""
    return ltr_isolate(text) if is_rtl(current_locale()) else text


def _home_row(_draft: FollowDraft) -> list[list[Option]]:
    return [[Option(HOME, menu_label(MenuAction.HOME))]]


def _receipt_prompt(draft: FollowDraft) -> str:
    if draft.own:
        return _(
            "You have a report in this chat. To open it, type the last 4 digits of its receipt "
            "number. For another report, type its whole 16-digit receipt number."
        )
    return _("Type your 16-digit receipt number to see your report.")


def _case_options(draft: FollowDraft) -> list[Option]:
    if draft.checkin:
        return [
            Option(CHECKIN_YES, pgettext("answer button", "Yes")),
            Option(CHECKIN_NO, pgettext("answer button", "No")),
        ]
    if draft.closed or not draft.reply_nonce:
        return []
    return [Option(draft.reply_nonce, _("✍️ Write to the case handler"))]


async def start_follow_up(message: Message, state: FSMContext, data: dict[str, Any]) -> None:
    user = data.get("user")
    own = user is not None and await has_own_cases(data["session"], user.id)
    await FOLLOW.start(message, state, data, FollowDraft(own=own))


@router.message(Command("follow"))
async def follow_command(message: Message, state: FSMContext, **data: Any) -> None:
    await start_follow_up(message, state, data)


@router.callback_query(MenuCallback.filter(F.action == MenuAction.MY_REPORTS))
async def follow_menu(query: CallbackQuery, state: FSMContext, **data: Any) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await start_follow_up(query.message, state, data)


@router.callback_query(CaseAction.filter())
async def old_case_button(query: CallbackQuery, state: FSMContext, **data: Any) -> None:
    data.pop("callback_data", None)
    await query.answer()
    if isinstance(query.message, Message):
        await start_follow_up(query.message, state, data)


# --- the receipt step ---------------------------------------------------------------------------


async def _code_typed(turn: Turn[FollowDraft], message: Message) -> None:
    """A receipt, or the last 4 digits of one for a report followed here; anything else is
    answered kindly and not counted, so chatting never locks a worker out (B2.1, B18)."""
    session, settings = turn.data["session"], turn.data["settings"]
    user = turn.data.get("user")
    digits = typed_digits(message.text or "")
    key = None
    try:
        if len(digits) == PIN_DIGITS and turn.draft.own and user is not None:
            case = await access_own_case_by_pin(
                session,
                user.id,
                digits,
                secret_key=settings.effective_secret_key,
                chat_ref=str(message.chat.id),
            )
        elif len(digits) == RECEIPT_DIGITS:
            found = await receipts.access_case_by_receipt(
                session,
                digits,
                secret_key=settings.effective_secret_key,
                chat_ref=str(message.chat.id),
            )
            if found is None:
                raise receipts.ReceiptNotFound()
            case = found
            # Handler messages open with the key from the receipt, now, and it is then forgotten.
            key = await reporter_key(case, digits)
        elif turn.draft.own:
            raise NotAReceipt(OWN_HINT, example=ltr_isolate(RECEIPT_EXAMPLE))
        else:
            raise NotAReceipt(example=ltr_isolate(RECEIPT_EXAMPLE))
    except DomainError as exc:
        if isinstance(exc, receipts.ReceiptNotFound | WrongPin):
            await session.commit()  # count the wrong guess even though nothing was found
            await asyncio.sleep(receipts.GUESS_DELAY_SECONDS)
        await _again(turn, exc.translated())
        return
    await open_case(turn, case, messages_for_reporter(case, settings.effective_secret_key, key))


async def open_case(
    turn: Turn[FollowDraft], case: Case, conversation: list[tuple[Any, str | None, bool]]
) -> None:
    """Show the case and its latest messages, with the case step's buttons under them."""
    draft, user = turn.draft, turn.data.get("user")
    ours = user is not None and case.reporter_user_id == user.id
    draft.closed = case.state == CaseState.CLOSED
    draft.own_ref = case.reference if ours else ""
    draft.checkin = (await pending_checkin(turn.data["session"], case) or "") if ours else ""
    if not draft.closed:
        draft.reply_to = seal_case_ref(case, keyring(turn.data["settings"]))
        draft.reply_nonce = secrets.token_hex(6)
        draft.reply_until = (utcnow() + REPLY_WINDOW).isoformat()
    lines = [status_line(case, ltr(case.reference))]
    for at, text, from_handler in conversation[-CONVERSATION_SHOWN:]:
        if text is None:
            if not from_handler:  # her own words: only the case handler can open them
                lines.append(_("<b>You</b> wrote on {date}.", date=ltr(format_date(at))))
            continue
        who = _("Case handler") if from_handler else _("You")
        lines.append(f"<b>{who}:</b> {html.escape(text)}")
    if not conversation:
        lines.append(_("No messages yet."))
    if draft.checkin == CHECKIN_OUTCOME:
        lines += ["", _("Your report was closed. Did this help you?")]
    elif draft.checkin:
        lines += ["", _("Since your report, has anyone treated you badly because of it?")]
    await turn.state.set_state(FOLLOW.state(FollowStep.CASE))
    turn.step = FollowStep.CASE
    await turn.save()
    screen = FOLLOW.screen(FollowStep.CASE, draft, can_go_back=False)
    parts = split_text("\n".join(lines))  # each line is whole HTML, so splitting at lines is safe
    for part in parts[:-1]:
        await turn.message.answer(part)
    await turn.message.answer(parts[-1], reply_markup=markup_of(screen))


async def _again(turn: Turn[FollowDraft], text: str) -> None:
    """What was wrong, with the step's buttons under it (one message: Cancel and 🏠 stay in
    reach, and the chat does not fill up with the same question)."""
    first = turn.step == FOLLOW.first
    screen = FOLLOW.screen(turn.step, turn.draft, can_go_back=not first)
    await turn.message.answer(text, reply_markup=markup_of(screen))


# --- the case step: write, answer a check-in, or go home ----------------------------------------


def _reply_open(draft: FollowDraft) -> bool:
    return (
        bool(draft.reply_to)
        and bool(draft.reply_until)
        and (utcnow().isoformat() < draft.reply_until)
    )


async def _safety_reopen(turn: Turn[FollowDraft]) -> None:
    await leave(turn.state, turn.data)
    await turn.message.answer(
        _("For your safety, please open your report again before writing."),
        reply_markup=home_markup(),
    )


async def _tapped(turn: Turn[FollowDraft]) -> None:
    """🏠 on any step; a check-in answer or ✍️ on the case step (Done is the wizard's finish)."""
    draft = turn.draft
    if draft.tapped == HOME:
        await leave(turn.state, turn.data)
        await turn.message.answer(main_menu_text(), reply_markup=main_menu_keyboard())
        return
    if turn.step == FollowStep.CASE and draft.tapped in (CHECKIN_YES, CHECKIN_NO):
        await _checkin_answered(turn, yes=draft.tapped == CHECKIN_YES)
        return
    if turn.step == FollowStep.CASE and not _reply_open(draft):
        # Writing needs the receipt (or its last digits) checked a short while ago.
        await _safety_reopen(turn)


async def _checkin_answered(turn: Turn[FollowDraft], *, yes: bool) -> None:
    session, user, kind = turn.data["session"], turn.data.get("user"), turn.draft.checkin
    case = await access_own_case(session, user.id, turn.draft.own_ref) if user else None
    await turn.end()
    if case is None:
        await turn.message.answer(_("This button is no longer active."), reply_markup=home_markup())
        return
    await do_answer_checkin(session, case, kind)
    if yes and kind != CHECKIN_OUTCOME:  # "has anyone treated you badly?" "yes"
        await do_reopen_as_retaliation(session, case, keys=keyring(turn.data["settings"]))
        await turn.message.answer(
            _("We are sorry. We opened a new case about this and will contact you here."),
            reply_markup=home_markup(),
        )
        return
    await turn.message.answer(_("Thank you for telling us."), reply_markup=home_markup())


async def _case_message(turn: Turn[FollowDraft], message: Message) -> None:
    """Typing (or sending a voice note) on the open case is writing to the case handler: it is
    not refused for want of tapping ✍️ first (B5)."""
    draft = turn.draft
    if draft.checkin or draft.closed or not _reply_open(draft):
        await turn.ask()
        return
    await FOLLOW.go(turn, FollowStep.REPLY)
    await _reply_sent(turn, message)


# --- the reply step: text, voice notes, photos and PDFs, until Done -----------------------------


async def _reply_sent(turn: Turn[FollowDraft], message: Message) -> None:
    """Each message goes to the case handler at once, sealed; the step stays for more (B5)."""
    draft = turn.draft
    if not _reply_open(draft):
        await _safety_reopen(turn)
        return
    session, settings = turn.data["session"], turn.data["settings"]
    keys = keyring(settings)
    try:
        kept = await _keep_file(turn, message)
        words = (message.text or message.caption or "").strip()
        # A long text is kept whole, in parts (Telegram itself splits at 4,096 characters).
        for start in range(0, len(words), MESSAGE_LIMIT):
            await do_queue_reporter_message(
                session, draft.reply_to, words[start : start + MESSAGE_LIMIT], keys=keys
            )
        if not kept and not words:
            await _again(
                turn, _("Please write your message, or send a voice note, a photo or a PDF.")
            )
            return
    except DomainError as exc:
        await _again(turn, exc.translated())
        return
    draft.sent += 1
    await turn.save()
    screen = FOLLOW.screen(FollowStep.REPLY, draft)
    await message.answer(
        _("Your message was sent to the case handler.")
        + "\n"
        + _("You can send more: text, a voice note, a photo or a PDF. Tap ✅ Done when finished."),
        reply_markup=markup_of(screen),
    )


async def _keep_file(turn: Turn[FollowDraft], message: Message) -> bool:
    """Download a voice note, photo or PDF and keep it only sealed, like intake evidence."""
    if message.voice:
        kind, mime = "voice", "audio/ogg"
        file_id, size = message.voice.file_id, message.voice.file_size or 0
    elif message.photo:
        kind, mime = "photo", "image/jpeg"
        file_id, size = message.photo[-1].file_id, message.photo[-1].file_size or 0
    elif message.document:
        kind, mime = "document", message.document.mime_type or ""
        file_id, size = message.document.file_id, message.document.file_size or 0
    else:
        return False
    if size > EVIDENCE_LIMIT:
        raise FileNotKept()
    buffer = io.BytesIO()
    await turn.data["bot"].download(file_id, destination=buffer)
    await do_queue_reporter_file(
        turn.data["session"],
        turn.draft.reply_to,
        kind,
        mime,
        buffer.getvalue(),
        keys=keyring(turn.data["settings"]),
    )
    return True


async def _done(turn: Turn[FollowDraft]) -> None:
    sent = turn.draft.sent
    await turn.end()
    await turn.message.answer(
        _("Thank you. The case handler will read what you sent.")
        if sent
        else _("Nothing was sent."),
        reply_markup=home_markup(),
    )


def _after_case(draft: FollowDraft) -> str:
    return FollowStep.REPLY if draft.tapped == draft.reply_nonce else FollowStep.CASE


def _after_reply(draft: FollowDraft) -> str | None:
    return None if draft.tapped == DONE else FollowStep.REPLY


FOLLOW: Wizard[FollowDraft] = Wizard(
    "FollowUp",
    [
        Step(
            name=FollowStep.RECEIPT,
            prompt=_receipt_prompt,
            on_message=_code_typed,
            more_rows=_home_row,
            store="tapped",
            on_answer=_tapped,
            next=FollowStep.CASE,
        ),
        Step(
            name=FollowStep.CASE,
            prompt=lambda d: _("Your report is open. What would you like to do?"),
            options=_case_options,
            on_message=_case_message,
            more_rows=_home_row,
            store="tapped",
            on_answer=_tapped,
            next=_after_case,
            leads_to=(FollowStep.REPLY, FollowStep.CASE),
            back=False,  # the receipt is not kept to show the case again
        ),
        Step(
            name=FollowStep.REPLY,
            prompt=lambda d: _(
                "Write your message to the case handler. You can also send a voice note, a photo "
                "or a PDF."
            ),
            options=lambda d: [Option(DONE, _("✅ Done"))],
            on_message=_reply_sent,
            more_rows=_home_row,
            store="tapped",
            on_answer=_tapped,
            next=_after_reply,
            leads_to=(FollowStep.REPLY,),
        ),
    ],
    draft=FollowDraft,
    finish=_done,
    cancelled=lambda: _("Closed. You can open your report again from the menu."),
    title="Follow up a report",
    sample=FollowDraft(own=True, reply_nonce="sample"),
)
router.include_router(FOLLOW.router)
