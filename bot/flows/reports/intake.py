"""Filing a report: category → what happened → own words or a voice note → optional photo or PDF
→ danger now? (helplines at once) → does it affect others → how to follow up → may the factory be
told → review → send. The receipt is shown once, and only after the case is committed.

The narrative is sealed the moment it arrives and files are downloaded and sealed into draft files
at once; the conversation state holds only sealed boxes, answers to the buttons and a count of
files, so the review screen cannot repeat the worker's words.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import secrets

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.flows.reports.labels import category_label, harm_label
from bot.i18n import _, bidi
from bot.storage.models import Country, User
from bot.widgets import (
    MenuAction,
    MenuCallback,
    home_markup,
    link_factory_markup,
    main_menu_keyboard,
    remove_buttons,
)
from services.reports import cases, submission
from services.reports.crypto import keyring
from services.reports.protocol import HARMS_BY_CATEGORY, Category, Harm
from workvoice.kernel.settings import Settings

log = logging.getLogger(__name__)
router = Router(name=__name__)
EVIDENCE_MIME = {"application/pdf", "image/jpeg", "image/png"}
MAX_EVIDENCE_FILES = 5  # photos and documents one report may carry


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


class Pick(CallbackData, prefix="rp"):
    """An intake answer: ``step`` names the question, ``value`` the choice."""

    step: str
    value: str


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


async def start_report(message: Message, state: FSMContext, user: User | None) -> None:
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


@router.callback_query(MenuCallback.filter(F.action == MenuAction.HELP_NOW))
async def help_now(query: CallbackQuery, session: AsyncSession, user: User | None) -> None:
    """Who to call, at once, from the menu: a worker in danger should not go through a form."""
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(await helplines_text(session, user), reply_markup=home_markup())


async def leave(state: FSMContext, session: AsyncSession | None = None) -> None:
    """End a report draft or a follow-up: the state goes, and so do sealed files not sent."""
    draft = (await state.get_data()).get("draft")
    await state.clear()
    if session is not None and draft:
        await submission.discard_draft(session, draft)


# Only while a report is being written: an old report's Cancel tapped later, in a survey or a
# follow-up, must not end that conversation (the fallback calls it no longer active).
@router.callback_query(StateFilter(Intake), Pick.filter(F.step == "cancel"))
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
    if len(text) > submission.NARRATIVE_LIMIT:
        await message.answer(
            cases.TextTooLong(limit=submission.NARRATIVE_LIMIT).translated(),
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
    await submission.add_draft_file(
        session, data["draft"], kind, mime, buffer.getvalue(), keys=keyring(settings)
    )
    await state.update_data(files=int(data.get("files", 0)) + 1)


@router.message(StateFilter(Intake.story, Intake.evidence), F.voice)
async def voice_sent(
    message: Message, state: FSMContext, session: AsyncSession, settings: Settings, bot: Bot
) -> None:
    assert message.voice is not None
    if (message.voice.file_size or 0) > submission.EVIDENCE_LIMIT:
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
    if mime not in EVIDENCE_MIME or size > submission.EVIDENCE_LIMIT:
        await message.answer(
            _(
                "This file is too big or of a kind we cannot keep. Please send a photo, "
                "a PDF or a voice note under 10 MB."
            ),
            reply_markup=skip_keyboard("evidence"),
        )
        return
    data = await state.get_data()
    if int(data.get("files", 0)) >= MAX_EVIDENCE_FILES:
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
    intake = submission.Intake(
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
    _case, receipt = await submission.do_submit_report(
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


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
