"""The authorization matrix, generated from the console's own routes.

Every route declares who may use it (``require(...)``, ``current_staff`` or ``PUBLIC_PATHS``); this
test reads those declarations from the app, then tries every route as every role, on an object in
the staff member's country and on one outside it:
role not allowed → 403; allowed but another country's object → 404; allowed and in scope → not
refused. A route that declares nothing fails the test, so new pages cannot skip the check.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fastapi.routing import APIRoute

from admin.app import CONSOLE_MODULES
from admin.web import MFA_REQUIRED, PUBLIC_PATHS, current_staff
from bot.storage.db import transaction
from bot.storage.models import StaffRole
from services.audio import clips
from services.audio.media import Voice
from services.scope import Scope
from services.surveys.builder import do_create_survey
from services.surveys.definition import validate
from tests.console import ConsoleHarness
from tests.factories import make_case, make_factory
from tests.surveys_data import SAMPLE, make_wave
from workvoice.capabilities import NAV

ROLES = [r.value for r in StaffRole]
PUBLIC_PREFIXES = ("/simulator",)  # demo only: 404 unless the demo runs
PARAM = r"{(\w+)(?::\w+)?}"  # a path parameter, typed ("{broadcast_id:int}") or not


def policy(route: APIRoute) -> frozenset[str] | None:
    """Allowed roles, ``None`` for any signed-in staff; raises if the route declares nothing."""

    def walk(dependant: Any) -> Any:
        for dep in dependant.dependencies:
            if hasattr(dep.call, "allowed_roles"):
                return frozenset(dep.call.allowed_roles)
            if dep.call is current_staff:
                return "any"
            found = walk(dep)
            if found is not None:
                return found
        return None

    found = walk(route.dependant)
    if found == "any":
        return None
    if found is None:
        raise AssertionError(f"{route.path} declares no access policy")
    return found  # type: ignore[no-any-return]


# How to make an object in (True) or out of (False) the staff member's country, per path parameter.
# Capabilities adding routes with new parameters add their maker here.
Maker = Callable[[ConsoleHarness, bool], Awaitable[str]]


async def _factory(console: ConsoleHarness, inside: bool) -> str:
    factory = await make_factory(
        console.sessions, "IN-1" if inside else "OUT-1", country="BD" if inside else "KH"
    )
    return str(factory.id)


async def _staff(console: ConsoleHarness, inside: bool) -> str:
    member = await console.staff(
        "analyst",
        ["BD"] if inside else ["KH"],
        email=f"member-{'in' if inside else 'out'}@example.org",
    )
    return str(member.id)


async def _case(console: ConsoleHarness, inside: bool) -> str:
    case = await make_case(
        console.sessions,
        console.ctx.settings,
        country="BD" if inside else "KH",
        telegram_id=8101 if inside else 8102,
    )
    return str(case.id)


async def _evidence(console: ConsoleHarness, inside: bool) -> str:
    return "1"  # no evidence exists: allowed roles get a 404 for it, which the matrix accepts below


async def _survey(console: ConsoleHarness, inside: bool) -> str:
    async with transaction(console.sessions) as s:
        survey = await do_create_survey(
            s,
            validate({**SAMPLE, "key": f"authz-{inside:d}"}),
            country_code="BD" if inside else "KH",
            actor=None,
        )
    return str(survey.id)


async def _clip(console: ConsoleHarness, inside: bool) -> str:
    """A recording of a survey question in BD (inside) or KH: the survey's country decides."""
    async with transaction(console.sessions) as s:
        survey = await do_create_survey(
            s,
            validate({**SAMPLE, "key": f"authz-audio-{inside:d}"}),
            country_code="BD" if inside else "KH",
            actor=None,
        )
        target = await clips.check_target(
            s, clips.survey_target(survey.key, SAMPLE["questions"][0]["key"]), Scope.everywhere()
        )
        clip = await clips.do_store_clip(s, target, "bn", Voice(b"OggS", 1000), actor=None)
    return clip.token


async def _wave(console: ConsoleHarness, inside: bool) -> str:
    wave = await make_wave(
        console.sessions,
        countries=("BD" if inside else "KH",),
        definition={**SAMPLE, "key": f"authz-wave-{inside:d}"},
    )
    return str(wave.id)


async def _locale(console: ConsoleHarness, inside: bool) -> str:
    return "bn"  # a language, not an object: the survey in the path decides the scope


