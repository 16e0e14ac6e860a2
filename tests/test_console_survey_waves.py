"""Surveys in the console, waves and results: the wave form and its audience preview, local
times, results with suppression, CSV, audit, trends and closing the loop."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from bot.storage.db import transaction
from bot.storage.models import OutboxMessage, Staff
from bot.storage.surveys import SurveyWave
from services.scope import Scope
from services.surveys.waves import Audience, WaveInput, do_create_wave, open_due_waves
from tests.console import ConsoleHarness, tables
from tests.factories import make_factory, make_worker
from tests.surveys_data import answer, audit_count, make_wave, publish, survey_in

# --- helpers ----------------------------------------------------------------------------------


async def answer_all(console: ConsoleHarness, user: Any, wave_id: int, *, safe: str) -> None:
    """One worker answers the sample survey to the end (with the console's secret, so closing
    the loop can find them)."""
    key, store = console.ctx.settings.effective_secret_key, console.ctx.survey_store
    await answer(console.sessions, store, user, wave_id, safe=safe, shift="night", secret_key=key)


# --- waves ------------------------------------------------------------------------------------


async def test_wave_form_previews_the_audience_and_schedules(console: ConsoleHarness) -> None:
    survey = await survey_in(console, "BD", "bd-wave")
    factory = await make_factory(console.sessions, "DK-01", country="BD")
    kh = await make_factory(console.sessions, "PP-01", country="KH")
    for i in range(3):
        await make_worker(console.sessions, 7100 + i, gender="woman")
    for i in range(6):
        await make_worker(console.sessions, 7200 + i, gender="man")
    manager = await console.staff("country_manager", ["BD"])
    client = console.client_for(manager)
    token = client.csrf  # type: ignore[attr-defined]
    url = f"/surveys/{survey.id}"
    page = await client.get(f"{url}/waves/new")
    assert "Publish the survey before" in page.text
    await client.post(f"{url}/publish", data={"csrf_token": token})
    page = await client.get(f"{url}/waves/new")
    assert 'value="BD"' in page.text and 'value="KH"' not in page.text
    assert "<option selected>Asia/Dhaka</option>" in page.text  # the country's time zone
    assert "DK-01" in page.text and "PP-01" not in page.text
    base = {"csrf_token": token, "action": "preview", "countries": "BD", "name": "December"}
    r = await client.post(f"{url}/waves/new", data={**base, "genders": "woman"})
    assert r.status_code == 200 and "fewer than 5 workers" in r.text and "reaches 3" not in r.text
    r = await client.post(f"{url}/waves/new", data={**base, "genders": "man"})
    assert "reaches about 10 workers" in r.text  # 6, rounded to tens (M5)
    r = await client.post(f"{url}/waves/new", data={**base, "genders": "other"})
    assert "fewer than 5 workers" in r.text and "no one" not in r.text  # 0 is not said either
    r = await client.post(f"{url}/waves/new", data={**base, "factory_ids": str(kh.id)})
    assert r.status_code == 400 and "not in the chosen countries" in r.text
    r = await client.post(f"{url}/waves/new", data={**base, "countries": "KH"})
    assert r.status_code == 400 and "your own countries" in r.text

    page = await client.get(f"{url}/waves/new")
    version_id = re.search(r'name="version_id"><option value="(\d+)"', page.text)
    assert version_id
    create = {
        "csrf_token": token,
        "action": "create",
        "version_id": version_id.group(1),
        "name": "December pulse",
        "countries": "BD",
        "factory_ids": str(factory.id),
        "timezone": "Asia/Dhaka",
        "starts": "2099-12-01T09:00",
        "ends": "2099-12-15T18:00",
        "repeat": "none",
        "invite_hour": "11",
        "reminder_after_hours": "48",
    }
    for change, says in (
        ({"ends": "2099-11-01T09:00"}, "end must be after the start"),
        ({"starts": "tomorrow"}, "start is not a date"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"invite_hour": "3"}, "between 8:00 and 20:00"),
        ({"invite_hour": "noon"}, "whole numbers"),
        ({"version_id": "999999"}, "publish the survey first"),
        ({"version_id": "99999999999999999999"}, "publish the survey first"),
        ({"factory_ids": "99999999999999999999"}, "not in the chosen countries"),
    ):
        r = await client.post(f"{url}/waves/new", data={**create, **change})
        assert r.status_code == 400 and says in r.text, (change, r.text[-600:])
        assert 'value="December pulse"' in r.text
    r = await client.post(f"{url}/waves/new", data=create)
    assert r.status_code == 303, r.text[-600:]
    async with console.sessions() as s:
        wave = (await s.scalars(select(SurveyWave))).one()
        assert wave.starts_at.replace(tzinfo=UTC) == datetime(2099, 12, 1, 3, 0, tzinfo=UTC)
        assert wave.factory_ids == [factory.id] and wave.invite_hour == 11
    listing = await client.get(f"{url}/waves")
    assert "December pulse" in listing.text and "Scheduled" in listing.text
    assert "The wave is planned" in listing.text  # the confirmation after the redirect
    r = await client.post(
        f"/surveys/waves/{wave.id}/cancel", data={"csrf_token": token, "confirm_action": "1"}
    )
    assert r.status_code == 303
    assert "cancelled" in (await client.get(f"{url}/waves")).text
    r = await client.post(f"/surveys/waves/{wave.id}/cancel", data={})
    assert r.status_code == 403  # no CSRF token


async def test_a_local_time_that_does_not_exist_is_refused_and_a_repeated_one_is_the_first(
    console: ConsoleHarness,
) -> None:
    """One local-time rule (``services.clock.to_utc``): in Haiti the clocks jump from 02:00 to
    03:00 on 14 March 2027, so 02:30 does not exist there; 01:30 on 1 November 2099 happens twice
    and is the first (still summer time, UTC−4)."""
    survey = await survey_in(console, "BD", "haiti-wave")
    manager = await console.staff("country_manager", ["BD"])
    client = console.client_for(manager)
    token = client.csrf  # type: ignore[attr-defined]
    url = f"/surveys/{survey.id}"
    await client.post(f"{url}/publish", data={"csrf_token": token})
    page = await client.get(f"{url}/waves/new")
    version_id = re.search(r'name="version_id"><option value="(\d+)"', page.text)
    assert version_id
    create = {
        "csrf_token": token,
        "action": "create",
        "version_id": version_id.group(1),
        "name": "Spring pulse",
        "countries": "BD",
        "timezone": "America/Port-au-Prince",
        "starts": "2027-03-14T02:30",
        "ends": "2027-03-20T18:00",
        "repeat": "none",
    }
    r = await client.post(f"{url}/waves/new", data=create)
    assert r.status_code == 400
    assert "2027-03-14 02:30 does not exist" in r.text and "clocks jump forward" in r.text
    async with console.sessions() as s:
        assert (await s.scalars(select(SurveyWave))).first() is None
    twice = {**create, "starts": "2099-11-01T01:30", "ends": "2099-11-10T18:00"}
    r = await client.post(f"{url}/waves/new", data=twice)
    assert r.status_code == 303, r.text[-600:]
    async with console.sessions() as s:
        wave = (await s.scalars(select(SurveyWave))).one()
        assert wave.starts_at.replace(tzinfo=UTC) == datetime(2099, 11, 1, 5, 30, tzinfo=UTC)


# --- results ----------------------------------------------------------------------------------


async def _answered_wave(console: ConsoleHarness) -> tuple[SurveyWave, list[Any]]:
    """12 workers in BD, 2 of them men (who both answer "not safe"), plus one who never answers."""
    wave = await make_wave(console.sessions, open_now=False)
    workers = [
        await make_worker(console.sessions, 9000 + i, gender="man" if i < 2 else "woman")
        for i in range(12)
    ]
    silent = await make_worker(console.sessions, 9100, gender="woman")
    async with transaction(console.sessions) as s:
        await open_due_waves(s, worker="t")
    for i, worker in enumerate(workers):
        await answer_all(console, worker, wave.id, safe="no" if i < 2 else "yes")
    await publish_batches(console)
    return wave, [*workers, silent]


async def publish_batches(console: ConsoleHarness) -> int:
    """The scheduler's batch job a day later: answers reach the results only in batches."""
    key = console.ctx.settings.effective_secret_key
    return await publish(console.sessions, console.ctx.survey_store, secret_key=key)


