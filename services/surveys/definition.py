"""What a survey says: questions, options, skip logic and their texts in every language.

A definition is plain data (``SurveyDefinition``), stored as JSON on each survey version and shared
between countries as YAML or JSON files. ``parse_definition`` reads such a file and reports the
first problems with their line, so a country can fix an import without guessing; nothing is stored
from an invalid file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.i18n import N_, override_for
from bot.i18n.languages import LANGUAGES, SOURCE_LOCALE
from services.errors import DomainError

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_QUESTIONS = 40
MAX_OPTIONS = 12
TEXT_LIMIT = 1000  # the longest short-text answer a survey may allow
QUESTION_TEXT_LIMIT = 600
# A reviewed change of a published survey's text: overrides keyed by this plus the survey's key.
SURVEY_CONTEXT = "survey:"
SCALE_FACES = ("😞", "🙁", "😐", "🙂", "😄")  # scale 1–5: faces read without words


class QuestionType(StrEnum):
    SINGLE = "single"
    MULTI = "multi"
    SCALE = "scale"
    YESNO = "yesno"
    NUMBER = "number"
    TEXT = "text"


CHOICE_TYPES = {QuestionType.SINGLE, QuestionType.MULTI}
# Answers that skip logic and charts can count: each is one of a fixed set of values.
COUNTED_TYPES = {QuestionType.SINGLE, QuestionType.MULTI, QuestionType.SCALE, QuestionType.YESNO}

Texts = dict[str, str]


class InvalidDefinition(DomainError):
    code = "invalid_survey"
    message = N_("The survey is not valid: {where}: {reason}")


class InvalidDefinitionAt(InvalidDefinition):
    """The same, for a file: the line of the problem leads, so it can be found in an editor."""

    message = N_("The survey file is not valid: line {line} ({where}): {reason}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Option(_Strict):
    key: str
    text: Texts
    # "Nothing", "None of these": ticking it clears the other ticks of a multiple-choice question
    # and ticking another clears it, so an answer cannot say both.
    exclusive: bool = False


class Condition(_Strict):
    """Show a question only when an earlier question was answered with one of ``equals``."""

    question: str
    equals: list[str] = Field(min_length=1)


class Question(_Strict):
    key: str
    type: QuestionType
    text: Texts
    required: bool = True
    options: list[Option] = Field(default_factory=list)
    min: float | None = None
    max: float | None = None
    max_length: int = Field(default=200, ge=1, le=TEXT_LIMIT)
    show_if: Condition | None = None

    def values(self) -> list[str]:
        """The answer values a counted question can take, in display order."""
        if self.type in CHOICE_TYPES:
            return [o.key for o in self.options]
        if self.type == QuestionType.SCALE:
            return ["1", "2", "3", "4", "5"]
        if self.type == QuestionType.YESNO:
            return ["yes", "no"]
        return []


class SurveyDefinition(_Strict):
    key: str
    title: Texts
    intro: Texts = Field(default_factory=dict)
    thanks: Texts = Field(default_factory=dict)
    source_locale: str = SOURCE_LOCALE
    questions: list[Question] = Field(min_length=1, max_length=MAX_QUESTIONS)

    @field_validator("source_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError("unknown language")
        return value

    def question(self, key: str) -> Question | None:
        return next((q for q in self.questions if q.key == key), None)

    def index_of(self, key: str) -> int:
        return next(i for i, q in enumerate(self.questions) if q.key == key)

    def text(self, texts: Texts, locale: str) -> str:
        """A text in the reader's language (as a translator changed it, if one did:
        ``services.content_reviews``), else in the survey's source language."""
        source = texts.get(self.source_locale, "")
        if source and locale != self.source_locale:
            changed = override_for(locale, source, f"{SURVEY_CONTEXT}{self.key}")
            if changed:
                return changed[0]
        return texts.get(locale) or source or next(iter(texts.values()), "")

    def locales(self) -> list[str]:
        """Languages in which every text of the survey is written."""
        slots = [texts for _path, texts in text_slots(self)]
        return [code for code in LANGUAGES if all(t.get(code) for t in slots)]


