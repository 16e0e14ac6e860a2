"""Audio for workers who do not read: which screens and survey questions have a recording in which
language (the coverage table), and one place per screen or question to upload, replace, hear and
delete its recording in each language.

Recordings are heard only through ``/audio/play/<token>``: signed-in staff who may see what the
clip is for, by a random token that no other clip's address reveals. Uploads are checked and
converted by ``services.audio.media`` (in a thread: ffmpeg takes a moment); a refused file leaves
nothing behind.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile as StarletteUpload

from admin.forms import FieldRefused, FormState, submit
from admin.web import DB, client_ip, render, require, verify_csrf
from bot.i18n import N_
from bot.i18n import gettext as _
from bot.i18n.languages import LANGUAGES
from bot.storage.models import Staff, StaffRole
from services.audio import clips, media
from services.audio.clips import SCREEN_LABELS, KeyScreen, Target
from services.scope import Scope
from services.surveys import builder

router = APIRouter(prefix="/audio")
AUDIO = require(StaffRole.COUNTRY_MANAGER)
TARGET_LIMIT = 120


def _label(target: Target, definition_text: str | None) -> str:
    if target.survey is None:
        return _(SCREEN_LABELS[KeyScreen(target.key.split(":", 1)[1])])
    return definition_text or target.key


async def _describe(session: AsyncSession, target: Target) -> tuple[str, dict[str, str]]:
    """What the clip is for, and what it should say in each language (the text a worker sees)."""
    if target.survey is None:
        return _label(target, None), {}
    definition = await clips.survey_definition(session, target.survey)
    parts = target.key.split(":")
    question = definition.question(parts[2])
    assert question is not None  # check_target found it
    texts = question.text
    if len(parts) == 4:
        texts = next(o.text for o in question.options if o.key == parts[3])
    words = {code: definition.text(texts, code) for code in clips.ALL_LOCALES}
    return _label(target, definition.text(texts, definition.source_locale)), words


@router.get("", response_class=HTMLResponse)
async def coverage_page(
    request: Request,
    staff: Staff = Depends(AUDIO),
    session: AsyncSession = DB,
) -> Response:
    rows, totals = await clips.coverage(session, Scope.of(staff), clips.ALL_LOCALES)
    return render(
        request,
        "audio/coverage.html",
        rows=rows,
        totals=totals,
        locales=clips.ALL_LOCALES,
        languages=LANGUAGES,
        labels={str(s.value): _(label) for s, label in SCREEN_LABELS.items()},
        tools=media.tools_available(),
    )


async def _target_page(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    key: str,
    *,
    form: FormState | None = None,
) -> Response:
    if not key:  # no screen or question named: the list to choose from
        return RedirectResponse("/audio", status_code=303)
    target = await clips.check_target(session, key, Scope.of(staff))
    label, words = await _describe(session, target)
    return render(
        request,
        "audio/target.html",
        status_code=form.status if form is not None else 200,
        target=target,
        label=label,
        words=words,
        found=await clips.clips_of(session, target.key),
        locales=clips.ALL_LOCALES,
        languages=LANGUAGES,
        can_edit=target.survey is None or builder.can_edit(target.survey, Scope.of(staff)),
        form=form,
        max_megabytes=media.MAX_UPLOAD_BYTES // (1024 * 1024),
        max_seconds=media.MAX_SECONDS,
        tools=media.tools_available(),
    )


@router.get("/target", response_class=HTMLResponse)
async def target_page(
    request: Request,
    t: str = Query("", max_length=TARGET_LIMIT),
    staff: Staff = Depends(AUDIO),
    session: AsyncSession = DB,
) -> Response:
    return await _target_page(request, session, staff, t)


def _page_of(key: str) -> str:
    return f"/audio/target?t={quote(key, safe=':')}"


class ClipFields(BaseModel):
    target: str = Field(min_length=1, max_length=TARGET_LIMIT)
    locale: str = Field(min_length=2, max_length=8)


@router.post("/target/upload", dependencies=[Depends(verify_csrf)])
async def upload_clip(
    request: Request, staff: Staff = Depends(AUDIO), session: AsyncSession = DB
) -> Response:
    key = str((await request.form()).get("target") or "")[:TARGET_LIMIT]

    async def store(data: ClipFields) -> str:
        target = await clips.check_changeable(session, data.target, data.locale, Scope.of(staff))
        locale = data.locale
        file = (await request.form()).get("file")
        if not isinstance(file, StarletteUpload) or not file.filename:
            raise FieldRefused("file", N_("Choose a recording to upload."))
        raw = await file.read(media.MAX_UPLOAD_BYTES + 1)
        voice = await asyncio.to_thread(media.convert, raw)
        await clips.do_store_clip(
            session, target, locale, voice, actor=staff, ip=client_ip(request)
        )
        return target.key

    async def again(form: FormState) -> Response:
        return await _target_page(request, session, staff, key, form=form)

    return await submit(
        request,
        session,
        ClipFields,
        verb=store,
        done_url=_page_of,
        message=_("The recording is saved. Workers hear it from now on."),
        again=again,
    )


@router.post("/target/delete", dependencies=[Depends(verify_csrf)])
async def delete_clip(
    request: Request, staff: Staff = Depends(AUDIO), session: AsyncSession = DB
) -> Response:
    key = str((await request.form()).get("target") or "")[:TARGET_LIMIT]

    async def remove(data: ClipFields) -> str:
        target = await clips.check_changeable(session, data.target, data.locale, Scope.of(staff))
        await clips.do_delete_clip(session, target, data.locale, actor=staff, ip=client_ip(request))
        return target.key

    async def again(form: FormState) -> Response:
        return await _target_page(request, session, staff, key, form=form)

    return await submit(
        request,
        session,
        ClipFields,
        verb=remove,
        done_url=_page_of,
        message=_("The recording is deleted."),
        again=again,
    )


@router.get("/play/{token}")
async def play(token: str, staff: Staff = Depends(AUDIO), session: AsyncSession = DB) -> Response:
    """The clip's OGG/Opus bytes, for the page's player: never cached by a shared cache."""
    clip = await clips.access_clip(session, token, Scope.of(staff))
    return Response(
        clip.content,
        media_type="audio/ogg",
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )
