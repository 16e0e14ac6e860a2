"""Surveys in the console, the builder: questions, skip rules, translations, preview,
import/export, with the country scope and roles. Waves and results: ``test_console_survey_waves``."""

from __future__ import annotations

from typing import Any

import yaml
from sqlalchemy import func, select

from bot.i18n import gettext
from bot.storage.db import transaction
from bot.storage.surveys import Survey, SurveyVersion
from services.surveys.builder import do_install_templates
from services.surveys.definition import coverage, parse_definition, validate
from tests.console import ConsoleHarness
from tests.surveys_data import SAMPLE, audit_count, survey_in

# --- helpers ----------------------------------------------------------------------------------


async def definition_of(console: ConsoleHarness, survey_id: int) -> dict[str, Any]:
    async with console.sessions() as s:
        version = await s.scalar(
            select(SurveyVersion)
            .where(SurveyVersion.survey_id == survey_id)
            .order_by(SurveyVersion.number.desc())
            .limit(1)
        )
        assert version is not None
        return dict(version.definition)


# --- the builder ------------------------------------------------------------------------------


async def test_build_translate_preview_publish_export_and_import_back(
    console: ConsoleHarness,
) -> None:
    manager = await console.staff("country_manager", ["BD"])
    client = console.client_for(manager)
    token = client.csrf  # type: ignore[attr-defined]
    assert "New survey" in (await client.get("/surveys")).text
    r = await client.post(
        "/surveys/new",
        data={"key": "canteen", "title": "Canteen check", "country": "BD", "csrf_token": token},
    )
    assert r.status_code == 303, r.text
    url = r.headers["location"]
    survey_id = int(url.rsplit("/", 1)[1])

    async def add(**fields: str) -> Any:
        return await client.post(f"{url}/questions", data={"csrf_token": token, **fields})

    r = await add(
        key="shift",
        type="single",
        text="Which shift?",
        options="day: Day\nNight shift",
        required="true",
    )
    assert r.status_code == 303, r.text
    r = await add(key="meals", type="number", text="Meals a week?", min="0", max="21")
    assert r.status_code == 303, r.text
    r = await add(
        key="food",
        type="scale",
        text="How is the food?",
        required="true",
        show_if_question="shift",
        show_if_values="night-shift",
    )
    assert r.status_code == 303, r.text
    d = await definition_of(console, survey_id)
    assert [q["key"] for q in d["questions"]] == ["q1", "shift", "meals", "food"]
    assert [o["key"] for o in d["questions"][1]["options"]] == ["day", "night-shift"]
    assert d["questions"][2]["min"] == 0 and d["questions"][2]["max"] == 21
    assert d["questions"][2]["required"] is False  # the box was not ticked
    assert d["questions"][3]["show_if"] == {"question": "shift", "equals": ["night-shift"]}

    # A question that breaks a rule: the reason, what was typed, and nothing saved.
    r = await add(key="bad", type="single", text="Only one way out?", options="only")
    assert r.status_code == 400 and "2 to 12 options" in r.text and "Only one way out?" in r.text
    r = await add(key="late", type="number", text="How late?", min="ten", max="20")
    assert r.status_code == 400 and "How late?" in r.text
    assert await definition_of(console, survey_id) == d

    # Edit, move and delete.
    page = await client.get(f"{url}?edit=meals")
    assert 'value="Meals a week?"' not in page.text and "Meals a week?" in page.text
    r = await add(
        original="meals", key="meals", type="number", text="Hot meals a week?", min="0", max="14"
    )
    assert r.status_code == 303
    r = await client.post(
        f"{url}/questions/move", data={"csrf_token": token, "key": "meals", "direction": "up"}
    )
    assert r.status_code == 303
    r = await client.post(f"{url}/questions/delete", data={"csrf_token": token, "key": "q1"})
    assert r.status_code == 303
    d = await definition_of(console, survey_id)
    assert [q["key"] for q in d["questions"]] == ["meals", "shift", "food"]
    assert d["questions"][0]["text"] == {"en": "Hot meals a week?"}
    r = await client.post(
        f"{url}/texts",
        data={
            "csrf_token": token,
            "title": "Canteen check",
            "intro": "Two minutes.",
            "thanks": "Thank you!",
        },
    )
    assert r.status_code == 303

    # Translations: coverage per language, RTL inputs, unknown locale.
    page = await client.get(url)
    assert "বাংলা" in page.text and "0%" in page.text
    form = await client.get(f"{url}/translate/bn")
    assert "Hot meals a week?" in form.text and 'name="t:q.shift.o.day"' in form.text
    r = await client.post(
        f"{url}/translate/bn",
        data={
            "csrf_token": token,
            "t:title": "ক্যান্টিন",
            "t:q.meals": "সপ্তাহে কত বেলা গরম খাবার?",
            "t:q.shift": "কোন শিফট?",
            "t:q.shift.o.day": "দিন",
        },
    )
    assert r.status_code == 303
    defn = validate(await definition_of(console, survey_id))
    done, total = coverage(defn)["bn"]
    assert (done, total) == (4, 8)
    page = await client.get(url)
    assert f"{round(100 * done / total)}%" in page.text and "(4/8)" in page.text
    ar = await client.get(f"{url}/translate/ar")
    assert 'name="t:title"' in ar.text and 'lang="ar" dir="rtl"' in ar.text
    assert (await client.get(f"{url}/translate/xx")).status_code == 404
    assert (await client.get(f"{url}/preview?locale=xx")).status_code == 404

    # Preview as a worker reading Bangla: translated where written, faces, skip where optional.
    preview = await client.get(f"{url}/preview?locale=bn")
    assert preview.status_code == 200
    assert "সপ্তাহে কত বেলা গরম খাবার?" in preview.text and "দিন" in preview.text
    assert "How is the food?" in preview.text  # not translated: the source text
    assert "😞 ১" in preview.text and "😄 ৫" in preview.text  # Bangla digits (B14)
    header = gettext(
        "<b>{title}</b> · question {number} of {total}",
        locale="bn",
        title="ক্যান্টিন",
        number=3,
        total=3,
    )
    assert header in preview.text  # "question 3 of 3", in the bot's words
    assert preview.text.count(f">{gettext('Skip', locale='bn')}<") == 1  # only "meals" is optional
    assert 'dir="rtl"' in (await client.get(f"{url}/preview?locale=ur")).text

    # Publish freezes: the page is read-only and offers a new draft.
    r = await client.post(f"{url}/publish", data={"csrf_token": token})
    assert r.status_code == 303
    page = await client.get(url)
    assert "published" in page.text and f'action="/surveys/{survey_id}/questions"' not in page.text
    assert "Edit (starts a new draft)" in page.text
    assert await audit_count(console, "survey.publish") == 1

    # Export, then import the same file under a new key: the same survey.
    exported = await client.get(f"{url}/export.yaml")
    assert exported.status_code == 200
    assert exported.headers["content-disposition"].startswith("attachment;")
    assert "canteen-v1.yaml" in exported.headers["content-disposition"]
    as_json = await client.get(f"{url}/export.json")
    assert as_json.headers["content-type"].startswith("application/json")
    assert parse_definition(as_json.content) == parse_definition(exported.content)
    copy = exported.text.replace("key: canteen", "key: canteen-2", 1)
    r = await client.post(
        "/surveys/import",
        data={"csrf_token": token, "country": "BD"},
        files={"file": ("canteen.yaml", copy.encode(), "application/yaml")},
    )
    assert r.status_code == 303, r.text
    new_id = int(r.headers["location"].rsplit("/", 1)[1])
    original = parse_definition(exported.content).model_dump()
    imported = validate(await definition_of(console, new_id)).model_dump()
    assert imported == {**original, "key": "canteen-2"}

    # "Edit" starts version 2 from version 1.
    r = await client.post(f"{url}/draft", data={"csrf_token": token})
    assert r.status_code == 303
    page = await client.get(url)
    assert "version 2" in page.text and "Add a question" in page.text

    # Renaming a question carries the skip rules that name it.
    r = await add(
        original="shift",
        key="work-shift",
        type="single",
        text="Which shift?",
        options="day: Day\nnight-shift: Night shift",
        required="true",
    )
    assert r.status_code == 303, r.text
    d = await definition_of(console, survey_id)
    assert d["questions"][2]["show_if"] == {"question": "work-shift", "equals": ["night-shift"]}
    assert d["questions"][1]["text"]["bn"] == "কোন শিফট?"  # translations kept
    assert d["questions"][1]["options"][0]["text"] == {"en": "Day", "bn": "দিন"}


