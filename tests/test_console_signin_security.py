"""The console's sign-in hardening (audit findings M1, M2, M8, M9, L1, L2, L4, M10): second factor
by role, throttling and pauses, sessions that end, sealed TOTP seeds, security headers and cookies."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st
from nacl.exceptions import CryptoError
from pydantic import SecretStr
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select

from admin.app import create_console, secure_cookies
from admin.web import MFA_REQUIRED, TEMPLATES
from bot.storage import migrate
from bot.storage.db import transaction
from bot.storage.models import Staff
from services import accounts
from services import accounts as staff_service
from services.accounts import open_totp
from services.reports.cases import CASE_ROLES, CONFIRMING_ROLES
from services.throttle import MemoryThrottle, RedisThrottle
from tests.console import PASSWORD, TEST_SECRET, ConsoleHarness, csrf_of, make_context
from tests.factories import make_case
from tests.signin import audit_actions, sign_in, staff_row, totp_secret
from workvoice.kernel.settings import load_settings


def _from(console: ConsoleHarness, ip: str) -> httpx.AsyncClient:
    """A browser at client address ``ip``."""
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=console.app, client=(ip, 40000)),
        base_url="http://console.test",
        follow_redirects=False,
    )
    console._clients.append(client)
    return client


async def _case_id(console: ConsoleHarness, country: str = "BD") -> int:
    case = await make_case(
        console.sessions, console.ctx.settings, country=country, narrative="SECRET-NARRATIVE-MARKER"
    )
    return int(case.id)


async def _enrolled(
    console: ConsoleHarness, role: str, countries: list[str] | None = None
) -> Staff:
    """A staff member with a confirmed second factor (as after enrolment)."""
    staff = await console.staff(role, countries or ["BD"])
    async with transaction(console.sessions) as s:
        row = await s.get(Staff, staff.id)
        assert row is not None
        accounts.totp_secret(row, console.ctx.settings.effective_secret_key)
        row.totp_confirmed_at = datetime.now(UTC)
    return await staff_row(console, staff.id)


async def _password_step(client: httpx.AsyncClient, email: str) -> str:
    """Sign in with the password; returns the CSRF token of the code page."""
    r = await sign_in(client, email)
    assert r.headers["location"] == "/login/totp"
    return csrf_of((await client.get("/login/totp")).text)


async def test_m1_country_manager_needs_a_second_factor_before_any_narrative(
    console: ConsoleHarness,
) -> None:
    """Audit M1 replayed: a country manager with a password only no longer reaches a narrative."""
    case_id = await _case_id(console)
    manager = await console.staff("country_manager", ["BD"])
    client = console.anonymous()
    assert (await sign_in(client, manager.email)).headers["location"] == "/login/totp"
    page = await client.get(f"/reports/{case_id}")
    assert page.status_code == 303 and page.headers["location"] == "/login/totp"
    assert "SECRET-NARRATIVE-MARKER" not in page.text
    # With the code, the same manager reads the case.
    token = csrf_of((await client.get("/login/totp")).text)
    secret = totp_secret(console, await staff_row(console, manager.id))
    r = await client.post(
        "/login/totp", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token}
    )
    assert r.status_code == 303
    assert (await client.get(f"/reports/{case_id}")).status_code == 200


def test_m1_second_factor_roles_come_from_the_case_rules() -> None:
    assert CASE_ROLES <= accounts.MFA_ROLES and CONFIRMING_ROLES <= accounts.MFA_ROLES
    assert MFA_REQUIRED is accounts.MFA_ROLES


async def test_m2_totp_guessing_pauses_the_codes_and_is_audited(console: ConsoleHarness) -> None:
    """Audit M2 replayed: wrong codes in a row; after five, even the right code waits."""
    handler = await _enrolled(console, "case_handler")
    secret = totp_secret(console, handler)
    client = console.anonymous()
    token = await _password_step(client, handler.email)
    right = pyotp.TOTP(secret).now()
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    statuses = [
        (await client.post("/login/totp", data={"code": wrong, "csrf_token": token})).status_code
        for _ in range(5)
    ]
    assert statuses == [401] * 5
    paused = await client.post("/login/totp", data={"code": right, "csrf_token": token})
    assert paused.status_code == 429 and "Too many failed attempts" in paused.text
    assert (await staff_row(console, handler.id)).totp_locked_until is not None
    assert "login.totp_locked" in await audit_actions(console)
    # A fresh password step does not reset the count: the pause holds for the account.
    again = console.anonymous()
    token = await _password_step(again, handler.email)
    r = await again.post("/login/totp", data={"code": right, "csrf_token": token})
    assert r.status_code == 429
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=2)):
        fresh = console.anonymous()
        token = await _password_step(fresh, handler.email)
        code = pyotp.TOTP(secret).now()
        ok = await fresh.post("/login/totp", data={"code": code, "csrf_token": token})
        assert ok.status_code == 303
    assert (await staff_row(console, handler.id)).totp_failures == 0


async def test_m2_half_signed_in_session_expires(console: ConsoleHarness) -> None:
    handler = await _enrolled(console, "case_handler")
    client = console.anonymous()
    token = await _password_step(client, handler.email)
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=6)):
        code = pyotp.TOTP(totp_secret(console, handler)).now()
        late = await client.post("/login/totp", data={"code": code, "csrf_token": token})
        assert late.status_code == 303 and late.headers["location"].startswith("/login?")
        assert "expired=1" in late.headers["location"]
        assert (await client.get("/")).headers["location"].startswith("/login?")


async def test_l1_failures_pause_only_that_account_from_that_address(
    console: ConsoleHarness,
) -> None:
    """Audit L1 replayed: the same answers for unknown accounts, and no locking the owner out."""
    staff = await console.staff("analyst", ["KH"])
    attacker = _from(console, "203.0.113.9")
    known = [
        (await sign_in(attacker, staff.email, "wrong password!!")).status_code for _ in range(7)
    ]
    unknown = [
        (await sign_in(attacker, "nobody@example.org", "wrong password!!")).status_code
        for _ in range(7)
    ]
    assert known == unknown == [401] * 5 + [429] * 2
    # The attacker's address waits even with the right password ...
    assert (await sign_in(attacker, staff.email)).status_code == 429
    # ... while the owner, elsewhere, signs in as usual.
    owner = await sign_in(_from(console, "198.51.100.7"), staff.email)
    assert owner.status_code == 303 and owner.headers["location"] == "/"
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=2)):
        assert (await sign_in(_from(console, "203.0.113.9"), staff.email)).status_code == 303


async def test_m8_sign_in_floods_get_cheap_429s(
    console: ConsoleHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit M8: one address posting many sign-ins gets 429s that cost no argon2 work."""
    hashed = 0
    real = staff_service.verify_password

    def counting(password_hash: str | None, password: str) -> bool:
        nonlocal hashed
        hashed += 1
        return real(password_hash, password)

    monkeypatch.setattr(staff_service, "verify_password", counting)
    client = _from(console, "203.0.113.50")
    token = csrf_of((await client.get("/login")).text)
    data = {"email": "nobody@example.org", "password": "guess guess guess", "csrf_token": token}
    answers = await asyncio.gather(*(client.post("/login", data=data) for _ in range(40)))
    busy = [r for r in answers if r.status_code == 429]
    assert len(busy) >= 40 - accounts.PER_ADDRESS
    # Refused by the address's budget, or by the (account, address) pause: both before argon2.
    assert any("Too many sign-in attempts" in r.text for r in busy)
    assert all("Too many" in r.text for r in busy)
    assert hashed <= accounts.PER_ADDRESS


