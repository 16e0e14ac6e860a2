"""Broadcasts in the console: an organiser names a topic, writes a message in two languages, sees
the audience with small groups hidden, sends it, follows delivery and cancels; bad input comes
back with the reason and what was typed; other countries' broadcasts do not exist for them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from admin.broadcasts import InvalidPlan, planned_at
from bot.storage.broadcasts import Broadcast, BroadcastTopic
from bot.storage.db import transaction
from bot.storage.models import AuditEvent, OutboxMessage, OutboxStatus, Staff, User
from services.broadcasts import deliveries, messages, topics
from services.broadcasts.topics import TopicInput
from services.scope import Scope
from tests.console import ConsoleHarness, tables
from tests.factories import make_factory, make_worker

# 12:00 in Dhaka: the fan-out queues messages due at once.
DAY = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


async def audit_count(console: ConsoleHarness, action: str) -> int:
    async with console.sessions() as s:
        return int(
            await s.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
            )
            or 0
        )


async def make_topic(
    console: ConsoleHarness, key: str = "union-news", country: str | None = "BD"
) -> BroadcastTopic:
    async with transaction(console.sessions) as s:
        return await topics.do_create_topic(
            s,
            TopicInput(key, country, "en", {"en": "Union news", "bn": "ইউনিয়নের খবর"}),
            scope=Scope.everywhere(),
            actor=None,
        )


async def subscribers(
    console: ConsoleHarness, topic_id: int, locales: list[str], *, first_id: int
) -> list[User]:
    made = []
    for i, locale in enumerate(locales):
        worker = await make_worker(console.sessions, first_id + i, locale=locale)
        async with transaction(console.sessions) as s:
            user = await s.get(User, worker.id)
            assert user is not None
            await topics.do_subscribe(s, user, topic_id)
        made.append(worker)
    return made


async def make_draft(console: ConsoleHarness, topic: BroadcastTopic, **kw: Any) -> Broadcast:
    data = dict(
        topic_id=topic.id,
        title="Meeting on Friday",
        countries=[topic.country_code or "BD"],
        texts={"en": "Meeting on Friday at the gate.", "bn": "শুক্রবার গেটে সভা।"},
        default_locale="en",
    )
    data.update(kw)
    async with transaction(console.sessions) as s:
        return await messages.do_create(
            s,
            messages.BroadcastInput(**data),  # type: ignore[arg-type]
            scope=Scope.everywhere(),
            actor=None,
        )


def form(client: Any, **fields: Any) -> dict[str, Any]:
    return {"csrf_token": client.csrf, **fields}


def report_rows(html: str) -> dict[str, str]:
    rows = tables(html, "delivery")[0]
    return {row[0]: row[1] for row in rows}


# --- the organiser's story ------------------------------------------------------------------


@time_machine.travel(DAY, tick=False)
async def test_an_organiser_sends_a_message_in_two_languages_and_follows_it(
    console: ConsoleHarness,
) -> None:
    await make_factory(console.sessions, "DK-01")
    organiser = await console.staff("organiser", ["BD"])
    client = console.client_for(organiser)
    assert ">Broadcasts<" in (await client.get("/")).text

    r = await client.post(
        "/broadcasts/topics",
        data=form(
            client,
            key="union-news",
            country="BD",
            default_locale="en",
            **{"name:en": "Union news", "name:bn": "ইউনিয়নের খবর"},
        ),
    )
    assert r.status_code == 303, r.text
    topic_id = int(r.headers["location"].rsplit("/", 1)[1])
    assert await audit_count(console, "topic.create") == 1
    assert "The topic is created." in (await client.get(r.headers["location"])).text

    # 6 + 6 workers who get a version; 3 Hindi and 2 Nepali speakers who do not; one not opted in.
    locales = ["bn"] * 6 + ["en"] * 6 + ["hi"] * 3 + ["ne"] * 2
    workers = await subscribers(console, topic_id, locales, first_id=7000)
    await make_worker(console.sessions, 7999, locale="bn")
    listing = await client.get("/broadcasts/topics")
    assert tables(listing.text, "topics")[0][1][4] == "17"

    page = await client.get("/broadcasts/new")
    assert "ইউনিয়নের খবর" not in page.text and "Union news" in page.text  # named in English
    # Every language has a version box, labelled in its own script, right-to-left where it reads so.
    assert 'name="text:ar" lang="ar" dir="rtl"' in page.text
    assert 'name="text:ur" lang="ur" dir="rtl"' in page.text
    assert 'name="text:my" lang="my" dir="ltr"' in page.text and "မြန်မာ" in page.text
    r = await client.post(
        "/broadcasts/new",
        data=form(
            client,
            topic_id=str(topic_id),
            title="Meeting on Friday",
            countries="BD",
            default_locale="en",
            **{"text:en": "Meeting on Friday at the gate.", "text:bn": "শুক্রবার গেটে সভা।"},
        ),
    )
    assert r.status_code == 303, r.text
    url = r.headers["location"]
    broadcast_id = int(url.rsplit("/", 1)[1])
    assert await audit_count(console, "broadcast.create") == 1
    assert "The draft is saved." in (await client.get(url)).text

    page = await client.get(url)
    assert page.status_code == 200
    assert 'lang="bn" dir="ltr">শুক্রবার গেটে সভা।</div>' in page.text
    words = text_of(page.text)
    # Rounded to tens (M5); no count per language, and the two small groups without a version
    # (3 Hindi, 2 Nepali speakers) are not named.
    assert "Opted in: 20" in words and "Will receive it: 10" in words
    assert "No version in their language: 10" in words
    assert "No version yet for: other languages" in words
    assert "preview-languages" not in page.text and "हिन्दी" not in words
    assert "Send now" in page.text and "Delete draft" in page.text

    r = await client.post(f"{url}/send", data=form(client, confirm_action="1"))
    assert r.status_code == 303 and r.headers["location"] == url
    assert await audit_count(console, "broadcast.schedule") == 1
    assert await messages.fan_out_due(console.sessions, worker="test") == [broadcast_id]
    async with console.sessions() as s:
        queued = (
            await s.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.dedupe_key.like(f"broadcast:{broadcast_id}:user:%")
                )
            )
        ).all()
    assert sorted(m.user_id for m in queued) == sorted(w.id for w in workers[:12])

    page = await client.get(url)
    assert "Send now" not in page.text and "Cancel the message" in page.text
    # Counts of people read "fewer than 5" when small; the 12 waiting then hides with them, or
    # 12 − 12 would pin them all to 0. Failures are not people: a known 0 shows as 0 (m12).
    assert report_rows(page.text) == {
        "sent": "fewer than 5",
        "failed": "0",
        "blocked the bot": "fewer than 5",
        "skipped": "fewer than 5",
        "waiting": "hidden",
    }

    # Six delivered, one worker blocked the bot: that one is hidden, and so is "waiting" (5), or
    # 12 - 6 - 5 would give it back.
    async with transaction(console.sessions) as s:
        for message, outcome in zip(
            queued[:7], [OutboxStatus.SENT] * 6 + [OutboxStatus.BLOCKED], strict=True
        ):
            row = await s.get(OutboxMessage, message.id)
            assert row is not None
            row.status = outcome
            await deliveries.record_outcome(s, broadcast_id, outcome)
    page = await client.get(url)
    assert report_rows(page.text) == {
        "sent": "6",
        "failed": "0",
        "blocked the bot": "fewer than 5",
        "skipped": "fewer than 5",
        "waiting": "hidden",
    }
    assert 'class="seg sent" style="width: 50.00%"' in page.text
    row = tables((await client.get("/broadcasts")).text, "broadcasts")[0][1]
    assert row[0] == "Meeting on Friday" and row[3] == "sent" and row[5] == "6 / 12"

    # Cancelling needs the box ticked; then what waits is withdrawn and counted as skipped.
    r = await client.post(f"{url}/cancel", data=form(client))
    assert r.status_code == 400 and "tick the box to confirm" in r.text
    r = await client.post(f"{url}/cancel", data=form(client, confirm_action="1"))
    assert r.status_code == 303
    assert await audit_count(console, "broadcast.cancel") == 1
    async with console.sessions() as s:
        statuses = (
            await s.scalars(
                select(OutboxMessage.status).where(
                    OutboxMessage.dedupe_key.like(f"broadcast:{broadcast_id}:user:%")
                )
            )
        ).all()
    assert sorted(statuses).count(OutboxStatus.DROPPED) == 5
    async with console.sessions() as s:
        cancelled = await s.get(Broadcast, broadcast_id)
        assert cancelled is not None
        assert (cancelled.status, cancelled.skipped_count) == ("cancelled", 5)
    page = await client.get(url)
    # Five skipped now hide beside the one who blocked the bot; nothing waits any more.
    assert report_rows(page.text) == {
        "sent": "6",
        "failed": "0",
        "blocked the bot": "fewer than 5",
        "skipped": "hidden",
        "waiting": "0",  # nothing waits after a cancel: a known 0, not a count of people
    }
    assert "Cancel the message" not in page.text


@time_machine.travel(DAY, tick=False)
async def test_a_draft_is_planned_in_an_audience_time_zone_edited_and_deleted(
    console: ConsoleHarness,
) -> None:
    await make_factory(console.sessions, "DK-01")
    topic = await make_topic(console)
    draft = await make_draft(console, topic)
    client = console.client_for(await console.staff("organiser", ["BD"]))
    url = f"/broadcasts/{draft.id}"
    page = await client.get(url)
    assert re.search(r"<option selected>Asia/Dhaka</option>\s*<option >UTC</option>", page.text)

    r = await client.post(
        f"{url}/schedule", data=form(client, day="2026-03-02", at="15:00", timezone="Mars/Olympus")
    )
    assert r.status_code == 400 and "cannot be planned: unknown time zone" in r.text
    assert 'value="15:00"' in r.text and "<details open>" in r.text  # kept as typed
    r = await client.post(
        f"{url}/schedule", data=form(client, day="2026-03-02", at="11:00", timezone="Asia/Dhaka")
    )
    assert r.status_code == 400 and "this time has passed" in r.text
    r = await client.post(
        f"{url}/schedule", data=form(client, day="2026-03-02", at="15:00", timezone="Asia/Dhaka")
    )
    assert r.status_code == 303 and r.headers["location"] == url
    async with console.sessions() as s:
        planned = await s.get(Broadcast, draft.id)
        assert planned is not None
        assert planned.status == "scheduled"
        assert planned.send_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 15:00 in Dhaka
    page = await client.get(url)
    assert "Cancel the message" in page.text and f'href="{url}/edit"' not in page.text
    # A planned message is no longer a draft: its edit page sends back to it, a forged save fails.
    r = await client.get(f"{url}/edit")
    assert r.status_code == 303 and r.headers["location"] == url
    assert (await client.post(f"{url}/edit", data=form(client))).status_code == 409

    other = await make_draft(console, topic, title="Safety walk")
    r = await client.get(f"/broadcasts/{other.id}/edit")
    assert 'value="Safety walk"' in r.text and "শুক্রবার গেটে সভা।</textarea>" in r.text
    r = await client.post(
        f"/broadcasts/{other.id}/edit",
        data=form(
            client,
            topic_id=str(topic.id),
            title="Safety walk on Monday",
            countries="BD",
            default_locale="bn",
            languages="bn",
            **{"text:bn": "সোমবার নিরাপত্তা পরিদর্শন।"},
        ),
    )
    assert r.status_code == 303, r.text
    async with console.sessions() as s:
        edited = await s.get(Broadcast, other.id)
        assert edited is not None
        assert (edited.title, edited.texts, edited.languages) == (
            "Safety walk on Monday",
            {"bn": "সোমবার নিরাপত্তা পরিদর্শন।"},
            ["bn"],
        )
    r = await client.post(f"/broadcasts/{other.id}/cancel", data=form(client, confirm_action="1"))
    assert r.status_code == 303 and r.headers["location"] == "/broadcasts"
    assert (await client.get(f"/broadcasts/{other.id}")).status_code == 404
    assert await audit_count(console, "broadcast.delete") == 1


def test_planned_times_are_aware_and_refuse_what_does_not_exist() -> None:
    now = datetime(2027, 3, 1, tzinfo=UTC)
    assert planned_at("2027-03-14", "09:30", "America/Port-au-Prince", now=now) == datetime(
        2027, 3, 14, 13, 30, tzinfo=UTC
    )
    # The zone chosen in the form counts, not an offset typed into the time.
    assert planned_at("2027-03-14", "10:00+05:00", "Asia/Dhaka", now=now) == datetime(
        2027, 3, 14, 4, 0, tzinfo=UTC
    )
    for day, at, tz, reason in [
        ("2027-03-14", "02:30", "America/Port-au-Prince", "clocks go forward"),
        ("2027-03-14", "", "Asia/Dhaka", "date and a time"),
        ("14/03/2027", "10:00", "Asia/Dhaka", "date and a time"),
        ("2027-03-14", "10:00", "../etc/passwd", "unknown time zone"),
        ("2027-03-14", "10:00", "", "unknown time zone"),
        ("2027-02-28", "10:00", "UTC", "has passed"),
    ]:
        with pytest.raises(InvalidPlan) as err:
            planned_at(day, at, tz, now=now)
        assert reason in str(err.value), (day, at, tz)


@given(
    day=st.text(max_size=12) | st.dates().map(str),
    at=st.text(max_size=10) | st.times().map(str) | st.just("10:00+05:00"),
    tz=st.text(max_size=20) | st.sampled_from(["Asia/Dhaka", "America/Port-au-Prince", "UTC"]),
)
def test_any_typed_time_is_a_utc_moment_or_a_reason(day: str, at: str, tz: str) -> None:
    now = datetime(2027, 3, 1, tzinfo=UTC)
    try:
        moment = planned_at(day, at, tz, now=now)
    except InvalidPlan as exc:
        assert str(exc).startswith("The message cannot be planned: ")
        return
    assert moment.tzinfo == UTC and moment >= now - timedelta(minutes=1)


# --- bad input ------------------------------------------------------------------------------


async def test_bad_input_comes_back_with_the_reason_and_everything_typed(
    console: ConsoleHarness,
) -> None:
    await make_factory(console.sessions, "DK-01")
    cambodia = await make_factory(console.sessions, "PP-01", country="KH")
    topic = await make_topic(console)
    staff = await console.staff("organiser", ["BD"])
    client = console.client_for(staff)
    good = {
        "topic_id": str(topic.id),
        "title": "Wages <b>late</b>",
        "countries": "BD",
        "default_locale": "en",
        "text:en": 'Pay is late? <b>Tell us</b> & "ask"',
        "text:ar": "هل تأخر الأجر؟",
    }
    for change, reason in [
        ({"text:en": "x" * 3501}, "at most 3500 characters"),
        ({"topic_id": "abc"}, "choose one of the topics"),
        ({"topic_id": "99999999999999999999"}, "choose one of the topics"),
        ({"factory_ids": str(cambodia.id)}, "a chosen factory is not in the chosen countries"),
        ({"factory_ids": "DK-01"}, "a chosen factory is not in the chosen countries"),
        ({"default_locale": "bn"}, "write the message in its default language"),
        ({"title": " "}, "give the message a title"),
        ({"languages": "xx"}, "unknown language"),
    ]:
        r = await client.post("/broadcasts/new", data=form(client, **{**good, **change}))
        assert r.status_code == 400, (change, r.status_code)
        assert reason in r.text, change
        # What was typed comes back, escaped (the console never renders it as HTML).
        if "title" not in change:
            assert 'value="Wages &lt;b&gt;late&lt;/b&gt;"' in r.text, change
        assert "هل تأخر الأجر؟</textarea>" in r.text, change
        if "text:en" not in change:
            assert (
                "Pay is late? &lt;b&gt;Tell us&lt;/b&gt; &amp; &#34;ask&#34;</textarea>" in r.text
            )
    async with console.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Broadcast)) == 0

    # Stored as typed, shown escaped.
    r = await client.post("/broadcasts/new", data=form(client, **good))
    assert r.status_code == 303
    page = await client.get(r.headers["location"])
    assert "Pay is late? &lt;b&gt;Tell us&lt;/b&gt; &amp; &#34;ask&#34;" in page.text
    assert 'lang="ar" dir="rtl">هل تأخر الأجر؟</div>' in page.text
    async with console.sessions() as s:
        saved = await s.scalar(select(Broadcast))
        assert saved is not None and saved.texts["en"] == 'Pay is late? <b>Tell us</b> & "ask"'

    # An Arabic-speaking organiser reads the service's reasons in Arabic.
    async with transaction(console.sessions) as s:
        me = await s.get(Staff, staff.id)
        assert me is not None
        me.locale = "ar"
    r = await client.post("/broadcasts/new", data=form(client, **{**good, "title": ""}))
    assert r.status_code == 400 and 'dir="rtl"' in r.text
    assert "give the message a title" not in r.text and "أعطِ الرسالة عنوانًا" in r.text
    page = await client.get(f"/broadcasts/{saved.id}")
    assert "الجمهور" in page.text and "أرسل الآن" in page.text and "Send now" not in page.text
    r = await client.post(
        "/broadcasts/topics",
        data=form(client, key="X!", country="BD", default_locale="en", **{"name:en": "News"}),
    )
    assert r.status_code == 400 and "small letters" not in r.text and 'value="X!"' in r.text


# --- topics ---------------------------------------------------------------------------------


async def test_topics_hide_small_counts_link_posters_and_stay_in_their_country(
    console: ConsoleHarness,
) -> None:
    await make_factory(console.sessions, "DK-01")
    small = await make_topic(console, "union-news")
    await subscribers(console, small.id, ["bn"] * 3, first_id=7100)
    empty = await make_topic(console, "safety")
    everywhere = await make_topic(console, "ilo-news", None)
    cambodia = await make_topic(console, "kh-news", "KH")
    organiser = await console.staff("organiser", ["BD"])
    client = console.client_for(organiser)

    page = await client.get("/broadcasts/topics")
    rows = {row[1]: row for row in tables(page.text, "topics")[0][1:]}
    assert set(rows) == {"union-news", "safety", "ilo-news"}  # not Cambodia's
    assert rows["union-news"][4] == "fewer than 5" and rows["safety"][4] == "fewer than 5"
    assert rows["ilo-news"][2] == "every country"
    assert "t.me/" not in page.text and "bot_username" in page.text

    console.ctx.bot_username = "workvoice_bot"
    page = await client.get("/broadcasts/topics")
    assert "https://t.me/workvoice_bot?start=t_union-news" in page.text
    poster = await client.get(f"/broadcasts/topics/{small.id}/poster")
    assert "<svg" in poster.text and 'lang="bn" dir="ltr"' in poster.text
    assert "ইউনিয়নের খবর" in poster.text

    # Rename and pause a topic of one's own country; a name too long keeps the form as typed.
    url = f"/broadcasts/topics/{empty.id}"
    r = await client.post(
        url, data=form(client, default_locale="en", **{"name:en": "S" * 61, "name:bn": "নিরাপত্তা"})
    )
    assert r.status_code == 400 and "at most 60 characters" in r.text and "নিরাপত্তা" in r.text
    r = await client.post(url, data=form(client, default_locale="bn", **{"name:bn": "নিরাপত্তা"}))
    assert r.status_code == 303
    async with console.sessions() as s:
        paused = await s.get(BroadcastTopic, empty.id)
        assert paused is not None
        assert (paused.names, paused.default_locale, paused.active) == (
            {"bn": "নিরাপত্তা"},
            "bn",
            False,
        )
    assert await audit_count(console, "topic.update") == 1
    # A paused topic is offered no more for new messages.
    offered = re.search(
        r'<select id="b-topic".*?</select>', (await client.get("/broadcasts/new")).text, re.S
    )
    assert (
        offered and f'value="{small.id}"' in offered[0] and f'value="{empty.id}"' not in offered[0]
    )

    # An every-country topic is for administrators to change; another country's is not there.
    assert (
        "managed by administrators"
        in (await client.get(f"/broadcasts/topics/{everywhere.id}")).text
    )
    r = await client.post(
        f"/broadcasts/topics/{everywhere.id}",
        data=form(client, default_locale="en", **{"name:en": "Mine now"}),
    )
    assert r.status_code == 403
    assert (await client.get(f"/broadcasts/topics/{cambodia.id}")).status_code == 404
    r = await client.post(
        "/broadcasts/topics",
        data=form(client, key="global", country="", default_locale="en", **{"name:en": "All"}),
    )
    assert r.status_code == 400 and "only an administrator" in r.text
    admin = console.client_for(await console.staff("admin"))
    r = await admin.post(
        f"/broadcasts/topics/{everywhere.id}",
        data=form(admin, default_locale="en", active="on", **{"name:en": "ILO news"}),
    )
    assert r.status_code == 303


# --- scope and roles ------------------------------------------------------------------------


async def test_other_countries_forged_ids_and_roles(console: ConsoleHarness) -> None:
    await make_factory(console.sessions, "DK-01")
    topic = await make_topic(console)
    draft = await make_draft(console, topic)
    cambodian = console.client_for(await console.staff("organiser", ["KH"]))
    assert "Meeting on Friday" not in (await cambodian.get("/broadcasts")).text
    for path in ("", "/edit"):
        assert (await cambodian.get(f"/broadcasts/{draft.id}{path}")).status_code == 404
    for path in ("/send", "/cancel", "/edit", "/schedule"):
        r = await cambodian.post(
            f"/broadcasts/{draft.id}{path}", data=form(cambodian, confirm_action="1")
        )
        assert r.status_code == 404, path
    # Nor can they use a Bangladesh topic for a message of their own.
    r = await cambodian.post(
        "/broadcasts/new",
        data=form(
            cambodian,
            topic_id=str(topic.id),
            title="x",
            countries="KH",
            default_locale="en",
            **{"text:en": "x"},
        ),
    )
    assert r.status_code == 400 and "choose one of the topics" in r.text
    async with console.sessions() as s:
        still = await s.get(Broadcast, draft.id)
        assert still is not None and still.status == "draft"

    organiser = console.client_for(await console.staff("organiser", ["BD"]))
    for forged in (
        "/broadcasts/99999999999999999999",
        "/broadcasts/0",
        "/broadcasts/-1",
        f"/broadcasts/{draft.id + 1000}",
        "/broadcasts/topics/99999999999999999999",
        f"/broadcasts/topics/{topic.id + 1000}/poster",
    ):
        assert (await organiser.get(forged)).status_code == 404, forged
    r = await organiser.post("/broadcasts/99999999999999999999/send", data=form(organiser))
    assert r.status_code == 404
    # Without the form's token nothing is sent.
    assert (await organiser.post(f"/broadcasts/{draft.id}/send")).status_code == 403

    for role in ("analyst", "case_handler"):
        client = console.client_for(await console.staff(role, ["BD"]))
        assert ">Broadcasts<" not in (await client.get("/")).text
        for path in ("/broadcasts", "/broadcasts/topics", f"/broadcasts/{draft.id}"):
            assert (await client.get(path)).status_code == 403, (role, path)
        r = await client.post(f"/broadcasts/{draft.id}/send", data=form(client))
        assert r.status_code == 403
    async with console.sessions() as s:
        still = await s.get(Broadcast, draft.id)
        assert still is not None and still.status == "draft"
    manager = console.client_for(await console.staff("country_manager", ["BD"]))
    assert (await manager.get(f"/broadcasts/{draft.id}")).status_code == 200
