"""Answering a wave: one question at a time, back and skip, resume later, counted once.

The engine knows nothing of Telegram. A worker's answers so far (the draft) never touch the
database: they wait sealed in the ephemeral survey store (``services.surveys.store``: Redis with a
sliding TTL, or process memory), under a key derived from the secret, the wave and the Telegram
id. The participation row (found by an HMAC of the Telegram id, never the id itself) says only
"started on that day" and "finished on that day".

Finishing marks the participation finished and puts the sealed response (no person key) into the
wave's pending pool; it writes nothing else. The anonymous rows are written later by the batch job
(``services.surveys.batches``), k or more responses at a time in a transaction of their own, so no
transaction id, row position or time joins a participation to its answers (DESIGN §4.1).
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, String, cast, literal_column, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.storage.models import Factory, Gender, User
from bot.storage.surveys import (
    SurveyParticipation,
    SurveyVersion,
    SurveyWave,
)
from services.clock import utcnow
from services.errors import DomainError
from services.onboarding import AgeBand
from services.surveys import numbers
from services.surveys.definition import (
    COUNTED_TYPES,
    Question,
    QuestionType,
    SurveyDefinition,
    plain_number,
)
from services.surveys.participation import participation_of, person_key, today
from services.surveys.store import (
    SurveyStore,
    draft_slot,
    open_draft,
    seal_draft,
    seal_response,
)
from services.surveys.waves import WaveStatus, audience_of, audience_query

Answer = str | list[str] | float
# A multiple-choice answer adds this row besides one per ticked option, so results know how many
# people answered the question (option keys cannot contain "*").
ANSWERED = "*"


class SurveyClosed(DomainError):
    code = "survey_closed"
    message = N_("This survey has closed. Thank you for your interest.")


class AlreadyAnswered(DomainError):
    code = "survey_answered"
    message = N_("You have already answered this survey. Thank you!")


class NotInvited(DomainError):
    code = "survey_not_for_you"
    message = N_("This survey is not open to you.")


class StaleQuestion(DomainError):
    code = "survey_stale"
    message = N_("This question was already answered. Here is where you are now.")


class InvalidAnswer(DomainError):
    code = "survey_invalid_answer"
    message = N_("Please use the buttons to answer.")


class NumberOutOfRange(InvalidAnswer):
    code = "survey_number_range"
    message = N_("Please send a number from {min} to {max}.")


class NotANumber(InvalidAnswer):
    code = "survey_not_number"
    message = N_("Please send a number, for example {example}.")


class AnswerTooLong(InvalidAnswer):
    code = "survey_text_long"
    message = N_("Please keep your answer under {limit} characters.")


class AnswerRequired(InvalidAnswer):
    code = "survey_required"
    message = N_("This question needs an answer.")


@dataclass
class Step:
    """Where a worker is in a wave: the question to show now, or ``done`` when finished."""

    wave: SurveyWave
    definition: SurveyDefinition
    participation: SurveyParticipation
    question: Question | None
    index: int  # the question's position in the definition
    number: int  # "3 of 8": this question's place among those the worker will see
    total: int
    answers: dict[str, Any]
    path: list[int] = field(default_factory=list)  # questions answered before, for "back"
    response_id: int | None = None  # when done: the response now waiting in the pool

    @property
    def done(self) -> bool:
        return self.question is None

    @property
    def selected(self) -> list[str]:
        """Options already ticked on a multiple-choice question."""
        value = self.answers.get(self.question.key) if self.question else None
        return list(value) if isinstance(value, list) else []


# --- which questions a worker sees ------------------------------------------------------------


def is_shown(question: Question, answers: dict[str, Any]) -> bool | None:
    """Whether skip logic shows a question: True, False, or None while its condition is unanswered."""
    condition = question.show_if
    if condition is None:
        return True
    if condition.question not in answers:
        return None
    value = answers[condition.question]
    chosen = set(value) if isinstance(value, list) else {str(value)}
    return bool(chosen & set(condition.equals))


def next_index(definition: SurveyDefinition, answers: dict[str, Any], after: int) -> int | None:
    for i in range(after + 1, len(definition.questions)):
        if is_shown(definition.questions[i], answers):
            return i
    return None


def visible(definition: SurveyDefinition, answers: dict[str, Any]) -> list[int]:
    """Questions the worker will see given what they answered so far; those still depending on an
    unanswered question count, so the total only ever shrinks."""
    return [i for i, q in enumerate(definition.questions) if is_shown(q, answers) is not False]


# --- loading ---------------------------------------------------------------------------------


async def _wave_for(session: AsyncSession, user: User, wave_id: int) -> SurveyWave:
    wave = await session.get(SurveyWave, wave_id)
    if wave is None:
        raise NotInvited()
    if wave.status != WaveStatus.OPEN or wave.ends_at <= utcnow():
        raise SurveyClosed()
    in_audience = await session.scalar(
        audience_query(audience_of(wave)).where(User.id == user.id).limit(1)
    )
    if in_audience is None:
        raise NotInvited()
    return wave


async def _definition(session: AsyncSession, wave: SurveyWave) -> SurveyDefinition:
    version = await session.get(SurveyVersion, wave.version_id)
    assert version is not None
    return SurveyDefinition.model_validate(version.definition)


@dataclass
class Draft:
    """Answers so far, the questions answered before (for "back") and the one being asked."""

    answers: dict[str, Any] = field(default_factory=dict)
    path: list[int] = field(default_factory=list)
    position: int = 0


@dataclass
class Answering:
    """What a worker's answering needs besides the database: whose draft, where it waits."""

    store: SurveyStore
    secret_key: str
    telegram_id: int

    async def load(self, wave: SurveyWave) -> Draft:
        blob = await self.store.get_draft(wave.id, self.slot(wave))
        data = open_draft(self.secret_key, wave.id, self.telegram_id, blob) if blob else None
        if not data:
            return Draft()  # new, expired, or lost with a restart in memory mode: from the start
        return Draft(dict(data["answers"]), list(data["path"]), int(data["position"]))

    async def save(self, wave: SurveyWave, draft: Draft) -> None:
        # Sliding: each answer gives another TTL, but never beyond the wave's end.
        expires_at = min(self.store.now() + self.store.draft_ttl, wave.ends_at)
        data = {"answers": draft.answers, "path": draft.path, "position": draft.position}
        blob = seal_draft(self.secret_key, wave.id, self.telegram_id, data)
        await self.store.put_draft(wave.id, self.slot(wave), blob, expires_at)

    def slot(self, wave: SurveyWave) -> str:
        return draft_slot(self.secret_key, wave.id, self.telegram_id)