async def test_results_hide_the_two_men_on_the_page_and_in_the_csv(
    console: ConsoleHarness,
) -> None:
    wave, _workers = await _answered_wave(console)
    analyst = await console.staff("analyst", ["BD"])
    client = console.client_for(analyst)
    page = await client.get(f"/surveys/waves/{wave.id}/results?dim=gender")
    assert page.status_code == 200
    html = page.text
    assert "<svg" in html and "Respondents" in html and "12" in html
    assert "means anything from 0 to 4" in html
    # Every breakdown by gender, one row per group: the men's row holds nothing but "fewer than
    # 5" (or "hidden"), and no share.
    breakdowns = tables(html, "breakdown")
    assert len(breakdowns) == 4  # the counted questions: mood, safe, why, shift
    for rows in breakdowns:
        men = next(row for row in rows if row[0] == "men")
        assert all(cell in ("fewer than 5", "hidden", "not shown") for cell in men[1:]), men
    assert any(row[1] == "fewer than 5" for rows in breakdowns for row in rows if row[0] == "men")
    respondents = next(t for t in tables(html, "compact") if any(r[0] == "men" for r in t))
    assert dict(respondents)["men"] == "fewer than 5"
    # The two men's "no" (2) and the women's "yes" (10) would give each other away: the
    # benchmark row (the whole wave) hides them both.
    safe = breakdowns[1]
    benchmark = dict(zip(safe[0][2:], safe[1][2:], strict=True))
    assert safe[1][0] == "All of BD" and benchmark in (
        {"yes": "hidden", "no": "fewer than 5"},
        {"yes": "fewer than 5", "no": "fewer than 5"},
    )
    # Nobody wrote: that is a count of 0, which reads like any count below 5.
    assert "Shown only when at least 5 people wrote an answer" in html
    assert "No one wrote" not in html
    assert "Trends appear once a second wave" in html
    other = await client.get(f"/surveys/waves/{wave.id}/results?dim=factory")
    assert "Factory DK-01" in other.text

    csv_response = await client.get(f"/surveys/waves/{wave.id}/results.csv")
    assert csv_response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in csv_response.headers["content-disposition"]
    assert csv_response.content.startswith(b"\xef\xbb\xbf")  # Excel reads it as UTF-8
    rows = list(csv.DictReader(io.StringIO(csv_response.content.decode("utf-8-sig"))))
    male = [row for row in rows if row["Breakdown"] == "gender" and row["Group"] == "men"]
    assert male and all(row["Count"] == "" and row["Share"] == "" for row in male), male
    assert {row["Not shown"] for row in male} <= {"fewer than 5", "hidden"}
    assert all(row["Starts"] == wave.starts_at.date().isoformat() for row in rows)
    assert await audit_count(console, "survey.results.view") == 2
    assert await audit_count(console, "survey.results.export") == 1
    # Another country's analyst sees no such wave.
    kh = console.client_for(await console.staff("analyst", ["KH"]))
    assert (await kh.get(f"/surveys/waves/{wave.id}/results")).status_code == 404
    assert (await kh.get(f"/surveys/waves/{wave.id}/results.csv")).status_code == 404
    assert await audit_count(console, "survey.results.export") == 1


