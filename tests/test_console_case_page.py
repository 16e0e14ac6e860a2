"""The case page a handler reads (review M4, M5, M6, m2, m3): history in words with names, notes
apart from the conversation with the worker, a confirmation after every action, evidence that
plays and previews, an assignee select that preselects nobody."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from admin.reports import evidence as files
from admin.reports.history import file_size, sentence
from bot.i18n import use_locale
from bot.storage.db import transaction
from bot.storage.models import AuditEvent
from bot.storage.reports import Case, CaseEvent, CaseEvidence, CaseTask
from services.labels import label
from services.reports.cases import access_case
from services.reports.conversation import do_reporter_message
from services.reports.crypto import keyring
from services.reports.jobs import handle_task
from services.reports.protocol import Actor, EventKind, Referral, State, TaskKind
from tests.console import ConsoleHarness, csrf_of
from tests.factories import make_case

OGG = b"OggS\x00\x02" + bytes(200)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(300)
PDF = b"%PDF-1.4\n" + bytes(100)


def section(page: str, anchor: str) -> str:
    """The text of one card of the case page, found by its id."""
    start = page.index(">", page.index(f'id="{anchor}"')) + 1
    end = page.find('<div class="card', start + 1)
    return page[start : end if end > 0 else None]


async def _post(client, case_id: int, path: str, **data: str):  # type: ignore[no-untyped-def]
    token = csrf_of((await client.get(f"/reports/{case_id}")).text)
    return await client.post(f"/reports/{case_id}/{path}", data={"csrf_token": token, **data})


async def test_history_reads_as_sentences_with_names_and_no_raw_data(
    console: ConsoleHarness,
) -> None:
    made = await make_case(console.sessions, console.ctx.settings)
    rahima = await console.staff("country_manager", ["BD"], name="Rahima")
    karim = await console.staff("case_handler", ["BD"], name="Karim")
    manager, handler = console.client_for(rahima), console.client_for(karim)
    assert (await _post(manager, made.id, "assign", handler_id=str(karim.id))).status_code == 303
    assert (await _post(handler, made.id, "transition", to="acknowledged")).status_code == 303
    assert (await _post(handler, made.id, "message", text="Which line?")).status_code == 303
    assert (await _post(handler, made.id, "note", text="Call the union.")).status_code == 303
    assert (await _post(handler, made.id, "refer", to="union")).status_code == 303
    keys = keyring(console.ctx.settings)
    async with transaction(console.sessions) as s:
        case = await access_case(s, karim, made.id, audit_view=False)
        await do_reporter_message(s, case, "Line 7, night shift", keys=keys)
        task = await s.scalar(
            select(CaseTask).where(
                CaseTask.case_id == case.id, CaseTask.kind == TaskKind.TRIAGE_DEADLINE
            )
        )
        assert task is not None
        assert await handle_task(s, task, datetime.now(UTC)) == "escalated"

    page = (await manager.get(f"/reports/{made.id}")).text
    history = section(page, "history")
    for said in (
        "The worker sent the report.",
        "Rahima assigned the case to Karim.",
        "Karim acknowledged the report.",
        "Karim wrote to the worker.",
        "Karim wrote an internal note.",
        f"Karim referred the case to {label(Referral.UNION)}, without naming the worker.",
        "The worker replied.",
        "System: the triage deadline passed; managers were alerted.",
    ):
        assert said in history, said
    # Never ciphertext, ids or key=value pairs (M4, M5).
    assert "for_reporter" not in page and "to_reporter" not in page and "to_staff" not in page
    assert not re.search(r"[A-Za-z0-9+/]{60,}", page)
    assert not re.search(r"\b[a-z_]+=\S", re.sub(r"<[^>]*>", " ", history))
    # The header names the assignee.
    assert "Karim" in page[page.index('id="assignee"') :][:200]


def test_every_event_kind_has_a_sentence_in_english_and_arabic() -> None:
    names = {1: "Rahima", 2: "Karim"}
    details: dict[str, dict[str, object]] = {
        EventKind.ASSIGNED: {"to_staff": 2},
        EventKind.CLOSE_PROPOSED: {"outcome": "resolved"},
        EventKind.CLOSED: {"outcome": "resolved", "confirmed": True},
        EventKind.REFERRAL: {"to": "union", "worker_named": False},
        EventKind.ESCALATED: {"reason": "ack_deadline"},
        EventKind.RETALIATION_REPORTED: {"linked_case": 9},
    }
    worker_kinds = {
        EventKind.SUBMITTED,
        EventKind.MESSAGE_FROM_REPORTER,
        EventKind.RETALIATION_REPORTED,
    }
    for kind in EventKind:
        actor = (
            Actor.REPORTER
            if kind in worker_kinds
            else Actor.SYSTEM
            if kind == EventKind.ESCALATED
            else Actor.STAFF
        )
        event = CaseEvent(
            kind=kind,
            actor=actor,
            actor_staff_id=1 if actor == Actor.STAFF else None,
            from_state="triaged",
            to_state="investigating",
            detail=details.get(kind, {}),
        )
        with use_locale("en"):
            english = sentence(event, names)
        with use_locale("ar"):
            arabic = sentence(event, names)
        assert "updated the case" not in english, kind  # not the fallback for unknown kinds
        assert "=" not in english and "{" not in english, english
        assert arabic != english, f"{kind}: not translated into Arabic"
        if actor == Actor.STAFF:
            assert "Rahima" in english and "Rahima" in arabic


async def test_notes_and_messages_are_apart_and_the_form_says_the_worker_reads_it(
    console: ConsoleHarness,
) -> None:
    made = await make_case(console.sessions, console.ctx.settings)
    client = console.client_for(await console.staff("case_handler", ["BD"]))
    await _post(client, made.id, "note", text="NOTE-ONLY-FOR-STAFF")
    await _post(client, made.id, "message", text="MESSAGE-FOR-THE-WORKER")
    page = (await client.get(f"/reports/{made.id}")).text
    talk, notes = section(page, "conversation"), section(page, "notes")
    assert "MESSAGE-FOR-THE-WORKER" in talk and "NOTE-ONLY-FOR-STAFF" not in talk
    assert "NOTE-ONLY-FOR-STAFF" in notes and "MESSAGE-FOR-THE-WORKER" not in notes
    assert "The worker will read this message" in talk and "The worker reads this" in talk
    assert "the worker never sees these" in notes


@pytest.mark.parametrize(
    ("path", "data", "said"),
    [
        ("transition", {"to": "acknowledged"}, "Saved: the case is now {acknowledged}."),
        ("note", {"text": "Seen."}, "Your internal note is saved. The worker does not see it."),
        ("message", {"text": "Hello"}, "Your message was sent to the worker's chat."),
        ("refer", {"to": "labour_authority"}, "The referral to {labour} is recorded."),
        ("assign", {"handler_id": ""}, "The case is now unassigned."),
    ],
)
async def test_every_action_confirms_and_redirects_to_the_case(
    console: ConsoleHarness, path: str, data: dict[str, str], said: str
) -> None:
    said = said.format(
        acknowledged=label(State.ACKNOWLEDGED), labour=label(Referral.LABOUR_AUTHORITY)
    )
    made = await make_case(console.sessions, console.ctx.settings)
    client = console.client_for(await console.staff("case_handler", ["BD"]))
    r = await _post(client, made.id, path, **data)
    assert r.status_code == 303 and r.headers["location"] == f"/reports/{made.id}"
    page = (await client.get(f"/reports/{made.id}")).text
    assert f'<p class="flash ok" role="status">{said}</p>'.replace("'", "&#39;") in page
    again = (await client.get(f"/reports/{made.id}")).text
    assert said.replace("'", "&#39;") not in again  # shown once


async def test_an_empty_message_gets_a_plain_reason_next_to_its_form(
    console: ConsoleHarness,
) -> None:
    made = await make_case(console.sessions, console.ctx.settings)
    client = console.client_for(await console.staff("case_handler", ["BD"]))
    await _post(client, made.id, "note", text="typed in the note box")
    r = await _post(client, made.id, "message", text="   ")
    assert r.status_code == 400
    assert "This report is not complete" not in r.text
    talk = section(r.text, "conversation")
    assert 'id="message-error"' in talk and "Please fill this in." in talk
    assert f'data-canonical-url="/reports/{made.id}"' in r.text  # the address goes back
    async with console.sessions() as s:
        events = await s.scalar(
            select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == made.id)
        )
        assert events == 2  # submitted and the note: nothing sent


async def test_the_handler_select_preselects_nobody_and_the_header_names_the_assignee(
    console: ConsoleHarness,
) -> None:
    made = await make_case(console.sessions, console.ctx.settings)
    karim = await console.staff("case_handler", ["BD"], name="Karim")
    await console.staff("case_handler", ["BD"], name="Anwar")
    client = console.client_for(karim)
    page = (await client.get(f"/reports/{made.id}")).text
    select_html = page[
        page.index('<select id="handler"') : page.index(
            "</select>", page.index('<select id="handler"')
        )
    ]
    assert '<option value="">Unassigned</option>' in select_html and "selected" not in select_html
    assert "Nobody yet" in page
    await _post(client, made.id, "assign", handler_id=str(karim.id))
    page = (await client.get(f"/reports/{made.id}")).text
    assert "<strong>Karim</strong>" in page[page.index('id="assignee"') :][:200]
    assert f'<option value="{karim.id}" selected>Karim</option>' in page
    assert "Karim took the case." in page
    # Someone of another country cannot be given the case.
    elsewhere = await console.staff("case_handler", ["KH"])
    r = await _post(client, made.id, "assign", handler_id=str(elsewhere.id))
    assert r.status_code == 403


async def test_evidence_plays_previews_and_downloads_audited(console: ConsoleHarness) -> None:
    made = await make_case(console.sessions, console.ctx.settings)
    keys = keyring(console.ctx.settings)
    async with transaction(console.sessions) as s:
        case = await s.get(Case, made.id)
        assert case is not None
        added = datetime.now(UTC)
        for n, (kind, mime, content) in enumerate(
            [
                ("voice", "audio/ogg", OGG),
                ("photo", "image/jpeg", JPEG),
                ("document", "application/pdf", PDF),
                ("voice", "application/octet-stream", b"ID3" + bytes(2_400_000)),
            ]
        ):
            s.add(
                CaseEvidence(
                    case_id=case.id,
                    kind=kind,
                    mime_type=mime,
                    size=len(content),
                    content=keys.seal(content),
                    added_at=added + timedelta(seconds=n),
                )
            )
    async with console.sessions() as s:
        ids = [
            e.id
            for e in await s.scalars(
                select(CaseEvidence)
                .where(CaseEvidence.case_id == made.id)
                .order_by(CaseEvidence.id)
            )
        ]
    client = console.client_for(await console.staff("case_handler", ["BD"]))
    page = (await client.get(f"/reports/{made.id}")).text
    assert f'<audio controls preload="none" src="/reports/{made.id}/evidence/{ids[0]}"' in page
    assert f'<img src="/reports/{made.id}/evidence/{ids[1]}"' in page
    assert "Voice note 1" in page and "Photo 1" in page and "Document 1" in page
    assert "Voice note 2" in page and "2.3 MB" in page and "1 kB" in page
    assert "bytes)" not in page

    voice = await client.get(f"/reports/{made.id}/evidence/{ids[0]}")
    assert voice.headers["content-type"] == "audio/ogg" and voice.content == OGG
    assert voice.headers["cache-control"] == "no-store"
    assert voice.headers["content-disposition"].startswith("inline;")
    mp3 = await client.get(f"/reports/{made.id}/evidence/{ids[3]}")
    assert mp3.headers["content-type"] == "audio/mpeg"  # from its bytes, not the stored type
    part = await client.get(f"/reports/{made.id}/evidence/{ids[0]}", headers={"Range": "bytes=0-3"})
    assert part.status_code == 206 and part.content == b"OggS"
    assert part.headers["content-range"] == f"bytes 0-3/{len(OGG)}"
    doc = await client.get(f"/reports/{made.id}/evidence/{ids[2]}")
    assert doc.headers["content-type"] == "application/pdf"
    assert doc.headers["content-disposition"] == (
        f'attachment; filename="case-{made.id}-document-{ids[2]}.pdf"'
    )
    photo = await client.get(f"/reports/{made.id}/evidence/{ids[1]}?download=1")
    assert photo.headers["content-disposition"].startswith("attachment;")
    assert photo.headers["content-disposition"].endswith('.jpg"')
    async with console.sessions() as s:
        opened = await s.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "case.evidence")
        )
        assert opened == 5


def test_types_come_from_the_bytes_and_nothing_unknown_shows_inline() -> None:
    assert files.sniff("application/octet-stream", OGG) == "audio/ogg"
    assert files.sniff("audio/ogg", b"\x00\x00\x00\x20ftypM4A " + bytes(8)) == "audio/mp4"
    assert files.sniff("image/png", JPEG) == "image/jpeg"
    assert files.sniff("text/html", b"<script>alert(1)</script>") == files.OCTET
    r = files.evidence_response(
        b"<svg/>", "image/svg+xml", "x.svg", download=False, range_header=None
    )
    assert r.headers["content-disposition"].startswith("attachment;")


def test_sizes_in_the_staff_language() -> None:
    assert file_size(1536, locale="en") == "2 kB"
    assert file_size(3 * 1024 * 1024, locale="en") == "3.0 MB"
    assert file_size(3 * 1024 * 1024, locale="ar") != "3.0 MB"


async def test_staff_name_themselves_on_their_account_page(console: ConsoleHarness) -> None:
    made = await make_case(console.sessions, console.ctx.settings)
    staff = await console.staff("case_handler", ["BD"], email="karim@example.org")
    client = console.client_for(staff)
    await _post(client, made.id, "note", text="Seen.")
    page = (await client.get(f"/reports/{made.id}")).text
    assert "karim@example.org wrote an internal note." in page  # no name yet: the e-mail
    account = (await client.get("/account")).text
    assert 'action="/account/name"' in account
    r = await client.post(
        "/account/name", data={"name": "  Karim \u0007 Uddin ", "csrf_token": csrf_of(account)}
    )
    assert r.status_code == 303 and r.headers["location"] == "/account"
    account = (await client.get("/account")).text
    assert "Your name is saved." in account and 'value="Karim Uddin"' in account
    page = (await client.get(f"/reports/{made.id}")).text
    assert "Karim Uddin wrote an internal note." in page
    r = await client.post("/account/name", data={"name": "K" * 121, "csrf_token": csrf_of(account)})
    assert r.status_code == 400 and "at most 120 characters" in r.text
