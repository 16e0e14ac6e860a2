"""Fuzzing the bot where workers and the network reach it (issue 18): the webhook, and every flow.

Text up to Telegram's 4,096 characters with bidi overrides, zero-width and control characters,
NUL and HTML-like markup; forged, stale and other people's callback data; update types the bot
never asked for. Whatever arrives: no 500, no update ending in an unhandled error, never "sorry",
a reply in the worker's own language, and no change to anyone's stored data that the input does
not call for.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from aiogram.types import Update
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import func, select

from bot.storage.models import RawUpdate, UpdateStatus, User
from bot.storage.reports import Case
from tests.conftest import Database
from tests.factories import make_worker
from tests.harness import BotHarness
from tests.webhook_route import webhook_client

SECRET = "fuzz-webhook-secret"
_ids = itertools.count(9_700_000)

TRICKY = [
    *("\u202e", "\u202d", "\u2066", "\u2067", "\u2069", "\u200b", "\u200c", "\u200d", "\ufeff"),
    *("\x00", "\x01", "\x1b", "\x7f", "\x85", "\u2028", "\n", "\t"),
    *("<b>", "</i>", "<a href='javascript:x'>", "&amp;", "&lt;", "<script>", "<", ">", "&"),
    *("%s", "{0}", "{name}", "/", "/start", "/report x", "@bot", "#", "１２３", "١٢٣", "০১২"),
    *("ক", "ا", "မ", "ក", "ሀ", "👍🏽", "\u0301"),
]
pieces = st.sampled_from(TRICKY) | st.text(max_size=12)
worker_texts = st.one_of(
    st.lists(pieces, max_size=30).map("".join),
    st.builds(lambda piece, n: (piece * n)[:4096], st.sampled_from(TRICKY), st.integers(1, 4096)),
).filter(lambda text: text.strip() != "")
PREFIXES = ["w", "sv", "bt", "bq", "cr", "co", "cd", "cj", "lang", "ok", "priv", "del"]
PREFIXES += ["quiet", "rc", "rn", "m"]
forged_data = st.one_of(
    st.builds(
        lambda prefix, parts: ":".join([prefix, *parts]),
        st.sampled_from(PREFIXES),
        st.lists(st.sampled_from(["", "0", "-1", "99999999999", "x", "yes", "🙂"]), max_size=5),
    ),
    st.text(max_size=64),
).map(lambda data: data.encode()[:64].decode("utf-8", "ignore"))

# Where a worker may be when the odd input arrives: idle, or inside a conversation.
ENTRIES = [None, "/report", "/language", "/delete", "/news", "/privacy", "/surveys", "/follow"]
ENTRIES += ["/committee", "/stop", "/help"]
# The worker's own script: every reply must be in it (a translated reply, not English).
SCRIPTS = {"bn": re.compile("[\u0980-\u09ff]"), "ar": re.compile("[\u0600-\u06ff]")}


async def _stored_counts(app: BotHarness) -> tuple[int, int, int]:
    async with app.sessions() as s:
        cases = await s.scalar(select(func.count()).select_from(Case))
        users = await s.scalar(select(func.count()).select_from(User).where(User.active))
        failed = await s.scalar(
            select(func.count())
            .select_from(RawUpdate)
            .where(RawUpdate.status == UpdateStatus.FAILED)
        )
    return int(cases or 0), int(users or 0), int(failed or 0)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    entry=st.sampled_from(ENTRIES),
    locale=st.sampled_from(sorted(SCRIPTS)),
    action=st.one_of(
        st.tuples(st.just("text"), worker_texts),
        st.tuples(st.just("tap"), forged_data),
        st.tuples(st.just("others"), st.just("")),
    ),
)
async def test_no_input_in_any_flow_breaks_the_bot_or_changes_what_it_should_not(
    app: BotHarness, entry: str | None, locale: str, action: tuple[str, str]
) -> None:
    worker_id, other_id = next(_ids), next(_ids)
    await make_worker(app.sessions, worker_id, locale=locale)
    await make_worker(app.sessions, other_id, locale="en")
    worker = app.user(worker_id, language_code=locale)
    other = app.user(other_id)
    await other.send("/delete")  # the other person's buttons, for "others" below
    await other.wait_idle()
    if entry is not None:
        await worker.send(entry)
        await worker.wait_idle()
    before = await _stored_counts(app)
    seen = len(worker.messages)
    kind, value = action
    if kind == "text":
        await worker.send(value)
    elif kind == "tap":
        await worker.tap_data(value)
    else:  # another person's real button, sent as this worker's tap
        markup = (other.last.reply_markup or {}) if other.messages else {}
        datas = [
            b["callback_data"]
            for row in markup.get("inline_keyboard", [])
            for b in row
            if "callback_data" in b
        ]
        value = datas[0] if datas else "del:1"
        # Telegram lets a client send any callback data on its own chat's message (MTProto
        # does not check it against the buttons): this worker sends the other's.
        await worker.tap_data(value)
    await worker.wait_idle()
    replies = worker.messages[seen:]
    alerts = [a.get("text") or "" for a in worker.answered_callbacks]
    transcript = worker.transcript()
    assert all("went wrong" not in r.plain_text() for r in worker.messages), transcript
    assert all("went wrong" not in a for a in alerts), alerts
    script = SCRIPTS[locale]
    for reply in replies:  # in her language (a menu of emoji alone would pass: none is)
        assert script.search(reply.plain_text()), (locale, transcript)
    cases, users, failed = await _stored_counts(app)
    assert failed == before[2] == 0, transcript  # no update ended in an unhandled error
    assert cases == before[0]  # nothing here sends a report
    # Only "yes, delete my data" deletes, and only the one who sent it: never someone else.
    deleting = value.startswith("del:1") and kind != "text"
    assert users == before[1] - (1 if deleting and users < before[1] else 0)
    async with app.sessions() as s:
        assert await s.scalar(select(User.active).where(User.telegram_id == other_id))
    assert len(other.messages) == 1  # the other person is not written to


def _unusual_updates() -> st.SearchStrategy[dict[str, Any]]:
    user = st.fixed_dictionaries(
        {"id": st.integers(1, 2**40), "is_bot": st.booleans(), "first_name": worker_texts}
    )
    chat = st.fixed_dictionaries(
        {
            "id": st.integers(-(2**40), 2**40),
            "type": st.sampled_from(["private", "group", "supergroup", "channel"]),
        }
    )
    message = st.fixed_dictionaries(
        {"message_id": st.integers(1, 2**31), "date": st.integers(0, 2**31), "chat": chat},
        optional={
            "from": user,
            "text": worker_texts,
            "caption": worker_texts,
            "sticker": st.just(
                {"file_id": "x", "file_unique_id": "y", "type": "regular", "width": 512}
                | {"height": 512, "is_animated": False, "is_video": False}
            ),
            "location": st.just({"latitude": 1.5, "longitude": 2.5}),
            "contact": st.just({"phone_number": "+1", "first_name": "A"}),
            "dice": st.just({"emoji": "🎲", "value": 3}),
            "new_chat_members": st.lists(user, max_size=2),
        },
    )
    kinds = {
        "message": message,
        "edited_message": message,
        "channel_post": message,
        "callback_query": st.fixed_dictionaries(
            {"id": st.text(min_size=1, max_size=8), "from": user, "chat_instance": st.just("1")},
            optional={"data": forged_data, "message": message},
        ),
        "inline_query": st.fixed_dictionaries(
            {"id": st.just("1"), "from": user, "query": worker_texts, "offset": st.just("")}
        ),
        "poll_answer": st.fixed_dictionaries(
            {"poll_id": st.just("1"), "user": user, "option_ids": st.just([0])}
        ),
    }
    return st.sampled_from(sorted(kinds)).flatmap(
        lambda kind: kinds[kind].map(lambda body: {kind: body})
    )


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    update=_unusual_updates(),
    junk=st.one_of(st.none(), st.recursive(st.none() | st.integers() | st.text(), st.lists)),
)
async def test_the_webhook_answers_anything_without_a_500_and_ends_every_update(
    app: BotHarness, db: Database, tmp_path: Path, update: dict[str, Any], junk: Any
) -> None:
    client, processor = webhook_client(app, db, tmp_path, SECRET)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "content-type": "application/json"}
    update_id = next(_ids)
    body = json.dumps({"update_id": update_id, **update}, ensure_ascii=False)
    answer = await client.post("/telegram/webhook", content=body.encode(), headers=headers)
    try:
        Update.model_validate_json(body)
    except ValidationError:  # not something Telegram sends: refused, never stored
        event("refused")
        assert answer.status_code == 400
        async with db.sessions() as s:
            assert await s.get(RawUpdate, update_id) is None
        return
    event("accepted")
    assert answer.status_code == 200
    if junk is not None:  # not an update at all: refused, nothing stored
        raw = json.dumps(junk).encode()
        refused = await client.post("/telegram/webhook", content=raw, headers=headers)
        assert refused.status_code == 400
    await processor.drain()
    async with db.sessions() as s:
        status = await s.scalar(select(RawUpdate.status).where(RawUpdate.update_id == update_id))
    # Handled (or deliberately ignored) once; an update whose own content broke a handler
    # would be "failed".
    assert status == UpdateStatus.DONE
    await client.aclose()
