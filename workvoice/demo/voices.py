"""The demo's recordings, made by speech synthesis (espeak-ng) at seed time, so the 🔊 path can be
tried without recording anything: the main menu and the first question of the wellbeing pulse (with
its answers, if it has any), in Bangla, Arabic and Hindi. Marked as computer voices in the console.

Skipped without a word when espeak-ng or ffmpeg is missing; idempotent (a clip there is kept).
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata

from sqlalchemy import select

from bot.i18n import use_locale
from bot.storage.db import transaction
from bot.storage.surveys import Survey
from services.audio import clips, media
from services.audio.clips import KeyScreen
from services.scope import Scope
from workvoice.context import AppContext

log = logging.getLogger(__name__)

DEMO_LOCALES = ("bn", "ar", "hi")
DEMO_SURVEY = "wellbeing-pulse"


def speakable(text: str) -> str:
    """Words only: emoji and symbols are read out as their names, or not at all."""
    kept = (
        ch if unicodedata.category(ch)[0] in "LNMPZ" else " "
        for ch in unicodedata.normalize("NFC", text)
    )
    return " ".join("".join(kept).split())


def menu_words(locale: str) -> str:
    # The menu's words are the bot's; imported here so the CLI does not load aiogram (6 s).
    from bot.widgets import main_menu_text, menu_labels

    with use_locale(locale):
        labels = ". ".join(speakable(label) for _action, label in menu_labels())
        return f"{speakable(main_menu_text())} {labels}."


async def _texts(ctx: AppContext, locale: str) -> list[tuple[str, str]]:
    """(target, words) of the demo's clips in ``locale``."""
    wanted = [(clips.screen_target(KeyScreen.MENU), menu_words(locale))]
    async with ctx.sessions() as session:
        survey = await session.scalar(select(Survey).where(Survey.key == DEMO_SURVEY))
        if survey is None:
            return wanted
        definition = await clips.survey_definition(session, survey)
    question = definition.questions[0]
    words = speakable(definition.text(question.text, locale))
    for number, option in enumerate(question.options, start=1):
        # Each answer with its number, so she can reply by typing it.
        words += f" {number}. {speakable(definition.text(option.text, locale))}."
    wanted.append((clips.survey_target(survey.key, question.key), words))
    return wanted


async def seed_voices(ctx: AppContext) -> int:
    """Synthesise the demo's clips that are missing; how many were made."""
    if not media.synthesis_available():
        log.info("demo.voices_skipped")
        return 0
    made = 0
    for locale in DEMO_LOCALES:
        for key, words in await _texts(ctx, locale):
            async with transaction(ctx.sessions) as session:
                if await clips.clip_for(session, key, locale) is not None:
                    continue
                voice = await asyncio.to_thread(media.synthesise, words, locale)
                if voice is None:
                    continue
                target = await clips.check_target(session, key, Scope.everywhere())
                await clips.do_store_clip(
                    session, target, locale, voice, actor=None, synthetic=True
                )
                made += 1
    return made
