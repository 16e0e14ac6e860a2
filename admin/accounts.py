"""A staff member's own side of staff accounts (``services.accounts``): sign-in with password and
TOTP, sign-out, their account page (password, Telegram link, language) and accepting an
invitation. Managing the team is ``admin.staff``."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from admin.forms import done
from admin.web import (
    DB,
    client_ip,
    context,
    current_staff,
    end_session,
    pending_staff,
    render,
    secret_key,
    start_session,
    throttle,
    verify_csrf,
)
from bot.i18n import gettext as _
from bot.i18n.languages import LANGUAGES
from bot.storage.models import Staff
from services import accounts, audit, staff_telegram
from services.errors import DomainError
from workvoice.kernel.catalogs import po_path

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only same-site paths: a sign-in link must not bounce staff to another site."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or urlsplit(target).netloc
    ):
        return "/"
    return target


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/", expired: int = 0) -> Response:
    notice = _("Your session ended. Please sign in again.") if expired else None
    return render(request, "accounts/login.html", next=_safe_next(next), notice=notice, viewer=None)


@router.post("/login", dependencies=[Depends(verify_csrf)])
async def login(
    request: Request,
    email: str = Form("", max_length=254),
    password: str = Form("", max_length=1024),
    next: str = Form("/"),
    session: AsyncSession = DB,
) -> Response:
    try:
        staff = await accounts.check_login(
            session, email, password, throttle=throttle(request), ip=client_ip(request)
        )
    except DomainError as exc:
        await session.commit()  # keep the failure count and the audit row
        return render(
            request,
            "accounts/login.html",
            status_code=exc.status,
            next=_safe_next(next),
            error=exc.translated(),
            email=email,
            viewer=None,
        )
    second = accounts.needs_second_factor(staff)
    start_session(request, staff, mfa=not second)
    if second:
        request.session["next"] = _safe_next(next)
        return RedirectResponse("/login/totp", status_code=303)
    await audit.record(session, "login.ok", actor=staff, ip=client_ip(request))
    return RedirectResponse(_safe_next(next), status_code=303)


@router.get("/login/totp", response_class=HTMLResponse)
async def totp_page(request: Request, staff: Staff = Depends(pending_staff)) -> Response:
    return _totp_page(request, staff)


def _totp_page(
    request: Request, staff: Staff, status_code: int = 200, error: str | None = None
) -> Response:
    enrolling = staff.totp_confirmed_at is None
    key = secret_key(request)
    return render(
        request,
        "accounts/totp.html",
        status_code=status_code,
        error=error,
        enrolling=enrolling,
        qr=accounts.totp_qr_svg(staff, key) if enrolling else None,
        secret=accounts.totp_secret(staff, key) if enrolling else None,
        viewer=None,
    )


@router.post("/login/totp", dependencies=[Depends(verify_csrf)])
async def totp_submit(
    request: Request,
    code: str = Form("", max_length=12),
    staff: Staff = Depends(pending_staff),
    session: AsyncSession = DB,
) -> Response:
    try:
        await accounts.check_totp(
            session,
            staff,
            code,
            secret_key=secret_key(request),
            throttle=throttle(request),
            ip=client_ip(request),
        )
    except DomainError as exc:
        await session.commit()  # keep the failure count and the audit rows
        return _totp_page(request, staff, exc.status, exc.translated())
    target = request.session.pop("next", "/")
    start_session(request, staff, mfa=True)
    return RedirectResponse(_safe_next(target), status_code=303)


@router.post("/logout", dependencies=[Depends(verify_csrf)])
async def logout(request: Request, session: AsyncSession = DB) -> Response:
    """Ends this session and every other one of the account (a copied cookie included)."""
    staff_id = request.session.get("staff_id")
    staff = await session.get(Staff, staff_id) if isinstance(staff_id, int) else None
    if staff is not None and request.session.get("ver") == staff.session_version:
        accounts.revoke_sessions(staff)
        await audit.record(session, "logout", actor=staff, ip=client_ip(request))
    end_session(request)
    return RedirectResponse("/login", status_code=303)


def console_languages() -> list[tuple[str, str]]:
    """English plus every language whose console catalog exists (translated as a whole)."""
    return [
        (code, lang.native_name)
        for code, lang in LANGUAGES.items()
        if code == "en" or po_path(code, "console").exists()
    ]


ONCE = "once"


def show_once(request: Request, name: str, value: str) -> None:
    """Keep a secret the next page shows a single time (an invitation or reset link, a Telegram
    link code): the POST redirects (POST-redirect-GET) and the page that follows takes it out of
    the session, so a reload or the Back button does not show it again."""
    kept = dict(request.session.get(ONCE) or {})
    kept[name] = value
    request.session[ONCE] = kept


def take_once(request: Request) -> dict[str, str]:
    return dict(request.session.pop(ONCE, None) or {})


def _bot_username(request: Request) -> str | None:
    ctx = context(request)
    return ctx.bot_username or ctx.settings.bot_username or None


def _account_page(
    request: Request, staff: Staff, status_code: int = 200, **values: object
) -> Response:
    once = take_once(request)
    return render(
        request,
        "accounts/account.html",
        status_code=status_code,
        totp_on=staff.totp_confirmed_at is not None,
        languages=console_languages(),
        # M7: whether urgent alerts reach this person's Telegram, and where to send the code.
        telegram_linked=staff.telegram_id is not None,
        bot_username=_bot_username(request),
        link_code=once.get("telegram_code"),
        staff_name=staff.name,
        **values,
    )


@router.get("/account", response_class=HTMLResponse)
async def account_page(request: Request, staff: Staff = Depends(current_staff)) -> Response:
    return _account_page(request, staff)


@router.post("/account/password", dependencies=[Depends(verify_csrf)])
async def change_password(
    request: Request,
    current: str = Form("", max_length=1024),
    new: str = Form("", max_length=1024),
    confirm: str = Form("", max_length=1024),
    staff: Staff = Depends(current_staff),
    session: AsyncSession = DB,
) -> Response:
    if new != confirm:
        return _account_page(
            request, staff, 400, error=_("The two new passwords are not the same.")
        )
    try:
        await accounts.do_change_password(session, staff, current, new)
    except DomainError as exc:
        return _account_page(request, staff, 400, error=exc.translated())
    # Every other session ended with the old password; this one carries on with the new version.
    start_session(request, staff, mfa=bool(request.session.get("mfa")))
    return done(request, "/account", _("Your password was changed."))


@router.post("/account/telegram", dependencies=[Depends(verify_csrf)])
async def telegram_link(
    request: Request,
    unlink: bool = Form(False),
    staff: Staff = Depends(current_staff),
    session: AsyncSession = DB,
) -> Response:
    if unlink:
        await staff_telegram.do_unlink_telegram(session, staff)
        return done(
            request,
            "/account",
            _("Telegram alerts are off. Urgent cases no longer reach your Telegram."),
        )
    code = await staff_telegram.do_start_telegram_link(session, staff)
    show_once(request, "telegram_code", code)
    return done(request, "/account")


@router.post("/account/language", dependencies=[Depends(verify_csrf)])
async def change_language(
    request: Request, locale: str = Form("en", max_length=8), staff: Staff = Depends(current_staff)
) -> Response:
    if locale in dict(console_languages()):
        staff.locale = locale
    return done(request, "/account")


@router.post("/account/name", dependencies=[Depends(verify_csrf)])
async def change_name(
    request: Request,
    name: str = Form("", max_length=400),
    staff: Staff = Depends(current_staff),
    session: AsyncSession = DB,
) -> Response:
    """The name colleagues see in case histories (case page, review M5)."""
    try:
        await accounts.do_set_name(session, staff, name)
    except DomainError as exc:
        return _account_page(request, staff, 400, error=exc.translated())
    return done(request, "/account", _("Your name is saved."))


@router.get("/invite/{token}", response_class=HTMLResponse)
async def invite_page(request: Request, token: str, session: AsyncSession = DB) -> Response:
    invited = await accounts.access_invite(session, token)
    return render(request, "accounts/invite.html", invited=invited, token=token, viewer=None)


@router.post("/invite/{token}", dependencies=[Depends(verify_csrf)])
async def invite_accept(
    request: Request,
    token: str,
    password: str = Form("", max_length=1024),
    confirm: str = Form("", max_length=1024),
    session: AsyncSession = DB,
) -> Response:
    invited = await accounts.access_invite(session, token)
    if password != confirm:
        return render(
            request,
            "accounts/invite.html",
            status_code=400,
            invited=invited,
            token=token,
            error=_("The two passwords are not the same."),
            viewer=None,
        )
    try:
        staff = await accounts.do_accept_invite(session, token, password)
    except DomainError as exc:
        return render(
            request,
            "accounts/invite.html",
            status_code=400,
            invited=invited,
            token=token,
            error=exc.translated(),
            viewer=None,
        )
    second = accounts.needs_second_factor(staff)
    start_session(request, staff, mfa=not second)
    return RedirectResponse("/login/totp" if second else "/", status_code=303)
