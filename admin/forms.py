"""The console's one form pattern: read the form into a pydantic model, run the service verb in a
savepoint, then redirect with a confirmation (POST-redirect-GET), or show the same page again with
the reason and every typed value kept.

A route says only what is particular to it::

    @router.post("/{factory_id}/edit", dependencies=[Depends(verify_csrf)])
    async def edit(request: Request, factory_id: int, staff=Depends(MANAGE), session=DB):
        factory = await load(...)

        async def again(form: FormState) -> Response:
            return await _form_page(request, session, staff, factory, form)

        return await submit(
            request, session, FactoryForm,
            verb=lambda data: do_update_factory(session, factory, data),
            done=f"/factories/{factory.id}", message=_("Saved."), again=again,
        )

Templates use the macros in ``_forms.html`` (CSRF, fields with their errors, the confirmation of
an irreversible action, suppressed counts), so every page shows errors and keeps input the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData, UploadFile

from bot.i18n import N_, gettext
from services.errors import DomainError

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

FLASHES = "flashes"
# What a session cookie can hold is small (4 KB): a flash is one short sentence, and only the last
# few are kept should a staff member post several forms without opening a page between them.
MAX_FLASHES = 3
CONFIRM_FIELD = "confirm_action"
# Never echoed back into a page (the account forms' password fields and the CSRF token).
SECRET_FIELDS = frozenset({"csrf_token", "password", "current", "new", "confirm"})


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """Show ``message`` on the next page this browser opens (after a redirect)."""
    kept = list(request.session.get(FLASHES) or [])[-(MAX_FLASHES - 1) :]
    request.session[FLASHES] = [*kept, [kind, message]]


def done(request: Request, url: str, message: str | None = None) -> Response:
    """The answer to a successful POST: back to a page, with a confirmation on it."""
    if message:
        flash(request, message)
    return RedirectResponse(url, status_code=303)


@dataclass
class FormState:
    """What a form page shows again: the typed values, a reason per field and for the form."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    status: int = 200

    @property
    def failed(self) -> bool:
        return bool(self.errors or self.error)

    def value(self, name: str, default: Any = "") -> Any:
        return self.values.get(name, default)


# pydantic's error types in the staff member's language (pydantic's own messages are English and
# speak of types); anything not listed gets the generic reason.
FIELD_REASONS: dict[str, str] = {
    "missing": N_("Please fill this in."),
    "string_too_short": N_("Please fill this in."),
    "string_too_long": N_("This is too long."),
    "too_long": N_("Too many are chosen."),
    "int_parsing": N_("Please enter a whole number, such as 12."),
    "int_type": N_("Please enter a whole number, such as 12."),
    "float_parsing": N_("Please enter a number, such as 2.5."),
    "greater_than_equal": N_("This number is too small."),
    "greater_than": N_("This number is too small."),
    "less_than_equal": N_("This number is too large."),
    "less_than": N_("This number is too large."),
    "date_from_datetime_parsing": N_("Please enter a date, such as 2026-12-31."),
    "date_parsing": N_("Please enter a date, such as 2026-12-31."),
    "time_parsing": N_("Please enter a time, such as 14:30."),
    "enum": N_("Please choose one of the options."),
    "literal_error": N_("Please choose one of the options."),
    "bool_parsing": N_("Please choose one of the options."),
}
GENERIC_REASON = N_("This is not valid.")


def field_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors():
        loc = [part for part in error["loc"] if isinstance(part, str)]
        name = loc[0] if loc else "__form__"
        errors.setdefault(name, gettext(FIELD_REASONS.get(error["type"], GENERIC_REASON)))
    return errors


def form_values(form: FormData, model: type[BaseModel] | None = None) -> dict[str, Any]:
    """The typed values as the page shows them again: lists where the model (or the form) has
    several values, text otherwise; files and secrets left out."""
    listed = set()
    if model is not None:
        for name, info in model.model_fields.items():
            origin = getattr(info.annotation, "__origin__", None)
            if origin in (list, tuple, set, frozenset):
                listed.add(name)
    values: dict[str, Any] = {}
    for name in form:
        if name in SECRET_FIELDS:
            continue
        items = [item for item in form.getlist(name) if not isinstance(item, UploadFile)]
        if not items:
            continue
        values[name] = items if (name in listed or len(items) > 1) else items[0]
    return values


async def read_form(request: Request, model: type[M]) -> tuple[M | None, FormState]:
    """The form as ``model``, or ``None`` and the reasons per field (with the typed values)."""
    form = await request.form()
    state = FormState(values=form_values(form, model))
    try:
        return model.model_validate(state.values), state
    except ValidationError as exc:
        state.errors = field_errors(exc)
        state.error = gettext("Some fields need a change. They are marked below.")
        state.status = 400
        return None, state


class FieldRefused(DomainError):
    """A refusal about one field of the form: shown next to that field (and above the form)."""

    code = "field_refused"

    def __init__(self, field: str, message: str | None = None, /, **params: Any) -> None:
        super().__init__(message, **params)
        self.field = field

    @classmethod
    def about(cls, field: str, exc: DomainError) -> FieldRefused:
        """A service's refusal, said next to the field it concerns."""
        refused = cls(field, exc.message, **exc.params)
        refused.status = exc.status
        return refused


class NotConfirmed(DomainError):
    code = "not_confirmed"
    status = 400
    message = N_("Nothing was done: tick the box to confirm first.")


def confirmed(values: Mapping[str, Any]) -> bool:
    return str(values.get(CONFIRM_FIELD, "")).lower() in {"1", "on", "yes", "true"}


def require_confirmation(values: Mapping[str, Any]) -> None:
    """An irreversible action runs only when its confirmation box was ticked (the ``confirm``
    macro in ``_forms.html``): a forged or hurried POST without it changes nothing."""
    if not confirmed(values):
        raise NotConfirmed()


async def submit(
    request: Request,
    session: AsyncSession,
    model: type[M],
    *,
    verb: Callable[[M], Awaitable[T]],
    done_url: str | Callable[[T], str],
    message: str | None,
    again: Callable[[FormState], Awaitable[Response]],
    confirm: bool = False,
) -> Response:
    """Form → ``verb`` in a savepoint → redirect with ``message``; on a refusal (invalid field or
    a service's ``DomainError``) nothing is kept and ``again`` shows the page with the reasons."""
    data, state = await read_form(request, model)
    if data is None:
        return await again(state)
    try:
        if confirm:
            require_confirmation(state.values)
        async with session.begin_nested():
            result = await verb(data)
    except DomainError as exc:
        state.error = exc.translated()
        state.status = exc.status
        # A refusal about one field (``FieldRefused``) is shown next to that field too.
        if name := getattr(exc, "field", None):
            state.errors[name] = state.error
        return await again(state)
    target = done_url(result) if callable(done_url) else done_url
    return done(request, target, message)
