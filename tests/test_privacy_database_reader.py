"""Issue 14 "Done when", DESIGN §4 threat model: the database reader.

A backup, a replica, a stolen disk or a DBA reads the database *files*, not only the live rows:
PostgreSQL keeps dead tuples and WAL, SQLite keeps its ``-wal`` file, so whatever was ever written
in plaintext is still there. This module runs one scenario through the real bot (webhook mode, as in
production: every update goes through the webhook endpoint) and the console over HTTP, on SQLite
and on PostgreSQL, then plays that reader:

- a worker answers a survey with marker free text (kept in plaintext *by design*: anonymous rows);
- a worker reports harassment with a marker narrative and a marker photo, follows up with her
  receipt and writes a marker message; the handler replies with a marker; she reads it by receipt;
- another worker types a marker narrative and cancels;
- a committee member adds a marker agenda item.

Then, on PostgreSQL, ``CHECKPOINT`` and ``pg_switch_wal()``, and every relation file of the test
database (tables, TOAST, indexes; ``pg_relation_filepath``) plus the WAL segments written since the
scenario began are read as bytes; on SQLite the database, ``-wal`` and ``-journal`` files. The
tests below say what the reader must not find, each named after the audit finding it reproduces.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import text
from sqlalchemy.engine import make_url

from services.surveys.participation import person_key
from tests import journeys
from tests.conftest import PG_UP, Database
from tests.factories import make_worker
from tests.files import read_from_outside
from tests.harness import BotHarness, running_bot
from tests.surveys_data import make_wave
from tests.webhook_route import route_through_webhook, webhook_client

RUN = uuid.uuid4().hex[:12]
NARRATIVE = f"NARRATIVE-{RUN} the line supervisor touched me in the store room"
EVIDENCE = f"EVIDENCE-{RUN}".encode()
FOLLOWUP = f"FOLLOWUP-{RUN} he did it again today near the cutting table"
HANDLER = f"HANDLER-{RUN} are you safe now, can we call you"
CANCELLED = f"CANCELLED-{RUN} the night supervisor Karim hit me"
AGENDA = f"AGENDA-{RUN} drinking water on floor 3"
FIRST_NAME = f"Ayesha{RUN}"  # what Telegram sends with every update: no table should hold it
SURVEY_TEXTS = [f"SURVEYTEXT{i}-{RUN} the canteen water is dirty" for i in range(5)]

# Ten-digit Telegram ids whose decimal spelling appears nowhere by chance.
SURVEY_IDS = [8_812_345_601 + i for i in range(5)]
REPORTER, CANCELLER, MEMBER = 8_812_345_611, 8_812_345_612, 8_812_345_613
EVERYONE = [*SURVEY_IDS, REPORTER, CANCELLER, MEMBER]
WEBHOOK_SECRET = "db-reader-webhook-secret"
PG_PAGE = 8192

DEFINITION = journeys.two_question_survey("reader", "Reader pulse")


@dataclass
class Blob:
    """One file as the reader has it, and how it is cut into pages (0: not page-structured)."""

    name: str
    data: bytes
    page: int = 0
    header: int = 0  # bytes before the first page (SQLite WAL: 32, each frame adds 24)
    frame: int = 0


@dataclass
class Reading:
    backend: str
    blobs: list[Blob] = field(default_factory=list)
    # PostgreSQL: relation name of each relation file (for the webhook table's own files).
    relation_of: dict[str, str] = field(default_factory=dict)
    skipped: str | None = None  # why the files could not be read
    person_keys: list[str] = field(default_factory=list)
    xmin_links: int | None = None  # PostgreSQL: answer rows sharing a participation row's xmin
    survey_rows_with_text: int = 0

    def files_with(self, needle: bytes, *, only: str | None = None) -> list[str]:
        return [
            f"{b.name} ({self.relation_of[b.name]})" if b.name in self.relation_of else b.name
            for b in self.blobs
            if needle in b.data and (only is None or self.relation_of.get(b.name) == only)
        ]

    def need_files(self) -> None:
        if self.skipped:
            pytest.skip(self.skipped)


# --- driving the product through the webhook ----------------------------------------------------


async def report_with_receipt(app: BotHarness) -> str:
    worker = app.user(REPORTER, first_name=FIRST_NAME)
    await journeys.start_report(worker, NARRATIVE)
    await worker.send_photo(content=b"\xff\xd8\xff\xe0" + EVIDENCE)
    await worker.wait_reply()
    await journeys.report_to_review(worker)
    return journeys.receipt_digits(await journeys.send_report(worker))


async def follow_up(app: BotHarness, receipt: str, *, write: str | None) -> str:
    worker = app.user(REPORTER, first_name=FIRST_NAME)
    shown = await journeys.follow_up(worker, receipt, write=write)
    return "\n".join(m.plain_text() for m in worker.messages[-3:]) or shown.plain_text()


async def report_and_cancel(app: BotHarness) -> None:
    worker = app.user(CANCELLER, first_name=FIRST_NAME)
    await journeys.start_report(worker, CANCELLED)
    await journeys.cancel_report(worker)


async def scenario(app: BotHarness, db: Database, data_dir: Path) -> None:
    for telegram_id in EVERYONE:
        await make_worker(app.sessions, telegram_id, gender="woman", age_band="25-34")
        app.user(telegram_id, first_name=FIRST_NAME)  # the phone exists before the bot writes
    client, _processor = webhook_client(app, db, data_dir, WEBHOOK_SECRET)
    posts = route_through_webhook(app, client, WEBHOOK_SECRET)
    await make_wave(app.sessions, definition=DEFINITION)
    await app.deliver()
    for telegram_id, free_text in zip(SURVEY_IDS, SURVEY_TEXTS, strict=True):
        worker = app.user(telegram_id, first_name=FIRST_NAME)
        await journeys.answer_survey(worker, "Reader pulse", free_text)
    receipt = await report_with_receipt(app)
    await follow_up(app, receipt, write=FOLLOWUP)
    # The console (private key) reads the reporter's message; the handler replies.
    await journeys.handler_writes(app, HANDLER, data_dir, page_shows=FOLLOWUP)
    shown = await follow_up(app, receipt, write=None)
    assert HANDLER in shown  # the reporter reads the handler's reply with her receipt
    await report_and_cancel(app)
    await journeys.add_agenda_item(app, MEMBER, AGENDA, first_name=FIRST_NAME)
    answers = await asyncio.gather(*posts)
    assert {a.status_code for a in answers} == {200}, [a.status_code for a in answers]
    await asyncio.sleep(0.5)  # let the last handled updates finish their transactions
    await journeys.run_survey_batch_jobs(app)


# --- reading the files --------------------------------------------------------------------------


async def read_sqlite(db: Database, reading: Reading) -> None:
    path = Path(str(make_url(db.url).database))
    async with db.engine.connect() as conn:
        page = int((await conn.execute(text("PRAGMA page_size"))).scalar_one())
    await asyncio.to_thread(sqlite_files, path, page, reading)


def sqlite_files(path: Path, page: int, reading: Reading) -> None:
    for suffix, header, frame in (("", 0, 0), ("-wal", 32, 24), ("-journal", 0, 0)):
        file = Path(f"{path}{suffix}")
        if file.exists():
            # A rollback journal has its own record layout: no page check there.
            size = 0 if suffix == "-journal" else page
            reading.blobs.append(
                Blob(file.name, read_from_outside(file), page=size, header=header, frame=frame)
            )


async def read_postgres(db: Database, reading: Reading, since: float) -> None:
    async with db.engine.connect() as conn:
        await conn.execute(text("CHECKPOINT"))
        await conn.execute(text("SELECT pg_switch_wal()"))
        await conn.execute(text("CHECKPOINT"))
        data_dir = Path(str((await conn.execute(text("SHOW data_directory"))).scalar_one()))
        relations = [
            (str(name), owner, str(relative))
            for name, owner, relative in (
                await conn.execute(
                    text(
                        "SELECT c.relname, t.relname AS owner, pg_relation_filepath(c.oid) "
                        "FROM pg_class c LEFT JOIN pg_class t ON t.reltoastrelid = c.oid "
                        "WHERE pg_relation_filepath(c.oid) IS NOT NULL"
                    )
                )
            ).all()
        ]
        await conn.commit()
    await asyncio.to_thread(postgres_files, data_dir, relations, since, reading)


def postgres_files(
    data_dir: Path, relations: list[tuple[str, str | None, str]], since: float, reading: Reading
) -> None:
    try:
        os.listdir(data_dir / "pg_wal")
    except OSError as exc:
        reading.skipped = (
            f"PostgreSQL's data directory {data_dir} is not readable by this test process "
            f"({exc.strerror}); run the tests as root or as the postgres user to read its files"
        )
        return
    for relname, owner, relative in relations:
        base = data_dir / relative
        # The main fork and its 1 GB segments (name.1, name.2 ...); free-space and visibility maps
        # hold no tuple data.
        for file in [base, *sorted(base.parent.glob(base.name + ".[0-9]*"))]:
            if file.is_file():
                name = str(file.relative_to(data_dir))
                reading.blobs.append(Blob(name, file.read_bytes(), page=PG_PAGE))
                reading.relation_of[name] = owner or relname  # a TOAST table counts as its table
    for segment in sorted((data_dir / "pg_wal").iterdir()):
        # WAL is shared by every database of the cluster: the segments written during this run.
        if segment.is_file() and segment.stat().st_mtime >= since - 2:
            reading.blobs.append(Blob(f"pg_wal/{segment.name}", segment.read_bytes()))


async def read_as_database_reader(db: Database, secret_key: str, since: float) -> Reading:
    reading = Reading(db.backend)
    reading.person_keys = [person_key(secret_key, telegram_id) for telegram_id in EVERYONE]
    async with db.sessions() as s:
        tables = set(
            (
                await s.execute(
                    text(
                        "SELECT name FROM sqlite_master WHERE type='table'"
                        if db.backend == "sqlite"
                        else "SELECT tablename FROM pg_tables WHERE schemaname='public'"
                    )
                )
            ).scalars()
        )
        if "survey_answers" in tables:
            reading.survey_rows_with_text = int(
                (
                    await s.execute(
                        text("SELECT count(*) FROM survey_answers WHERE text LIKE :m"),
                        {"m": f"SURVEYTEXT%-{RUN}%"},
                    )
                ).scalar_one()
            )
        if db.backend == "postgres" and "survey_participations" in tables:
            links = 0
            for anonymous in ("survey_answers", "survey_responses"):
                if anonymous in tables:
                    links += int(
                        (
                            await s.execute(
                                text(
                                    f"SELECT count(*) FROM {anonymous} a "
                                    "JOIN survey_participations p ON a.xmin::text = p.xmin::text"
                                )
                            )
                        ).scalar_one()
                    )
            reading.xmin_links = links
    if db.backend == "sqlite":
        await read_sqlite(db, reading)
    else:
        await read_postgres(db, reading, since)
    return reading


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def reading(
    request: pytest.FixtureRequest,
    databases: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Reading]:
    backend = str(request.param)
    if backend == "postgres" and not PG_UP:
        pytest.skip("PostgreSQL not reachable on 127.0.0.1:5432 (start it to run these)")
    db: Database = await databases["get"](backend)
    await db.clean()
    data_dir = tmp_path_factory.mktemp(f"reader-{backend}")
    since = time.time()
    with _daytime():
        async with running_bot(db.sessions) as app:
            await scenario(app, db, data_dir)
            secret = app.settings.effective_secret_key
    yield await read_as_database_reader(db, secret, since)
    await db.clean()


@contextlib.contextmanager
def _daytime() -> Iterator[None]:
    """13:00 in Dhaka: the survey invitation goes out at once (invitations wait for the day)."""
    now = datetime.now(UTC)
    with time_machine.travel(now.replace(hour=7, minute=0) + timedelta(days=1), tick=True):
        yield


def near(blob: Blob, at: int, needles: list[bytes]) -> bool:
    """Whether any needle is in the same page (or WAL frame) as offset ``at``."""
    if not blob.page:
        return False
    stride = blob.page + blob.frame
    start = blob.header + ((at - blob.header) // stride) * stride
    chunk = blob.data[start : start + stride]
    return any(needle in chunk for needle in needles)


# --- what the reader must not find ---------------------------------------------------------------


def test_h1_h3_report_words_are_ciphertext_in_every_file(reading: Reading) -> None:
    """DESIGN §4.3: the narrative, the evidence, the reporter's follow-up and the handler's reply
    are sealed wherever they were ever written (heap, dead tuples, TOAST, WAL, SQLite -wal)."""
    reading.need_files()
    found = {
        label: reading.files_with(needle)
        for label, needle in (
            ("narrative", NARRATIVE.encode()),
            ("evidence", EVIDENCE),
            ("reporter follow-up", FOLLOWUP.encode()),
            ("handler reply", HANDLER.encode()),
        )
    }
    assert not any(found.values()), f"plaintext report words in the database files: {found}"


def test_h6_a_cancelled_narrative_leaves_no_trace(reading: Reading) -> None:
    """The bot says "Nothing was kept": no file holds the words of a report that was cancelled."""
    reading.need_files()
    assert reading.files_with(CANCELLED.encode()) == []


def test_h6_webhook_payloads_never_reach_the_files_in_plaintext(reading: Reading) -> None:
    """DESIGN §4.7: an incoming update carries the sender's name and text; only its id may be
    kept. No table stores workers' first names, so finding one means a payload was written."""
    reading.need_files()
    assert reading.files_with(FIRST_NAME.encode()) == []
    if reading.backend == "postgres":  # the webhook table's own files: heap, TOAST and dead rows
        for needle in (AGENDA, SURVEY_TEXTS[0], "/follow"):
            assert reading.files_with(needle.encode(), only="raw_updates") == [], needle


