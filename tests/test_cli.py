"""The command line: help, cheap start-up, database commands, staff creation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Database


def wv(
    *args: str, env: dict[str, str] | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "workvoice.cli", *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        input=input,
    )


def test_help_lists_every_command() -> None:
    out = wv("--help")
    assert out.returncode == 0
    for command in (
        "run",
        "bot",
        "console",
        "db",
        "create-staff",
        "factory",
        "demo",
        "i18n",
        "survey",
    ):
        assert f"  {command}" in out.stdout


def test_commands_that_do_not_run_the_bot_do_not_import_aiogram() -> None:
    # aiogram costs ~6 s to import (DESIGN §9): help, db, staff and i18n commands must stay fast.
    code = (
        "import sys; from click.testing import CliRunner; from workvoice.cli import main;"
        "[CliRunner().invoke(main, a) for a in (['--help'], ['db', '--help'], ['factory', '--help'],"
        " ['i18n', 'check'])];"
        # Refusing to start for a missing secret (issue 14, M10) happens before the bot is loaded.
        "[CliRunner().invoke(main, a, env={'WORKVOICE_SECRET_KEY': ''}) for a in (['console'],"
        " ['bot'])]; print('aiogram' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_db_commands(tmp_path: Path) -> None:
    env = {"WORKVOICE_DATA_DIR": str(tmp_path)}
    assert "database: none" in wv("db", "current", env=env).stdout
    up = wv("db", "upgrade", env=env)
    assert up.returncode == 0 and "database at 0" in up.stdout
    assert wv("db", "downgrade", "base", env=env).stdout.strip() == "database at base"
    assert wv("db", "upgrade", env=env).returncode == 0


def test_create_staff(db: Database, tmp_path: Path) -> None:
    env = {"WORKVOICE_DATABASE_URL": db.url, "WORKVOICE_DATA_DIR": str(tmp_path)}
    ok = wv(
        "create-staff",
        "--email",
        "Mgr@Example.org",
        "--role",
        "country_manager",
        "--country",
        "KH",
        env=env,
        input="correct horse battery\ncorrect horse battery\n",
    )
    assert ok.returncode == 0, ok.stderr
    assert "created country_manager mgr@example.org (KH)" in ok.stdout
    again = wv(
        "create-staff",
        "--email",
        "mgr@example.org",
        "--role",
        "analyst",
        "--country",
        "KH",
        "--password",
        "correct horse battery",
        env=env,
    )
    assert again.returncode == 1 and "exists" in again.stderr and "Traceback" not in again.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--role", "analyst", "--password", "correct horse battery"], "country"),
        (
            ["--role", "analyst", "--country", "ZZ", "--password", "correct horse battery"],
            "unknown country",
        ),
        (["--role", "analyst", "--country", "BD", "--password", "short"], "12 characters"),
    ],
)
def test_create_staff_refuses_bad_input(
    db: Database, tmp_path: Path, args: list[str], says: str
) -> None:
    env = {"WORKVOICE_DATABASE_URL": db.url, "WORKVOICE_DATA_DIR": str(tmp_path)}
    out = wv("create-staff", "--email", "a@example.org", *args, env=env)
    assert out.returncode == 1 and says in out.stderr


def test_keys_generate_and_rotate_keep_old_reports_readable(tmp_path: Path) -> None:
    import base64

    from services.reports.crypto import keyring
    from workvoice.kernel.settings import load_settings

    first = dict(line.split("=", 1) for line in wv("keys", "generate").stdout.split())
    sealed = keyring(
        load_settings(data_dir=tmp_path, report_public_key=first["WORKVOICE_REPORT_PUBLIC_KEY"])
    )
    secret = sealed.seal_text("old report")
    env = {
        "WORKVOICE_REPORT_PRIVATE_KEY": first["WORKVOICE_REPORT_PRIVATE_KEY"],
        "WORKVOICE_DATA_DIR": str(tmp_path),
    }
    rotated = dict(line.split("=", 1) for line in wv("keys", "rotate", env=env).stdout.split())
    assert rotated["WORKVOICE_REPORT_OLD_PRIVATE_KEYS"] == first["WORKVOICE_REPORT_PRIVATE_KEY"]
    console = keyring(
        load_settings(
            data_dir=tmp_path,
            report_private_key=rotated["WORKVOICE_REPORT_PRIVATE_KEY"],
            report_old_private_keys=rotated["WORKVOICE_REPORT_OLD_PRIVATE_KEYS"],
        )
    )
    assert console.open_text(secret, sealed.current_id) == "old report"
    assert console.current_id != sealed.current_id
    assert len(base64.b64decode(rotated["WORKVOICE_REPORT_PUBLIC_KEY"])) == 32


def test_survey_import_export_round_trip_and_bad_files(db: Database, tmp_path: Path) -> None:
    from services.surveys.definition import parse_definition, to_yaml, validate
    from tests.surveys_data import SAMPLE

    env = {"WORKVOICE_DATABASE_URL": db.url, "WORKVOICE_DATA_DIR": str(tmp_path)}
    good = tmp_path / "sample.yaml"
    good.write_text(to_yaml(validate(SAMPLE)), encoding="utf-8")
    made = wv("survey", "import", str(good), "--country", "bd", "--publish", env=env)
    assert made.returncode == 0 and "imported survey sample" in made.stdout, made.stderr
    exported = wv("survey", "export", "sample", env=env)
    assert parse_definition(exported.stdout) == validate(SAMPLE)
    as_json = wv("survey", "export", "sample", "--format", "json", env=env)
    assert parse_definition(as_json.stdout) == validate(SAMPLE)
    # A file with a broken option: refused with its line, and nothing stored.
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        good.read_text(encoding="utf-8")
        .replace("key: sample", "key: other")
        .replace("type: number", "type: slider"),
        encoding="utf-8",
    )
    refused = wv("survey", "import", str(bad), env=env)
    line = next(i for i, ln in enumerate(bad.read_text().splitlines(), 1) if "slider" in ln)
    assert refused.returncode != 0 and f"line {line}" in refused.stderr, refused.stderr
    assert wv("survey", "export", "other", env=env).returncode != 0
    templates = wv("survey", "templates", env=env)
    assert "wellbeing-pulse" in templates.stdout and "worker-wellbeing" in templates.stdout
