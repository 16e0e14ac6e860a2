"""Each survey question as a screen (``services.screens.Screen``): the one definition of what a
worker sees, which the bot turns into Telegram buttons and the console's preview into HTML.

No channel here: what a button sends back is the channel's business, given as ``tap(action,
option)``; the console passes nothing (its buttons do nothing). Texts are translated in the
current locale (``bot.i18n.use_locale``).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Collection
from enum import StrEnum

from bot.i18n import _, current_locale, digits, pgettext, use_locale
from services.screens import Button, Screen, rows_of, stack
from services.surveys.answering import Step
from services.surveys.definition import (
    SCALE_FACES,
    Question,
    QuestionType,
    SurveyDefinition,
    plain_number,
)


class Tap(StrEnum):
    """What a survey button does. The values stay as short as they were (callback data has 64
    bytes), so buttons already sitting in workers' chats keep working."""

    START = "go"  # start or resume a wave
    ANSWER = "a"
    TICK = "t"  # tick or untick one option of a multiple-choice question
    DONE = "d"  # done ticking
    SKIP = "s"
    BACK = "b"
    LATER = "p"  # pause: the place is kept
    LISTEN = "l"  # 🔊: the question's recording, and its answers'


TapData = Callable[[Tap, int], str]


SECONDS_PER_QUESTION = 25  # one tap each, some typing: 5 questions ≈ 2 minutes, 17 ≈ 7


def minutes_for(definition: SurveyDefinition) -> int:
    """About how long answering takes, for the invitation (never "1 minutes")."""
    return max(2, round(len(definition.questions) * SECONDS_PER_QUESTION / 60))


def no_data(action: Tap, option: int) -> str:
    return ""


def question_text(definition: SurveyDefinition, question: Question, number: int, total: int) -> str:
    locale = current_locale()
    lines = [
        _(
            "<b>{title}</b> · question {number} of {total}",
            title=html.escape(definition.text(definition.title, locale)),
            number=number,
            total=total,
        ),
        "",
        html.escape(definition.text(question.text, locale)),
    ]
    hint = {
        QuestionType.MULTI: _("Tick all that apply, then tap Done."),
        QuestionType.NUMBER: _(
            "Send a number from {min} to {max}.",
            min=plain_number(question.min),
            max=plain_number(question.max),
        ),
        QuestionType.TEXT: _(
            "Type your answer (up to {limit} characters).", limit=question.max_length
        ),
    }.get(question.type)
    if hint:
        lines += ["", f"<i>{hint}</i>"]
    return "\n".join(lines)


def question_screen(
    definition: SurveyDefinition,
    question: Question,
    *,
    number: int,
    total: int,
    can_go_back: bool,
    selected: Collection[str] = (),
    tap: TapData = no_data,
    audio: bool = False,
) -> Screen:
    """One question: 🔊 first when it has a recording to play, its text and hint, the answers
    (faces in one row, Yes/No in one, options one per row), Done for multiple choice, then
    ⬅️ Back (after the first answer), Skip (when it may be skipped) and ⏸ Later in the last row."""
    locale = current_locale()
    answers: tuple[tuple[Button, ...], ...] = ()
    if question.type == QuestionType.SCALE:
        faces = [
            Button(f"{f} {digits.localize(str(i + 1), locale)}", tap(Tap.ANSWER, i))
            for i, f in enumerate(SCALE_FACES)
        ]
        answers = rows_of(faces, len(faces))
    elif question.type == QuestionType.YESNO:
        answers = (
            (
                Button(pgettext("answer button", "Yes"), tap(Tap.ANSWER, 0)),
                Button(pgettext("answer button", "No"), tap(Tap.ANSWER, 1)),
            ),
        )
    elif question.type in (QuestionType.SINGLE, QuestionType.MULTI):
        multi = question.type == QuestionType.MULTI
        action = Tap.TICK if multi else Tap.ANSWER
        answers = tuple(
            (
                Button(
                    ("✅ " if o.key in selected else "") + definition.text(o.text, locale),
                    tap(action, i),
                ),
            )
            for i, o in enumerate(question.options)
        )
        if multi:
            answers += ((Button(_("Done ➡️"), tap(Tap.DONE, -1)),),)
    nav = []
    if can_go_back:
        nav.append(Button(_("⬅️ Back"), tap(Tap.BACK, -1)))
    if not question.required:
        nav.append(Button(_("Skip"), tap(Tap.SKIP, -1)))
    nav.append(Button(_("⏸ Later"), tap(Tap.LATER, -1)))
    # No words on 🔊: it means the same to a reader of any script, or of none.
    listen = ((Button("🔊", tap(Tap.LISTEN, -1)),),) if audio else ()
    return Screen(
        question_text(definition, question, number, total), stack(listen, answers, (tuple(nav),))
    )


def step_screen(step: Step, tap: TapData, *, audio: bool = False) -> Screen:
    """The question a worker is on, with what she ticked so far."""
    assert step.question is not None
    return question_screen(
        step.definition,
        step.question,
        number=step.number,
        total=step.total,
        can_go_back=bool(step.path),
        selected=step.selected,
        tap=tap,
        audio=audio,
    )


def preview_screens(definition: SurveyDefinition, locale: str) -> list[Screen]:
    """Every question in ``locale`` as a worker meets it answering in order: Back from the
    second on, nothing ticked yet."""
    total = len(definition.questions)
    with use_locale(locale):
        return [
            question_screen(definition, q, number=n, total=total, can_go_back=n > 1)
            for n, q in enumerate(definition.questions, start=1)
        ]
