"""What every console page shares: the database session, the signed-in staff member, role and
country checks, CSRF, security headers, templates and error pages. Pages live in
``admin/<capability>.py``.

Session contents (a signed, HttpOnly, SameSite=Lax cookie, Secure outside local use; see
``create_console``): ``staff_id``, ``ver`` (the account's ``session_version`` when the session
began), ``mfa`` (second factor passed), ``csrf``, ``since`` and ``seen`` (epoch seconds).

The cookie stays signed, not encrypted: what it says (an account number, the times) tells its
holder nothing they could use, and it is no longer enough on its own. Every request checks ``ver``
against the staff row, and sign-out, a password change or deactivation bump the row's version, so a
copied cookie dies with them (audit M9) without a session table to keep and purge.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import BaseRoute

from bot.i18n import N_, gettext, is_rtl, plural_text, set_locale, use_locale
from bot.i18n.languages import LANGUAGES
from bot.storage.models import Staff, StaffRole
from services.accounts import MFA_ROLES
from services.errors import DomainError, Forbidden, NotFound
from services.labels import template_filters
from services.staff_zones import zone_choices
from services.throttle import Throttle
from workvoice.capabilities import NAV, NavEntry
from workvoice.context import AppContext

TEMPLATES = Path(__file__).resolve().parent / "templates"
SESSION_IDLE_SECONDS = 30 * 60  # signed out after 30 minutes without a request
SESSION_MAX_SECONDS = 12 * 3600  # and after 12 hours in any case
# Between the password and the second factor: a few minutes, then the password again (audit M2).
PENDING_SECONDS = 5 * 60
# Roles that see and change grievance cases must use a second factor (DESIGN §4.8): the same set
# the case rules use, read from services.accounts so the two cannot drift (audit M1).
MFA_REQUIRED = MFA_ROLES


class NotSignedIn(Exception):
    """Raised by ``current_staff``: the console answers with a redirect to the sign-in page."""

    def __init__(self, next_url: str = "/", *, expired: bool = False) -> None:
        self.next_url, self.expired = next_url, expired


class NeedsSecondFactor(Exception):
    """Signed in with a password but the second factor is still owed."""


class CsrfFailed(DomainError):
    code = "csrf"
    status = 403
    message = N_(
        "This form was not sent: it was opened before your last sign-in. Anything you typed is "
        "filled in again; check it and send it once more."
    )


def context(request: Request) -> AppContext:
    return request.app.state.ctx


async def db(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the page was produced without error."""
    async with context(request).sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


# "function" scope: the transaction is committed when the route returns, before the answer is
# sent, so nothing a page or redirect promises can still be lost, and a fast next request (a 2FA
# code typed as soon as the key is shown) sees it. FastAPI's default runs this after sending.
DB: Any = Depends(db, scope="function")


def start_session(request: Request, staff: Staff, *, mfa: bool) -> None:
    now = int(time.time())
    request.session.clear()
    request.session.update(
        staff_id=staff.id,
        ver=staff.session_version,
        mfa=mfa,
        csrf=secrets.token_urlsafe(24),
        # Names this sign-in for the browser's form drafts (console.js): two sign-ins within one
        # second must still differ, so not the time.
        sid=secrets.token_urlsafe(9),
        since=now,
        seen=now,
    )


def end_session(request: Request) -> None:
    request.session.clear()


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return str(token)


async def verify_csrf(request: Request) -> None:
    """Dependency for every state-changing route: the form's token must match the session's."""
    if request.method in {"GET", "HEAD", "OPTIONS"}:
        return
    form = await request.form()
    sent = form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = request.session.get("csrf") or ""
    if not expected or not isinstance(sent, str) or not secrets.compare_digest(sent, expected):
        raise CsrfFailed()


