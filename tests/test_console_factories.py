"""Factories in the console: create, edit, QR code and poster, CSV import, country scope."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.storage.models import AuditEvent, Factory
from tests.console import ConsoleHarness, csrf_of
from tests.factories import make_factory


async def test_manager_adds_a_factory_and_sees_its_qr_code(console: ConsoleHarness) -> None:
    manager = await console.staff("country_manager", ["KH"])
    client = console.client_for(manager)
    form = await client.get("/factories/new")
    assert "Cambodia" in form.text and "Bangladesh" not in form.text  # only their countries
    r = await client.post(
        "/factories/new",
        data={
            "code": "pp-09",
            "name": "Phnom Penh Nine",
            "country": "KH",
            "timezone": "",
            "size": "1200",
            "languages": ["km", "en"],
            "csrf_token": csrf_of(form.text),
        },
    )
    assert r.status_code == 303
    page = await client.get(r.headers["location"])
    assert "https://t.me/your_workvoice_bot?start=f_PP-09" in page.text and "<svg" in page.text
    assert "Asia/Phnom_Penh" in page.text
    poster = await client.get(r.headers["location"] + "/poster")
    assert "ស្នងសំឡេង" not in poster.text  # sanity: no invented text
    assert 'lang="km"' in poster.text and "<svg" in poster.text
    async with console.sessions() as s:
        assert (
            await s.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "factory.save")
            )
            == 1
        )


async def test_bad_factory_input_is_explained(console: ConsoleHarness) -> None:
    manager = await console.staff("country_manager", ["KH"])
    client = console.client_for(manager)
    form = await client.get("/factories/new")
    for data, says in (
        ({"code": "x", "name": "A", "country": "KH"}, "2-32"),
        ({"code": "OK-1", "name": "A", "country": "KH", "timezone": "Mars/Base"}, "time zone"),
        ({"code": "OK-1", "name": "A", "country": "BD"}, "do not have access"),
    ):
        r = await client.post("/factories/new", data={**data, "csrf_token": csrf_of(form.text)})
        assert r.status_code in (400, 404) and says in r.text, (data, r.text[-400:])
    async with console.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Factory)) == 0


async def test_edit_keeps_the_country_scope(console: ConsoleHarness) -> None:
    mine = await make_factory(console.sessions, "KH-1", country="KH")
    theirs = await make_factory(console.sessions, "BD-1", country="BD")
    manager = await console.staff("country_manager", ["KH"])
    client = console.client_for(manager)
    assert (await client.get(f"/factories/{theirs.id}")).status_code == 404
    assert (await client.get(f"/factories/{theirs.id}/poster")).status_code == 404
    listing = await client.get("/factories")
    assert "KH-1" in listing.text and "BD-1" not in listing.text
    form = await client.get(f"/factories/{mine.id}/edit")
    r = await client.post(
        f"/factories/{mine.id}/edit",
        data={
            "code": "KH-1",
            "name": "Renamed",
            "country": "KH",
            "timezone": "Asia/Phnom_Penh",
            "csrf_token": csrf_of(form.text),
        },
    )
    assert r.status_code == 303
    assert "Renamed" in (await client.get(f"/factories/{mine.id}")).text


async def test_csv_import_is_all_or_nothing(console: ConsoleHarness) -> None:
    manager = await console.staff("country_manager", ["BD"])
    client = console.client_for(manager)
    page = await client.get("/factories/import")
    token = csrf_of(page.text)
    bad = "code,name,country,timezone\nDK-1,One,BD,\nDK-2,Two,BD,Nowhere/City\n"
    r = await client.post(
        "/factories/import",
        data={"csrf_token": token},
        files={"file": ("f.csv", bad.encode(), "text/csv")},
    )
    assert r.status_code == 400 and "Line 3" in r.text and "time zone" in r.text
    r = await client.post(
        "/factories/import",
        data={"csrf_token": token},
        files={"file": ("f.csv", "\xff\xfe".encode("latin-1"), "text/csv")},
    )
    assert r.status_code == 400 and "UTF-8" in r.text
    other = "code,name,country,timezone\nKH-9,Elsewhere,KH,\n"
    r = await client.post(
        "/factories/import",
        data={"csrf_token": token},
        files={"file": ("f.csv", other.encode(), "text/csv")},
    )
    assert r.status_code == 400 and "do not manage" in r.text
    async with console.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Factory)) == 0
    good = "code,name,country,timezone\nDK-1,One,BD,\nDK-2,Two,BD,Asia/Dhaka\n"
    r = await client.post(
        "/factories/import",
        data={"csrf_token": token},
        files={"file": ("f.csv", good.encode(), "text/csv")},
    )
    assert r.status_code == 303  # POST-redirect-GET to the list, with the confirmation
    assert "Imported 2 factories." in (await client.get(r.headers["location"])).text


async def test_translations_page_shows_coverage_and_review(console: ConsoleHarness) -> None:
    analyst = await console.staff("analyst", ["BD"])
    page = await console.client_for(analyst).get("/translations")
    assert page.status_code == 200 and "বাংলা" in page.text and "Machine-drafted" in page.text
    assert "0 of " in page.text and "/translations/bn/core" in page.text  # nothing approved yet


async def test_a_refused_form_explains_in_the_staff_members_language(
    console: ConsoleHarness,
) -> None:
    from bot.i18n import gettext

    manager = await console.staff("country_manager", ["KH"])
    async with console.sessions() as s:
        row = await s.get(type(manager), manager.id)
        assert row is not None
        row.locale = "ar"
        await s.commit()
    client = console.client_for(manager)
    form = await client.get("/factories/new")
    r = await client.post(
        "/factories/new",
        data={"code": "x", "name": "A", "country": "KH", "csrf_token": csrf_of(form.text)},
    )
    reason = gettext("the code must be 2-32 letters, digits or '-'", locale="ar")
    assert r.status_code == 400 and reason != "the code must be 2-32 letters, digits or '-'"
    assert reason in r.text