async def test_an_arabic_reader_gets_every_label_and_reason_in_arabic(
    console: ConsoleHarness,
) -> None:
    wave, _workers = await _answered_wave(console)
    analyst = await console.staff("analyst", ["BD"])
    async with transaction(console.sessions) as s:
        staff = await s.get(Staff, analyst.id)
        assert staff is not None
        staff.locale = "ar"
    client = console.client_for(analyst)
    page = await client.get(f"/surveys/waves/{wave.id}/results?dim=gender")
    assert 'dir="rtl"' in page.text and "أقل من 5" in page.text and "fewer than" not in page.text
    assert "الرجال" in page.text and ">men<" not in page.text  # groups are labelled in Arabic
    csv_text = (await client.get(f"/surveys/waves/{wave.id}/results.csv")).text
    assert "أقل من 5" in csv_text and "fewer than" not in csv_text
    r = await client.post(
        "/surveys/import",
        data={"csrf_token": client.csrf, "country": "KH", "content": "key: x"},  # type: ignore[attr-defined]
    )
    assert r.status_code == 400 and "اختر أحد بلدانك" in r.text


async def test_a_small_wave_hides_how_many_were_invited(console: ConsoleHarness) -> None:
    for i in range(3):
        await make_worker(console.sessions, 9500 + i)
    wave = await make_wave(console.sessions)
    client = console.client_for(await console.staff("analyst", ["BD"]))
    listing = await client.get(f"/surveys/{wave.survey_id}/waves")
    row = next(r for r in tables(listing.text, "") if r and r[0][0] == "Wave")[1]
    assert row[5:7] == ["fewer than 5", "fewer than 5"]  # invited 3; respondents: none, no 0
    page = await client.get(f"/surveys/waves/{wave.id}/results")
    assert "Invited: fewer than 5" in " ".join(re.sub(r"<[^>]+>", "", page.text).split())
    assert "Response rate" not in page.text


