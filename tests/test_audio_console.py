"""The console's audio pages over HTTP (issue 19, part 3): uploads are probed and converted or
refused with a reason (nothing kept), recordings are heard only by signed-in staff in scope through
an unguessable address, and the coverage table shows what still needs a recording."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.i18n import gettext
from bot.storage.audio import AudioClip
from bot.storage.db import transaction
from bot.storage.models import AuditEvent, Factory, Staff
from services.audio import media
from services.audio.clips import KeyScreen, screen_target, survey_target
from services.surveys.builder import do_create_survey
from services.surveys.definition import validate
from tests.audio import needs_ffmpeg, store_clip, tone
from tests.console import ConsoleHarness
from tests.factories import make_factory
from tests.surveys_data import SAMPLE

pytestmark = needs_ffmpeg
MENU = screen_target(KeyScreen.MENU)


async def _survey(console: ConsoleHarness, key: str, country: str) -> None:
    async with transaction(console.sessions) as s:
        await do_create_survey(
            s, validate({**SAMPLE, "key": key}), country_code=country, actor=None
        )


async def _upload(client: Any, target: str, locale: str, content: bytes, name: str) -> Any:
    return await client.post(
        "/audio/target/upload",
        data={"csrf_token": client.csrf, "target": target, "locale": locale},
        files={"file": (name, content, "application/octet-stream")},
    )


async def _count(console: ConsoleHarness) -> int:
    async with console.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(AudioClip)) or 0)


def _codecs(content: bytes) -> tuple[str, set[str], float | None]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "clip")
        path.write_bytes(content)
        return media.probe(path)


async def test_a_phone_recording_is_converted_to_voice_and_audited(console: ConsoleHarness) -> None:
    manager = await console.staff("country_manager", ["BD"])
    client = console.client_for(manager)
    r = await _upload(client, MENU, "bn", tone(2.0, "m4a"), "recording.txt")  # the name is not read
    assert r.status_code == 303
    async with console.sessions() as s:
        clip = await s.scalar(select(AudioClip))
        assert clip is not None and clip.locale == "bn" and clip.target == MENU
        assert len(clip.token) >= 22 and not clip.token.isdigit()
        event = await s.scalar(select(AuditEvent).where(AuditEvent.action == "audio.upload"))
        assert event is not None and event.actor_staff_id == manager.id
    container, codecs, seconds = _codecs(clip.content)
    assert container == "ogg" and codecs == {"opus"}
    assert seconds is not None and 1.5 < seconds < 2.5 and 1500 < clip.duration_ms < 2500
    # Replacing keeps one clip per language; an MP3 is fine too.
    assert (await _upload(client, MENU, "bn", tone(1.0, "mp3"), "x.mp3")).status_code == 303
    assert await _count(console) == 1
    page = await client.get(f"/audio/target?t={MENU}")
    assert page.status_code == 200 and "/audio/play/" in page.text
    address = re.search(r'src="(/audio/play/[^"]+)"', page.text)
    assert address is not None
    played = await client.get(address.group(1))
    assert played.status_code == 200 and played.headers["content-type"] == "audio/ogg"
    assert "no-store" in played.headers["cache-control"]
    r = await client.post(
        "/audio/target/delete",
        data={"csrf_token": client.csrf, "target": MENU, "locale": "bn"},  # type: ignore[attr-defined]
    )
    assert r.status_code == 303 and await _count(console) == 0
    async with console.sessions() as s:
        assert await s.scalar(select(AuditEvent).where(AuditEvent.action == "audio.delete"))


async def test_uploads_that_are_not_usable_are_refused_and_nothing_is_kept(
    console: ConsoleHarness,
) -> None:
    manager = await console.staff("country_manager", ["BD"])
    async with transaction(console.sessions) as s:  # the reasons come in her language
        staff = await s.get(Staff, manager.id)
        assert staff is not None
        staff.locale = "fr"
    client = console.client_for(manager)
    cases = [
        (b"this is a text file, not sound", "voice.ogg", media.AudioRefused.message, {}),
        (tone(0, "png"), "photo.mp3", media.AudioRefused.message, {}),  # a picture, not sound
        (tone(61, "ogg"), "long.ogg", media.AudioTooLong.message, {"seconds": 60}),
        (
            os.urandom(media.MAX_UPLOAD_BYTES + 10),
            "big.m4a",
            media.AudioTooBig.message,
            {"megabytes": 5},
        ),
        (tone(1.0, "wav"), "speech.wav", media.AudioRefused.message, {}),  # not a phone format
    ]
    for content, name, message, params in cases:
        r = await _upload(client, MENU, "bn", content, name)
        assert r.status_code == 400, name
        assert gettext(message, locale="fr", **params) in r.text.replace("&#39;", "'").replace(
            "&#34;", '"'
        ), name
    assert await _count(console) == 0


async def test_a_key_screen_is_recorded_only_in_a_language_of_ones_factories(
    console: ConsoleHarness,
) -> None:
    """The menu's Khmer voice is heard in Cambodia: a Bangladesh manager may not replace it (nor
    the Arabic one until a factory of theirs lists Arabic)."""
    manager = console.client_for(await console.staff("country_manager", ["BD"]))
    assert (await _upload(manager, MENU, "km", tone(1.0), "a.m4a")).status_code == 403
    await store_clip(console.sessions, MENU, "km")
    r = await manager.post(
        "/audio/target/delete",
        data={"csrf_token": manager.csrf, "target": MENU, "locale": "km"},  # type: ignore[attr-defined]
    )
    assert r.status_code == 403 and await _count(console) == 1
    assert (await _upload(manager, MENU, "bn", tone(1.0), "a.m4a")).status_code == 303
    assert (await _upload(manager, MENU, "ar", tone(1.0), "a.m4a")).status_code == 403
    factory = await make_factory(console.sessions, "DK-02", country="BD")
    async with transaction(console.sessions) as s:
        row = await s.get(Factory, factory.id)
        assert row is not None
        row.languages = ["bn", "ar"]  # migrants from Jordan's factories work here too
    assert (await _upload(manager, MENU, "ar", tone(1.0), "a.m4a")).status_code == 303
    admin = console.client_for(await console.staff("admin", []))
    assert (await _upload(admin, MENU, "km", tone(1.0), "a.m4a")).status_code == 303


async def test_recordings_are_heard_only_by_staff_in_scope(console: ConsoleHarness) -> None:
    await _survey(console, "bd-pulse", "BD")
    await _survey(console, "kh-pulse", "KH")
    bd = await store_clip(console.sessions, survey_target("bd-pulse", "mood"), "bn")
    kh = await store_clip(console.sessions, survey_target("kh-pulse", "mood"), "km")
    manager = console.client_for(await console.staff("country_manager", ["BD"]))
    assert (await manager.get(f"/audio/play/{bd.token}")).status_code == 200
    assert (await manager.get(f"/audio/play/{kh.token}")).status_code == 404  # another country
    assert (
        await manager.get(f"/audio/target?t={survey_target('kh-pulse', 'mood')}")
    ).status_code == 404
    r = await _upload(manager, survey_target("kh-pulse", "mood"), "km", tone(1.0), "a.m4a")
    assert r.status_code == 404
    assert (await manager.get(f"/audio/play/{bd.id}")).status_code == 404  # a guessed address
    assert (await manager.get("/audio/play/" + bd.token[:-1] + "A")).status_code == 404
    anonymous = await console.anonymous().get(f"/audio/play/{bd.token}")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    handler = console.client_for(await console.staff("case_handler", ["BD"]))
    assert (await handler.get(f"/audio/play/{bd.token}")).status_code == 403
    admin = console.client_for(await console.staff("admin", []))
    assert (await admin.get(f"/audio/play/{kh.token}")).status_code == 200


async def test_the_coverage_table_shows_what_still_needs_a_recording(
    console: ConsoleHarness,
) -> None:
    await _survey(console, "bd-pulse", "BD")
    await _survey(console, "kh-pulse", "KH")
    await store_clip(console.sessions, MENU, "bn")
    await store_clip(console.sessions, survey_target("bd-pulse", "shift", "night"), "bn")
    manager = console.client_for(await console.staff("country_manager", ["BD"]))
    page = await manager.get("/audio")
    assert page.status_code == 200
    text = page.text
    row = text.split(f'data-target="{MENU}"', 1)[1].split("</tr>", 1)[0]
    assert (
        'class="has-audio" data-locale="bn"' in row and 'class="no-audio" data-locale="km"' in row
    )
    night = text.split('data-target="survey:bd-pulse:shift:night"', 1)[1].split("</tr>", 1)[0]
    assert 'class="has-audio" data-locale="bn"' in night
    assert 'data-target="survey:bd-pulse:mood"' in text
    assert "kh-pulse" not in text  # another country's survey is not listed
    for screen in KeyScreen:
        assert f'data-target="{screen_target(screen)}"' in text