async def current_staff(request: Request, session: AsyncSession = DB) -> Staff:
    data = request.session
    staff_id = data.get("staff_id")
    next_url = page_of(request)
    if not staff_id:
        raise NotSignedIn(next_url)
    now = int(time.time())
    if (
        now - int(data.get("seen", 0)) > SESSION_IDLE_SECONDS
        or now - int(data.get("since", 0)) > SESSION_MAX_SECONDS
    ):
        end_session(request)
        raise NotSignedIn(next_url, expired=True)
    staff = await session.get(Staff, staff_id)
    if not _still_valid(data, staff):
        end_session(request)
        raise NotSignedIn(next_url)
    assert staff is not None
    if not data.get("mfa") and (staff.role in MFA_REQUIRED or staff.totp_confirmed_at is not None):
        if now - int(data.get("since", 0)) > PENDING_SECONDS:
            end_session(request)
            raise NotSignedIn(next_url, expired=True)
        raise NeedsSecondFactor()
    data["seen"] = now
    remember_viewer(request, staff)
    return staff


def page_of(request: Request) -> str:
    """The page to come back to after signing in again: this one for a GET; for a form sent
    from a page, that page (the form's own address may answer only POST, and the typed text
    comes back there from the browser's draft, see console.js)."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method in {"GET", "HEAD"}:
        return here
    referer = urlsplit(request.headers.get("referer") or "")
    if referer.netloc and referer.netloc != request.url.netloc:
        return "/"
    if referer.path.startswith("/") and not referer.path.startswith("//"):
        return referer.path + (f"?{referer.query}" if referer.query else "")
    return "/"


def _still_valid(data: Any, staff: Staff | None) -> bool:
    """The account exists, is active, and has not ended its sessions since this one began."""
    version = data.get("ver")
    return (
        staff is not None
        and staff.active
        and isinstance(version, int)
        and version == staff.session_version
    )


@dataclass(frozen=True)
class Viewer:
    """Who is looking, copied out of the ORM row so error pages can show it after a rollback."""

    id: int
    email: str
    role: str
    locale: str
    timezone: str | None = None  # chosen on the Account page (services.staff_zones)
    translator: bool = False  # reviews some language's translations (Staff.languages)


def remember_viewer(request: Request, staff: Staff) -> None:
    request.state.viewer = Viewer(
        staff.id, staff.email, staff.role, staff.locale, staff.timezone, bool(staff.languages)
    )
    # The rest of the request speaks the staff member's language, so messages made before the
    # page is rendered (a refused form's reason) are in it too.
    set_locale(staff.locale)


def require(*roles: StaffRole, translators: bool = False) -> Callable[..., Any]:
    """Dependency: the signed-in staff member, if their role is one of ``roles`` (admin always is),
    or, with ``translators``, if they review some language's translations (whatever their role).

    The allowed roles are kept on the dependency, so the authorization tests read every route's
    policy from the app itself.
    """
    allowed = frozenset(roles) | {StaffRole.ADMIN}

    async def dependency(staff: Staff = Depends(current_staff)) -> Staff:
        if staff.role not in allowed and not (translators and staff.languages):
            raise Forbidden()
        return staff

    dependency.allowed_roles = allowed  # type: ignore[attr-defined]
    dependency.translators = translators  # type: ignore[attr-defined]
    return dependency


# Paths anyone may open (sign-in, invitations, the demo simulator); every other route must declare
# its roles with ``require`` or ``current_staff`` (the authorization tests fail otherwise).
PUBLIC_PATHS: set[str] = {"/login", "/login/totp", "/invite/{token}", "/logout"}


async def pending_staff(request: Request, session: AsyncSession = DB) -> Staff:
    """The staff member between password and second factor (or fully signed in).

    The half-signed-in state lasts ``PENDING_SECONDS``: after that, the password again.
    """
    data = request.session
    staff_id = data.get("staff_id")
    staff = await session.get(Staff, staff_id) if staff_id else None
    if not _still_valid(data, staff):
        end_session(request)
        raise NotSignedIn("/")
    assert staff is not None
    if not data.get("mfa") and int(time.time()) - int(data.get("since", 0)) > PENDING_SECONDS:
        end_session(request)
        raise NotSignedIn("/", expired=True)
    remember_viewer(request, staff)
    return staff


def throttle(request: Request) -> Throttle:
    """Sign-in attempt counters (Redis when configured, else this process); see create_console."""
    return request.app.state.throttle


def secret_key(request: Request) -> str:
    return context(request).settings.effective_secret_key


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


MAX_ID = 2**63 - 1  # a forged id beyond the database's integers is simply not found


def checked_id(value: int) -> int:
    if not 0 < value <= MAX_ID:
        raise NotFound()
    return value


def suppression_threshold(request: Request) -> int:
    """The small-group threshold k: counts below it are shown as "fewer than k"."""
    return int(context(request).settings.suppression_k)


def staff_locale(staff: Staff) -> str:
    return staff.locale if staff.locale in LANGUAGES else "en"


def _locale_for(request: Request) -> str:
    viewer: Viewer | None = getattr(request.state, "viewer", None)
    return viewer.locale if viewer is not None and viewer.locale in LANGUAGES else "en"


def create_templates() -> Jinja2Templates:
    """The console's templates, translated into the current locale (``create_console`` keeps one
    per app on ``app.state.templates``)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
    )
    # Jinja's newstyle gettext formats ``%(name)s`` placeholders itself after translating.
    # Through bot.i18n so reviewed changes (translation overrides) show at once.
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: gettext(message),
        lambda singular, plural, n: plural_text(singular, plural, n),
        newstyle=True,
    )
    env.filters.update(template_filters())
    env.globals["time_zones"] = zone_choices  # the Account page's time zone list
    return Jinja2Templates(env=env)


