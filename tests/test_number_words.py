"""Numbers as a worker types them (``services.surveys.numbers``): digits of every script and the
words for one to ten in every language, which translators keep in the surveys catalog."""

from __future__ import annotations

import sys
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from bot.i18n import gettext
from bot.i18n.languages import LANGUAGES
from services.surveys import numbers
from services.surveys.answering import InvalidAnswer, value_by_number
from services.surveys.definition import Option, Question, QuestionType

# The zero of every decimal digit set Unicode knows (০, ٠, ០, ၀, ௦, ...): ten digits follow each.
ZEROS = [
    chr(c)
    for c in range(sys.maxunicode + 1)
    if unicodedata.category(chr(c)) == "Nd" and unicodedata.decimal(chr(c)) == 0
]


def written(value: int, zero: str) -> str:
    return "".join(chr(ord(zero) + int(d)) for d in str(value))


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(ZEROS))
def test_digits_of_any_script_are_read(value: int, zero: str) -> None:
    assert numbers.number_of(written(value, zero)) == value


@given(st.integers(min_value=1, max_value=10), st.sampled_from(list(LANGUAGES)), st.data())
def test_each_language_s_words_mean_their_number(
    number: int, locale: str, data: st.DataObject
) -> None:
    words = [w for w in gettext(numbers.WORDS[number], locale=locale).split("|") if w.strip()]
    word = data.draw(st.sampled_from(words))
    # As typed on a phone: capitals, spaces, a full stop of her script.
    typed = data.draw(st.sampled_from([word, f" {word} ", f"{word}.", f"{word}।", word.upper()]))
    assert numbers.number_of(typed, locale) == number


def test_no_word_means_two_numbers_in_one_language() -> None:
    for locale in LANGUAGES:
        seen: dict[str, int] = {}
        for number, msgid in numbers.WORDS.items():
            for word in gettext(msgid, locale=locale).split("|"):
                clean = numbers.normalise(word)
                assert seen.setdefault(clean, number) == number, (locale, word)


@given(st.text(max_size=60))
def test_any_text_is_a_number_or_nothing(text: str) -> None:
    value = numbers.number_of(text)
    assert value is None or value >= 0


@given(st.integers(min_value=-3, max_value=15))
def test_a_number_picks_the_button_in_its_place(number: int) -> None:
    question = Question(
        key="shift",
        type=QuestionType.SINGLE,
        text={"en": "Which shift?"},
        options=[Option(key=k, text={"en": k}) for k in ("day", "evening", "night")],
    )
    if 1 <= number <= 3:
        assert value_by_number(question, number) == ["day", "evening", "night"][number - 1]
    else:
        try:
            value_by_number(question, number)
        except InvalidAnswer:
            return
        raise AssertionError("a number with no button was taken")