async def test_m8_the_console_answers_while_sign_ins_hash(
    console: ConsoleHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit M8 replayed: while unauthenticated sign-ins are stuck in argon2, other requests still
    get answers, because hashing runs off the event loop (on the loop, they would wait)."""
    gate, started = threading.Event(), threading.Semaphore(0)
    finished: list[bool] = []

    def stuck(password_hash: str | None, password: str) -> bool:
        started.release()
        # On the event loop this would hold every request behind it (until the timeout).
        finished.append(gate.wait(timeout=5))
        return False

    monkeypatch.setattr(staff_service, "verify_password", stuck)
    done: list[int] = []

    async def attempt(n: int) -> int:
        client = _from(console, f"198.18.0.{n}")
        token = csrf_of((await client.get("/login")).text)
        r = await client.post(
            "/login", data={"email": f"x{n}@example.org", "password": "p" * 16, "csrf_token": token}
        )
        done.append(n)
        return r.status_code

    logins = [asyncio.create_task(attempt(n)) for n in range(1, 7)]
    while not started.acquire(blocking=False):  # a sign-in is hashing now
        await asyncio.sleep(0.01)
    probe = await console.anonymous().get("/login")
    # Answered while every sign-in still waits inside argon2.
    assert probe.status_code == 200 and finished == [] and done == []
    gate.set()
    assert await asyncio.gather(*logins) == [401] * 6


async def test_m8_codes_from_one_address_and_sign_ins_from_everyone_are_limited(
    console: ConsoleHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Build item 6: /login/totp is limited per address like /login, and both overall (a flood
    from many addresses), with the cheap 429 that names no account."""
    busy = "Too many sign-in attempts"
    handler = await _enrolled(console, "case_handler")
    client = _from(console, "203.0.113.60")
    token = await _password_step(client, handler.email)
    answers = [
        await client.post("/login/totp", data={"code": "000000", "csrf_token": token})
        for _ in range(accounts.PER_ADDRESS + 2)
    ]
    assert [busy in r.text for r in answers].count(True) == 2  # the account pause came first
    assert all(r.status_code in (401, 429) for r in answers)
    assert busy in answers[-1].text and answers[-1].status_code == 429

    monkeypatch.setattr(accounts, "EVERYONE", 4)  # the password step above was one
    statuses = []
    for n in range(5):  # five addresses, one wrong password each
        r = await sign_in(_from(console, f"198.18.1.{n}"), f"x{n}@example.org", "wrong password!!")
        statuses.append((r.status_code, busy in r.text))
    assert statuses == [(401, False)] * 3 + [(429, True)] * 2


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_m8_throttle_counts_expire_and_are_shared(
    backend: str, request: pytest.FixtureRequest, redis_prefix: str
) -> None:
    url = "" if backend == "memory" else request.getfixturevalue("redis_url")
    make = (
        (lambda: MemoryThrottle())
        if backend == "memory"
        else (lambda: RedisThrottle.from_url(url, prefix=redis_prefix))
    )
    first = make()
    second = first if backend == "memory" else make()  # two replicas share Redis
    assert [await first.hit("k", 60), await second.hit("k", 60)] == [1, 2]
    assert await second.count("k") == 2
    await first.hold("pause", 120)
    assert 100 < await second.remaining("pause") <= 120
    await second.clear("pause")
    assert await first.remaining("pause") == 0
    assert await first.hit("short", 0.05) == 1
    await asyncio.sleep(0.1)
    assert await first.count("short") == 0
    for throttle in {id(first): first, id(second): second}.values():
        if isinstance(throttle, RedisThrottle):
            await throttle.close()


async def test_l1_pauses_hold_across_replicas_with_redis(
    console: ConsoleHarness, redis_url: str, redis_prefix: str
) -> None:
    """With Redis, two console replicas share the counts: failures on one pause the other."""
    replicas = [console.app, create_console(console.ctx)]
    throttles = [RedisThrottle.from_url(redis_url, prefix=redis_prefix) for _ in replicas]
    for app, throttle in zip(replicas, throttles, strict=True):
        app.state.throttle = throttle
    staff = await console.staff("analyst", ["KH"])
    clients = []
    for app in replicas:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("203.0.113.77", 1)),
            base_url="http://console.test",
        )
        clients.append(client)
    try:
        for n in range(5):
            r = await sign_in(clients[n % 2], staff.email, "wrong password!!")
            assert r.status_code == 401
        assert (await sign_in(clients[1], staff.email)).status_code == 429
        assert (await sign_in(clients[0], staff.email)).status_code == 429
    finally:
        for client in clients:
            await client.aclose()
        for throttle in throttles:
            await throttle.close()


