"""The case page and every protocol action.

Opening a case, downloading evidence and every change are audited (``services.reports.cases``).
Handlers never see a Telegram id or name: the case holds none to show. Every action answers with
a confirmation and a redirect back to the case (POST-redirect-GET), or shows the case again with
the reason next to the form that was sent and what was typed in it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, StringConstraints
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.forms import FormState, NotConfirmed, flash, submit
from admin.reports import HANDLE, keys_for
from admin.reports import evidence as files
from admin.reports import history as told
from admin.web import DB, client_ip, context, render, verify_csrf
from bot.i18n import gettext as _
from bot.storage.models import Country, Factory, Staff
from bot.storage.reports import Case, CaseEvidence
from services.clock import utcnow
from services.errors import DomainError, Forbidden
from services.labels import label
from services.reports import cases, conversation
from services.reports.cases import MESSAGE_LIMIT
from services.reports.protocol import (
    REOPEN_TO,
    Category,
    Harm,
    Outcome,
    Referral,
    Severity,
    State,
)
from services.reports.queue import case_deadline, do_mark_read
from services.reports.submission import open_narrative

router = APIRouter(prefix="/reports")

Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MESSAGE_LIMIT)
]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MESSAGE_LIMIT)]


class TransitionForm(BaseModel):
    to: State
    note: Note = ""


class CloseForm(BaseModel):
    outcome: Outcome  # no default: the page preselects nothing
    note: Note = ""


class DecisionForm(BaseModel):
    decision: Literal["confirm", "reject"]
    note: Note = ""
    confirm_action: str = ""


class AssignForm(BaseModel):
    handler_id: str = ""  # empty: unassigned


class TextForm(BaseModel):
    text: Text


class ReferForm(BaseModel):
    to: Referral
    note: Note = ""
    name_worker: bool = False


class ReopenForm(BaseModel):
    note: Text


async def _page(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    case: Case,
    *,
    form: FormState | None = None,
    failed: str | None = None,
) -> Response:
    keys = keys_for(request)
    narrative = error = None
    opened: list[dict[str, Any]] = []
    try:
        narrative = open_narrative(keys, case.narrative, case.key_id) if case.narrative else None
        opened = cases.opened_events(case, keys)
    except DomainError as exc:
        error = exc.translated()
    evidence = (
        await session.scalars(select(CaseEvidence).where(CaseEvidence.case_id == case.id))
    ).all()
    factory = await session.get(Factory, case.factory_id) if case.factory_id else None
    country = await session.get(Country, case.country_code)
    zone = told.zone_for(factory.timezone if factory else (country.timezone if country else None))
    names = await cases.staff_names(
        session, told.staff_ids(case, [item["event"] for item in opened])
    )
    history = told.entries(opened, names, zone)
    pending = case.pending_close
    proposal = None
    if pending:
        proposal = {
            "by": names.get(int(pending["proposed_by"]), _("A staff member")),
            "at": told.local_time(_aware(pending["proposed_at"]), zone),
            "outcome": label(Outcome(pending["outcome"])),
            "reason": told.proposal_reason(history),
            "can_decide": staff.role in cases.CONFIRMING_ROLES
            and pending["proposed_by"] != staff.id,
        }
    state = State(case.state)
    targets = [t for t in cases.allowed_targets(case) if t != State.CLOSED]
    handlers = await cases.assignable_handlers(session, case)
    deadline = await case_deadline(session, case)
    return render(
        request,
        "reports/case.html",
        status_code=form.status if form else 200,
        case=case,
        state=state,
        severity=Severity(case.severity),
        category=_known(Category, case.category),
        harm=_known(Harm, case.harm) if case.harm else None,
        outcome=Outcome(case.outcome) if case.outcome else None,
        closed=state == State.CLOSED,
        factory=factory,
        zone_time=lambda value: told.local_time(value, zone),
        # Late by the deadline of the state the case is in now (as the queue reads it).
        deadline=told.local_time(deadline, zone) if deadline else None,
        late=deadline is not None and deadline < utcnow(),
        narrative=narrative,
        history=history,
        conversation=told.conversation(history),
        notes=told.notes(history),
        evidence=files.shown(list(evidence)),
        proposal=proposal,
        targets=[] if state == State.CLOSED or pending else targets,
        can_close=State.CLOSED in cases.allowed_targets(case) and not pending,
        reopen_to=REOPEN_TO,
        outcomes=[(o.value, label(o)) for o in Outcome],
        referrals=[(r.value, label(r)) for r in Referral],
        handlers=[(str(h.id), cases.staff_name(h)) for h in handlers],
        assignee=names.get(case.assigned_staff_id) if case.assigned_staff_id else None,
        key_error=error,
        form=form,
        failed=failed,
    )


def _known(kind: type[Category] | type[Harm], value: str) -> object:
    """The enum member for a stored key (its label then reads right), or the key itself."""
    try:
        return kind(value)
    except ValueError:
        return value


def _aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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
    download: int = 0,
    staff: Staff = Depends(HANDLE),
    session: AsyncSession = DB,
) -> Response:
    case, item = await cases.access_evidence(
        session, staff, case_id, evidence_id, ip=client_ip(request)
    )
    content = keys_for(request).open(item.content, case.key_id)
    media_type = files.sniff(item.mime_type, content)
    return files.evidence_response(
        content,
        media_type,
        files.file_name(case.id, item, media_type),
        download=bool(download),
        range_header=request.headers.get("range"),
    )


async def _act(
    request: Request,
    session: AsyncSession,
    staff: Staff,
    case_id: int,
    model: type[BaseModel],
    name: str,
    verb: Callable[[Case, Any], Awaitable[str]],
    *,
    confirm: bool = False,
) -> Response:
    """Run one protocol action through the console's form pattern: ``verb`` returns the
    confirmation the staff member sees on the case page; on a refusal the case shows again, the
    reason at the form ``name`` with what was typed in it (that view is audited like any other)."""
    case = await cases.access_case(session, staff, case_id, audit_view=False)

    async def again(form: FormState) -> Response:
        await cases.audit_case(session, case, "case.view", staff, ip=client_ip(request))
        return await _page(request, session, staff, case, form=form, failed=name)

    async def run(data: Any) -> None:
        flash(request, await verb(case, data))

    return await submit(
        request,
        session,
        model,
        verb=run,
        done_url=f"/reports/{case.id}",
        message=None,
        again=again,
        confirm=confirm,
    )


@router.post("/{case_id}/transition", dependencies=[Depends(verify_csrf)])
async def transition(
    request: Request, case_id: int, staff: Staff = Depends(HANDLE), session: AsyncSession = DB
) -> Response:
    keys = keys_for(request)

    async def verb(case: Case, data: TransitionForm) -> str:
        await cases.do_transition(
            session, case, data.to, actor=staff, note=data.note or None, keys=keys
        )
        return _("Saved: the case is now {state}.", state=label(data.to))

    return await _act(request, session, staff, case_id, TransitionForm, "transition", verb)


@router.post("/{case_id}/close", dependencies=[Depends(verify_csrf)])
async def close(
    request: Request, case_id: int, staff: Staff = Depends(HANDLE), session: AsyncSession = DB
) -> Response:
    keys = keys_for(request)

    async def verb(case: Case, data: CloseForm) -> str:
        await cases.do_close(
            session, case, data.outcome, actor=staff, note=data.note or None, keys=keys
        )
        if case.pending_close:
            return _("Closing proposed. It waits for a second person to confirm it.")
        return _("The case is closed as {outcome}.", outcome=label(data.outcome))

    return await _act(request, session, staff, case_id, CloseForm, "close", verb, confirm=True)


@router.post("/{case_id}/confirm-close", dependencies=[Depends(verify_csrf)])
async def confirm_close(
    request: Request, case_id: int, staff: Staff = Depends(HANDLE), session: AsyncSession = DB
) -> Response:
    keys = keys_for(request)

    async def verb(case: Case, data: DecisionForm) -> str:
        note = data.note or None
        if data.decision == "reject":
            await cases.do_reject_close(session, case, actor=staff, keys=keys, note=note)
            return _("The case stays open.")
        if data.confirm_action.lower() not in {"1", "on", "yes", "true"}:
            raise NotConfirmed()
        await cases.do_confirm_close(session, case, actor=staff, keys=keys, note=note)
        return _(
            "Closing confirmed: the case is closed as {outcome}.",
            outcome=label(Outcome(case.outcome or "")),
        )

    return await _act(request, session, staff, case_id, DecisionForm, "decision", verb)


@router.post("/{case_id}/reopen", dependencies=[Depends(verify_csrf)])
async def reopen(
    request: Request, case_id: int, staff: Staff = Depends(HANDLE), session: AsyncSession = DB
) -> Response:
    keys = keys_for(request)

    async def verb(case: Case, data: ReopenForm) -> str:
        await cases.do_reopen(session, case, actor=staff, note=data.note, keys=keys)
        return _("The case is open again: it is now {state}.", state=label(REOPEN_TO))

    return await _act(request, session, staff, case_id, ReopenForm, "reopen", verb)


@router.post("/{case_id}/assign", dependencies=[Depends(verify_csrf)])
async def assign(
    request: Request, case_id: int, staff: Staff = Depends(HANDLE), session: AsyncSession = DB
) -> Response:
    async def verb(case: Case, data: AssignForm) -> str:
        handler = None
        if data.handler_id:
            handler = (
                await session.get(Staff, int(data.handler_id))
                if data.handler_id.isdigit()
                else None
            )
            if handler is None:
                raise Forbidden()
        await cases.do_assign(session, case, handler, actor=staff)
        if handler is None:
            return _("The case is now unassigned.")
        return _("The case is assigned to {name}.", name=cases.staff_name(handler))

    return await _act(request, session, staff, case_id, AssignForm, "assign", verb)


@router.post("/{case_id}/note", dependencies=[Depends(verify_csrf)])
async def note(
    request: Request, case_id: int, staff: Staff = Depends(HANDLE), session: AsyncSession = DB
) -> Response:
    keys = keys_for(request)

    async def verb(case: Case, data: TextForm) -> str:
        await cases.do_add_note(session, case, data.text, actor=staff, keys=keys)
        return _("Your internal note is saved. The worker does not see it.")

    return await _act(request, session, staff, case_id, TextForm, "note", verb)


@router.post("/{case_id}/message", dependencies=[Depends(verify_csrf)])
async def message(
    request: Request, case_id: int, staff: Staff = Depends(HANDLE), session: AsyncSession = DB
) -> Response:
    keys = keys_for(request)
    secret = context(request).settings.effective_secret_key

    async def verb(case: Case, data: TextForm) -> str:
        await conversation.do_message_reporter(
            session, case, data.text, actor=staff, keys=keys, secret_key=secret
        )
        if case.reporter_user_id is not None:
            return _("Your message was sent to the worker's chat.")
        return _(
            "Your message is saved. The worker reads it when they check with their receipt number."
        )

    return await _act(request, session, staff, case_id, TextForm, "message", verb)


@router.post("/{case_id}/refer", dependencies=[Depends(verify_csrf)])
async def refer(
    request: Request, case_id: int, staff: Staff = Depends(HANDLE), session: AsyncSession = DB
) -> Response:
    keys = keys_for(request)

    async def verb(case: Case, data: ReferForm) -> str:
        await cases.do_refer(
            session,
            case,
            data.to,
            actor=staff,
            keys=keys,
            note=data.note or None,
            name_worker=data.name_worker,
        )
        return _("The referral to {body} is recorded.", body=label(data.to))

    return await _act(request, session, staff, case_id, ReferForm, "refer", verb)