async def test_an_invalid_file_names_its_line_and_stores_nothing(console: ConsoleHarness) -> None:
    manager = await console.staff("country_manager", ["BD"])
    client = console.client_for(manager)
    token = client.csrf  # type: ignore[attr-defined]
    text = yaml.safe_dump(SAMPLE, allow_unicode=True, sort_keys=False).replace(
        "type: number", "type: slider"
    )
    line = next(i for i, ln in enumerate(text.splitlines(), start=1) if "slider" in ln)
    r = await client.post(
        "/surveys/import",
        data={"csrf_token": token, "country": "BD"},
        files={"file": ("s.yaml", text.encode(), "application/yaml")},
    )
    assert r.status_code == 400
    assert f"line {line}" in r.text and "unknown question type" in r.text
    r = await client.post(
        "/surveys/import", data={"csrf_token": token, "country": "BD", "content": "key: [unclosed"}
    )
    assert r.status_code == 400 and "not valid YAML or JSON" in r.text
    assert "key: [unclosed" in r.text  # what was pasted is still there
    for content, says in (
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not a text file"),
        (b"a" * (600 * 1024), "larger than 512 KB"),
        (b"\xff\xfe\xfa", "not UTF-8"),
    ):
        r = await client.post(
            "/surveys/import",
            data={"csrf_token": token, "country": "BD"},
            files={"file": ("s.yaml", content, "application/octet-stream")},
        )
        assert r.status_code == 400 and says in r.text, r.text[-500:]
    # Someone else's country, and a missing CSRF token: refused as well.
    good = yaml.safe_dump(SAMPLE, allow_unicode=True)
    r = await client.post(
        "/surveys/import", data={"csrf_token": token, "country": "KH", "content": good}
    )
    assert r.status_code == 400 and "choose one of your countries" in r.text
    r = await client.post("/surveys/import", data={"country": "BD", "content": good})
    assert r.status_code == 403
    async with console.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Survey)) == 0