async def test_m5_invited_is_rounded_like_a_preview(console: ConsoleHarness) -> None:
    """Who was invited is an audience: two waves for audiences one person apart would count her,
    so the wave list, the results page and the CSV show it rounded to tens, and the response rate
    is worked out from the rounded figure (an exact rate would give the exact count back)."""
    for i in range(23):
        await make_worker(console.sessions, 9600 + i)
    wave = await make_wave(console.sessions)
    async with console.sessions() as s:
        fresh = await s.get(SurveyWave, wave.id)
        assert fresh is not None and fresh.invited_count == 23
    client = console.client_for(await console.staff("analyst", ["BD"]))
    listing = await client.get(f"/surveys/{wave.survey_id}/waves")
    row = next(r for r in tables(listing.text, "") if r and r[0][0] == "Wave")[1]
    assert row[5] == "20"
    page = " ".join(
        re.sub(r"<[^>]+>", "", (await client.get(f"/surveys/waves/{wave.id}/results")).text).split()
    )
    assert "Invited: 20" in page and "23" not in page
    csv_text = (await client.get(f"/surveys/waves/{wave.id}/results.csv")).text
    assert ",Invited,20," in csv_text and ",23," not in csv_text


async def test_trends_compare_the_waves_of_a_survey(console: ConsoleHarness) -> None:
    first, people = await _answered_wave(console)
    async with transaction(console.sessions) as s:
        wave = await s.get(SurveyWave, first.id)
        assert wave is not None
        start = datetime.now(UTC) - timedelta(minutes=1)
        second = await do_create_wave(
            s,
            WaveInput(
                version_id=wave.version_id,
                name="Pulse again",
                audience=Audience(["BD"]),
                starts_at=start,
                ends_at=start + timedelta(days=7),
            ),
            scope=Scope.everywhere(),
            actor=None,
        )
        await open_due_waves(s, worker="t")
    for worker in people[2:8]:  # six women, all "safe"
        await answer_all(console, worker, second.id, safe="yes")
    assert await publish_batches(console) == 6
    client = console.client_for(await console.staff("analyst", ["BD"]))
    page = await client.get(f"/surveys/waves/{second.id}/results")
    assert "Trends appear once" not in page.text
    trend = tables(page.text, "trend")
    assert len(trend) == 4  # mood, safe, why, shift
    safe = {row[0]: row[1:] for row in trend[1][1:]}
    # First wave: 10 "yes" and 2 "no" hide each other; second: 6 "yes" of 6 would print a 0%
    # (no one said "no"), so it is hidden too.
    assert safe["no"] == ["fewer than 5", "fewer than 5"]
    assert all(cell in ("fewer than 5", "hidden") for cell in safe["yes"]), safe


async def test_closing_the_loop_reaches_only_those_who_answered(console: ConsoleHarness) -> None:
    wave, people = await _answered_wave(console)
    manager = await console.staff("country_manager", ["BD"])
    client = console.client_for(manager)
    token = client.csrf  # type: ignore[attr-defined]
    url = f"/surveys/waves/{wave.id}/loop"
    r = await client.post(url, data={"csrf_token": token, "loop:en": "   ", "confirm_action": "1"})
    assert r.status_code == 400 and "at least one language" in r.text
    r = await client.post(url, data={"loop:en": "We fixed the fire exits."})
    assert r.status_code == 403
    r = await client.post(
        url,
        data={
            "csrf_token": token,
            "loop:en": "We fixed the fire exits.",
            "loop:bn": "আমরা অগ্নি নির্গমন ঠিক করেছি।",
            "confirm_action": "1",
        },
    )
    assert r.status_code == 200 and "Queued for 12 people" in r.text
    async with console.sessions() as s:
        rows = (
            await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "surveys.loop"))
        ).all()
    answered = {p.id for p in people[:12]}
    assert {m.user_id for m in rows} == answered and len(rows) == 12
    assert people[12].id not in {m.user_id for m in rows}
    page = await client.get(f"/surveys/waves/{wave.id}/results")
    assert "We fixed the fire exits." in page.text and "Send to respondents" not in page.text
    r = await client.post(
        url, data={"csrf_token": token, "loop:en": "Again", "confirm_action": "1"}
    )
    assert r.status_code == 409 and "already sent" in r.text
    async with console.sessions() as s:
        assert (
            await s.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.kind == "surveys.loop")
            )
            == 12
        )