def _step(
    wave: SurveyWave,
    definition: SurveyDefinition,
    participation: SurveyParticipation,
    draft: Draft,
) -> Step:
    answers, index = draft.answers, draft.position
    question = definition.questions[index] if index < len(definition.questions) else None
    seen = visible(definition, answers)
    number = seen.index(index) + 1 if index in seen else len(seen)
    return Step(
        wave, definition, participation, question, index, number, len(seen), answers, draft.path
    )


async def answerable(
    session: AsyncSession, user: User, wave: SurveyWave, *, secret_key: str
) -> tuple[SurveyDefinition, bool] | None:
    """Whether this worker may answer ``wave`` now (open, in its audience, not finished), with its
    definition and whether they already started."""
    country = user.factory.country_code if user.factory is not None else None
    if wave.status != WaveStatus.OPEN or wave.ends_at <= utcnow() or country not in wave.countries:
        return None
    query = audience_query(audience_of(wave)).where(User.id == user.id)
    if await session.scalar(query) is None:
        return None
    key = person_key(secret_key, user.telegram_id)
    participation = await participation_of(session, wave, key, create=False)
    if participation is not None and participation.completed_on is not None:
        return None
    return await _definition(session, wave), participation is not None


async def open_waves_for(
    session: AsyncSession, user: User, *, secret_key: str
) -> list[tuple[SurveyWave, SurveyDefinition, bool]]:
    """Open waves this worker may answer, with whether they already started (not finished ones).

    A constant number of statements however many waves are open: the waves of the worker's
    country, then one query each for audience membership, participations and definitions."""
    country = user.factory.country_code if user.factory is not None else None
    if country is None:
        return []
    waves = [
        wave
        for wave in (
            await session.scalars(
                select(SurveyWave)
                .where(
                    SurveyWave.status == WaveStatus.OPEN,
                    SurveyWave.ends_at > utcnow(),
                    _names_country(country),
                )
                .order_by(SurveyWave.ends_at)
            )
        ).all()
        if country in wave.countries  # the text match above only narrows; this decides
    ]
    if not waves:
        return []
    reached = await _waves_reaching(session, user, waves)
    waves = [w for w in waves if w.id in reached]
    if not waves:
        return []
    key = person_key(secret_key, user.telegram_id)
    participations = {
        p.wave_id: p
        for p in (
            await session.scalars(
                select(SurveyParticipation).where(
                    SurveyParticipation.wave_id.in_([w.id for w in waves]),
                    SurveyParticipation.person_key == key,
                )
            )
        ).all()
    }
    definitions = {
        v.id: SurveyDefinition.model_validate(v.definition)
        for v in (
            await session.scalars(
                select(SurveyVersion).where(SurveyVersion.id.in_({w.version_id for w in waves}))
            )
        ).all()
    }
    found = []
    for wave in waves:
        participation = participations.get(wave.id)
        if participation is not None and participation.completed_on is not None:
            continue
        found.append((wave, definitions[wave.version_id], participation is not None))
    return found


