"""Words a worker can type instead of the commands (review B12): "help", "menu", "stop", "delete"
and "cancel" in each of the 16 languages, whatever the phone's language.

Each keyword is one msgid whose translation lists the accepted words separated by "|", so
translators can add the words workers really use. Every language's words are accepted in every
language (a migrant's phone and chat often differ); a test checks that no word means two things.
A word counts only as the whole message, and only where no step is waiting for typed text.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum
from functools import cache
from typing import Any

from aiogram.filters import BaseFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from bot import wizard
from bot.i18n import N_, gettext
from bot.i18n.languages import LANGUAGES, SOURCE_LOCALE


class Keyword(StrEnum):
    HELP = "help"
    MENU = "menu"
    STOP = "stop"
    DELETE = "delete"
    CANCEL = "cancel"


WORDS: dict[Keyword, str] = {
    # Translators: words a worker may type to get help, separated by |. Add the words workers use.
    Keyword.HELP: N_("help|support"),
    # Translators: words a worker may type to see the main menu, separated by |.
    Keyword.MENU: N_("menu|main menu"),
    # Translators: words a worker may type to stop news and survey invitations, separated by |.
    Keyword.STOP: N_("stop|unsubscribe"),
    # Translators: words a worker may type to delete their data, separated by |.
    Keyword.DELETE: N_("delete|delete my data"),
    # Translators: words a worker may type to cancel what they are doing, separated by |.
    Keyword.CANCEL: N_("cancel"),
}
_EDGES = " \t\n.!?¿¡,;:/؟،।॥።፧。\u200f\u200e\u200d\u200c"


def normalise(text: str) -> str:
    words = unicodedata.normalize("NFC", text).casefold().strip(_EDGES).split()
    return " ".join(words)


@cache
def table() -> dict[str, Keyword]:
    """Every accepted word, in every language, and the keyword it means."""
    found: dict[str, Keyword] = {}
    for keyword, msgid in WORDS.items():
        for code in (SOURCE_LOCALE, *LANGUAGES):
            for word in gettext(msgid, locale=code).split("|"):
                if clean := normalise(word):
                    found.setdefault(clean, keyword)
    return found


def keyword_of(text: str | None) -> Keyword | None:
    if not text or len(text) > 40:
        return None
    return table().get(normalise(text))


async def typed_text_awaited(state: FSMContext) -> bool:
    """Is a step waiting for typed text? Unknown conversation states count as waiting: a flow
    not on the wizard yet may be asking for a story or an answer."""
    name = await state.get_state()
    if name is None:
        return False
    flow = wizard.active(name)
    step = await flow.current(state) if flow is not None else None
    if flow is None or step is None:
        return True
    found = flow.steps[step]
    return found.parse is not None or found.on_message is not None


class TypedKeyword(BaseFilter):
    """A message that is one of the keywords, where no step waits for text: ``keyword`` for the
    handler."""

    async def __call__(self, message: Message, state: FSMContext) -> bool | dict[str, Any]:
        keyword = keyword_of(message.text)
        if keyword is None or await typed_text_awaited(state):
            return False
        return {"keyword": keyword}
