"""Signing in to the console: password, TOTP enrolment and use, invitations, password change,
sign-out, the audit page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import time_machine

from tests.console import PASSWORD, ConsoleHarness, csrf_of
from tests.signin import audit_actions, sign_in, staff_row, totp_secret


async def test_analyst_signs_in_with_a_password(console: ConsoleHarness) -> None:
    staff = await console.staff("analyst", ["KH"])
    client = console.anonymous()
    r = await sign_in(client, staff.email.upper(), next="/factories")
    assert r.status_code == 303 and r.headers["location"] == "/factories"
    assert (
        "httponly" in r.headers["set-cookie"].lower()
        and "samesite=lax" in r.headers["set-cookie"].lower()
    )
    assert (await client.get("/")).status_code == 200
    assert "login.ok" in await audit_actions(console)


async def test_wrong_password_and_unknown_email_get_the_same_answer(
    console: ConsoleHarness,
) -> None:
    staff = await console.staff("analyst", ["KH"])
    wrong = await sign_in(console.anonymous(), staff.email, "wrong password!!")
    unknown = await sign_in(console.anonymous(), "nobody@example.org", "wrong password!!")
    assert wrong.status_code == unknown.status_code == 401
    assert "not right" in wrong.text and "not right" in unknown.text


async def test_case_handler_enrols_totp_then_signs_in_with_it(console: ConsoleHarness) -> None:
    staff = await console.staff("case_handler", ["BD"])
    client = console.anonymous()
    r = await sign_in(client, staff.email, next="/factories")
    assert r.headers["location"] == "/login/totp"
    assert (await client.get("/")).headers[
        "location"
    ] == "/login/totp"  # nothing before the 2nd step
    page = await client.get("/login/totp")
    assert "<svg" in page.text and "authenticator" in page.text
    secret = totp_secret(console, await staff_row(console, staff.id))
    assert secret in page.text
    bad = await client.post(
        "/login/totp", data={"code": "000000", "csrf_token": csrf_of(page.text)}
    )
    assert bad.status_code == 401
    code = pyotp.TOTP(secret).now()
    ok = await client.post("/login/totp", data={"code": code, "csrf_token": csrf_of(page.text)})
    assert ok.status_code == 303 and ok.headers["location"] == "/factories"
    assert (await client.get("/")).status_code == 200
    assert (await staff_row(console, staff.id)).totp_confirmed_at is not None

    # Next time: the same code cannot be replayed; the next one works.
    again = console.anonymous()
    await sign_in(again, staff.email)
    page = await again.get("/login/totp")
    assert "<svg" not in page.text
    replay = await again.post("/login/totp", data={"code": code, "csrf_token": csrf_of(page.text)})
    assert replay.status_code == 401
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=31)):
        fresh = pyotp.TOTP(secret).now()
        assert (
            await again.post("/login/totp", data={"code": fresh, "csrf_token": csrf_of(page.text)})
        ).status_code == 303


async def test_forms_without_csrf_are_refused(console: ConsoleHarness) -> None:
    staff = await console.staff("analyst", ["KH"])
    anonymous = console.anonymous()
    r = await anonymous.post("/login", data={"email": staff.email, "password": PASSWORD})
    # Refused without signing in: back to the sign-in page (no session, so no page to return to).
    assert r.status_code == 303 and r.headers["location"].startswith("/login?")
    assert "wv_session" not in r.cookies or "staff_id" not in r.text
    assert (await anonymous.get("/")).status_code == 303  # still not signed in
    client = console.client_for(staff)
    assert (await client.post("/logout", data={"csrf_token": "forged"})).status_code == 403


async def test_open_redirects_are_not_followed(console: ConsoleHarness) -> None:
    staff = await console.staff("analyst", ["KH"])
    r = await sign_in(console.anonymous(), staff.email, next="//evil.example/x")
    assert r.headers["location"] == "/"


async def test_logout_ends_the_session(console: ConsoleHarness) -> None:
    staff = await console.staff("analyst", ["KH"])
    client = console.anonymous()
    await sign_in(client, staff.email)
    page = await client.get("/")
    out = await client.post("/logout", data={"csrf_token": csrf_of(page.text)})
    assert out.status_code == 303
    assert (await client.get("/")).status_code == 303


async def test_password_change(console: ConsoleHarness) -> None:
    staff = await console.staff("analyst", ["KH"])
    client = console.client_for(staff)
    page = await client.get("/account")
    token = csrf_of(page.text)
    short = await client.post(
        "/account/password",
        data={"current": PASSWORD, "new": "short", "confirm": "short", "csrf_token": token},
    )
    assert short.status_code == 400 and "12 characters" in short.text
    ok = await client.post(
        "/account/password",
        data={
            "current": PASSWORD,
            "new": "a much longer secret",
            "confirm": "a much longer secret",
            "csrf_token": token,
        },
    )
    assert ok.status_code == 303  # POST-redirect-GET, with the confirmation on the next page
    assert "Your password was changed." in (await client.get(ok.headers["location"])).text
    assert (
        await sign_in(console.anonymous(), staff.email, "a much longer secret")
    ).status_code == 303


async def test_manager_invites_a_handler_who_sets_a_password_and_enrols(
    console: ConsoleHarness,
) -> None:
    manager = await console.staff("country_manager", ["KH"])
    client = console.client_for(manager)
    page = await client.get("/staff")
    r = await client.post(
        "/staff/invite",
        data={
            "email": "new@example.org",
            "role": "case_handler",
            "countries": ["KH"],
            "csrf_token": csrf_of(page.text),
        },
    )
    assert r.status_code == 303  # the link is shown once, on the page after the redirect
    shown = await client.get(r.headers["location"])
    link = shown.text.split("/invite/")[1].split("<")[0]
    invitee = console.anonymous()
    form = await invitee.get(f"/invite/{link}")
    assert "new@example.org" in form.text
    done = await invitee.post(
        f"/invite/{link}",
        data={
            "password": "invited person pw",
            "confirm": "invited person pw",
            "csrf_token": csrf_of(form.text),
        },
    )
    assert done.status_code == 303 and done.headers["location"] == "/login/totp"
    assert (await console.anonymous().get(f"/invite/{link}")).status_code == 404  # used up

    # A manager cannot invite into a country they do not manage, nor another manager.
    page = await client.get("/staff")
    for data in (
        {"email": "x@example.org", "role": "analyst", "countries": ["BD"]},
        {"email": "y@example.org", "role": "country_manager", "countries": ["KH"]},
    ):
        refused = await client.post(
            "/staff/invite", data={**data, "csrf_token": csrf_of(page.text)}
        )
        assert "do not have access" in refused.text


async def test_audit_log_page_filters(console: ConsoleHarness) -> None:
    admin = await console.staff("admin")
    analyst = await console.staff("analyst", ["KH"])
    await sign_in(console.anonymous(), analyst.email, "wrong password!!")
    page = await console.client_for(admin).get("/audit", params={"action": "login.failed"})
    assert page.status_code == 200 and "Sign-in refused: wrong password" in page.text
    assert analyst.email in page.text
    other = await console.client_for(admin).get("/audit", params={"action": "nothing"})
    assert analyst.email not in other.text and "No events match." in other.text


@pytest.mark.parametrize("path", ["/factories/999999", "/invite/not-a-token", "/factories/abc"])
async def test_unknown_ids_are_clear_404s(console: ConsoleHarness, path: str) -> None:
    staff = await console.staff("country_manager", ["KH"])
    r = await console.client_for(staff).get(path)
    assert r.status_code in (404, 400) and "Traceback" not in r.text


async def test_analyst_turns_on_two_step_sign_in(console: ConsoleHarness) -> None:
    analyst = await console.staff("analyst", ["KH"])
    client = console.anonymous()
    assert (await sign_in(client, analyst.email)).headers[
        "location"
    ] == "/"  # optional for analysts
    account = await client.get("/account")
    assert "Set up two-step sign-in" in account.text
    page = await client.get("/login/totp")
    secret = totp_secret(console, await staff_row(console, analyst.id))
    r = await client.post(
        "/login/totp", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_of(page.text)}
    )
    assert r.status_code == 303
    assert "On: you enter a code" in (await client.get("/account")).text
    # From now on the analyst's sign-in asks for the code too.
    assert (await sign_in(console.anonymous(), analyst.email)).headers["location"] == "/login/totp"


# --- Issue 14: accounts and sessions (DESIGN §4 rule 8) -------------------------------------------
