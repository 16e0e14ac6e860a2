"""The landing page shows each role what needs it (M14): handlers their cases due within a day
or overdue and worker replies they have not read; managers deadlines met, ageing and cases per
month per country as server-drawn charts with the figures in tables; analysts the latest waves;
organisers their topics' reach. Every count is suppressed below k."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.storage.db import transaction
from bot.storage.reports import Case, CaseEvent
from services.reports.protocol import Actor, Category, EventKind, Harm
from tests.console import ConsoleHarness, tables
from tests.factories import make_case, make_factory, make_worker


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def section(html: str, ident: str) -> str:
    found = re.search(rf'<section[^>]*id="{ident}"(.*?)</section>', html, re.S)
    assert found, f"no section {ident}"
    return found.group(1)


async def change(console: ConsoleHarness, case_id: int, **values: Any) -> None:
    async with transaction(console.sessions) as s:
        case = await s.get(Case, case_id)
        assert case is not None
        for name, value in values.items():
            setattr(case, name, value)


async def copies(console: ConsoleHarness, case: Any, n: int, **values: Any) -> None:
    """``n`` more cases like ``case`` (a real one made through the service), written directly:
    statistics need many cases, and each real one costs a receipt hash."""
    async with transaction(console.sessions) as s:
        template = await s.get(Case, case.id)
        assert template is not None
        columns = {c.key: getattr(template, c.key) for c in Case.__table__.columns}
        for _ in range(n):
            row = dict(columns)
            row.pop("id")
            token = secrets.token_hex(6)
            row.update(
                receipt_lookup=token * 2,
                submission_token=token * 2,
                reference=token[:12],
                **values,
            )
            s.add(Case(**row))


async def test_handler_sees_cases_due_within_a_day_and_overdue(console: ConsoleHarness) -> None:
    settings = console.ctx.settings
    critical = await make_case(
        console.sessions, settings, telegram_id=1, harm=Harm.PHYSICAL_VIOLENCE
    )  # acknowledge within 24 h: due within a day
    normal = await make_case(
        console.sessions, settings, telegram_id=2, category=Category.WORKING_TIME, harm=Harm.OTHER
    )  # five days: not yet
    late = await make_case(console.sessions, settings, telegram_id=3)
    await change(console, late.id, ack_due_at=datetime.now(UTC) - timedelta(hours=3))
    others = await make_case(console.sessions, settings, telegram_id=4, harm=Harm.PHYSICAL_VIOLENCE)
    elsewhere = await make_case(
        console.sessions, settings, telegram_id=5, country="KH", harm=Harm.PHYSICAL_VIOLENCE
    )
    handler = await console.staff("case_handler", ["BD"])
    colleague = await console.staff("case_handler", ["BD"])
    await change(console, others.id, assigned_staff_id=colleague.id)
    await change(console, critical.id, assigned_staff_id=handler.id)
    page = (await console.client_for(handler).get("/")).text
    due = section(page, "due")
    assert f'href="/reports/{critical.id}"' in due and f'href="/reports/{late.id}"' in due
    for absent in (normal, others, elsewhere):
        assert f'href="/reports/{absent.id}"' not in due
    rows = tables(page, "dash-cases")[0]
    assert rows[1][0].startswith(f"#{late.id}")  # the passed deadline first
    assert "overdue" in rows[1][3] and "ago" in rows[1][3]
    assert rows[2][0].startswith(f"#{critical.id}") and rows[2][4] == "you"
    assert "Acknowledge" in rows[2][2] and "in " in rows[2][3]
    assert rows[1][4] == "no one yet"
    # Once acknowledged, the next deadline is triage's (48 h for a critical case): not due.
    await change(console, critical.id, acknowledged_at=datetime.now(UTC), state="acknowledged")
    page = (await console.client_for(handler).get("/")).text
    assert f'href="/reports/{critical.id}"' not in section(page, "due")


async def test_unread_worker_replies_until_the_handler_opens_the_case(
    console: ConsoleHarness,
) -> None:
    case = await make_case(console.sessions, console.ctx.settings)
    quiet = await make_case(console.sessions, console.ctx.settings, telegram_id=8002)
    handler = await console.staff("case_handler", ["BD"])
    client = console.client_for(handler)
    assert "No unread replies." in section((await client.get("/")).text, "unread")
    await client.get(f"/reports/{case.id}")  # read before the worker wrote: still unread after
    async with transaction(console.sessions) as s:
        for _ in range(2):
            s.add(
                CaseEvent(
                    case_id=case.id,
                    at=datetime.now(UTC) + timedelta(seconds=1),
                    actor=Actor.REPORTER,
                    kind=EventKind.MESSAGE_FROM_REPORTER,
                    detail={},
                )
            )
    unread = section((await client.get("/")).text, "unread")
    assert f'href="/reports/{case.id}"' in unread and "2 new messages" in text_of(unread)
    assert f'href="/reports/{quiet.id}"' not in unread
    # Another handler's view does not read it for this one.
    other = console.client_for(await console.staff("case_handler", ["BD"]))
    await other.get(f"/reports/{case.id}")
    assert f'href="/reports/{case.id}"' in section((await client.get("/")).text, "unread")
    async with transaction(console.sessions) as s:  # the view comes after the messages
        for event in (await s.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id))).all():
            event.at = event.at - timedelta(seconds=5)
    await client.get(f"/reports/{case.id}")
    assert f'href="/reports/{case.id}"' not in section((await client.get("/")).text, "unread")


async def test_manager_sees_deadlines_met_ageing_and_months_suppressed(
    console: ConsoleHarness,
) -> None:
    now = datetime.now(UTC)
    first = await make_case(console.sessions, console.ctx.settings)
    # 7 acknowledged on time and 5 late (with the first one, which is not due yet: 12 due).
    await copies(
        console,
        first,
        7,
        state="acknowledged",
        acknowledged_at=now - timedelta(days=3),
        ack_due_at=now - timedelta(days=2),
        submitted_at=now - timedelta(days=4),
    )
    await copies(
        console,
        first,
        5,
        state="acknowledged",
        acknowledged_at=now - timedelta(days=20),
        ack_due_at=now - timedelta(days=40),
        submitted_at=now - timedelta(days=41),
    )
    lone = await make_case(console.sessions, console.ctx.settings, telegram_id=9, country="KH")
    manager = await console.staff("country_manager", ["BD"])
    page = (await console.client_for(manager).get("/")).text
    bd = section(page, "country-BD")
    assert 'id="country-KH"' not in page and f"/reports/{lone.id}" not in page
    sla = tables(bd, "sla")[0]
    assert sla[1][1:] == ["7", "5", "12", "58%"]  # acknowledged: on time, late, due, share
    # Nothing triaged and no deadline passed: every cell "fewer than 5", no share.
    assert sla[2][1:] == ["fewer than 5", "fewer than 5", "fewer than 5", "not shown"]
    ages = dict((row[0], row[1]) for row in tables(bd, "ageing")[0])
    assert ages["0–7 days"] == "8" and ages["All open cases"] == "13"
    assert ages["8–30 days"] == "fewer than 5" and ages["more than 90 days"] == "fewer than 5"
    # The 5 would give the two empty bands back as 13 − 8 − 5: it is hidden as a complement.
    assert ages["31–90 days"] == "hidden"
    # Charts are drawn on the server, with a text alternative; no script, no other site.
    svgs = re.findall(r"<svg[^>]*>", bd)
    assert len(svgs) == 4 and all('role="img"' in s and "aria-label=" in s for s in svgs)
    assert "<script" not in page.split("</head>")[1] and "http" not in "".join(svgs).replace(
        "http://www.w3.org/2000/svg", ""
    )
    months = dict((row[0], row[1]) for row in tables(bd, "months")[0])
    assert len(months) == 12 and "fewer than 5" in months.values()
    categories = dict((row[0], row[1]) for row in tables(bd, "categories")[0])
    assert "working_time" not in categories and len(categories) == len(Category)
    numbers = [int(c) for c in [*months.values(), *categories.values()] if c.isdigit()]
    assert min(numbers, default=5) >= 5  # no small number, no zero


async def test_admin_sees_every_country_and_small_ones_hidden(console: ConsoleHarness) -> None:
    await make_case(console.sessions, console.ctx.settings, telegram_id=1)
    await make_case(console.sessions, console.ctx.settings, telegram_id=2, country="KH")
    admin = await console.staff("admin", [])
    page = (await console.client_for(admin).get("/")).text
    assert 'id="country-BD"' in page and 'id="country-KH"' in page
    kh = section(page, "country-KH")
    assert ">1<" not in kh and "fewer than 5" in kh
    assert 'id="due"' not in page  # administrators do not handle cases


async def test_analyst_sees_latest_waves_and_organiser_topics(console: ConsoleHarness) -> None:
    from tests.surveys_data import make_wave

    wave = await make_wave(console.sessions)
    async with transaction(console.sessions) as s:
        row = await s.get(type(wave), wave.id)
        assert row is not None
        row.status, row.invited_count = "open", 43
    analyst = await console.staff("analyst", ["BD"])
    page = (await console.client_for(analyst).get("/")).text
    waves = section(page, "waves")
    assert f'/surveys/waves/{wave.id}/results"' in waves
    cells = tables(waves, "")[0][1]
    assert cells[2] == "fewer than 5" and cells[3] == "40" and cells[4] == "not shown"
    assert 'id="due"' not in page and 'id="topics"' not in page

    from services.broadcasts import topics
    from services.broadcasts.topics import TopicInput
    from services.scope import Scope

    await make_factory(console.sessions, "DK-01")
    async with transaction(console.sessions) as s:
        topic = await topics.do_create_topic(
            s,
            TopicInput("union-news", "BD", "en", {"en": "Union news"}),
            scope=Scope.everywhere(),
            actor=None,
        )
    small = await make_worker(console.sessions, 9501)
    async with transaction(console.sessions) as s:
        user = await s.get(type(small), small.id)
        assert user is not None
        await topics.do_subscribe(s, user, topic.id)
    organiser = await console.staff("organiser", ["BD"])
    client = console.client_for(organiser)
    reach = section((await client.get("/")).text, "topics")
    assert "Union news" in reach and "fewer than 5" in reach and ">1<" not in reach
    for i in range(6):
        worker = await make_worker(console.sessions, 9600 + i)
        async with transaction(console.sessions) as s:
            user = await s.get(type(worker), worker.id)
            assert user is not None
            await topics.do_subscribe(s, user, topic.id)
    reach = section((await client.get("/")).text, "topics")
    assert ">7<" in reach


async def test_m12_zero_failures_read_0_and_people_stay_suppressed(console: ConsoleHarness) -> None:
    """A pilot in one factory: three workers got the message. "Failed" and "waiting" are not
    people: their 0 is shown. Sent, blocked and skipped are people: below 5 they stay hidden."""
    from bot.storage.broadcasts import Broadcast
    from services.broadcasts import topics
    from services.broadcasts.topics import TopicInput
    from services.scope import Scope

    async with transaction(console.sessions) as s:
        topic = await topics.do_create_topic(
            s,
            TopicInput("pilot", "BD", "en", {"en": "Pilot"}),
            scope=Scope.everywhere(),
            actor=None,
        )
        s.add(
            Broadcast(
                topic_id=topic.id,
                title="First pilot message",
                countries=["BD"],
                texts={"en": "Hello"},
                status="sent",
                queued_count=3,
                sent_count=3,
            )
        )
        s.add(
            Broadcast(
                topic_id=topic.id,
                title="Second pilot message",
                countries=["BD"],
                texts={"en": "Hello again"},
                status="sent",
                queued_count=3,
                sent_count=1,
                failed_count=2,
            )
        )
    organiser = await console.staff("organiser", ["BD"])
    page = (await console.client_for(organiser).get("/")).text
    rows = {row[0]: row[1:] for row in tables(section(page, "last-broadcasts"), "")[0]}
    header = rows.pop("Message")
    first = dict(zip(header, rows["First pilot message"], strict=True))
    assert first == {
        "Queued": "fewer than 5",
        "sent": "fewer than 5",
        "failed": "0",
        "blocked the bot": "fewer than 5",
        "skipped": "fewer than 5",
        "waiting": "0",
    }
    second = dict(zip(header, rows["Second pilot message"], strict=True))
    assert second["failed"] == "fewer than 5" and second["waiting"] == "0"  # 2 failures: hidden


async def test_manager_sees_cases_per_month_by_category_that_give_nothing_away(
    console: ConsoleHarness,
) -> None:
    """The month × category table sits beside the per-month and per-category lines, whose
    numbers are its margins: the LP attacker, given everything the three print, still finds
    every small count anywhere in 0..k−1."""
    from services.reports import stats
    from services.suppression import HIDDEN, SuppressedTable
    from tests.lp_attack import Attack, add_table

    months = stats.last_months(datetime.now(UTC))
    first = await make_case(console.sessions, console.ctx.settings)
    # A busy year: three categories every month (so some cells can be shown), a few small ones.
    busy = ("harassment", "compensation", "safety")
    plan = [(m, c, 5 + i % 3) for i, m in enumerate(months) for c in busy]
    plan += [(months[-2], "working_time", 2), (months[-3], "dormitory", 1)]
    for month, category, n in plan:
        at = stats.month_start(month) + timedelta(days=3)
        await copies(console, first, n, category=category, submitted_at=at, ack_due_at=at)
    async with console.sessions() as s:
        rows = (await s.execute(select(Case.submitted_at, Case.category))).all()
    truth: dict[tuple[str, str], int] = {}
    for at, category in rows:
        key = (stats.month_of(at), category)
        truth[key] = truth.get(key, 0) + 1

    manager = await console.staff("country_manager", ["BD"])
    bd = section((await console.client_for(manager).get("/")).text, "country-BD")
    header, *body = tables(bd, "month-category")[0]
    categories = [c.value for c in Category]
    assert len(header) == 1 + len(categories) and len(body) == 12
    assert header[1].startswith("Harassment")  # words, not keys
    k = 5

    def read(cell: str) -> object:
        return int(cell) if cell.isdigit() else None if cell.startswith("fewer") else HIDDEN

    shown = {
        (m, c): read(body[i][1 + j]) for i, m in enumerate(months) for j, c in enumerate(categories)
    }
    assert shown[(months[-3], "dormitory")] is None  # one case: fewer than 5
    assert shown[(months[-4], "forced_labour")] is None  # none: fewer than 5 as well
    numbers = [n for n in shown.values() if isinstance(n, int)]
    assert numbers and min(numbers) >= k  # no small number, no zero

    month_line = dict((row[0], read(row[1])) for row in tables(bd, "months")[0])
    category_line = dict((row[0], read(row[1])) for row in tables(bd, "categories")[0])
    attack = Attack(k)
    month_words = list(month_line)
    category_words = list(category_line)
    for i, m in enumerate(months):
        n = sum(truth.get((m, c), 0) for c in categories)
        attack.number(("month", m), n, month_line[month_words[i]])  # type: ignore[arg-type]
    for j, c in enumerate(categories):
        n = sum(truth.get((m, c), 0) for m in months)
        attack.number(("category", c), n, category_line[category_words[j]])  # type: ignore[arg-type]
    everything = re.search(r"All: <strong>(\d+)</strong>", bd)
    assert everything is not None  # the country's total, printed above the charts
    attack.number(("month", "all"), sum(truth.values()), int(everything.group(1)))
    table = SuppressedTable(
        cells=shown,  # type: ignore[arg-type]
        row_totals={m: None for m in months},
        column_totals={c: None for c in categories},
        grand_total=None,
    )
    add_table(
        attack,
        "cross",
        truth,
        table,
        rows=months,
        columns=categories,
        row_names={m: ("month", m) for m in months},
        column_names={c: ("category", c) for c in categories},
        grand_name=("month", "all"),
    )
    assert attack.weak() == []
