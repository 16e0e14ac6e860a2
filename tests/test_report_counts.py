"""L8: figures for analysts do not tell that a rare case exists, and an every-country topic's
count is the viewer's countries only (DESIGN §4.2)."""

from __future__ import annotations

from bot.storage.db import transaction
from services.broadcasts import topics
from services.broadcasts.topics import TopicInput
from services.reports.protocol import Category, Harm
from services.scope import Scope
from tests.console import ConsoleHarness, tables
from tests.factories import make_case, make_factory, make_worker


def cells(html: str) -> list[str]:
    """The counts of every breakdown table (its second column), header rows left out."""
    return [row[1] for table in tables(html, "counts") for row in table[1:]]


async def test_l8_report_counts_do_not_tell_that_one_critical_case_exists(
    console: ConsoleHarness,
) -> None:
    analyst = await console.staff("analyst", ["BD"])
    client = console.client_for(analyst)
    before = (await client.get("/reports/counts")).text
    # One rare critical case (a child under 15 at work).
    await make_case(
        console.sessions, console.ctx.settings, category=Category.CHILD_LABOUR, harm=Harm.UNDER_15
    )
    after = (await client.get("/reports/counts")).text
    assert cells(before) == cells(after)  # the page is the same with and without it
    by_category = tables(after, "counts")[2]
    assert len(by_category) == 1 + len(Category) + 1  # every category, empty ones too, and All
    assert set(cells(after)) == {"fewer than 5"}
    for n in range(6):
        await make_case(console.sessions, console.ctx.settings, telegram_id=9100 + n)
    grown = cells((await client.get("/reports/counts")).text)
    # All 7 cases are counted; the six harassment cases are hidden, as 7 − 6 would tell the one.
    assert "7" in grown and "6" not in grown and "hidden" in grown
    numbers = [int(c) for c in grown if c.isdigit()]
    assert numbers and min(numbers) >= 5  # no small number, no zero


async def test_l8_every_country_topic_counts_only_the_viewers_countries(
    console: ConsoleHarness,
) -> None:
    await make_factory(console.sessions, "DK-01")
    await make_factory(console.sessions, "PP-01", country="KH")
    async with transaction(console.sessions) as s:
        topic = await topics.do_create_topic(
            s,
            TopicInput("ilo-news", None, "en", {"en": "ILO news"}),
            scope=Scope.everywhere(),
            actor=None,
        )
    for i in range(6):  # six followers in Cambodia, none in Bangladesh
        worker = await make_worker(console.sessions, 9300 + i, factory_code="PP-01", country="KH")
        async with transaction(console.sessions) as s:
            user = await s.get(type(worker), worker.id)
            assert user is not None
            await topics.do_subscribe(s, user, topic.id)
    bd = console.client_for(await console.staff("organiser", ["BD"]))
    page = (await bd.get(f"/broadcasts/topics/{topic.id}")).text
    assert "fewer than 5" in page and ">6<" not in page
    admin = console.client_for(await console.staff("admin", []))
    assert ">6<" in (await admin.get(f"/broadcasts/topics/{topic.id}")).text
