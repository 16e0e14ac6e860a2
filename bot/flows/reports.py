"""Reporting a problem and following it up, anonymously.

Intake: category → what happened → own words or a voice note → optional photo or PDF → danger now?
(helplines at once) → does it affect others → how to follow up → may the factory be told → review →
send. The receipt is shown once, and only after the case is committed.

Sealed from the first keystroke (DESIGN §4 rule 3): the narrative is sealed with the report public
key the moment it arrives, and files are downloaded and sealed into ``report_draft_files`` at once;
the conversation state (which expires, ``WORKVOICE_DRAFT_TTL_MINUTES``) holds only sealed boxes,
answers to the buttons and a count of files. The review screen therefore cannot, and does not,
repeat the worker's words. Cancelling, sending, /menu, /start or an error clears it.

Following up: a receipt-only reporter's case id is never kept under her Telegram id. After she types
the receipt the state holds only a box sealed to the report public key naming the case (the bot
cannot open it); her message is stored sealed together with that box, and the console attaches it.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import secrets
from datetime import timedelta
from typing import Any

from aiogram import Bot, Dispatcher, F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, ErrorEvent, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import RenderContext, Rendered, renderer
from bot.i18n import _, bidi
from bot.storage.models import Country, User
from bot.storage.reports import Case, ReportNotice
from bot.widgets import (
    MenuAction,
    MenuCallback,
    main_menu_keyboard,
    remove_buttons,
    split_text,
)
from services.clock import utcnow
from services.errors import DomainError
from services.reports import cases, receipts
from services.reports.crypto import keyring
from services.reports.protocol import HARMS_BY_CATEGORY, Category, Harm
from services.reports.protocol import State as CaseState
from workvoice.kernel.settings import Settings

log = logging.getLogger(__name__)
router = Router(name=__name__)
EVIDENCE_MIME = {"application/pdf", "image/jpeg", "image/png"}
# How long after typing her receipt a reporter may write to the handler without typing it again.
REPLY_WINDOW = timedelta(minutes=30)


class Intake(StatesGroup):
    category = State()
    harm = State()
    story = State()
    evidence = State()
    danger = State()
    others = State()
    follow = State()
    share = State()
    review = State()


class FollowUp(StatesGroup):
    receipt = State()
    reply = State()


class Pick(CallbackData, prefix="rp"):
    """An intake answer: ``step`` names the question, ``value`` the choice."""

    step: str
    value: str


class CaseAction(CallbackData, prefix="rc"):
    action: str  # open / reply / checkin
    ref: str  # the case's random reference (open, checkin) or this reply's nonce; never the id
    value: str = ""


# --- labels -------------------------------------------------------------------------------


def category_label(category: Category) -> str:
    return {
        Category.HARASSMENT: _("Harassment, violence or abuse"),
        Category.COMPENSATION: _("Wages, overtime pay or benefits"),
        Category.SAFETY: _("Safety and health"),
        Category.WORKING_TIME: _("Working hours and rest"),
        Category.DISCRIMINATION: _("Unfair treatment or discrimination"),
        Category.FREEDOM_OF_ASSOCIATION: _("Union or workers' committee"),
        Category.CONTRACTS: _("Contract, dismissal or documents"),
        Category.FORCED_LABOUR: _("Forced work or not free to leave"),
        Category.CHILD_LABOUR: _("Child workers"),
        Category.DORMITORY: _("Dormitory or housing"),
        Category.OTHER: _("Something else"),
    }[category]


def harm_label(harm: Harm) -> str:
    return {
        Harm.SEXUAL_HARASSMENT: _("Sexual harassment"),
        Harm.PHYSICAL_VIOLENCE: _("Hitting or physical violence"),
        Harm.VERBAL_ABUSE: _("Shouting, insults or bullying"),
        Harm.THREATS: _("Threats"),
        Harm.CORPORAL_PUNISHMENT: _("Physical punishment"),
        Harm.UNDER_15: _("Children under 15 work here"),
        Harm.UNDER_18_HAZARDOUS: _("Under-18s do dangerous work"),
        Harm.NOT_ALLOWED_TO_LEAVE: _("Workers are not allowed to leave"),
        Harm.DOCUMENTS_KEPT: _("My passport or papers are kept"),
        Harm.DEBT: _("I must work to pay a debt"),
        Harm.PUNISHED_FOR_UNION: _("Punished for joining a union"),
        Harm.UNION_BLOCKED: _("Stopped from joining or meeting"),
        Harm.UNPAID_WAGES: _("Wages not paid or paid late"),
        Harm.RETALIATION: _("Punished for speaking up"),
        Harm.PUNISHED_FOR_LEAVING_DANGER: _("Punished for leaving a dangerous place"),
        Harm.OTHER: _("Something else"),
    }[harm]


def status_label(case: Case) -> str:
    if case.state == CaseState.CLOSED:
        return _("closed")
    if case.state in (CaseState.NEW, CaseState.ACKNOWLEDGED):
        return _("received")
    return _("being looked into")


def _keyboard(
    step: str, options: list[tuple[str, str]], *, cancel: bool = True, width: int = 1
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for value, label in options:
        builder.button(text=label, callback_data=Pick(step=step, value=value))
    if cancel:
        builder.button(text=_("✖️ Cancel"), callback_data=Pick(step="cancel", value="1"))
    builder.adjust(width)
    return builder.as_markup()


def yes_no(step: str, *, unsure: bool = False) -> InlineKeyboardMarkup:
    options = [("yes", _("Yes")), ("no", _("No"))] + (
        [("unsure", _("I don't know"))] if unsure else []
    )
    return _keyboard(step, options, width=len(options))


def skip_keyboard(step: str) -> InlineKeyboardMarkup:
    return _keyboard(step, [("skip", _("Skip"))])


# --- intake -------------------------------------------------------------------------------


async def start_report(message: Message, state: FSMContext, user: User | None) -> None:
    if user is None or user.factory is None:
        # A case belongs to a country and its deadlines to its rules: we need the factory first.
        await message.answer(
            _(
                "Please link your factory first: open the link on the factory poster, "
                "or send /start and type the factory code."
            ),
            reply_markup=main_menu_keyboard(),
        )
        return
    await state.set_state(Intake.category)
    await state.set_data(
        {"token": secrets.token_hex(16), "draft": secrets.token_hex(16), "files": 0}
    )
    await message.answer(
        _(
            "What is the problem about? Your report is safe: your name is never shown to the factory."
        ),
        reply_markup=_keyboard("category", [(c.value, category_label(c)) for c in Category]),
    )


@router.message(Command("report"))
async def report_command(message: Message, state: FSMContext, user: User | None) -> None:
    await start_report(message, state, user)


@router.callback_query(MenuCallback.filter(F.action == MenuAction.REPORT))
async def report_menu(query: CallbackQuery, state: FSMContext, user: User | None) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await start_report(query.message, state, user)


async def leave(state: FSMContext, session: AsyncSession | None = None) -> None:
    """End a report draft or a follow-up: the state goes, and so do sealed files not sent."""
    draft = (await state.get_data()).get("draft")
    await state.clear()
    if session is not None and draft:
        await cases.discard_draft(session, draft)


@router.callback_query(Pick.filter(F.step == "cancel"))
async def cancel(query: CallbackQuery, state: FSMContext, session: AsyncSession) -> None:
    await query.answer()
    await leave(state, session)
    if isinstance(query.message, Message):
        await remove_buttons(query.message)
        await query.message.answer(
            _("Your report was not sent. Nothing was kept."), reply_markup=main_menu_keyboard()
        )


@router.callback_query(StateFilter(Intake.category), Pick.filter(F.step == "category"))
async def category_chosen(query: CallbackQuery, callback_data: Pick, state: FSMContext) -> None:
    await query.answer()
    if callback_data.value not in {c.value for c in Category} or not isinstance(
        query.message, Message
    ):
        return
    category = Category(callback_data.value)
    await state.update_data(category=category.value)
    await remove_buttons(query.message)
    harms = HARMS_BY_CATEGORY[category]
    if len(harms) == 1:
        await state.update_data(harm=harms[0].value)
        await ask_story(query.message, state)
        return
    await state.set_state(Intake.harm)
    await query.message.answer(
        _("What happened?"),
        reply_markup=_keyboard("harm", [(h.value, harm_label(h)) for h in harms]),
    )


@router.callback_query(StateFilter(Intake.harm), Pick.filter(F.step == "harm"))
async def harm_chosen(query: CallbackQuery, callback_data: Pick, state: FSMContext) -> None:
    await query.answer()
    data = await state.get_data()
    allowed = {h.value for h in HARMS_BY_CATEGORY[Category(data["category"])]}
    if callback_data.value not in allowed or not isinstance(query.message, Message):
        return
    await state.update_data(harm=callback_data.value)
    await remove_buttons(query.message)
    await ask_story(query.message, state)


async def ask_story(message: Message, state: FSMContext) -> None:
    await state.set_state(Intake.story)
    await message.answer(
        _(
            "Tell us what happened in your own words: when, where, who. You can also send a voice note. "
            "Only the case handler can read it."
        ),
        reply_markup=skip_keyboard("story"),
    )


@router.message(StateFilter(Intake.story), F.text, ~F.text.startswith("/"))
async def story_written(message: Message, state: FSMContext, settings: Settings) -> None:
    text = (message.text or "").strip()
    if len(text) > cases.NARRATIVE_LIMIT:
        await message.answer(
            cases.TextTooLong(limit=cases.NARRATIVE_LIMIT).translated(),
            reply_markup=skip_keyboard("story"),
        )
        return
    keys = keyring(settings)  # sealed before it touches the conversation state (H1)
    await state.update_data(story=[_b64(keys.seal_text(text)), keys.current_id])
    await ask_evidence(message, state)


async def _keep_file(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    settings: Settings,
    bot: Bot,
    kind: str,
    mime: str,
    file_id: str,
) -> None:
    """Download a file now and keep it only sealed; the state just counts it."""
    data = await state.get_data()
    buffer = io.BytesIO()
    await bot.download(file_id, destination=buffer)
    await cases.add_draft_file(
        session, data["draft"], kind, mime, buffer.getvalue(), keys=keyring(settings)
    )
    await state.update_data(files=int(data.get("files", 0)) + 1)


@router.message(StateFilter(Intake.story, Intake.evidence), F.voice)
async def voice_sent(
    message: Message, state: FSMContext, session: AsyncSession, settings: Settings, bot: Bot
) -> None:
    assert message.voice is not None
    if (message.voice.file_size or 0) > cases.EVIDENCE_LIMIT:
        await message.answer(
            _("This file is too big. Please send a photo, a PDF or a voice note under 10 MB.")
        )
        return
    await _keep_file(
        message, state, session, settings, bot, "voice", "audio/ogg", message.voice.file_id
    )
    await message.answer(_("Voice note received."))
    if await state.get_state() == Intake.story.state:
        await ask_evidence(message, state)


@router.callback_query(StateFilter(Intake.story), Pick.filter(F.step == "story"))
async def story_skipped(query: CallbackQuery, state: FSMContext) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await remove_buttons(query.message)
        await ask_evidence(query.message, state)


async def ask_evidence(message: Message, state: FSMContext) -> None:
    await state.set_state(Intake.evidence)
    await message.answer(
        _("You can add a photo or a PDF as evidence now, or tap Skip."),
        reply_markup=skip_keyboard("evidence"),
    )


@router.message(StateFilter(Intake.evidence), F.photo | F.document)
async def evidence_sent(
    message: Message, state: FSMContext, session: AsyncSession, settings: Settings, bot: Bot
) -> None:
    if message.photo:
        photo = message.photo[-1]
        kind, mime, file_id, size = "photo", "image/jpeg", photo.file_id, photo.file_size or 0
    else:
        assert message.document is not None
        kind, mime = "document", message.document.mime_type or ""
        file_id, size = message.document.file_id, message.document.file_size or 0
    if mime not in EVIDENCE_MIME or size > cases.EVIDENCE_LIMIT:
        await message.answer(
            _(
                "This file is too big or of a kind we cannot keep. Please send a photo, "
                "a PDF or a voice note under 10 MB."
            ),
            reply_markup=skip_keyboard("evidence"),
        )
        return
    data = await state.get_data()
    if int(data.get("files", 0)) >= 5:
        await message.answer(_("That is enough files, thank you."))
        await ask_danger(message, state)
        return
    await _keep_file(message, state, session, settings, bot, kind, mime, file_id)
    await message.answer(
        _("File received. Send another, or tap Skip to go on."),
        reply_markup=skip_keyboard("evidence"),
    )


@router.callback_query(StateFilter(Intake.evidence), Pick.filter(F.step == "evidence"))
async def evidence_done(query: CallbackQuery, state: FSMContext) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await remove_buttons(query.message)
        await ask_danger(query.message, state)


async def ask_danger(message: Message, state: FSMContext) -> None:
    await state.set_state(Intake.danger)
    await message.answer(_("Is anyone in danger right now?"), reply_markup=yes_no("danger"))


async def helplines_text(session: AsyncSession, user: User | None) -> str:
    country = (
        await session.get(Country, user.factory.country_code) if user and user.factory else None
    )
    lines = [
        bidi(f"📞 {h['phone']} – {h['label']}") for h in (country.helplines if country else [])
    ]
    if not lines:
        return _("If someone is in danger, call your local emergency number now.")
    return _("If someone is in danger, call now:\n{numbers}", numbers=html.escape("\n".join(lines)))


@router.callback_query(StateFilter(Intake.danger), Pick.filter(F.step == "danger"))
async def danger_answered(
    query: CallbackQuery,
    callback_data: Pick,
    state: FSMContext,
    session: AsyncSession,
    user: User | None,
) -> None:
    await query.answer()
    if not isinstance(query.message, Message):
        return
    await remove_buttons(query.message)
    danger = callback_data.value == "yes"
    await state.update_data(danger=danger)
    if danger:  # before anything else: who to call
        await query.message.answer(await helplines_text(session, user))
    await state.set_state(Intake.others)
    await query.message.answer(
        _("Does this also happen to other workers?"), reply_markup=yes_no("others", unsure=True)
    )


@router.callback_query(StateFilter(Intake.others), Pick.filter(F.step == "others"))
async def others_answered(query: CallbackQuery, callback_data: Pick, state: FSMContext) -> None:
    await query.answer()
    if not isinstance(query.message, Message):
        return
    await remove_buttons(query.message)
    await state.update_data(others={"yes": True, "no": False}.get(callback_data.value))
    await state.set_state(Intake.follow)
    await query.message.answer(
        _(
            "How do you want to follow your report?\n"
            "• <b>Receipt number only</b>: the most private. Nothing links the report to this phone.\n"
            "• <b>In this chat</b>: we can send you news and questions here."
        ),
        reply_markup=_keyboard(
            "follow", [("receipt", _("🔢 Receipt number only")), ("chat", _("💬 In this chat"))]
        ),
    )


@router.callback_query(StateFilter(Intake.follow), Pick.filter(F.step == "follow"))
async def follow_chosen(query: CallbackQuery, callback_data: Pick, state: FSMContext) -> None:
    await query.answer()
    if not isinstance(query.message, Message):
        return
    await remove_buttons(query.message)
    await state.update_data(chat=callback_data.value == "chat")
    await state.set_state(Intake.share)
    await query.message.answer(
        _("May we tell the factory about the problem so it can be fixed? We never give your name."),
        reply_markup=yes_no("share"),
    )


@router.callback_query(StateFilter(Intake.share), Pick.filter(F.step == "share"))
async def share_answered(query: CallbackQuery, callback_data: Pick, state: FSMContext) -> None:
    await query.answer()
    if not isinstance(query.message, Message):
        return
    await remove_buttons(query.message)
    await state.update_data(share=callback_data.value == "yes")
    data = await state.get_data()
    await state.set_state(Intake.review)
    yes, no = _("Yes"), _("No")
    summary = "\n".join(
        [
            _("Problem: {value}", value=category_label(Category(data["category"]))),
            _("What happened: {value}", value=harm_label(Harm(data["harm"]))),
            # Sealed when it arrived: not even this screen can read it back.
            _(
                "Your words: {value}",
                value=_("received and sealed 🔒") if data.get("story") else "—",
            ),
            _("Files: {value}", value=str(int(data.get("files", 0)))),
            _("Danger now: {value}", value=yes if data.get("danger") else no),
            _(
                "Follow-up: {value}",
                value=_("in this chat") if data.get("chat") else _("receipt number only"),
            ),
            _("Factory may be told: {value}", value=yes if data.get("share") else no),
        ]
    )
    await query.message.answer(
        _("<b>Please check your report</b>\n{summary}", summary=summary),
        reply_markup=_keyboard("send", [("1", _("✅ Send report"))]),
    )


@router.callback_query(StateFilter(Intake.review), Pick.filter(F.step == "send"))
async def send_report(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    user: User | None,
    settings: Settings,
    bot: Bot,
    locale: str,
) -> None:
    await query.answer()
    if not isinstance(query.message, Message) or user is None:
        return
    await remove_buttons(query.message)
    data = await state.get_data()
    factory = user.factory
    if factory is None:
        await leave(state, session)
        return
    story = data.get("story")
    intake = cases.Intake(
        category=Category(data["category"]),
        harm=Harm(data["harm"]),
        narrative=None,
        sealed_narrative=(base64.b64decode(story[0]), story[1]) if story else None,
        danger=bool(data.get("danger")),
        affects_others=data.get("others"),
        follow_up_in_chat=bool(data.get("chat")),
        consent_to_share=bool(data.get("share")),
        consent_to_name=False,
        language=locale,
        submission_token=data["token"],
    )
    _case, receipt = await cases.do_submit_report(
        session,
        intake,
        keys=keyring(settings),
        secret_key=settings.effective_secret_key,
        reporter_user_id=user.id,
        factory=factory,
        country_code=factory.country_code,
        draft=data.get("draft"),
    )
    # The receipt is shown only once the case is safely stored.
    await session.commit()
    await state.clear()
    # Nothing that names the case or the worker (H2): a log reader could join either to the other.
    log.info("report.submitted")
    if receipt is None:  # the same report again (a double tap or a replayed update)
        await query.message.answer(
            _("This report was already sent."), reply_markup=main_menu_keyboard()
        )
        return
    await query.message.answer(
        _(
            "<b>Your report was received.</b>\nYour receipt number:\n<code>{receipt}</code>\n\n"
            "Write it down and keep it safe. With it you can check your report and talk to the case "
            "handler without giving your name. We will not show it again.\n"
            "You can clear this chat now.",
            receipt=bidi(receipt),
        )
    )
    await query.message.answer(_("What would you like to do?"), reply_markup=main_menu_keyboard())


@router.message(StateFilter(Intake))
async def intake_other_input(message: Message) -> None:
    await message.answer(_("Please use the buttons above, or tap Cancel."))


@router.callback_query(StateFilter(None), Pick.filter())
async def draft_expired(query: CallbackQuery) -> None:
    """A button of a report whose draft is gone: it expired (sent and cancelled ones lose their
    buttons). Say so, kindly, rather than nothing."""
    await query.answer()
    if isinstance(query.message, Message):
        await remove_buttons(query.message)
        await query.message.answer(
            _(
                "This unsent report was deleted because it was left for a long time, to keep you "
                "safe. Please start again."
            ),
            reply_markup=main_menu_keyboard(),
        )


@router.error()
async def clear_on_error(event: ErrorEvent, bot: Bot, dispatcher: Dispatcher) -> None:
    """An error in the middle of a report or follow-up ends it (the update's transaction is rolled
    back; sealed files go with the next purge), then the general error reply runs.

    Errors are raised outside the FSM middleware, so the state is looked up here.
    """
    update = event.update
    source = update.message or (update.callback_query.message if update.callback_query else None)
    sender = update.message or update.callback_query
    user = getattr(sender, "from_user", None)
    chat = getattr(source, "chat", None)
    if user is not None and chat is not None:
        state = dispatcher.fsm.get_context(bot, chat_id=chat.id, user_id=user.id)
        current = await state.get_state()
        if current in Intake.__all_states_names__ or current in FollowUp.__all_states_names__:
            await state.clear()
    raise SkipHandler


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- follow-up ----------------------------------------------------------------------------


@router.message(Command("follow"))
async def follow_command(
    message: Message, state: FSMContext, session: AsyncSession, user: User | None
) -> None:
    await show_my_reports(message, state, session, user)


@router.callback_query(MenuCallback.filter(F.action == MenuAction.MY_REPORTS))
async def follow_menu(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, user: User | None
) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await show_my_reports(query.message, state, session, user)


async def show_my_reports(
    message: Message, state: FSMContext, session: AsyncSession, user: User | None
) -> None:
    mine = (
        (
            await session.scalars(
                select(Case)
                .where(Case.reporter_user_id == user.id)
                .order_by(Case.id.desc())
                .limit(10)
            )
        ).all()
        if user
        else []
    )
    builder = InlineKeyboardBuilder()
    for case in mine:
        builder.button(
            text=_("Report {number}: {status}", number=case.reference, status=status_label(case)),
            callback_data=CaseAction(action="open", ref=case.reference),
        )
    builder.adjust(1)
    await leave(state, session)  # an unsent draft or a case open before is forgotten
    await state.set_state(FollowUp.receipt)
    await message.answer(
        _("Type your 16-digit receipt number to see your report."),
        reply_markup=builder.as_markup() if mine else None,
    )


@router.message(StateFilter(FollowUp.receipt), F.text, ~F.text.startswith("/"))
async def receipt_typed(
    message: Message, state: FSMContext, session: AsyncSession, settings: Settings
) -> None:
    import asyncio

    try:
        case = await receipts.access_case_by_receipt(
            session,
            message.text or "",
            secret_key=settings.effective_secret_key,
            chat_ref=str(message.chat.id),
        )
    except DomainError as exc:
        await message.answer(exc.translated())
        return
    if case is None:
        await session.commit()  # count the wrong guess even though nothing was found
        await asyncio.sleep(receipts.GUESS_DELAY_SECONDS)
        await message.answer(receipts.ReceiptNotFound().translated())
        return
    digits = receipts.normalise(message.text or "")
    assert digits is not None
    # Handler messages open with the key from the receipt, now, and the key is then forgotten.
    key = await cases.reporter_key(case, digits)
    await show_case(
        message,
        state,
        case,
        settings,
        cases.messages_for_reporter(case, settings.effective_secret_key, key),
    )


@router.callback_query(CaseAction.filter(F.action == "open"))
async def open_own_case(
    query: CallbackQuery,
    callback_data: CaseAction,
    state: FSMContext,
    session: AsyncSession,
    user: User | None,
    settings: Settings,
) -> None:
    case = await _own_case(session, user, callback_data.ref)
    if case is None or not isinstance(query.message, Message):
        await query.answer(_("This button is no longer active."))
        return
    await query.answer()
    await show_case(
        query.message,
        state,
        case,
        settings,
        cases.messages_for_reporter(case, settings.effective_secret_key),
    )


async def _own_case(session: AsyncSession, user: User | None, reference: str) -> Case | None:
    """A case this chat may open without a receipt: only one its reporter chose to follow here."""
    if user is None:
        return None
    return await session.scalar(
        select(Case).where(Case.reference == reference, Case.reporter_user_id == user.id)
    )


async def show_case(
    message: Message,
    state: FSMContext,
    case: Case,
    settings: Settings,
    conversation: list[tuple[Any, str | None, bool]],
) -> None:
    lines = [
        _("<b>Report {number}</b>: {status}", number=case.reference, status=status_label(case))
    ]
    for at, text, from_handler in conversation[-10:]:
        if text is None:
            if not from_handler:  # her own words: only the case handler can open them
                lines.append(_("<b>You</b> wrote on {date}.", date=at.strftime("%Y-%m-%d")))
            continue
        who = _("Case handler") if from_handler else _("You")
        lines.append(f"<b>{who}:</b> {html.escape(text)}")
    if not conversation:
        lines.append(_("No messages yet."))
    builder = InlineKeyboardBuilder()
    await state.clear()
    if case.state != CaseState.CLOSED:
        # Only a box the bot cannot open names the case; the button carries a random nonce.
        nonce = secrets.token_hex(6)
        await state.set_data(
            {
                "reply_to": cases.seal_case_ref(case, keyring(settings)),
                "reply_nonce": nonce,
                "reply_until": (utcnow() + REPLY_WINDOW).isoformat(),
            }
        )
        builder.button(
            text=_("✍️ Write to the case handler"),
            callback_data=CaseAction(action="reply", ref=nonce),
        )
    builder.button(text=_("🏠 Main menu"), callback_data=MenuCallback(action=MenuAction.HOME))
    builder.adjust(1)
    parts = split_text("\n".join(lines))  # each line is whole HTML, so splitting at lines is safe
    for part in parts[:-1]:
        await message.answer(part)
    await message.answer(parts[-1], reply_markup=builder.as_markup())


def _reply_open(data: dict[str, Any]) -> bool:
    until = data.get("reply_until")
    return bool(data.get("reply_to")) and until is not None and utcnow().isoformat() < until


@router.callback_query(CaseAction.filter(F.action == "reply"))
async def reply_start(query: CallbackQuery, callback_data: CaseAction, state: FSMContext) -> None:
    data = await state.get_data()
    if not isinstance(query.message, Message):
        await query.answer()
        return
    if data.get("reply_nonce") != callback_data.ref or not _reply_open(data):
        # Replying needs the receipt (or this chat's link) checked a short while ago.
        await query.answer()
        await state.clear()
        await query.message.answer(
            _("For your safety, please open your report again before writing."),
            reply_markup=main_menu_keyboard(),
        )
        return
    await query.answer()
    await state.set_state(FollowUp.reply)
    await query.message.answer(_("Write your message to the case handler."))


@router.message(StateFilter(FollowUp.reply), F.text, ~F.text.startswith("/"))
async def reply_written(
    message: Message, state: FSMContext, session: AsyncSession, settings: Settings
) -> None:
    data = await state.get_data()
    if not _reply_open(data):
        await state.clear()
        await message.answer(
            _("For your safety, please open your report again before writing."),
            reply_markup=main_menu_keyboard(),
        )
        return
    await cases.do_queue_reporter_message(
        session, data["reply_to"], message.text or "", keys=keyring(settings)
    )
    await state.clear()
    await message.answer(
        _("Your message was sent to the case handler."), reply_markup=main_menu_keyboard()
    )


@router.callback_query(CaseAction.filter(F.action == "checkin"))
async def checkin_answered(
    query: CallbackQuery,
    callback_data: CaseAction,
    session: AsyncSession,
    user: User | None,
    settings: Settings,
) -> None:
    await query.answer()
    case = await _own_case(session, user, callback_data.ref)
    if case is None or not isinstance(query.message, Message):
        return
    await remove_buttons(query.message)
    if callback_data.value == "retaliation":
        await cases.do_reopen_as_retaliation(session, case, keys=keyring(settings))
        await query.message.answer(
            _("We are sorry. We opened a new case about this and will contact you here.")
        )
        return
    await query.message.answer(_("Thank you for telling us."))


# --- messages the bot is asked to deliver --------------------------------------------------


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
    if ctx.params.get("kind") == "outcome":
        text = _("Your report {number} was closed. Did this help you?", number=case.reference)
        builder.button(
            text=_("Yes"),
            callback_data=CaseAction(action="checkin", ref=case.reference, value="ok"),
        )
        builder.button(
            text=_("No"), callback_data=CaseAction(action="checkin", ref=case.reference, value="no")
        )
    else:
        text = _(
            "Since your report {number}, has anyone treated you badly because of it?",
            number=case.reference,
        )
        builder.button(
            text=_("Yes"),
            callback_data=CaseAction(action="checkin", ref=case.reference, value="retaliation"),
        )
        builder.button(
            text=_("No"), callback_data=CaseAction(action="checkin", ref=case.reference, value="ok")
        )
    return Rendered(text, builder.as_markup())


@renderer(ReportNotice.ALERT)
async def render_alert(ctx: RenderContext) -> Rendered | None:
    reason = {
        "critical": _("a critical report arrived"),
        "ack_deadline": _("not acknowledged in time"),
        "triage_deadline": _("not triaged in time"),
        "followup_deadline": _("no follow-up in time"),
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
        text=_("Open my report"), callback_data=CaseAction(action="open", ref=case.reference)
    )
    return builder.as_markup()
