"""Committee names and places in the member's language (review B13), and the reminder's date and
time in her language's digits (B14): through the fake Telegram API and the console."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from bot.i18n import format_datetime, gettext
from bot.storage.committees import Committee, Meeting
from bot.storage.db import transaction
from bot.storage.models import AuditEvent
from services.committees import jobs, names
from tests.console import ConsoleHarness
from tests.factories import make_committee, make_factory, make_worker
from tests.harness import BotHarness
from workvoice.context import AppContext

TZ = "Asia/Dhaka"  # UTC+6
START = datetime(2027, 1, 1, 3, 0, tzinfo=UTC)
FIRST = datetime(2027, 1, 5, 8, 0, tzinfo=UTC)  # Tuesday 5 January 2027, 14:00 in Dhaka
BN_NAME, BN_PLACE = "অংশগ্রহণ কমিটি", "ক্যান্টিন, দোতলা"
# (telegram id, language): Bangla has a name; Khmer has none and reads the default (English).
PEOPLE = [(7301, "bn"), (7302, "en"), (7303, "km")]


async def named_committee(app: BotHarness) -> int:
    factory = await make_factory(app.sessions, "DK-07", country="BD", timezone=TZ)
    for telegram_id, locale in PEOPLE:
        await make_worker(app.sessions, telegram_id, locale=locale, factory_code="DK-07")
    committee = await make_committee(
        app.sessions,
        factory,
        [tid for tid, _loc in PEOPLE],
        location="Canteen, 2nd floor",
        now=START,
    )
    async with transaction(app.sessions) as session:
        committee = await session.get(Committee, committee.id)
        assert committee is not None
        await names.do_name_committee(
            session,
            committee,
            default_locale="en",
            names={"en": "Participation Committee", "bn": BN_NAME},
            places={"en": "Canteen, 2nd floor", "bn": BN_PLACE},
            actor=None,
        )
        return committee.id


async def test_each_member_reads_the_name_and_place_in_her_language(app: BotHarness) -> None:
    with time_machine.travel(START, tick=False):
        await named_committee(app)
    users = {tid: app.user(tid, language_code=loc) for tid, loc in PEOPLE}
    at = FIRST - timedelta(days=3)
    with time_machine.travel(at, tick=False):
        await jobs.run_committees(
            AppContext(settings=app.settings, engine=None, sessions=app.sessions),  # type: ignore[arg-type]
            now=at,
        )
        assert await app.deliver() == 3

    bangla = users[7301].messages[-1].plain_text()
    assert BN_NAME in bangla and BN_PLACE in bangla, bangla
    assert "Participation Committee" not in bangla and "Canteen" not in bangla
    # B14: the date and time in Bangla digits, joined by Bangla's own pattern, 24-hour clock.
    assert "মঙ্গলবার, ৫ জানুয়ারি, ২০২৭ ১৪:০০" in bangla, bangla
    assert not re.search(r"[0-9]", bangla) and "PM" not in bangla, bangla

    english = users[7302].messages[-1].plain_text()
    assert "Participation Committee" in english and "Canteen, 2nd floor" in english
    assert "Tuesday, January 5, 2027, 2:00\u202fPM" in english, english

    khmer = users[7303].messages[-1].plain_text()  # no Khmer name: the default one
    assert "Participation Committee" in khmer and "Canteen, 2nd floor" in khmer
    assert gettext("Will you come?", locale="km") in khmer


async def test_a_place_typed_for_one_meeting_is_shown_as_typed(app: BotHarness) -> None:
    with time_machine.travel(START, tick=False):
        await named_committee(app)
        async with transaction(app.sessions) as session:
            meeting = await session.scalar(select(Meeting).where(Meeting.starts_at == FIRST))
            assert meeting is not None
            assert names.meeting_place(meeting, "bn") == BN_PLACE
            meeting.location = "Training room"
            assert names.meeting_place(meeting, "bn") == "Training room"
            # A new usual place from the schedule form: the old place's translations go.
            committee = meeting.committee
            names.set_usual_place(committee, "Hall B")
            assert committee.places == {"en": "Hall B"}
            assert names.usual_place(committee, "bn") == "Hall B"
            assert names.committee_name(committee, "bn") == BN_NAME
            assert names.committee_name(committee, "my") == "Participation Committee"


async def test_staff_name_a_committee_in_workers_languages(console: ConsoleHarness) -> None:
    factory = await make_factory(console.sessions, "DK-08", country="BD", timezone=TZ)
    staff = await console.staff("country_manager", ["BD"])
    client = console.client_for(staff)
    r = await client.post(
        "/committees",
        data={
            "csrf_token": client.csrf,
            "factory_id": factory.id,
            "kind": "pc",
            "name": "Participation Committee",
            "default_locale": "en",
        },
    )
    assert r.status_code == 303
    url = r.headers["location"]
    page = await client.get(url)
    # The factory's languages come first in the form (make_factory gives BD factories bn, en).
    fields = re.findall(r'name="name:([a-z]{2})"', page.text)
    assert fields[: len(factory.languages)] == list(factory.languages)
    assert 'value="Participation Committee"' in page.text

    # Refused: no name in the default language; what was typed is kept.
    r = await client.post(
        f"{url}/names",
        data={"csrf_token": client.csrf, "default_locale": "en", "name:bn": BN_NAME},
    )
    assert r.status_code == 400
    assert BN_NAME in r.text
    assert gettext("name the committee in its default language") in r.text

    r = await client.post(
        f"{url}/names",
        data={
            "csrf_token": client.csrf,
            "default_locale": "en",
            "name:en": " Participation  Committee ",
            "name:bn": BN_NAME,
            "name:my": "ပူးပေါင်းပါဝင်မှု ကော်မတီ",
            "place:en": "Canteen, 2nd floor",
            "place:bn": BN_PLACE,
        },
    )
    assert r.status_code == 303
    async with console.sessions() as s:
        committee = await s.scalar(select(Committee).where(Committee.factory_id == factory.id))
        assert committee is not None
        assert committee.name == "Participation Committee"
        assert committee.location == "Canteen, 2nd floor"
        assert committee.names["bn"] == BN_NAME and committee.places == {
            "en": "Canteen, 2nd floor",
            "bn": BN_PLACE,
        }
        assert names.committee_name(committee, "my") == "ပူးပေါင်းပါဝင်မှု ကော်မတီ"
        assert names.committee_name(committee, "km") == "Participation Committee"
        audited = await s.scalar(select(AuditEvent).where(AuditEvent.action == "committee.names"))
        assert audited is not None
    page = await client.get(url)
    assert f'value="{BN_PLACE}"' in page.text


def test_english_and_french_dates_keep_their_form() -> None:
    moment = datetime(2027, 1, 5, 8, 0, tzinfo=UTC)
    when = format_datetime(moment, tz=TZ, locale="fr", format="full", time_format="short")
    assert when == "mardi 5 janvier 2027, 14:00"
