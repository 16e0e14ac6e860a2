"""A country manager links their Telegram in the console and receives critical-case alerts there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from bot.storage.models import Staff
from services.reports.jobs import run_case_tasks
from services.reports.protocol import Harm
from tests.console import ConsoleHarness, csrf_of, make_context
from tests.factories import make_case
from tests.harness import BotHarness


async def test_manager_links_telegram_and_gets_critical_alert(app: BotHarness) -> None:
    console = ConsoleHarness(make_context(app.sessions, None, app.settings.data_dir))
    manager = await console.staff("country_manager", ["BD"])
    client = console.client_for(manager)
    page = await client.get("/account")
    assert "Link my Telegram" in page.text
    started = await client.post("/account/telegram", data={"csrf_token": csrf_of(page.text)})
    assert started.status_code == 303  # POST-redirect-GET: the code is on the next page, once
    linked = await client.get(started.headers["location"])
    code = linked.text.split("/staff ")[1].split("<")[0]
    assert "/staff " not in (await client.get("/account")).text

    phone = app.user(777001, language_code="en")
    await phone.send("/staff WRONGCODE")
    assert "not valid" in (await phone.wait_reply()).plain_text()
    await phone.send(f"/staff {code}")
    assert "is linked" in (await phone.wait_reply()).plain_text()
    await phone.wait_idle()
    async with app.sessions() as s:
        stored = await s.scalar(select(Staff).where(Staff.id == manager.id))
        assert (
            stored is not None
            and stored.telegram_id == 777001
            and stored.telegram_link_hash is None
        )

    case = await make_case(
        app.sessions, app.settings, harm=Harm.PHYSICAL_VIOLENCE, telegram_id=777002
    )
    await run_case_tasks(console.ctx)
    await app.deliver()
    alert = phone.messages[-1].plain_text()
    # The number and a link only: nothing of the case on a lock screen (issue 17).
    assert f"Case {case.id} needs you" in alert and f"/reports/{case.id}" in alert
    assert "critical" not in alert and "Factory" not in alert

    # M7: the account page says the alerts reach Telegram, and they can be stopped.
    page = await client.get("/account")
    assert "Linked: critical reports" in page.text and "Link my Telegram" not in page.text
    stopped = await client.post(
        "/account/telegram", data={"csrf_token": csrf_of(page.text), "unlink": "true"}
    )
    assert stopped.status_code == 303
    page = await client.get(stopped.headers["location"])
    assert "Telegram alerts are off" in page.text and "Link my Telegram" in page.text
    async with app.sessions() as s:
        stored = await s.scalar(select(Staff).where(Staff.id == manager.id))
        assert stored is not None and stored.telegram_id is None

    # The same code cannot be used twice, and an expired one fails.
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=20)):
        await phone.send(f"/staff {code}")
        assert "not valid" in (await phone.wait_reply()).plain_text()
    await console.close()