def test_telegram_ids_are_never_written_as_text(reading: Reading) -> None:
    """``users.telegram_id`` holds ids as integers; a decimal spelling comes from a stored payload
    (JSON) or a key built from the id. Neither may be in the files."""
    reading.need_files()
    found = {tid: reading.files_with(str(tid).encode()) for tid in EVERYONE}
    assert not any(found.values()), found


def test_h4_no_survey_answer_shares_a_transaction_with_its_participation(
    reading: Reading,
) -> None:
    """H4: on PostgreSQL each row carries its transaction id (``xmin``); an answer written in the
    transaction that marks participation joins to the person key with one SQL query."""
    if reading.backend != "postgres":
        pytest.skip("transaction ids on rows are PostgreSQL's (SQLite has none)")
    assert reading.xmin_links == 0, f"{reading.xmin_links} answer rows share a participation xmin"


def test_m11_no_person_key_beside_any_survey_answer(reading: Reading) -> None:
    """M11, DESIGN §4.1: no page of any relation (PostgreSQL) or of the SQLite file or its WAL
    holds a survey answer next to a person key, as a draft would, live or dead."""
    reading.need_files()
    keys = [k.encode() for k in reading.person_keys]
    linked = []
    for marker in SURVEY_TEXTS:
        needle = marker.encode()
        for blob in reading.blobs:
            if blob.name.startswith("pg_wal/"):
                continue  # WAL records of one transaction: covered by the xmin test
            for match in re.finditer(re.escape(needle), blob.data):
                if near(blob, match.start(), keys):
                    where = reading.relation_of.get(blob.name, blob.name)
                    linked.append((marker[:12], where, match.start()))
    assert linked == [], f"survey answers beside a person key: {linked}"


def test_survey_free_text_is_kept_only_in_anonymous_rows(reading: Reading) -> None:
    """Free-text answers stay in plaintext by design (anonymous rows). Where the answers have been
    written (a batch may still be waiting for more responses), they are there, unlinkable."""
    if reading.survey_rows_with_text:
        assert reading.survey_rows_with_text == len(SURVEY_TEXTS)
    assert reading.person_keys and all(len(k) == 64 for k in reading.person_keys)
