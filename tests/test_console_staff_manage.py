"""M16 and M13: managing the team in the console: role and countries, a lost phone, a new
invitation, a password reset and deactivation, each audited, the irreversible ones confirmed,
and each within the manager's rights (services.accounts.manageable)."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import time_machine
from sqlalchemy import select

from bot.storage.models import AuditEvent, Staff
from tests.console import PASSWORD, ConsoleHarness, csrf_of, tables


async def actions(console: ConsoleHarness, staff_id: int) -> list[str]:
    async with console.sessions() as s:
        return list(
            (
                await s.scalars(
                    select(AuditEvent.action)
                    .where(AuditEvent.object_id == str(staff_id), AuditEvent.object_type == "staff")
                    .order_by(AuditEvent.id)
                )
            ).all()
        )


async def stored(console: ConsoleHarness, staff_id: int) -> Staff:
    async with console.sessions() as s:
        staff = await s.get(Staff, staff_id)
        assert staff is not None
        await s.refresh(staff, ["countries"])
        return staff


async def sign_in(console: ConsoleHarness, email: str, password: str = PASSWORD) -> object:
    client = console.anonymous()
    page = await client.get("/login")
    return await client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_of(page.text)}
    )


async def test_admin_changes_role_and_countries_and_the_list_reads_in_words(
    console: ConsoleHarness,
) -> None:
    admin = await console.staff("admin")
    analyst = await console.staff("analyst", ["BD"], email="ana@example.org")
    theirs = console.client_for(analyst)
    assert (await theirs.get("/")).status_code == 200
    client = console.client_for(admin)
    listing = await client.get("/staff")
    row = next(r for r in tables(listing.text, "staff")[0] if r[0] == "ana@example.org")
    assert row[1] == "Analyst" and row[2] == "Bangladesh"  # words, not "analyst"/"BD" keys
    page = await client.get(f"/staff/{analyst.id}")
    r = await client.post(
        f"/staff/{analyst.id}/role",
        data={"role": "case_handler", "countries": ["BD", "KH"], "csrf_token": csrf_of(page.text)},
    )
    assert r.status_code == 303
    page = await client.get(r.headers["location"])
    assert "Role and countries saved" in page.text
    changed = await stored(console, analyst.id)
    assert changed.role == "case_handler" and changed.country_codes == {"BD", "KH"}
    assert (await theirs.get("/")).status_code == 303  # the old rights' session is over
    # No country for a non-admin role is refused, beside the form, and nothing changes.
    r = await client.post(
        f"/staff/{analyst.id}/role",
        data={"role": "analyst", "csrf_token": csrf_of(page.text)},
    )
    assert r.status_code == 400 and "name at least one country" in r.text
    assert (await stored(console, analyst.id)).role == "case_handler"
    assert "staff.role_changed" in await actions(console, analyst.id)


async def test_a_country_manager_manages_only_roles_below_in_their_countries(
    console: ConsoleHarness,
) -> None:
    manager = await console.staff("country_manager", ["BD"])
    peer = await console.staff("country_manager", ["BD"])
    admin = await console.staff("admin")
    elsewhere = await console.staff("analyst", ["KH"])
    both = await console.staff("organiser", ["BD", "KH"])
    client = console.client_for(manager)
    for other in (peer, admin, elsewhere):
        assert (await client.get(f"/staff/{other.id}")).status_code == 404
    page = await client.get(f"/staff/{both.id}")
    assert page.status_code == 200 and "Also works in: KH" in page.text
    token = csrf_of(page.text)
    # Promoting to their own rank, or naming a country they do not manage, is refused.
    r = await client.post(
        f"/staff/{both.id}/role",
        data={"role": "country_manager", "countries": ["BD"], "csrf_token": token},
    )
    assert r.status_code == 403 and (await stored(console, both.id)).role == "organiser"
    r = await client.post(
        f"/staff/{both.id}/role",
        data={"role": "analyst", "countries": ["BD", "JO"], "csrf_token": token},
    )
    assert r.status_code == 403
    # Unticking Bangladesh keeps Cambodia, which only an admin changes.
    r = await client.post(
        f"/staff/{both.id}/role",
        data={"role": "analyst", "countries": [], "csrf_token": token},
    )
    assert r.status_code == 303
    changed = await stored(console, both.id)
    assert changed.role == "analyst" and changed.country_codes == {"KH"}
    # A forged POST for a peer is a 404, as if the account did not exist.
    r = await client.post(f"/staff/{peer.id}/active", data={"csrf_token": token})
    assert r.status_code == 404 and (await stored(console, peer.id)).active


async def test_a_lost_phone_is_reset_and_the_person_enrols_again(
    console: ConsoleHarness,
) -> None:
    admin = await console.staff("admin")
    handler = await console.staff("case_handler", ["BD"], email="h@example.org")
    async with console.sessions() as s:
        row = await s.get(Staff, handler.id)
        assert row is not None
        row.totp_sealed, row.totp_confirmed_at = "old", row.created_at
        await s.commit()
    theirs = console.client_for(handler)
    client = console.client_for(admin)
    page = await client.get(f"/staff/{handler.id}")
    # Not ticked: nothing happens, and the page says why.
    r = await client.post(
        f"/staff/{handler.id}/totp-reset", data={"csrf_token": csrf_of(page.text)}
    )
    assert r.status_code == 400 and "tick the box" in r.text
    assert (await stored(console, handler.id)).totp_confirmed_at is not None
    r = await client.post(
        f"/staff/{handler.id}/totp-reset",
        data={"csrf_token": csrf_of(page.text), "confirm_action": "1"},
    )
    assert r.status_code == 303
    assert "Two-step sign-in was reset" in (await client.get(r.headers["location"])).text
    reset = await stored(console, handler.id)
    assert reset.totp_confirmed_at is None and reset.totp_sealed is None
    assert (await theirs.get("/")).status_code == 303  # their sessions ended
    assert "staff.totp_reset" in await actions(console, handler.id)
    # At the next sign-in they enrol a new authenticator.
    person = console.anonymous()
    login = await person.get("/login")
    r = await person.post(
        "/login",
        data={"email": "h@example.org", "password": PASSWORD, "csrf_token": csrf_of(login.text)},
    )
    assert r.headers["location"] == "/login/totp"
    enrol = await person.get("/login/totp")
    assert "Scan this code" in enrol.text
    secret = enrol.text.split('<code class="secret">')[1].split("<")[0]
    done = await person.post(
        "/login/totp",
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_of(enrol.text)},
    )
    assert done.status_code == 303 and (await person.get("/")).status_code == 200


async def test_an_expired_invitation_is_sent_again_and_the_old_link_dies(
    console: ConsoleHarness,
) -> None:
    manager = await console.staff("country_manager", ["BD"])
    client = console.client_for(manager)
    page = await client.get("/staff")
    r = await client.post(
        "/staff/invite",
        data={
            "email": "new@example.org",
            "role": "analyst",
            "countries": ["BD"],
            "csrf_token": csrf_of(page.text),
        },
    )
    assert r.status_code == 303
    shown = await client.get("/staff")
    old = shown.text.split('<code class="secret">')[1].split("<")[0].split("/invite/")[1]
    assert "/invite/" not in (await client.get("/staff")).text  # shown once
    async with console.sessions() as s:
        invited = await s.scalar(select(Staff).where(Staff.email == "new@example.org"))
        assert invited is not None
    with time_machine.travel(invited.created_at + timedelta(days=8), tick=False):
        assert (await console.anonymous().get(f"/invite/{old}")).status_code == 404
        client = console.client_for(manager)  # a session of that day
        page = await client.get(f"/staff/{invited.id}")
        assert "Their invitation link has expired." in page.text
        r = await client.post(
            f"/staff/{invited.id}/invite", data={"csrf_token": csrf_of(page.text)}
        )
        assert r.status_code == 303
        page = await client.get(r.headers["location"])
        assert "The old link no longer works" in page.text
        new = page.text.split('<code class="secret">')[1].split("<")[0].split("/invite/")[1]
        assert new != old
        assert (await console.anonymous().get(f"/invite/{new}")).status_code == 200
        assert (await console.anonymous().get(f"/invite/{old}")).status_code == 404
    assert "staff.invite_resent" in await actions(console, invited.id)


async def test_a_password_reset_link_is_shown_once_and_ends_the_old_password(
    console: ConsoleHarness,
) -> None:
    admin = await console.staff("admin")
    analyst = await console.staff("analyst", ["BD"], email="a@example.org")
    theirs = console.client_for(analyst)
    client = console.client_for(admin)
    page = await client.get(f"/staff/{analyst.id}")
    r = await client.post(
        f"/staff/{analyst.id}/password-reset", data={"csrf_token": csrf_of(page.text)}
    )
    assert r.status_code == 400 and (await stored(console, analyst.id)).password_hash
    r = await client.post(
        f"/staff/{analyst.id}/password-reset",
        data={"csrf_token": csrf_of(page.text), "confirm_action": "on"},
    )
    assert r.status_code == 303
    page = await client.get(r.headers["location"])
    assert "Password reset link for a@example.org" in page.text
    token = page.text.split('<code class="secret">')[1].split("<")[0].split("/invite/")[1]
    assert "/invite/" not in (await client.get(f"/staff/{analyst.id}")).text
    assert (await theirs.get("/")).status_code == 303  # sessions ended
    assert (await sign_in(console, "a@example.org")).status_code == 401  # old password ended
    person = console.anonymous()
    form = await person.get(f"/invite/{token}")
    r = await person.post(
        f"/invite/{token}",
        data={
            "password": "a brand new password",
            "confirm": "a brand new password",
            "csrf_token": csrf_of(form.text),
        },
    )
    assert r.status_code == 303
    assert (await sign_in(console, "a@example.org", "a brand new password")).status_code == 303
    assert (await console.anonymous().get(f"/invite/{token}")).status_code == 404  # used once
    assert "staff.password_reset" in await actions(console, analyst.id)


async def test_deactivation_needs_confirmation(console: ConsoleHarness) -> None:
    manager = await console.staff("country_manager", ["BD"])
    organiser = await console.staff("organiser", ["BD"])
    client = console.client_for(manager)
    page = await client.get(f"/staff/{organiser.id}")
    assert 'name="confirm_action"' in page.text.split('action="/staff/')[-1]
    r = await client.post(f"/staff/{organiser.id}/active", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 400 and (await stored(console, organiser.id)).active
    r = await client.post(
        f"/staff/{organiser.id}/active",
        data={"csrf_token": csrf_of(page.text), "confirm_action": "1"},
    )
    assert r.status_code == 303 and not (await stored(console, organiser.id)).active
    assert "The account was deactivated." in (await client.get(r.headers["location"])).text
    page = await client.get(f"/staff/{organiser.id}")
    r = await client.post(
        f"/staff/{organiser.id}/active", data={"csrf_token": csrf_of(page.text), "active": "true"}
    )
    assert r.status_code == 303 and (await stored(console, organiser.id)).active
    assert await actions(console, organiser.id) == ["staff.deactivated", "staff.activated"]