def plain_number(value: float | None) -> str:
    """A bound or an example as people write it: 100, not 100.0."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def text_slots(definition: SurveyDefinition) -> Iterator[tuple[str, Texts]]:
    """Every translatable text with a stable path (``q.mood``, ``q.mood.o.bad``, ``title`` ...)."""
    yield "title", definition.title
    if definition.intro:
        yield "intro", definition.intro
    if definition.thanks:
        yield "thanks", definition.thanks
    for q in definition.questions:
        yield f"q.{q.key}", q.text
        for o in q.options:
            yield f"q.{q.key}.o.{o.key}", o.text


def coverage(definition: SurveyDefinition) -> dict[str, tuple[int, int]]:
    """For each language: (texts written, texts in all). The builder shows it as a percentage."""
    slots = [texts for _path, texts in text_slots(definition)]
    return {code: (sum(1 for t in slots if t.get(code)), len(slots)) for code in LANGUAGES}


def with_translation(
    definition: SurveyDefinition, locale: str, texts: dict[str, str]
) -> SurveyDefinition:
    """A copy with ``texts`` (path → text) written in ``locale``; empty texts remove a translation."""
    if locale not in LANGUAGES:
        raise InvalidDefinition(where="locale", reason=N_("unknown language"))
    data = definition.model_dump(mode="json")

    def put(target: dict[str, str], path: str) -> None:
        if path not in texts:
            return
        value = texts[path].strip()
        if len(value) > QUESTION_TEXT_LIMIT:
            raise InvalidDefinition(where=path, reason=N_("text too long"))
        if value:
            target[locale] = value
        else:
            target.pop(locale, None)

    for name in ("title", "intro", "thanks"):
        put(data[name], name)
    for q in data["questions"]:
        put(q["text"], f"q.{q['key']}")
        for o in q["options"]:
            put(o["text"], f"q.{q['key']}.o.{o['key']}")
    return validate(data)


# --- validation -------------------------------------------------------------------------------


def _check_texts(where: str, texts: Texts, source: str, problems: list[tuple[str, str]]) -> None:
    if not texts.get(source, "").strip():
        problems.append((where, N_("the text in the survey's source language is missing")))
    for code, value in texts.items():
        if code not in LANGUAGES:
            problems.append((f"{where}.{code}", N_("unknown language")))
        elif len(value) > QUESTION_TEXT_LIMIT:
            problems.append((f"{where}.{code}", N_("text too long")))


def rule_problems(d: SurveyDefinition) -> list[tuple[str, str]]:
    """Problems pydantic's types cannot see: keys, options, bounds, skip logic, texts."""
    problems: list[tuple[str, str]] = []
    if not KEY_PATTERN.match(d.key):
        problems.append(("key", N_("use 1 to 32 lowercase letters, digits, - or _")))
    _check_texts("title", d.title, d.source_locale, problems)
    seen: dict[str, Question] = {}
    for i, q in enumerate(d.questions):
        where = f"questions[{i}]"
        if not KEY_PATTERN.match(q.key):
            problems.append((f"{where}.key", N_("use 1 to 32 lowercase letters, digits, - or _")))
        if q.key in seen:
            problems.append((f"{where}.key", N_("two questions have the same key")))
        _check_texts(f"{where}.text", q.text, d.source_locale, problems)
        if q.type in CHOICE_TYPES:
            if not 2 <= len(q.options) <= MAX_OPTIONS:
                problems.append((f"{where}.options", N_("a choice question needs 2 to 12 options")))
            keys = [o.key for o in q.options]
            if len(set(keys)) != len(keys):
                problems.append((f"{where}.options", N_("two options have the same key")))
            for j, o in enumerate(q.options):
                if not KEY_PATTERN.match(o.key):
                    problems.append(
                        (
                            f"{where}.options[{j}].key",
                            N_("use 1 to 32 lowercase letters, digits, - or _"),
                        )
                    )
                _check_texts(f"{where}.options[{j}].text", o.text, d.source_locale, problems)
                if o.exclusive and q.type != QuestionType.MULTI:
                    problems.append(
                        (
                            f"{where}.options[{j}].exclusive",
                            N_("only options of a multiple-choice question can be exclusive"),
                        )
                    )
        elif q.options:
            problems.append((f"{where}.options", N_("only choice questions have options")))
        if q.type == QuestionType.NUMBER:
            if q.min is None or q.max is None or q.min >= q.max:
                problems.append((f"{where}.min", N_("a number question needs min below max")))
        elif q.min is not None or q.max is not None:
            problems.append((f"{where}.min", N_("only number questions have bounds")))
        if q.show_if is not None:
            ref = seen.get(q.show_if.question)
            if ref is None:
                problems.append((f"{where}.show_if", N_("it must name an earlier question")))
            elif ref.type not in COUNTED_TYPES:
                problems.append(
                    (f"{where}.show_if", N_("it must name a question with fixed answers"))
                )
            elif not set(q.show_if.equals) <= set(ref.values()):
                problems.append(
                    (f"{where}.show_if", N_("it names an answer the question does not have"))
                )
        seen.setdefault(q.key, q)
    return problems


_PYDANTIC_REASONS = {
    "missing": N_("this field is required"),
    "extra_forbidden": N_("unknown field"),
    "enum": N_("unknown question type"),
    "too_short": N_("too few entries"),
    "too_long": N_("too many entries"),
}


