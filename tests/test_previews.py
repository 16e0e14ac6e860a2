"""M5 (DESIGN §4.2): audience previews cannot be subtracted. The audit's attacks on the demo data,
replayed through the console: each now learns nothing about the one woman over 45 or the one
Burmese speaker at DEMO-DK."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from sqlalchemy import select

from bot.i18n.languages import LANGUAGES
from bot.storage.broadcasts import BroadcastTopic
from bot.storage.models import Factory, User
from bot.storage.surveys import Survey
from services.onboarding import AgeBand
from services.previews import PREVIEWS, PreviewGuard, PreviewRefused, rounded
from services.surveys.waves import Audience, audience_query
from tests.console import ConsoleHarness
from workvoice.demo.seed import seed_demo

K = 5
REFUSED = "differs from one you looked at in the last hour by fewer than 5 workers"
BANDS = [b.value for b in AgeBand if b != AgeBand.UNDISCLOSED]


def words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


async def _demo(console: ConsoleHarness) -> tuple[int, int, int]:
    await seed_demo(console.ctx)
    PREVIEWS.forget()
    async with console.sessions() as s:
        factory = (await s.scalars(select(Factory).where(Factory.code == "DEMO-DK"))).one()
        survey = (await s.scalars(select(Survey).order_by(Survey.id))).first()
        topic = (
            await s.scalars(select(BroadcastTopic).where(BroadcastTopic.key == "dhaka-union"))
        ).one()
        assert survey is not None
        return factory.id, survey.id, topic.id


async def _audience(console: ConsoleHarness, **audience: Any) -> list[User]:
    return await _audience_in(console, "BD", **audience)


async def _audience_in(console: ConsoleHarness, country: str, **audience: Any) -> list[User]:
    async with console.sessions() as s:
        query = audience_query(Audience([country], **audience))
        ids = [row[0] for row in (await s.execute(query)).all()]
        return list((await s.scalars(select(User).where(User.id.in_(ids)))).all())


async def test_m5_wave_preview_woman_over_45_cannot_be_subtracted(console: ConsoleHarness) -> None:
    factory_id, survey_id, _topic = await _demo(console)
    women = await _audience(console, factory_ids=[factory_id], genders=["woman"])
    over_45 = [u for u in women if u.age_band == "45plus"]
    assert 1 <= len(over_45) < K and len(women) >= K  # the audit's situation holds in the demo
    client = console.client_for(await console.staff("analyst", ["BD"]))
    url = f"/surveys/{survey_id}/waves/new"
    base = {
        "csrf_token": client.csrf,  # type: ignore[attr-defined]
        "action": "preview",
        "countries": "BD",
        "name": "Probe",
        "factory_ids": str(factory_id),
        "genders": "woman",
    }
    only = words((await client.post(url, data={**base, "age_bands": "45plus"})).text)
    assert "fewer than 5 workers" in only
    banded = [u for u in women if u.age_band in BANDS]
    every = words((await client.post(url, data={**base, "age_bands": BANDS})).text)
    assert f"reaches about {rounded(len(banded), K)} workers" in every
    assert f"reaches {len(banded)} " not in every
    but = [b for b in BANDS if b != "45plus"]
    rest = words((await client.post(url, data={**base, "age_bands": but})).text)
    assert REFUSED in rest and "reaches" not in rest  # 49 vs 48 would name her: refused


async def test_m5_every_language_but_one_small_group_is_refused(console: ConsoleHarness) -> None:
    """The audit: every language → 72, every language but Burmese → 71 at one factory."""
    await _demo(console)
    async with console.sessions() as s:
        workers = (await s.scalars(select(User).where(User.factory_id.is_not(None)))).all()
        factories = {f.id: f for f in (await s.scalars(select(Factory))).all()}
        surveys = (await s.scalars(select(Survey).order_by(Survey.id))).all()
    groups = Counter((u.factory_id, u.locale) for u in workers)
    sizes = Counter(u.factory_id for u in workers)
    factory_id, small = next(
        (f, code) for (f, code), n in sorted(groups.items()) if 1 <= n < K and sizes[f] >= 2 * K
    )
    factory = factories[factory_id]
    country = factory.country_code
    survey = next(v for v in surveys if v.country_code in (None, country))
    everyone = await _audience_in(console, country, factory_ids=[factory_id])
    client = console.client_for(await console.staff("analyst", [country]))
    url = f"/surveys/{survey.id}/waves/new"
    base = {
        "csrf_token": client.csrf,  # type: ignore[attr-defined]
        "action": "preview",
        "countries": country,
        "name": "Probe",
        "factory_ids": str(factory_id),
    }
    every = words((await client.post(url, data={**base, "languages": list(LANGUAGES)})).text)
    assert f"reaches about {rounded(len(everyone), K)} workers" in every
    but = [code for code in LANGUAGES if code != small]
    rest = words((await client.post(url, data={**base, "languages": but})).text)
    assert REFUSED in rest and "reaches" not in rest


async def test_m5_a_burmese_only_broadcast_draft_reveals_nothing(console: ConsoleHarness) -> None:
    factory_id, _survey, topic_id = await _demo(console)
    organiser = await console.staff("organiser", ["BD"])
    client = console.client_for(organiser)

    async def draft(**fields: Any) -> str:
        r = await client.post(
            "/broadcasts/new",
            data={
                "csrf_token": client.csrf,  # type: ignore[attr-defined]
                "topic_id": str(topic_id),
                "title": "Probe",
                "countries": "BD",
                "factory_ids": str(factory_id),
                "default_locale": "en",
                "text:en": "Hello",
                **fields,
            },
        )
        assert r.status_code == 303, re.findall(r'class="flash error"[^<]*<', r.text)
        return words((await client.get(r.headers["location"])).text)

    everyone = await draft()
    burmese = LANGUAGES["my"].native_name
    assert burmese not in everyone  # no language row, and the small group is not named
    assert "No version yet for:" in everyone
    only = await draft(languages="my", **{"text:my": "Hello"})
    assert "Opted in: fewer than 5" in only or REFUSED in only
    nobody = await draft(
        languages="am", **{"text:am": "Hello"}
    )  # an empty audience reads the same, not "0"
    assert "Opted in: fewer than 5" in nobody or REFUSED in nobody
    assert "Opted in: 0" not in nobody and "Will receive it: 0" not in nobody


def test_m5_guard_refuses_only_small_differences() -> None:
    guard = PreviewGuard(window=60)
    big = set(range(100))
    guard.check("a", [big], k=K, now=0)
    guard.check("a", [big], k=K, now=1)  # the same page again
    guard.check("a", [big - set(range(10))], k=K, now=2)  # ten fewer: fine
    try:
        guard.check("a", [big - {99}], k=K, now=3)
    except PreviewRefused:
        pass
    else:
        raise AssertionError("a difference of one was counted")
    guard.check("b", [big - {99}], k=K, now=3)  # someone else's previews are theirs
    guard.check("a", [{1, 2}], k=K, now=4)
    guard.check("a", [{1}], k=K, now=5)  # both read "fewer than 5": nothing to subtract
    guard.check("a", [big - {99}], k=K, now=100)  # an hour later: forgotten