def declared_roles(route: APIRoute) -> frozenset[str] | None:
    """The roles a route lets in, read from its dependencies: ``require(...)``'s roles, every role
    for ``current_staff``, ``None`` when it declares nothing (public pages)."""

    def walk(dependant: Dependant) -> frozenset[str] | None:
        for dep in dependant.dependencies:
            allowed = getattr(dep.call, "allowed_roles", None)
            if allowed is not None:
                return frozenset(allowed)
            if dep.call is current_staff:
                return frozenset(StaffRole)
            found = walk(dep)
            if found is not None:
                return found
        return None

    return walk(route.dependant)


@dataclass(frozen=True)
class NavLink:
    path: str
    label: str  # a msgid, translated in the template
    roles: frozenset[str]
    translators: bool = False  # also for anyone who reviews translations, whatever their role


def navigation(routes: Iterable[BaseRoute], entries: Iterable[NavEntry] = NAV) -> list[NavLink]:
    """The manifest's navigation entries, each for the roles its page's route allows (an entry that
    stands in for another is for the roles that may not open that one)."""
    pages = {
        route.path: route
        for route in routes
        if isinstance(route, APIRoute) and "GET" in (route.methods or ())
    }

    def roles(path: str) -> frozenset[str]:
        if path not in pages:  # e.g. a console module whose router nests other routers
            raise LookupError(f"the navigation entry {path} has no page among the console's routes")
        found = declared_roles(pages[path])
        if found is None:
            raise LookupError(
                f"the navigation entry {path} leads to a page without an access policy"
            )
        return found

    links = []
    for entry in entries:
        allowed = roles(entry.path)
        if entry.stands_in_for is not None:
            allowed -= roles(entry.stands_in_for)
        checks = [dep.call for dep in pages[entry.path].dependant.dependencies]
        translators = any(getattr(call, "translators", False) for call in checks)
        links.append(NavLink(entry.path, entry.label, allowed, translators))
    return links


def nav_for(request: Request, viewer: Viewer | None) -> list[NavLink]:
    if viewer is None:
        return []
    return [
        link
        for link in request.app.state.nav
        if viewer.role in link.roles or (link.translators and viewer.translator)
    ]


def render(request: Request, template: str, status_code: int = 200, **values: Any) -> Any:
    """Render a page in the staff member's console language, right-to-left where it reads so."""
    locale = _locale_for(request)
    viewer: Viewer | None = getattr(request.state, "viewer", None)
    templates: Jinja2Templates = request.app.state.templates
    # Confirmations left by the POST that redirected here come first (forms.flash).
    stored = request.session.pop("flashes", None) or []
    values["flashes"] = [(str(k), str(t)) for k, t in stored] + list(values.get("flashes") or [])
    with use_locale(locale):
        return templates.TemplateResponse(
            request,
            template,
            {
                "viewer": viewer,
                "nav": nav_for(request, viewer),
                "csrf_token": csrf_token(request),
                # Not a secret: tells the browser's form drafts which sign-in they belong to.
                "session_mark": request.session.get("sid") or request.session.get("since", ""),
                "locale": locale,
                "rtl": is_rtl(locale),
                **values,
            },
            status_code=status_code,
        )
