"""Domain errors carry a code, data fields and a translatable message; edges translate them."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from bot.i18n import N_, gettext

# Words for a stored key passed as a parameter (a case state in "A case that is triaged…"):
# ``services.labels`` installs its ``label`` here, which this module cannot import (a cycle).
_value_words: Callable[..., str] | None = None


def use_value_words(words: Callable[..., str]) -> None:
    global _value_words
    _value_words = words


def _param(value: Any, locale: str | None) -> Any:
    if isinstance(value, Enum) and _value_words is not None:
        return _value_words(value, locale=locale)
    # Parameters marked with N_ (reasons) are messages too; other values come back unchanged.
    return gettext(value, locale=locale) if isinstance(value, str) else value


class DomainError(Exception):
    """Raised by services when a request breaks a rule. ``message`` is an untranslated msgid."""

    code = "invalid"
    message = N_("That could not be done.")
    status = 400  # for the console

    def __init__(self, message: str | None = None, /, **params: Any) -> None:
        # ``code`` is a class attribute: keyword arguments are all message parameters.
        self.message = message or type(self).message
        self.params = params
        super().__init__(self.code)

    def translated(self, locale: str | None = None) -> str:
        params = {k: _param(v, locale) for k, v in self.params.items()}
        return gettext(self.message, locale=locale, **params)

    def __str__(self) -> str:  # English, for operators and tests; never contains worker text
        return gettext(self.message, locale="en", **self.params)


class NotFound(DomainError):
    code = "not_found"
    message = N_("Not found.")
    status = 404


class Forbidden(DomainError):
    code = "forbidden"
    message = N_("You do not have access to this.")
    status = 403


class Conflict(DomainError):
    code = "conflict"
    message = N_("This was changed in the meantime. Please try again.")
    status = 409