def _names_country(country: str) -> Any:
    """A wave whose (JSON) country list may name ``country``: a text match that works on both
    databases; country codes are letters only, so it cannot match more than a quoted code."""
    return cast(SurveyWave.countries, String).like(f'%"{country}"%')


async def _waves_reaching(session: AsyncSession, user: User, waves: list[SurveyWave]) -> set[int]:
    """Which of ``waves`` have ``user`` in their audience, in one statement (``audience_query``
    per wave, united)."""
    each: list[Select[Any]] = [
        audience_query(audience_of(wave))
        .where(User.id == user.id)
        .with_only_columns(
            literal_column(str(int(wave.id))).label("wave_id"), maintain_column_froms=True
        )
        for wave in waves
    ]
    return {int(i) for i in (await session.scalars(union_all(*each))).all()}


async def do_begin(
    session: AsyncSession, user: User, wave_id: int, *, secret_key: str, store: SurveyStore
) -> Step:
    """Start a wave, or come back to it exactly where the worker left off."""
    wave = await _wave_for(session, user, wave_id)
    definition = await _definition(session, wave)
    participation = await participation_of(
        session, wave, person_key(secret_key, user.telegram_id), create=True
    )
    assert participation is not None
    if participation.completed_on is not None:
        raise AlreadyAnswered()
    draft = await Answering(store, secret_key, user.telegram_id).load(wave)
    return _step(wave, definition, participation, draft)


async def _current(
    session: AsyncSession,
    user: User,
    wave_id: int,
    index: int,
    secret_key: str,
    store: SurveyStore,
) -> Step:
    step = await do_begin(session, user, wave_id, secret_key=secret_key, store=store)
    if step.index != index:
        raise StaleQuestion()
    return step


def parse_number(text: str, question: Question) -> float:
    """Digits in any script (০-৯, ០-៩, ٠-٩ ...), a comma or a dot for decimals."""
    cleaned = "".join(
        str(unicodedata.digit(ch)) if ch.isdigit() else ch for ch in text.strip().replace(",", ".")
    )
    try:
        value = float(cleaned)
    except ValueError:
        word = numbers.number_of(text)  # "five", "পাঁচ": one to ten as words
        if word is None:
            raise NotANumber(example=plain_number(question.min or 0)) from None
        value = float(word)
    if value != value or value in (float("inf"), float("-inf")):  # NaN or infinity
        raise NotANumber(example=plain_number(question.min or 0))
    assert question.min is not None and question.max is not None
    if not question.min <= value <= question.max:
        raise NumberOutOfRange(min=plain_number(question.min), max=plain_number(question.max))
    return value


