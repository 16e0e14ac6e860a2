"""Closing and reopening a case (review M9, m4): four eyes with a written reason for high and
critical cases, for a case still new and for an unsubstantiated outcome, enforced by the service
whatever the form sends; a staff reopen with a reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot.storage.db import transaction
from bot.storage.models import OutboxMessage
from bot.storage.reports import Case, CaseTask
from services.errors import Conflict
from services.labels import label
from services.reports.cases import (
    ReasonNeeded,
    SecondPersonNeeded,
    TransitionRefused,
    access_case,
    do_close,
    do_confirm_close,
    do_reopen,
    do_transition,
)
from services.reports.crypto import keyring
from services.reports.protocol import (
    TRANSITIONS,
    Category,
    Harm,
    Outcome,
    Severity,
    State,
    needs_reason,
    needs_second_person,
)
from tests.console import ConsoleHarness, csrf_of
from tests.factories import make_case

OPEN_STATES = [s for s in State if s != State.CLOSED]


@given(
    st.sampled_from(list(Severity)), st.sampled_from(list(State)), st.sampled_from(list(Outcome))
)
def test_four_eyes_rules_over_every_severity_state_and_outcome(
    severity: Severity, state: State, outcome: Outcome
) -> None:
    second = needs_second_person(severity, outcome, from_state=state)
    # Only a normal case, already acknowledged, closed as anything but unsubstantiated closes
    # on one person's word.
    alone = (
        severity == Severity.NORMAL and state != State.NEW and outcome != Outcome.UNSUBSTANTIATED
    )
    assert second is not alone
    assert needs_reason(severity, outcome, from_state=state) is second
    # Closing is possible from every open state, and from closed only reopening leads anywhere.
    assert (State.CLOSED in TRANSITIONS[state]) is (state != State.CLOSED)


HARM_OF = {
    Severity.CRITICAL: dict(harm=Harm.PHYSICAL_VIOLENCE),
    Severity.HIGH: dict(harm=Harm.SEXUAL_HARASSMENT),
    Severity.NORMAL: dict(category=Category.WORKING_TIME, harm=Harm.OTHER),
}
PATH = [State.ACKNOWLEDGED, State.TRIAGED, State.INVESTIGATING, State.REMEDIATION]


@pytest.mark.parametrize("severity", list(Severity))
async def test_the_service_refuses_a_lone_or_reasonless_close(
    console: ConsoleHarness, severity: Severity
) -> None:
    """Every state × outcome through the real service: the close happens at once only when the
    rule says so; otherwise it waits for a second person and needs a reason."""
    keys = keyring(console.ctx.settings)
    handler = await console.staff("case_handler", ["BD"])
    manager = await console.staff("country_manager", ["BD"])
    n = 0
    for steps in range(len(PATH) + 1):
        for outcome in Outcome:
            n += 1
            made = await make_case(
                console.sessions,
                console.ctx.settings,
                telegram_id=70_000 + n + 1000 * list(Severity).index(severity),
                **HARM_OF[severity],
            )
            async with transaction(console.sessions) as s:
                case = await access_case(s, handler, made.id, audit_view=False)
                assert case.severity == severity
                for target in PATH[:steps]:
                    await do_transition(s, case, target, actor=handler, keys=keys)
                state = State(case.state)
                second = needs_second_person(severity, outcome, from_state=state)
                if second:
                    with pytest.raises(ReasonNeeded):
                        await do_close(s, case, outcome, actor=handler, keys=keys, note="  ")
                await do_close(s, case, outcome, actor=handler, keys=keys, note="Checked.")
                if not second:
                    assert case.state == State.CLOSED and case.outcome == outcome
                    continue
                assert case.state == state and case.pending_close
                # The proposer and a handler cannot confirm; a different proposal waits.
                for who in (handler,):
                    with pytest.raises(SecondPersonNeeded):
                        await do_confirm_close(s, case, actor=who, keys=keys)
                other = next(o for o in Outcome if o != outcome)
                with pytest.raises(Conflict):
                    await do_close(s, case, other, actor=handler, keys=keys, note="Other.")
                await do_close(s, case, outcome, actor=handler, keys=keys, note="Checked.")
                await do_confirm_close(s, case, actor=manager, keys=keys)
                assert case.state == State.CLOSED and case.outcome == outcome


async def test_reopen_needs_a_reason_and_a_closed_case(console: ConsoleHarness) -> None:
    keys = keyring(console.ctx.settings)
    made = await make_case(console.sessions, console.ctx.settings, **HARM_OF[Severity.NORMAL])
    handler = await console.staff("case_handler", ["BD"])
    async with transaction(console.sessions) as s:
        case = await access_case(s, handler, made.id, audit_view=False)
        with pytest.raises(TransitionRefused):
            await do_reopen(s, case, actor=handler, note="Why not", keys=keys)
        await do_transition(s, case, State.ACKNOWLEDGED, actor=handler, keys=keys)
        await do_close(s, case, Outcome.RESOLVED, actor=handler, keys=keys)
        with pytest.raises(TransitionRefused):  # not through a plain transition
            await do_transition(s, case, State.INVESTIGATING, actor=handler, keys=keys)
        with pytest.raises(ReasonNeeded):
            await do_reopen(s, case, actor=handler, note=" ", keys=keys)
        await do_reopen(
            s, case, actor=handler, note="The wages were not paid after all.", keys=keys
        )
        assert (case.state, case.outcome, case.closed_at) == (State.INVESTIGATING, None, None)
        checkins = await s.scalars(select(CaseTask).where(CaseTask.case_id == case.id))
        assert not [t for t in checkins if t.kind.startswith("checkin_")]
        # Closed again later: the check-ins are planned again, once.
        await do_close(s, case, Outcome.RESOLVED, actor=handler, keys=keys)
        assert case.state == State.CLOSED
    async with console.sessions() as s:
        kinds = [
            t.kind
            for t in await s.scalars(select(CaseTask).where(CaseTask.case_id == made.id))
            if t.kind.startswith("checkin_")
        ]
        assert sorted(kinds) == ["checkin_day30", "checkin_day90", "checkin_outcome"]
        news = (await s.scalars(select(OutboxMessage.params))).all()
        assert {"case_id": made.id, "state": "investigating"} in news


# ---- the forms --------------------------------------------------------------------------------


async def _close(client, case_id: int, **data: str):  # type: ignore[no-untyped-def]
    token = csrf_of((await client.get(f"/reports/{case_id}")).text)
    return await client.post(f"/reports/{case_id}/close", data={"csrf_token": token, **data})


async def test_the_close_form_preselects_nothing_and_asks_for_a_confirmation(
    console: ConsoleHarness,
) -> None:
    made = await make_case(console.sessions, console.ctx.settings)
    handler = await console.staff("case_handler", ["BD"])
    client = console.client_for(handler)
    page = (await client.get(f"/reports/{made.id}")).text
    select_html = page[
        page.index('<select id="outcome"') : page.index(
            "</select>", page.index('<select id="outcome"')
        )
    ]
    assert '<option value="">Choose an outcome</option>' in select_html
    assert "selected" not in select_html
    assert 'name="confirm_action"' in page[page.index(f'action="/reports/{made.id}/close"') :]

    # A forged POST: no outcome, no tick, no reason, then all but the reason.
    r = await _close(client, made.id, outcome="", note="x", confirm_action="1")
    assert r.status_code == 400 and "Please choose one of the options." in r.text
    r = await _close(client, made.id, outcome="withdrawn", note="x")
    assert r.status_code == 400 and "tick the box to confirm" in r.text
    r = await _close(client, made.id, outcome="withdrawn", confirm_action="1")
    assert r.status_code == 400 and "Please write the reason" in r.text
    async with console.sessions() as s:
        stored = await s.get(Case, made.id)
        assert stored is not None and stored.state == "new" and not stored.pending_close

    # With all of it: a proposal (new, high), shown with who, when, what and why.
    r = await _close(
        client, made.id, outcome="withdrawn", note="The worker asked to stop.", confirm_action="1"
    )
    assert r.status_code == 303 and r.headers["location"] == f"/reports/{made.id}"
    page = (await client.get(f"/reports/{made.id}")).text
    assert "Closing proposed. It waits for a second person to confirm it." in page
    card = page[page.index('id="four-eyes"') :]
    card = card[: card.index("</div>")]
    assert handler.email in card and "The worker asked to stop." in card
    assert "(Dhaka)" in card  # the factory's local time, said so
    assert "Confirm closing" not in card  # not by the proposer


async def test_a_second_person_confirms_with_a_tick_and_can_keep_it_open(
    console: ConsoleHarness,
) -> None:
    made = await make_case(console.sessions, console.ctx.settings, harm=Harm.PHYSICAL_VIOLENCE)
    handler = console.client_for(await console.staff("case_handler", ["BD"], name="Karim"))
    await handler.post(
        f"/reports/{made.id}/transition",
        data={
            "to": "acknowledged",
            "csrf_token": csrf_of((await handler.get(f"/reports/{made.id}")).text),
        },
    )
    r = await _close(handler, made.id, outcome="resolved", note="Fixed.", confirm_action="1")
    assert r.status_code == 303
    manager = console.client_for(await console.staff("country_manager", ["BD"], name="Rahima"))
    page = (await manager.get(f"/reports/{made.id}")).text
    assert "Karim" in page and "Confirm closing" in page
    token = csrf_of(page)
    r = await manager.post(
        f"/reports/{made.id}/confirm-close", data={"decision": "confirm", "csrf_token": token}
    )
    assert r.status_code == 400 and "tick the box to confirm" in r.text
    r = await manager.post(
        f"/reports/{made.id}/confirm-close", data={"decision": "reject", "csrf_token": token}
    )
    assert r.status_code == 303
    page = (await manager.get(f"/reports/{made.id}")).text
    assert "The case stays open." in page and "Rahima did not confirm the closing" in page
    r = await _close(handler, made.id, outcome="resolved", note="Fixed now.", confirm_action="1")
    r = await manager.post(
        f"/reports/{made.id}/confirm-close",
        data={"decision": "confirm", "confirm_action": "1", "csrf_token": token},
    )
    assert r.status_code == 303
    page = (await manager.get(f"/reports/{made.id}")).text
    resolved = label(Outcome.RESOLVED)
    assert f"Closing confirmed: the case is closed as {resolved}." in page
    assert f"Rahima confirmed the closing: the case is closed as {resolved}." in page
    # A closed case has no empty "Next step" and offers Reopen.
    assert 'id="next-step"' not in page and 'id="reopen"' in page


async def test_reopen_from_the_page(console: ConsoleHarness) -> None:
    made = await make_case(console.sessions, console.ctx.settings, **HARM_OF[Severity.NORMAL])
    handler = console.client_for(await console.staff("case_handler", ["BD"], name="Karim"))
    token = csrf_of((await handler.get(f"/reports/{made.id}")).text)
    await handler.post(
        f"/reports/{made.id}/transition", data={"to": "acknowledged", "csrf_token": token}
    )
    r = await _close(handler, made.id, outcome="resolved", confirm_action="1")
    assert r.status_code == 303
    r = await handler.post(f"/reports/{made.id}/reopen", data={"note": "", "csrf_token": token})
    assert r.status_code == 400 and 'id="reopen-note-error"' in r.text
    r = await handler.post(
        f"/reports/{made.id}/reopen", data={"note": "The fix did not last.", "csrf_token": token}
    )
    assert r.status_code == 303
    page = (await handler.get(f"/reports/{made.id}")).text
    assert f"The case is open again: it is now {label(State.INVESTIGATING)}." in page
    assert "Karim reopened the case." in page and "The fix did not last." in page
    assert 'id="reopen"' not in page and 'id="next-step"' in page