async def test_m9_replayed_cookie_after_logout_is_refused(console: ConsoleHarness) -> None:
    """Audit M9 replayed: a cookie copied before sign-out no longer opens a case."""
    case_id = await _case_id(console)
    handler = await console.staff("case_handler", ["BD"])
    client = console.client_for(handler)
    assert (await client.get(f"/reports/{case_id}")).status_code == 200
    copied = client.cookies["wv_session"]
    out = await client.post("/logout", data={"csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert out.status_code == 303
    replay = console.anonymous()
    replay.cookies.set("wv_session", copied, domain="console.test")
    r = await replay.get(f"/reports/{case_id}")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert "SECRET-NARRATIVE-MARKER" not in r.text


async def test_m9_password_change_ends_other_sessions(console: ConsoleHarness) -> None:
    staff = await console.staff("analyst", ["KH"])
    laptop, stolen = console.anonymous(), console.anonymous()
    await sign_in(laptop, staff.email)
    await sign_in(stolen, staff.email)
    assert (await stolen.get("/")).status_code == 200
    token = csrf_of((await laptop.get("/account")).text)
    changed = await laptop.post(
        "/account/password",
        data={
            "current": PASSWORD,
            "new": "another long secret",
            "confirm": "another long secret",
            "csrf_token": token,
        },
    )
    assert changed.status_code == 303
    assert (await stolen.get("/")).status_code == 303  # the other session is over
    assert (await laptop.get("/")).status_code == 200  # the one that changed it carries on


async def test_m9_deactivation_and_old_cookies_end_sessions(console: ConsoleHarness) -> None:
    admin = await console.staff("admin")
    analyst = await console.staff("analyst", ["BD"])
    session = console.client_for(analyst)
    assert (await session.get("/")).status_code == 200
    async with transaction(console.sessions) as s:
        actor, target = await s.get(Staff, admin.id), await s.get(Staff, analyst.id)
        assert actor is not None and target is not None
        await accounts.do_set_active(s, actor=actor, staff=target, active=False)
        await accounts.do_set_active(s, actor=actor, staff=target, active=True)
    assert (await session.get("/")).status_code == 303  # reactivated, but that session is over
    # A cookie from before session versions (no "ver") is not accepted either.
    legacy = console.client_for(analyst, ver=None)
    assert (await legacy.get("/")).status_code == 303


async def test_l4_totp_seed_is_sealed_at_rest(console: ConsoleHarness) -> None:
    handler = await _enrolled(console, "case_handler")
    secret = totp_secret(console, handler)
    async with console.sessions() as s:
        row = (await s.execute(select(Staff.__table__).where(Staff.id == handler.id))).one()
    assert not any(secret in str(value) for value in row)
    with pytest.raises(CryptoError):
        open_totp("some other secret key", str(handler.totp_sealed))


async def test_l4_migration_seals_existing_seeds_and_downgrade_unseals(
    db: Any, tmp_path: Path
) -> None:
    """Migration 0011 seals seeds already in the table, and its downgrade gives them back."""
    from sqlalchemy import text

    from bot.storage.db import create_engine

    if db.backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    else:
        from tests.conftest import _create_pg_database, _drop_pg_database

        name = db.url.rsplit("/", 1)[1] + "_l4"
        url = await _create_pg_database(name)
    key, seed = "migration-test-secret-key", "JBSWY3DPEHPK3PXP"
    engine = create_engine(url)
    try:
        await asyncio.to_thread(migrate.upgrade, url, "0010_webhook_updates")
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO staff (email, name, role, totp_secret, locale, active,"
                    " failed_logins, created_at) VALUES ('a@x.org', '', 'admin', :seed, 'en',"
                    " true, 0, CURRENT_TIMESTAMP)"
                ),
                {"seed": seed},
            )
        await asyncio.to_thread(
            lambda: migrate.upgrade(url, "0011_staff_security", secret_key=lambda: key)
        )
        async with engine.connect() as conn:
            sealed, version = (
                await conn.execute(text("SELECT totp_sealed, session_version FROM staff"))
            ).one()
            columns = await conn.run_sync(
                lambda c: {col["name"] for col in sa_inspect(c).get_columns("staff")}
            )
        assert "totp_secret" not in columns and seed not in sealed and version == 0
        assert open_totp(key, sealed) == seed
        await asyncio.to_thread(
            lambda: migrate.downgrade(url, "0010_webhook_updates", secret_key=lambda: key)
        )
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT totp_secret FROM staff"))).scalar() == seed
    finally:
        await engine.dispose()
        if db.backend == "postgres":
            await _drop_pg_database(name)


async def test_l2_security_headers_on_every_console_answer(console: ConsoleHarness) -> None:
    case_id = await _case_id(console)
    handler = await console.staff("case_handler", ["BD"])
    signed_in = console.client_for(handler)
    answers = [
        await console.anonymous().get("/login"),
        await console.anonymous().get("/"),  # a redirect
        await signed_in.get(f"/reports/{case_id}"),
        await signed_in.get("/no-such-page"),
    ]
    for r in answers:
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert (
            "script-src 'self';" in csp
            and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        )
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in r.headers  # plain http here
    assert "cache-control" not in (await console.anonymous().get("/static/console.css")).headers


def test_l2_templates_have_no_inline_script() -> None:
    """CSP forbids inline script: no handler attributes, no <script> without src, no javascript:."""
    offenders = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text()
        if (
            re.search(r"\son[a-z]+\s*=", text)
            or re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text)
            or "javascript:" in text
        ):
            offenders.append(path.name)
    assert offenders == []