def value_by_number(question: Question, number: int) -> str:
    """The answer a worker means by typing its place among the buttons (1 is the first), for the
    questions answered by buttons; ``InvalidAnswer`` for a number with no button."""
    values = question.values()
    if not 1 <= number <= len(values):
        raise InvalidAnswer()
    return values[number - 1]


def check_answer(question: Question, raw: str) -> Answer:
    """A button's value or typed text, checked against the question."""
    if question.type in COUNTED_TYPES and question.type != QuestionType.MULTI:
        if raw not in question.values():
            raise InvalidAnswer()
        return raw
    if question.type == QuestionType.NUMBER:
        return parse_number(raw, question)
    if question.type == QuestionType.TEXT:
        text = raw.strip()
        if not text:
            raise AnswerRequired()
        if len(text) > question.max_length:
            raise AnswerTooLong(limit=question.max_length)
        return text
    raise InvalidAnswer()


async def _advance(
    session: AsyncSession, user: User, step: Step, answers: dict[str, Any], who: Answering
) -> Step:
    path = [*step.path, step.index]
    nxt = next_index(step.definition, answers, step.index)
    if nxt is None:
        return await _complete(session, user, step, answers, who)
    draft = Draft(answers, path, nxt)
    await who.save(step.wave, draft)
    return _step(step.wave, step.definition, step.participation, draft)


async def do_answer(
    session: AsyncSession,
    user: User,
    wave_id: int,
    index: int,
    raw: str,
    *,
    secret_key: str,
    store: SurveyStore,
) -> Step:
    """Answer the current question (``index`` guards against old buttons) and move on."""
    step = await _current(session, user, wave_id, index, secret_key, store)
    assert step.question is not None
    value = check_answer(step.question, raw)
    who = Answering(store, secret_key, user.telegram_id)
    return await _advance(session, user, step, {**step.answers, step.question.key: value}, who)


async def do_toggle(
    session: AsyncSession,
    user: User,
    wave_id: int,
    index: int,
    option: str,
    *,
    secret_key: str,
    store: SurveyStore,
) -> Step:
    """Tick or untick one option of a multiple-choice question (kept until "Done")."""
    step = await _current(session, user, wave_id, index, secret_key, store)
    question = step.question
    assert question is not None
    if question.type != QuestionType.MULTI or option not in question.values():
        raise InvalidAnswer()
    draft = Draft(
        {**step.answers, question.key: toggled(question, step.selected, option)},
        step.path,
        step.index,
    )
    await Answering(store, secret_key, user.telegram_id).save(step.wave, draft)
    return _step(step.wave, step.definition, step.participation, draft)


def toggled(question: Question, selected: list[str], option: str) -> list[str]:
    """The ticks after a tap on ``option``: ticking an exclusive one ("Nothing") clears the
    others, ticking another clears the exclusive ones; in the question's order."""
    chosen = set(selected) ^ {option}
    if option in chosen:
        exclusive = {o.key for o in question.options if o.exclusive}
        chosen = {option} if option in exclusive else chosen - exclusive
    return [v for v in question.values() if v in chosen]


async def do_finish_choice(
    session: AsyncSession,
    user: User,
    wave_id: int,
    index: int,
    *,
    secret_key: str,
    store: SurveyStore,
) -> Step:
    """ "Done" on a multiple-choice question: at least one option unless it may be skipped."""
    step = await _current(session, user, wave_id, index, secret_key, store)
    assert step.question is not None
    if not step.selected:
        if step.question.required:
            raise AnswerRequired()
        return await do_skip(session, user, wave_id, index, secret_key=secret_key, store=store)
    who = Answering(store, secret_key, user.telegram_id)
    return await _advance(session, user, step, step.answers, who)


