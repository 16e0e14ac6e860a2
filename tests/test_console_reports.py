"""Case triage in the console: queue order, the case page, protocol actions, four eyes, counts."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.storage.models import AuditEvent, OutboxMessage
from bot.storage.reports import Case
from services.reports.protocol import Category, Harm
from tests.console import ConsoleHarness, csrf_of
from tests.factories import make_case


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
    assert r.status_code == 409 and "cannot move to investigating" in r.text
    r = await client.post(
        f"/reports/{case.id}/transition", data={"to": "acknowledged", "csrf_token": token}
    )
    assert r.status_code == 303
    r = await client.post(
        f"/reports/{case.id}/message", data={"text": "Which line?", "csrf_token": token}
    )
    assert r.status_code == 303
    page = await client.get(f"/reports/{case.id}")
    assert "Which line?" in page.text and "acknowledged" in page.text
    async with console.sessions() as s:
        kinds = [
            m.kind
            for m in (await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        ]
        assert kinds == ["reports.update", "reports.message"]
        actions = [
            a.action for a in (await s.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
        ]
        assert (
            actions.count("case.view") == 2
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
        f"/reports/{case.id}/close", data={"outcome": "resolved", "csrf_token": token}
    )
    page = await client.get(f"/reports/{case.id}")
    assert "Closing waits for a second person" in page.text and "Confirm closing" not in page.text
    other = console.client_for(second)
    token = csrf_of((await other.get(f"/reports/{case.id}")).text)
    r = await other.post(
        f"/reports/{case.id}/confirm-close", data={"decision": "confirm", "csrf_token": token}
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
    assert "<td>6</td>" in page and "fewer than 5" in page and "<td>1</td>" not in page
    async with console.sessions() as s:
        assert (
            await s.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "case.view")
            )
            == 0
        )
