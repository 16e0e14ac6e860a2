"""The console's form pattern (admin/forms.py): pages answer only after their data is committed,
confirmations survive the redirect, refused fields are named in the staff member's language with
the typed values kept, irreversible actions need their box ticked, and a form sent after the
session ended leads back to its page through the sign-in (the browser then fills the text in)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from admin.forms import CONFIRM_FIELD, NotConfirmed, read_form, require_confirmation
from bot.i18n import use_locale
from bot.storage.models import Staff
from tests.console import ConsoleHarness


async def test_a_page_is_sent_only_after_its_data_is_committed(console: ConsoleHarness) -> None:
    """The 2FA enrolment key is stored before the page showing it leaves: a code typed at once is
    checked against a key that exists (review: "a fast code is refused")."""
    handler = await console.staff("case_handler", ["BD"])
    client = console.client_for(handler, mfa=False)
    seen: list[bytes | None] = []

    async def watching(scope: Any, receive: Any, send: Any) -> None:
        async def on_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                async with console.sessions() as other:
                    row = await other.scalar(
                        select(Staff.totp_sealed).where(Staff.id == handler.id)
                    )
                    seen.append(row)
            await send(message)

        await console.app(scope, receive, on_send)

    client._transport = httpx.ASGITransport(app=watching)  # type: ignore[attr-defined]
    page = await client.get("/login/totp")
    assert page.status_code == 200
    assert seen and seen[0] is not None


async def test_a_confirmation_is_shown_once_after_the_redirect(console: ConsoleHarness) -> None:
    manager = await console.staff("country_manager", ["BD"])
    client = console.client_for(manager)
    sent = await client.post(
        "/factories/new",
        data={
            "csrf_token": client.csrf,  # type: ignore[attr-defined]
            "code": "FORM-1",
            "name": "Form Garments",
            "country": "BD",
            "languages": "bn",
        },
    )
    assert sent.status_code == 303
    page = await client.get(sent.headers["location"])
    assert 'class="flash ok"' in page.text and "Saved." in page.text
    again = await client.get(sent.headers["location"])
    assert "Saved." not in again.text


async def test_a_form_sent_after_the_session_ended_returns_to_its_page(
    console: ConsoleHarness,
) -> None:
    manager = await console.staff("country_manager", ["BD"])
    client = console.client_for(manager, seen=0)  # idle for ever: the session has ended
    sent = await client.post(
        "/factories/new",
        data={"csrf_token": client.csrf, "name": "typed"},  # type: ignore[attr-defined]
        headers={"referer": "http://console.test/factories/new?from=list"},
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == "/login?next=%2Ffactories%2Fnew%3Ffrom%3Dlist&expired=1"
    # Never back to another site, whatever the Referer says.
    forged = await console.client_for(manager, seen=0).post(
        "/factories/new",
        data={"csrf_token": "x"},
        headers={"referer": "https://evil.example/factories/new"},
    )
    assert "evil" not in forged.headers.get("location", "") + forged.text


async def test_a_form_from_before_the_last_sign_in_changes_nothing_and_leads_back(
    console: ConsoleHarness,
) -> None:
    manager = await console.staff("country_manager", ["BD"])
    client = console.client_for(manager)
    sent = await client.post(
        "/factories/new",
        data={"csrf_token": "from-an-older-sign-in", "code": "OLD-1", "name": "Old"},
        headers={"referer": "http://console.test/factories/new"},
    )
    assert sent.status_code == 403
    assert 'href="/factories/new"' in sent.text
    listing = await client.get("/factories")
    assert "OLD-1" not in listing.text


class Sample(BaseModel):
    name: str = Field(min_length=1, max_length=5)
    size: int = 0
    languages: list[str] = Field(default_factory=list)


def _request(fields: list[tuple[str, str]]) -> Request:
    body = urlencode(fields).encode()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
        "query_string": b"",
    }
    return Request(scope, receive)


async def test_refused_fields_are_named_in_the_staff_language_and_the_values_kept() -> None:
    with use_locale("ar"):
        data, state = await read_form(
            _request([("name", "far too long"), ("size", "12 workers"), ("languages", "bn")]),
            Sample,
        )
    assert data is None and state.status == 400
    assert set(state.errors) == {"name", "size"}
    assert state.values == {"name": "far too long", "size": "12 workers", "languages": ["bn"]}
    with use_locale("en"):
        _none, english = await read_form(_request([("size", "x")]), Sample)
    assert english.errors["size"] == "Please enter a whole number, such as 12."
    assert english.errors["name"] == "Please fill this in."
    assert state.errors["size"] != english.errors["size"], "the reason is translated"


async def test_the_password_and_token_are_never_shown_again() -> None:
    _data, state = await read_form(
        _request([("csrf_token", "t"), ("password", "p"), ("name", "ok")]), Sample
    )
    assert state.values == {"name": "ok"}


@pytest.mark.parametrize("ticked", ["", "0", "no"])
def test_an_irreversible_action_needs_its_box_ticked(ticked: str) -> None:
    with pytest.raises(NotConfirmed):
        require_confirmation({CONFIRM_FIELD: ticked} if ticked else {})
    require_confirmation({CONFIRM_FIELD: "1"})