def validate(data: Any, *, lines: dict[tuple[Any, ...], int] | None = None) -> SurveyDefinition:
    """Build a definition from plain data or raise ``InvalidDefinition`` naming the first problem."""
    try:
        definition = SurveyDefinition.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        reason = _PYDANTIC_REASONS.get(error["type"], N_("wrong kind of value"))
        raise _invalid(tuple(error["loc"]), reason, lines) from None
    problems = rule_problems(definition)
    if problems:
        path, reason = problems[0]
        raise _invalid(_loc(path), reason, lines)
    return definition


def _loc(path: str) -> tuple[Any, ...]:
    parts: list[Any] = []
    for piece in path.split("."):
        name, *indexes = piece.replace("]", "").split("[")
        parts.append(name)
        parts.extend(int(i) for i in indexes)
    return tuple(parts)


def _invalid(
    loc: tuple[Any, ...], reason: str, lines: dict[tuple[Any, ...], int] | None
) -> InvalidDefinition:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "-"
    for cut in range(len(loc), -1, -1):  # the nearest enclosing node that has a line
        if lines and loc[:cut] in lines:
            return InvalidDefinitionAt(line=lines[loc[:cut]], where=path, reason=reason)
    return InvalidDefinition(where=path, reason=reason)


# --- files ------------------------------------------------------------------------------------

MAX_FILE_BYTES = 512 * 1024
# A survey is a few levels deep (survey > questions > options > texts); nothing needs more.
MAX_DEPTH = 32


class _Refused(yaml.YAMLError):
    """An anchor, alias or deep nesting: refused where it stands, before anything is built."""

    def __init__(self, mark: yaml.Mark | None) -> None:
        super().__init__()
        self.problem_mark = mark


class _PlainLoader(yaml.SafeLoader):
    """SafeLoader without anchors and aliases: ten lines of ``&a [*b, *b, ...]`` (~340 bytes)
    expand to 10^10 nodes for anything that walks the result (M6). Survey files never need them;
    refusing them while composing keeps every later step linear in the file's size."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _Refused(event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:  # also keeps Python's recursion limit out of reach
                raise _Refused(event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _load(content: str) -> tuple[yaml.Node | None, Any]:
    """One pass: the node tree (for lines) and the plain data built from it."""
    loader = _PlainLoader(content)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


def parse_definition(content: str | bytes) -> SurveyDefinition:
    """Read a YAML or JSON survey file (JSON is YAML too), reporting problems with their line.

    Synchronous and CPU-bound: callers on an event loop run it in a thread."""
    size = len(content.encode("utf-8")) if isinstance(content, str) else len(content)
    if size > MAX_FILE_BYTES:
        raise InvalidDefinition(where="-", reason=N_("the file is too large"))
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidDefinition(where="-", reason=N_("the file is not UTF-8 text")) from None
    try:
        node, data = _load(content)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = N_("this is not valid YAML or JSON")
        if mark is not None:
            raise InvalidDefinitionAt(line=mark.line + 1, where="-", reason=reason) from None
        raise InvalidDefinition(where="-", reason=reason) from None
    if not isinstance(data, dict):
        raise InvalidDefinition(where="-", reason=N_("the file must describe one survey"))
    try:
        return validate(data)
    except InvalidDefinition:
        if node is None:
            raise
    # Lines only on the error path: validate again, now able to say where the problem is.
    lines: dict[tuple[Any, ...], int] = {}
    _collect_lines(node, (), lines)
    return validate(data, lines=lines)


def _collect_lines(
    node: yaml.Node, loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]
) -> None:
    """Iterative, each node once (the loader refused aliases, so the graph is a tree)."""
    stack: list[tuple[yaml.Node, tuple[Any, ...]]] = [(node, loc)]
    seen: set[int] = set()
    while stack:
        current, where = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        lines.setdefault(where, current.start_mark.line + 1)
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                # A key's own line, not its value's (a list value starts on the next line).
                lines[(*where, key_node.value)] = key_node.start_mark.line + 1
                stack.append((value_node, (*where, key_node.value)))
        elif isinstance(current, yaml.SequenceNode):
            for i, item in enumerate(current.value):
                stack.append((item, (*where, i)))


def to_yaml(definition: SurveyDefinition) -> str:
    return yaml.safe_dump(
        dump(definition), allow_unicode=True, sort_keys=False, width=100, default_flow_style=False
    )


def to_json(definition: SurveyDefinition) -> str:
    return json.dumps(dump(definition), ensure_ascii=False, indent=2) + "\n"


def dump(definition: SurveyDefinition) -> dict[str, Any]:
    """Plain data without empty defaults, as people write the files by hand."""
    return definition.model_dump(mode="json", exclude_defaults=True)