async def test_l2_hsts_when_served_over_https(db: Any, tmp_path: Path) -> None:
    ctx = make_context(db.sessions, db.engine, tmp_path)
    ctx.settings = ctx.settings.model_copy(update={"public_url": "https://console.example.org"})
    app = create_console(ctx)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://console.example.org"
    ) as client:
        r = await client.get("/login")
    assert r.headers["strict-transport-security"].startswith("max-age=")


def test_m10_session_cookie_is_secure_outside_local_use(tmp_path: Path) -> None:
    token = "123456:" + "A" * 35
    cases = [
        ({}, False),  # no bot token: the demo
        ({"bot_token": token}, False),  # bound to loopback (the default): local development
        ({"bot_token": token, "console_host": "0.0.0.0"}, True),
        ({"bot_token": token, "console_host": "0.0.0.0", "demo": True}, False),
        ({"bot_token": token, "public_url": "https://console.example.org"}, True),
        ({"public_url": "https://console.example.org"}, True),
    ]
    for overrides, secure in cases:
        settings = load_settings(data_dir=tmp_path, secret_key=TEST_SECRET, **overrides)
        assert secure_cookies(settings) is secure, overrides


async def test_m10_published_console_sets_a_secure_cookie(db: Any, tmp_path: Path) -> None:
    ctx = make_context(db.sessions, db.engine, tmp_path)
    ctx.settings = ctx.settings.model_copy(
        update={"console_host": "0.0.0.0", "bot_token": SecretStr("123456:" + "A" * 35)}
    )
    app = create_console(ctx)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://console.example.org"
    ) as client:
        r = await client.get("/login")
    assert "secure" in r.headers["set-cookie"].lower()


@given(st.ip_addresses(v=6), st.integers(min_value=0, max_value=2**64 - 1))
def test_l1_ipv6_hosts_are_counted_by_their_64(address: Any, host: int) -> None:
    """A client stepping through the addresses of its /64 stays one client to the throttles."""
    sibling = ipaddress.IPv6Address((int(address) & ~(2**64 - 1)) | host)
    assert accounts._where(str(address)) == accounts._where(str(sibling))


@given(st.ip_addresses(v=4))
def test_l1_ipv4_addresses_are_counted_one_by_one(address: Any) -> None:
    assert accounts._where(str(address)) == str(address)


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", min_size=16, max_size=64))
def test_l4_sealed_seeds_open_only_with_their_key(secret: str) -> None:
    sealed = accounts.seal_totp(TEST_SECRET, secret)
    assert secret not in sealed and accounts.open_totp(TEST_SECRET, sealed) == secret
    with pytest.raises(CryptoError):
        accounts.open_totp(TEST_SECRET + "x", sealed)
