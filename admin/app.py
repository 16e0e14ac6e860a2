"""Console application factory: sessions, error pages, templates, one router per capability and
the navigation (the manifest's entries, each for the roles its route allows)."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from admin.web import (
    SESSION_MAX_SECONDS,
    CsrfFailed,
    NeedsSecondFactor,
    NotSignedIn,
    create_templates,
    navigation,
    page_of,
    render,
)
from bot.i18n import gettext as _
from services.errors import DomainError
from services.throttle import create_throttle
from workvoice import capabilities
from workvoice.context import AppContext
from workvoice.kernel.settings import Settings, is_loopback

STATIC = Path(__file__).resolve().parent / "static"

# One module (or more) per capability, each exposing ``router`` (a FastAPI APIRouter), as the
# capability manifest declares them.
CONSOLE_MODULES: tuple[str, ...] = capabilities.CONSOLE_MODULES


# No inline script anywhere (handlers live in /static/console.js); inline style *attributes* stay
# allowed for the data-driven bar widths of results and delivery figures: they cannot run code.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
HSTS = "max-age=31536000"


def secure_cookies(settings: Settings) -> bool:
    """Session cookies are Secure (sent over https only) unless the console is used locally: the
    demo, or a console bound to loopback and not published at an https address (audit M10)."""
    if settings.public_url and settings.public_url.startswith("https://"):
        return True
    return not (settings.demo_mode or is_loopback(settings.console_host))


def create_console(ctx: AppContext) -> FastAPI:
    app = FastAPI(title="workvoice console", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ctx = ctx
    app.state.throttle = create_throttle(ctx.settings.redis_url)
    secure = secure_cookies(ctx.settings)
    https_public = bool(ctx.settings.public_url and ctx.settings.public_url.startswith("https://"))
    app.add_middleware(
        SessionMiddleware,
        secret_key=ctx.settings.effective_secret_key,
        session_cookie="wv_session",
        max_age=SESSION_MAX_SECONDS,
        same_site="lax",
        https_only=secure,
    )
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Every answer forbids framing, sniffing and inline script (audit L2); pages (all but
        static files) are never cached, since most carry case details or survey figures."""
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        if https_public or request.url.scheme == "https":
            response.headers["Strict-Transport-Security"] = HSTS
        return response

    routers = [importlib.import_module(name).router for name in CONSOLE_MODULES]
    for router in routers:
        app.include_router(router)
    app.state.templates = create_templates()
    app.state.nav = navigation(route for router in routers for route in router.routes)

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        target = f"/login?next={quote(exc.next_url, safe='')}" + (
            "&expired=1" if exc.expired else ""
        )
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(NeedsSecondFactor)
    async def needs_second_factor(request: Request, exc: NeedsSecondFactor) -> Response:
        return RedirectResponse("/login/totp", status_code=303)

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        """A form from a session that has ended (signed out in another tab, or signed in again
        since) changes nothing; the way back leads to its page, where the browser fills in what
        was typed (console.js), through the sign-in when there is no session any more."""
        page = page_of(request)
        if not request.session.get("staff_id"):
            # Signed out (in another tab, say): straight to the sign-in page, as an idle time-out
            # leads, and from there back to the form's page.
            return RedirectResponse(
                f"/login?next={quote(page, safe='')}&expired=1", status_code=303
            )
        return render(
            request, "error.html", status_code=exc.status, message=exc.translated(), back=page
        )

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        return render(request, "error.html", status_code=exc.status, message=exc.translated())

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        """Forms validate themselves (``admin.forms``) and show their page again; what reaches
        here is an address that cannot name anything (``/reports/abc``: not found) or a query
        or form no page of ours sends (refused in words, never a developer's field name)."""
        places = {str(error["loc"][0]) for error in exc.errors() if error.get("loc")}
        if "path" in places:
            return render(
                request,
                "error.html",
                status_code=404,
                message=_("This page does not exist, or you do not have access to it."),
            )
        return render(
            request,
            "error.html",
            status_code=400,
            message=_(
                "Something on this page was not filled in as expected. Please go back, check "
                "the page and try again."
            ),
            # A page opened with a query it cannot use: the same page without it.
            back=request.url.path if request.method == "GET" else page_of(request),
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {
            404: _("This page does not exist, or you do not have access to it."),
            405: _("This action is not available here."),
        }
        return render(
            request,
            "error.html",
            status_code=exc.status_code,
            message=messages.get(exc.status_code, _("The request could not be handled.")),
        )

    return app
