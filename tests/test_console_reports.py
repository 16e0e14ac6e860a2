"""Case triage in the console: queue order, the case page, protocol actions, four eyes, counts."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.storage.db import transaction
from bot.storage.models import AuditEvent, OutboxMessage
from bot.storage.reports import Case
from services.reports.cases import access_case, do_add_note
from services.reports.crypto import keyring
from services.reports.protocol import Category, Harm
from tests.console import ConsoleHarness, csrf_of
from tests.factories import make_case
from tests.queries import count_queries


async def test_queue_orders_by_severity_and_hides_other_countries(console: ConsoleHarness) -> None:
    settings = console.ctx.settings
    normal = await make_case(
        console.sessions, settings, telegram_id=1, category=Category.WORKING_TIME, harm=Harm.OTHER
    )
    critical = await make_case(
        console.sessions, settings, telegram_id=2, harm=Harm.PHYSICAL_VIOLENCE
    )
    high = await make_case(console.sessions, settings, telegram_id=3, harm=Harm.SEXUAL_HARASSMENT)
    elsewhere = await make_case(console.sessions, settings, telegram_id=4, country="KH")
    handler = await console.staff("case_handler", ["BD"])
    page = (await console.client_for(handler).get("/reports")).text
    order = [page.index(f'href="/reports/{c.id}"') for c in (critical, high, normal)]
    assert order == sorted(order)
    assert f'href="/reports/{elsewhere.id}"' not in page


async def test_handler_reads_acknowledges_and_writes_to_the_reporter(
    console: ConsoleHarness,
) -> None:
    case = await make_case(console.sessions, console.ctx.settings, narrative="মালিক আমাদের গালি দেয়")
    handler = await console.staff("case_handler", ["BD"])
    client = console.client_for(handler)
    page = await client.get(f"/reports/{case.id}")
    assert (
        page.status_code == 200 and "মালিক আমাদের গালি দেয়" in page.text and 'lang="bn"' in page.text
    )
    token = csrf_of(page.text)
    r = await client.post(
        f"/reports/{case.id}/transition", data={"to": "investigating", "csrf_token": token}
    )
    assert (
        r.status_code == 409 and "cannot move to Investigating" in r.text
    )  # in words, not the stored key
    r = await client.post(
        f"/reports/{case.id}/transition", data={"to": "acknowledged", "csrf_token": token}
    )
    assert r.status_code == 303
    r = await client.post(
        f"/reports/{case.id}/message", data={"text": "Which line?", "csrf_token": token}
    )
    assert r.status_code == 303
    page = await client.get(f"/reports/{case.id}")
    assert "Which line?" in page.text and "Acknowledged" in page.text
    async with console.sessions() as s:
        kinds = [
            m.kind
            for m in (await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        ]
        assert kinds == ["reports.update", "reports.message"]
        actions = [
            a.action for a in (await s.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
        ]
        # Two openings and the case shown again with the refusal: three views of it.
        assert (
            actions.count("case.view") == 3
            and "case.transition" in actions
            and "case.message" in actions
        )


async def test_critical_case_closes_only_with_a_second_person(console: ConsoleHarness) -> None:
    case = await make_case(console.sessions, console.ctx.settings, harm=Harm.PHYSICAL_VIOLENCE)
    manager = await console.staff("country_manager", ["BD"])
    second = await console.staff("country_manager", ["BD"])
    client = console.client_for(manager)
    token = csrf_of((await client.get(f"/reports/{case.id}")).text)
    await client.post(
        f"/reports/{case.id}/close",
        data={
            "outcome": "resolved",
            "note": "The supervisor was moved.",
            "confirm_action": "1",
            "csrf_token": token,
        },
    )
    page = await client.get(f"/reports/{case.id}")
    assert "Closing waits for a second person" in page.text and "Confirm closing" not in page.text
    other = console.client_for(second)
    token = csrf_of((await other.get(f"/reports/{case.id}")).text)
    r = await other.post(
        f"/reports/{case.id}/confirm-close",
        data={"decision": "confirm", "confirm_action": "1", "csrf_token": token},
    )
    assert r.status_code == 303
    async with console.sessions() as s:
        stored = await s.get(Case, case.id)
        assert stored is not None and (stored.state, stored.outcome) == ("closed", "resolved")


async def test_analysts_see_only_suppressed_counts(console: ConsoleHarness) -> None:
    for n in range(6):
        await make_case(console.sessions, console.ctx.settings, telegram_id=100 + n)
    await make_case(
        console.sessions,
        console.ctx.settings,
        telegram_id=200,
        category=Category.SAFETY,
        harm=Harm.OTHER,
    )
    analyst = await console.staff("analyst", ["BD"])
    client = console.client_for(analyst)
    assert (await client.get("/reports")).status_code == 403
    page = (await client.get("/reports/counts")).text
    assert "<td>7</td>" in page and "fewer than 5" in page and "<td>1</td>" not in page
    async with console.sessions() as s:
        assert (
            await s.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "case.view")
            )
            == 0
        )


async def test_acknowledging_twice_shows_no_error(console: ConsoleHarness) -> None:
    """A double-submitted form (two tabs, a double click) repeats a transition: harmless."""
    case = await make_case(console.sessions, console.ctx.settings)
    handler = await console.staff("case_handler", ["BD"])
    client = console.client_for(handler)
    token = csrf_of((await client.get(f"/reports/{case.id}")).text)
    for _ in range(2):
        r = await client.post(
            f"/reports/{case.id}/transition", data={"to": "acknowledged", "csrf_token": token}
        )
        assert r.status_code == 303, r.text
    async with console.sessions() as s:
        transitions = await s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "case.transition")
        )
        assert transitions == 1


async def _add_cases(console: ConsoleHarness, first: int, count: int) -> None:
    harms = [Harm.VERBAL_ABUSE, Harm.PHYSICAL_VIOLENCE, Harm.SEXUAL_HARASSMENT]
    for n in range(first, first + count):
        await make_case(
            console.sessions, console.ctx.settings, telegram_id=9000 + n, harm=harms[n % 3]
        )


async def test_the_queue_runs_the_same_statements_for_10_and_40_cases(
    console: ConsoleHarness,
) -> None:
    handler = await console.staff("case_handler", ["BD"])
    client = console.client_for(handler)
    await _add_cases(console, 0, 10)
    with count_queries(console.sessions) as ten:
        page = await client.get("/reports")
    assert page.status_code == 200 and page.text.count('href="/reports/') == 10
    await _add_cases(console, 10, 30)
    with count_queries(console.sessions) as forty:
        page = await client.get("/reports")
    assert page.text.count('href="/reports/') == 40
    assert any("FROM cases" in q for q in ten.statements), str(ten)  # the app's own engine
    assert forty.selects == ten.selects, str(forty)
    # The queue shows no history: the cases' events are not loaded with it.
    # (Unread replies are counted in SQL; no history row is read.)
    assert not any("case_events.body" in q for q in forty.statements), str(forty)


async def test_the_case_page_runs_the_same_statements_for_a_short_and_a_long_history(
    console: ConsoleHarness,
) -> None:
    case = await make_case(console.sessions, console.ctx.settings)
    handler = await console.staff("case_handler", ["BD"])
    client = console.client_for(handler)
    keys = keyring(console.ctx.settings)

    async def add_notes(count: int) -> None:
        async with transaction(console.sessions) as s:
            opened = await access_case(s, handler, case.id, audit_view=False)
            for n in range(count):
                await do_add_note(s, opened, f"note {n}", actor=handler, keys=keys)

    await add_notes(2)
    with count_queries(console.sessions) as short:
        assert (await client.get(f"/reports/{case.id}")).status_code == 200
    await add_notes(20)
    with count_queries(console.sessions) as long:
        page = await client.get(f"/reports/{case.id}")
    assert "note 19" in page.text
    assert any("FROM case_events" in q for q in short.statements), str(short)
    assert long.selects == short.selects, str(long)