async def test_scope_roles_and_shared_templates(console: ConsoleHarness) -> None:
    theirs = await survey_in(console, "KH", "kh-pulse")
    mine = await survey_in(console, "BD", "bd-pulse")
    async with transaction(console.sessions) as s:
        templates = await do_install_templates(s)
    analyst = await console.staff("analyst", ["BD"])
    client = console.client_for(analyst)
    listing = await client.get("/surveys")
    assert "bd-pulse" in listing.text and "kh-pulse" not in listing.text
    assert "shared template" in listing.text
    for path in ("", "/export.yaml", "/waves", "/waves/new", "/translate/bn", "/preview"):
        assert (await client.get(f"/surveys/{theirs.id}{path}")).status_code == 404, path
        assert (await client.get(f"/surveys/{mine.id}{path}")).status_code == 200, path
    r = await client.post(
        f"/surveys/{theirs.id}/publish",
        data={"csrf_token": client.csrf},  # type: ignore[attr-defined]
    )
    assert r.status_code == 404
    for forged in (
        "/surveys/99999999999999999999",
        "/surveys/waves/-1/results",
        "/surveys/waves/99999999999999999999/results.csv",
        "/surveys/abc",
    ):
        r = await client.get(forged)
        assert r.status_code in (404, 400), (forged, r.status_code)
    handler = await console.staff("case_handler", ["BD"])
    other = console.client_for(handler)
    assert (await other.get("/surveys")).status_code == 403
    assert (await other.get(f"/surveys/{mine.id}")).status_code == 403
    assert "/surveys" not in (await other.get("/")).text

    # A shared template is read-only for a country: it offers a copy instead.
    shared = templates[0]
    page = await client.get(f"/surveys/{shared.id}")
    assert "Copy to my country" in page.text and "Add a question" not in page.text
    r = await client.post(
        f"/surveys/{shared.id}/questions/delete",
        data={"csrf_token": client.csrf, "key": "mood"},  # type: ignore[attr-defined]
    )
    assert r.status_code == 403 and "Copy it to your country" in r.text
    r = await client.post(
        f"/surveys/{shared.id}/copy",
        data={"csrf_token": client.csrf, "key": "pulse-bd", "country": "KH"},  # type: ignore[attr-defined]
    )
    assert r.status_code == 400 and "choose one of your countries" in r.text
    r = await client.post(
        f"/surveys/{shared.id}/copy",
        data={"csrf_token": client.csrf, "key": "pulse-bd", "country": "BD"},  # type: ignore[attr-defined]
    )
    assert r.status_code == 303
    copied = await client.get(r.headers["location"])
    assert "pulse-bd" in copied.text and "Copy to my country" not in copied.text


async def test_survey_forms_confirm_what_was_done_and_keep_what_was_refused(
    console: ConsoleHarness,
) -> None:
    """The survey pages use the console's form pattern: a refused form comes back with the
    reason next to the field and what was typed; a done one says so on the next page."""
    client = console.client_for(await console.staff("country_manager", ["BD"]))
    token = client.csrf  # type: ignore[attr-defined]
    r = await client.post(
        "/surveys/new", data={"csrf_token": token, "key": "canteen-2", "title": "", "country": "BD"}
    )
    assert r.status_code == 400
    assert 'id="new-title-error">Please fill this in.' in r.text
    assert 'value="canteen-2"' in r.text and "title" not in r.text.split('role="alert">')[1][:80]
    r = await client.post(
        "/surveys/new",
        data={"csrf_token": token, "key": "canteen-2", "title": "Canteen", "country": "BD"},
    )
    assert r.status_code == 303
    url = r.headers["location"]
    assert "The survey is created." in (await client.get(url)).text
    r = await client.post(f"{url}/texts", data={"csrf_token": token, "title": "Canteen, again"})
    assert r.status_code == 303 and "Saved." in (await client.get(url)).text
    r = await client.post(f"{url}/publish", data={"csrf_token": token})
    assert "The survey is published" in (await client.get(r.headers["location"])).text
