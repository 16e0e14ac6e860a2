"""The phone simulator (demo mode only): simulated workers chatting with the real bot.

Each phone is a view of the transcript that the bot really exchanged with the in-process
Telegram-compatible server (``workvoice.demo.simulator``): the page sends what a worker types or
taps as Telegram updates and shows what the bot sent back, edits included. There is no second
engine. The demo hands its phones to the console through the application context; the console
imports nothing from the demo.
"""

from __future__ import annotations

import pyotp
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from admin.web import context, render
from bot.i18n.languages import LANGUAGES
from bot.storage.models import Staff
from services.accounts import open_totp
from workvoice.context import Phones

router = APIRouter(prefix="/simulator")
MAX_PHONES = 6


class NewPhone(BaseModel):
    language_code: str = Field(default="en", max_length=8)
    name: str = Field(default="", max_length=40)


class Typed(BaseModel):
    text: str = Field(min_length=1, max_length=4096)


class Tapped(BaseModel):
    message_id: int
    data: str = Field(min_length=1, max_length=64)


def _phones(request: Request) -> Phones:
    phones = context(request).phones
    if phones is None:  # not a demo: the simulator does not exist
        raise HTTPException(status_code=404)
    return phones


@router.get("", response_class=HTMLResponse)
async def simulator_page(request: Request) -> HTMLResponse:
    phones = _phones(request)
    languages = [(code, lang.native_name) for code, lang in LANGUAGES.items()]
    async with context(request).sessions() as session:
        committee_code = await phones.committee_code(session)
    return render(
        request,
        "simulator/index.html",
        languages=languages,
        committee_code=committee_code,
        bot_username=context(request).bot_username or "workvoice_demo_bot",
    )


@router.get("/api/codes")
async def demo_codes(request: Request) -> JSONResponse:
    """Current sign-in codes of the seeded demo accounts (demo only), so anyone can try the console."""
    _phones(request)
    async with context(request).sessions() as session:
        rows = (
            await session.scalars(
                select(Staff).where(
                    Staff.email.like("%@demo.workvoice.org"), Staff.totp_sealed.is_not(None)
                )
            )
        ).all()
    key = context(request).settings.effective_secret_key
    return JSONResponse(
        {
            "codes": [
                {
                    "email": s.email,
                    "role": s.role,
                    "code": pyotp.TOTP(open_totp(key, str(s.totp_sealed))).now(),
                }
                for s in rows
            ]
        }
    )


@router.get("/api/phones")
async def list_phones(request: Request) -> JSONResponse:
    return JSONResponse({"phones": [p.summary() for p in _phones(request).all()]})


@router.post("/api/phones")
async def new_phone(request: Request, body: NewPhone) -> JSONResponse:
    phones = _phones(request)
    if len(phones.all()) >= MAX_PHONES:
        return JSONResponse({"error": "too many phones; reset one"}, status_code=400)
    code = body.language_code if body.language_code in LANGUAGES else "en"
    phone = phones.create(language_code=code, name=body.name.strip() or None)
    return JSONResponse(phone.summary(), status_code=201)


@router.get("/api/phones/{phone_id}/messages")
async def messages(request: Request, phone_id: int, after: str = "") -> JSONResponse:
    phone = _phones(request).get(phone_id)
    if phone is None:
        raise HTTPException(status_code=404)
    return JSONResponse(
        {"version": phone.version, "messages": phone.transcript()}
        if phone.version != after
        else {"version": phone.version, "messages": None}
    )


@router.post("/api/phones/{phone_id}/send")
async def send(request: Request, phone_id: int, body: Typed) -> JSONResponse:
    phone = _phones(request).get(phone_id)
    if phone is None:
        raise HTTPException(status_code=404)
    await phone.send(body.text)
    return JSONResponse({"ok": True})


@router.post("/api/phones/{phone_id}/tap")
async def tap(request: Request, phone_id: int, body: Tapped) -> JSONResponse:
    phone = _phones(request).get(phone_id)
    if phone is None:
        raise HTTPException(status_code=404)
    await phone.tap(body.message_id, body.data)
    return JSONResponse({"ok": True})


@router.get("/api/phones/{phone_id}/voice/{message_id}")
async def voice(request: Request, phone_id: int, message_id: int) -> Response:
    """A voice message the bot sent the phone, for the page's player."""
    phone = _phones(request).get(phone_id)
    sound = phone.voice(message_id) if phone is not None else None
    if sound is None:
        raise HTTPException(status_code=404)
    return Response(sound, media_type="audio/ogg", headers={"Cache-Control": "no-store"})


@router.post("/api/phones/{phone_id}/reset")
async def reset(request: Request, phone_id: int) -> JSONResponse:
    phones = _phones(request)
    if phones.get(phone_id) is None:
        raise HTTPException(status_code=404)
    phones.remove(phone_id)
    return JSONResponse({"ok": True})
