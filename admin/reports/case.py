"""The case page and every protocol action.

Opening a case, downloading evidence and every change are audited (``services.reports.cases``).
Handlers never see a Telegram id or name: the case holds none to show.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.reports import HANDLE, keys_for
from admin.web import DB, client_ip, context, render, verify_csrf
from bot.i18n import N_
from bot.storage.models import Factory, Staff
from bot.storage.reports import Case, CaseEvidence
from services.errors import DomainError
from services.reports import cases, conversation
from services.reports.protocol import Outcome, Referral, State
from services.reports.queue import do_mark_read
from services.reports.submission import open_narrative

router = APIRouter(prefix="/reports")


async def _page(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    case: Case,
    *,
    status: int = 200,
    **values: Any,
) -> Response:
    keys = keys_for(request)
    narrative = error = None
    history: list[dict[str, Any]] = []
    try:
        narrative = open_narrative(keys, case.narrative, case.key_id) if case.narrative else None
        history = cases.opened_events(case, keys)
    except DomainError as exc:
        error = exc.translated()
    evidence = (
        await session.scalars(select(CaseEvidence).where(CaseEvidence.case_id == case.id))
    ).all()
    factory = await session.get(Factory, case.factory_id) if case.factory_id else None
    pending = case.pending_close
    can_confirm = (
        pending is not None
        and staff.role in cases.CONFIRMING_ROLES
        and pending["proposed_by"] != staff.id
    )
    return render(
        request,
        "reports/case.html",
        status_code=status,
        case=case,
        factory=factory,
        narrative=narrative,
        history=history,
        evidence=evidence,
        targets=[t for t in cases.allowed_targets(case) if t != State.CLOSED],
        can_close=State.CLOSED in cases.allowed_targets(case) and not pending,
        can_confirm=can_confirm,
        outcomes=list(Outcome),
        referrals=list(Referral),
        handlers=await cases.assignable_handlers(session, case),
        key_error=error,
        **values,
    )


@router.get("/{case_id}", response_class=HTMLResponse)
async def case_page(
    request: Request,
    case_id: int,
    staff: Staff = Depends(HANDLE),
    session: AsyncSession = DB,
) -> Response:
    # Reporters' messages wait sealed, not knowing their case, until a key holder files them.
    await conversation.attach_reporter_messages(session, keys_for(request))
    case = await cases.access_case(session, staff, case_id, ip=client_ip(request))
    await do_mark_read(session, case, staff)  # the handler has seen the worker's messages so far
    return await _page(request, session, staff, case)


@router.get("/{case_id}/evidence/{evidence_id}")
async def evidence(
    request: Request,
    case_id: int,
    evidence_id: int,
    staff: Staff = Depends(HANDLE),
    session: AsyncSession = DB,
) -> Response:
    case, item = await cases.access_evidence(
        session, staff, case_id, evidence_id, ip=client_ip(request)
    )
    content = keys_for(request).open(item.content, case.key_id)
    extension = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}.get(
        item.mime_type, "bin"
    )
    return Response(
        content,
        media_type=item.mime_type,
        headers={
            "Content-Disposition": f'attachment; filename="case-{case.id}-evidence-{item.id}.{extension}"',
            "Cache-Control": "no-store",
        },
    )


async def _act(
    request: Request, session: AsyncSession, staff: Staff, case_id: int, action: Any
) -> Response:
    """Run one protocol action; on a refusal show the case again with the reason."""
    case = await cases.access_case(session, staff, case_id, audit_view=False)
    try:
        async with session.begin_nested():
            await action(case)
    except DomainError as exc:
        return await _page(request, session, staff, case, status=exc.status, error=exc.translated())
    return RedirectResponse(f"/reports/{case.id}", status_code=303)


@router.post("/{case_id}/transition", dependencies=[Depends(verify_csrf)])
async def transition(
    request: Request,
    case_id: int,
    to: str = Form(""),
    note: str = Form("", max_length=2000),
    staff: Staff = Depends(HANDLE),
    session: AsyncSession = DB,
) -> Response:
    keys = keys_for(request)

    async def act(case: Case) -> None:
        if to not in {s.value for s in State}:
            raise cases.TransitionRefused(current=case.state, target=to[:20] or "?")
        await cases.do_transition(
            session, case, State(to), actor=staff, note=note.strip() or None, keys=keys
        )

    return await _act(request, session, staff, case_id, act)


@router.post("/{case_id}/close", dependencies=[Depends(verify_csrf)])
async def close(
    request: Request,
    case_id: int,
    outcome: str = Form(""),
    note: str = Form("", max_length=2000),
    staff: Staff = Depends(HANDLE),
    session: AsyncSession = DB,
) -> Response:
    keys = keys_for(request)

    async def act(case: Case) -> None:
        if outcome not in {o.value for o in Outcome}:
            raise cases.InvalidReport(reason=N_("choose an outcome"))
        await cases.do_close(
            session, case, Outcome(outcome), actor=staff, note=note.strip() or None, keys=keys
        )

    return await _act(request, session, staff, case_id, act)


@router.post("/{case_id}/confirm-close", dependencies=[Depends(verify_csrf)])
async def confirm_close(
    request: Request,
    case_id: int,
    decision: str = Form("confirm"),
    note: str = Form("", max_length=2000),
    staff: Staff = Depends(HANDLE),
    session: AsyncSession = DB,
) -> Response:
    keys = keys_for(request)

    async def act(case: Case) -> None:
        verb = cases.do_confirm_close if decision == "confirm" else cases.do_reject_close
        await verb(session, case, actor=staff, keys=keys, note=note.strip() or None)

    return await _act(request, session, staff, case_id, act)


@router.post("/{case_id}/assign", dependencies=[Depends(verify_csrf)])
async def assign(
    request: Request,
    case_id: int,
    handler_id: int = Form(0),
    staff: Staff = Depends(HANDLE),
    session: AsyncSession = DB,
) -> Response:
    async def act(case: Case) -> None:
        handler = await session.get(Staff, handler_id) if handler_id else None
        if handler is None:
            raise cases.InvalidReport(reason=N_("choose a handler"))
        await cases.do_assign(session, case, handler, actor=staff)

    return await _act(request, session, staff, case_id, act)


@router.post("/{case_id}/note", dependencies=[Depends(verify_csrf)])
async def note(
    request: Request,
    case_id: int,
    text: str = Form("", max_length=4000),
    staff: Staff = Depends(HANDLE),
    session: AsyncSession = DB,
) -> Response:
    keys = keys_for(request)
    return await _act(
        request,
        session,
        staff,
        case_id,
        lambda case: cases.do_add_note(session, case, text, actor=staff, keys=keys),
    )


@router.post("/{case_id}/message", dependencies=[Depends(verify_csrf)])
async def message(
    request: Request,
    case_id: int,
    text: str = Form("", max_length=4000),
    staff: Staff = Depends(HANDLE),
    session: AsyncSession = DB,
) -> Response:
    keys = keys_for(request)
    return await _act(
        request,
        session,
        staff,
        case_id,
        lambda case: conversation.do_message_reporter(
            session,
            case,
            text,
            actor=staff,
            keys=keys,
            secret_key=context(request).settings.effective_secret_key,
        ),
    )


@router.post("/{case_id}/refer", dependencies=[Depends(verify_csrf)])
async def refer(
    request: Request,
    case_id: int,
    to: str = Form(""),
    note: str = Form("", max_length=2000),
    name_worker: bool = Form(False),
    staff: Staff = Depends(HANDLE),
    session: AsyncSession = DB,
) -> Response:
    keys = keys_for(request)

    async def act(case: Case) -> None:
        if to not in {r.value for r in Referral}:
            raise cases.InvalidReport(reason=N_("choose where the case is referred"))
        await cases.do_refer(
            session,
            case,
            Referral(to),
            actor=staff,
            keys=keys,
            note=note.strip() or None,
            name_worker=name_worker,
        )

    return await _act(request, session, staff, case_id, act)