async def _domain(console: ConsoleHarness, inside: bool) -> str:
    return "core"  # a catalog, not an object


async def _committee(console: ConsoleHarness, inside: bool) -> str:
    from bot.storage.db import transaction
    from services.committees.members import do_create_committee

    factory = await make_factory(
        console.sessions, "IN-C" if inside else "OUT-C", country="BD" if inside else "KH"
    )
    async with transaction(console.sessions) as session:
        committee = await do_create_committee(
            session, factory, kind="pc", name="Participation Committee", actor=None
        )
        return str(committee.id)


async def _topic(console: ConsoleHarness, inside: bool, key: str = "authz") -> str:
    from services.broadcasts.topics import TopicInput, do_create_topic

    async with transaction(console.sessions) as session:
        topic = await do_create_topic(
            session,
            TopicInput(f"{key}-{inside:d}", "BD" if inside else "KH", "en", {"en": "News"}),
            scope=Scope.everywhere(),
            actor=None,
        )
        return str(topic.id)


async def _broadcast(console: ConsoleHarness, inside: bool) -> str:
    from services.broadcasts.messages import BroadcastInput, do_create

    topic_id = int(await _topic(console, inside, key="authz-message"))
    async with transaction(console.sessions) as session:
        broadcast = await do_create(
            session,
            BroadcastInput(
                topic_id=topic_id,
                title="Authz",
                countries=["BD" if inside else "KH"],
                texts={"en": "Hello"},
                default_locale="en",
            ),
            scope=Scope.everywhere(),
            actor=None,
        )
        return str(broadcast.id)


async def _country(console: ConsoleHarness, inside: bool) -> str:
    return "BD" if inside else "KH"


async def _saved_filter(console: ConsoleHarness, inside: bool) -> str:
    """Inside: one of the signed-in staff member's own saved queue filters; outside: someone
    else's (a 404 to everyone, administrators too)."""
    from sqlalchemy import select

    from bot.storage.models import Staff
    from services.reports.queue import do_save_filter

    async with transaction(console.sessions) as session:
        if inside:
            owner = await session.scalar(
                select(Staff).where(Staff.email.like("matrix-%")).order_by(Staff.id.desc())
            )
        else:
            owner = await console.staff("case_handler", ["KH"], email="filters-out@example.org")
            owner = await session.get(Staff, owner.id)
        assert owner is not None
        saved = await do_save_filter(session, owner, f"authz {inside:d}", "mine=1")
        return str(saved.id)


async def _line(console: ConsoleHarness, inside: bool) -> str:
    return "0"  # a POST without the page's version is refused as stale (409), never applied


PARAM_MAKERS: dict[str, Maker] = {
    "survey_id": _survey,
    "wave_id": _wave,
    "locale": _locale,
    "domain": _domain,
    "factory_id": _factory,
    "staff_id": _staff,
    "case_id": _case,
    "evidence_id": _evidence,
    "committee_id": _committee,
    "topic_id": _topic,
    "broadcast_id": _broadcast,
    "code": _country,
    "index": _line,
    "filter_id": _saved_filter,
    "token": _clip,
}
# Path parts that name no country's object (a language, a catalog): a route with only these has no
# out-of-country case to try.
UNSCOPED_PARAMS = {"locale", "domain"}
# Routes whose object may legitimately not exist even for an allowed role in scope.
MAY_BE_MISSING = {
    "/reports/{case_id}/evidence/{evidence_id}",
    "/reports/filters/{filter_id}/delete",  # someone else's filter is not found, even for admins
}


def routes(console: ConsoleHarness) -> list[tuple[str, str, APIRoute]]:
    """Every route of every console module (the app's own list nests them in newer FastAPI)."""
    found = []
    every = [r for name in CONSOLE_MODULES for r in importlib.import_module(name).router.routes]
    for route in every:
        if not isinstance(route, APIRoute):
            continue
        if route.path in PUBLIC_PATHS or route.path.startswith(PUBLIC_PREFIXES):
            continue
        for method in sorted(route.methods - {"HEAD"}):
            found.append((method, route.path, route))
    return found


async def test_every_route_declares_a_policy(console: ConsoleHarness) -> None:
    paths = routes(console)
    assert len(paths) >= 15
    for _, _, route in paths:
        policy(route)


@pytest.mark.parametrize("role", ROLES)
async def test_authorization_matrix(console: ConsoleHarness, role: str) -> None:
    staff = await console.staff(role, ["BD"], email=f"matrix-{role}@example.org")
    client = console.client_for(staff)
    made: dict[tuple[str, bool], str] = {}
    checked = 0
    for method, path, route in routes(console):
        allowed = policy(route)
        params = re.findall(PARAM, path)
        scoped = [name for name in params if name not in UNSCOPED_PARAMS]
        for inside in (True, False) if scoped else (True,):
            url = path
            for name in params:
                if name not in PARAM_MAKERS:
                    raise AssertionError(
                        f"no object maker for {{{name}}} in {path}: add one to PARAM_MAKERS"
                    )
                key = (name, inside)
                if key not in made:
                    made[key] = await PARAM_MAKERS[name](console, inside)
                url = re.sub("{" + name + r"(?::\w+)?}", made[key], url)
            if method == "GET":
                r = await client.get(url)
            else:
                r = await client.request(method, url, data={"csrf_token": client.csrf})  # type: ignore[attr-defined]
            may = allowed is None or role in allowed
            where = f"{method} {url} as {role} ({'in' if inside else 'out of'} country)"
            if not may:
                assert r.status_code == 403, where
            elif not inside and role != "admin":
                assert r.status_code == 404, where
            else:
                refused = (401, 403, 500) if path in MAY_BE_MISSING else (401, 403, 404, 500)
                assert r.status_code not in refused, f"{where}: {r.status_code}"
            checked += 1
    assert checked >= 15


def _opens_cases(path: str) -> bool:
    """Routes that show or change a grievance case (narrative, evidence, close confirmation)."""
    return "{case_id}" in path or path == "/reports"


async def test_m1_every_role_that_can_open_a_case_needs_a_second_factor(
    console: ConsoleHarness,
) -> None:
    """DESIGN §4.8 / audit M1: read from the routes' own policies, every role that can open a case
    signs in with a second factor, and a password-only session of any such role is sent to it."""
    case_routes = [(m, p, r) for m, p, r in routes(console) if _opens_cases(p)]
    assert len(case_routes) >= 5
    can_open: set[str] = set()
    for _, path, route in case_routes:
        allowed = policy(route)
        assert allowed is not None, f"{path} is open to every role"
        assert allowed <= MFA_REQUIRED, f"{path}: {sorted(allowed - MFA_REQUIRED)} without 2FA"
        can_open |= allowed
    case_id = await _case(console, True)
    for role in sorted(can_open):
        staff = await console.staff(role, ["BD"], email=f"mfa-{role}@example.org")
        r = await console.client_for(staff, mfa=False).get(f"/reports/{case_id}")
        assert (r.status_code, r.headers.get("location")) == (303, "/login/totp"), role


def nav_expected(console: ConsoleHarness, role: str) -> list[str]:
    """The manifest's navigation paths this role may open, by the routes' declared policies (an
    entry standing in for another only where that one is closed to the role)."""
    pages = {path: route for method, path, route in routes(console) if method == "GET"}

    def opens(path: str) -> bool:
        allowed = policy(pages[path])
        return allowed is None or role in allowed

    return [
        entry.path
        for entry in NAV
        if opens(entry.path) and not (entry.stands_in_for and opens(entry.stands_in_for))
    ]


@pytest.mark.parametrize("role", ROLES)
async def test_the_navigation_shows_each_role_the_pages_its_routes_allow(
    console: ConsoleHarness, role: str
) -> None:
    staff = await console.staff(role, ["BD"], email=f"nav-{role}@example.org")
    client = console.client_for(staff)
    r = await client.get("/")
    assert r.status_code == 200
    nav = r.text.split('<nav aria-label="Main">', 1)[1].split("</nav>", 1)[0]
    shown = re.findall(r'<a href="([^"]+)">', nav)
    assert shown == nav_expected(console, role)
    for path in shown:  # and every link it shows opens
        assert (await client.get(path)).status_code == 200, path


def test_the_navigation_follows_the_manifest_and_its_stand_ins(console: ConsoleHarness) -> None:
    by_role = {role: nav_expected(console, role) for role in ROLES}
    assert by_role["admin"] == [e.path for e in NAV if e.stands_in_for is None]
    assert "/reports/counts" in by_role["analyst"] and "/reports" not in by_role["analyst"]
    assert "/reports/counts" not in by_role["case_handler"]
    assert {"/", "/account"} <= set.intersection(*(set(paths) for paths in by_role.values()))