async def do_skip(
    session: AsyncSession,
    user: User,
    wave_id: int,
    index: int,
    *,
    secret_key: str,
    store: SurveyStore,
) -> Step:
    step = await _current(session, user, wave_id, index, secret_key, store)
    assert step.question is not None
    if step.question.required:
        raise AnswerRequired()
    answers = {k: v for k, v in step.answers.items() if k != step.question.key}
    return await _advance(
        session, user, step, answers, Answering(store, secret_key, user.telegram_id)
    )


async def do_back(
    session: AsyncSession,
    user: User,
    wave_id: int,
    index: int,
    *,
    secret_key: str,
    store: SurveyStore,
) -> Step:
    """Go back to the question before; its answer can be changed, later answers stay until then."""
    step = await _current(session, user, wave_id, index, secret_key, store)
    path = list(step.path)
    if not path:
        return step
    position = path.pop()
    draft = Draft(step.answers, path, position)
    await Answering(store, secret_key, user.telegram_id).save(step.wave, draft)
    return _step(step.wave, step.definition, step.participation, draft)


async def _complete(
    session: AsyncSession, user: User, step: Step, answers: dict[str, Any], who: Answering
) -> Step:
    """Counted once: only the transaction that marks the participation finished may hand the
    response on, and it writes no answer: the sealed response joins the wave's pending pool (no
    person key in it), for the batch job to write among k or more others."""
    won = await session.execute(
        update(SurveyParticipation)
        .where(
            SurveyParticipation.id == step.participation.id,
            SurveyParticipation.completed_on.is_(None),
        )
        .values(completed_on=today())
        .execution_options(synchronize_session=False)
    )
    if not won.rowcount:  # type: ignore[attr-defined]
        raise AlreadyAnswered()
    factory = await session.get(Factory, user.factory_id) if user.factory_id else None
    group: dict[str, Any] = dict(
        factory_id=factory.id if factory else None,
        country_code=factory.country_code if factory else None,
        language=user.locale or step.definition.source_locale,
        # "Rather not say" and not answering are the same to results: not in that breakdown.
        gender=user.gender if user.gender not in (None, Gender.UNDISCLOSED) else None,
        age_band=user.age_band if user.age_band not in (None, AgeBand.UNDISCLOSED) else None,
    )
    rows = []
    for question in step.definition.questions:
        if question.key not in answers or not is_shown(question, answers):
            continue  # skipped, or hidden by an answer changed after going back
        for row in _answer_rows(question, answers[question.key]):
            rows.append({"question_key": question.key, **row})
    response_id = _random_id()  # also what makes the batch write idempotent
    response = {"id": response_id, "group": group, "answers": rows}
    wave = step.wave
    blob = seal_response(who.secret_key, wave.id, response)
    await who.store.add_pending(wave.id, response_id, blob, keep_until=wave.ends_at)
    await who.store.drop_draft(wave.id, who.slot(wave))
    await session.refresh(step.participation)
    return Step(wave, step.definition, step.participation, None, -1, 0, 0, answers, [], response_id)


async def withdraw(store: SurveyStore, step: Step) -> None:
    """The transaction that marked the participation finished did not commit: take its response
    back out of the pool, or the worker's next try would count twice."""
    if step.response_id is not None:
        await store.remove_pending(step.wave.id, [step.response_id])


def _answer_rows(question: Question, value: Any) -> list[dict[str, Any]]:
    if question.type == QuestionType.MULTI:
        return [{"value": ANSWERED}, *({"value": v} for v in value)]
    if question.type == QuestionType.NUMBER:
        return [{"number": float(value)}]
    if question.type == QuestionType.TEXT:
        return [{"text": str(value)}]
    return [{"value": str(value)}]


def _random_id() -> int:
    # Random, not sequential: ids must not line answers up with the order people finished.
    return secrets.randbits(62) + 1


def thank_you(definition: SurveyDefinition, locale: str) -> str | None:
    return definition.text(definition.thanks, locale) if definition.thanks else None
