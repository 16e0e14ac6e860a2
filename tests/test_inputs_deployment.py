"""Issue 14, inputs and deployment: survey files that cannot stall the process (M6), private data
files (L4), each process holding only its own secrets (M10), no demo or metrics for the network by
accident (L8), and pinned, hash-checked dependencies (L7). DESIGN §4: least privilege, the bot host
cannot read reports."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import stat
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from bot.storage.surveys import Survey
from services.surveys.definition import (
    MAX_FILE_BYTES,
    InvalidDefinition,
    InvalidDefinitionAt,
    parse_definition,
    to_yaml,
    validate,
)
from tests.conftest import Database
from tests.console import ConsoleHarness, make_context
from tests.surveys_data import SAMPLE
from workvoice.kernel.settings import ConfigError, load_settings, require_secrets
from workvoice.server import create_web_app

ROOT = Path(__file__).resolve().parents[1]

# The audit's bomb: ten levels, each a list of ten aliases to the level before (10^10 leaves).
BOMB = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{c}: &{c} [{','.join([f'*{p}'] * 10)}]\n"
    for p, c in zip("abcdefghi", "bcdefghij", strict=True)
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def wv(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workvoice.cli", *args],
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- M6: survey files ---------------------------------------------------------------------------


def test_m6_alias_bomb_is_refused_at_its_first_anchor() -> None:
    assert len(BOMB) < 400
    with pytest.raises(InvalidDefinitionAt) as err:
        parse_definition(BOMB)
    assert err.value.params["line"] == 1
    assert err.value.params["reason"] == "this is not valid YAML or JSON"


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ("key: &k sample\ntitle: {en: x}\n", 1),  # an anchor alone
        ("key: sample\ntitle:\n  en: *nowhere\n", 3),  # an alias alone
        ("key: sample\nx: " + "[" * 200 + "]" * 200 + "\n", 2),  # nesting past any survey's depth
    ],
)
def test_m6_anchors_aliases_and_deep_nesting_are_refused_with_their_line(
    content: str, line: int
) -> None:
    with pytest.raises(InvalidDefinitionAt) as err:
        parse_definition(content)
    assert err.value.params["line"] == line


def test_m6_oversized_files_are_refused_in_bytes_not_characters() -> None:
    with pytest.raises(InvalidDefinition) as err:
        parse_definition(b"#" * (MAX_FILE_BYTES + 1))
    assert "too large" in str(err.value)
    # 200 000 Bengali letters are ~600 KB of UTF-8 though fewer characters than the cap.
    wide = "# " + "ক" * 200_000
    assert len(wide) < MAX_FILE_BYTES < len(wide.encode())
    with pytest.raises(InvalidDefinition) as err:
        parse_definition(wide)
    assert "too large" in str(err.value)


def test_m6_plain_files_still_parse_and_name_the_line_of_a_problem() -> None:
    good = to_yaml(validate(SAMPLE))
    assert parse_definition(good) == validate(SAMPLE)
    bad = good.replace("type: number", "type: slider")
    line = next(i for i, ln in enumerate(bad.splitlines(), 1) if "slider" in ln)
    with pytest.raises(InvalidDefinitionAt) as err:
        parse_definition(bad)
    assert err.value.params["line"] == line


@settings(max_examples=150, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("ab:&*[]{}-, \n'\"#!|>?x0")), max_size=200)
    | st.binary(max_size=200)
)
def test_m6_any_file_is_a_definition_or_a_refusal(content: str | bytes) -> None:
    with contextlib.suppress(InvalidDefinition):  # anything else (a crash, a hang) fails
        parse_definition(content)


async def test_m6_console_import_refuses_the_bomb_off_the_event_loop(
    console: ConsoleHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit's attack through the console: refused with its line, nothing stored, and the
    parse runs in a thread: another coroutine makes progress while it is under way."""
    import admin.surveys.listing

    started, loop_progressed = threading.Event(), threading.Event()
    waited: list[bool] = []

    def parse_while_watched(content: str | bytes) -> Any:
        started.set()
        # On the event loop this would block the loop, so the watcher below could never run.
        waited.append(loop_progressed.wait(timeout=15))
        return parse_definition(content)

    async def watcher() -> None:
        while not started.is_set():
            await asyncio.sleep(0.005)
        loop_progressed.set()

    monkeypatch.setattr(admin.surveys.listing, "parse_definition", parse_while_watched)
    manager = await console.staff("country_manager", ["BD"])
    client = console.client_for(manager)
    token = client.csrf  # type: ignore[attr-defined]
    for kwargs in (
        {"data": {"csrf_token": token, "country": "BD", "content": BOMB}},
        {
            "data": {"csrf_token": token, "country": "BD"},
            "files": {"file": ("bomb.yaml", BOMB.encode(), "application/yaml")},
        },
    ):
        started.clear()
        loop_progressed.clear()
        watching = asyncio.create_task(watcher())
        r = await client.post("/surveys/import", **kwargs)  # type: ignore[arg-type]
        await watching
        assert r.status_code == 400
        assert "line 1" in r.text and "not valid YAML or JSON" in r.text
    assert waited == [True, True]
    async with console.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Survey)) == 0


def test_m6_cli_import_refuses_the_bomb(db: Database, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB, encoding="utf-8")
    env = {"WORKVOICE_DATABASE_URL": db.url, "WORKVOICE_DATA_DIR": str(tmp_path)}
    out = wv("survey", "import", str(bomb), env=env, cwd=tmp_path)
    assert out.returncode == 1 and "line 1" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


# --- L4: private files ----------------------------------------------------------------------------


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)  # the usual umask, under which files come out world-readable
    try:
        yield
    finally:
        os.umask(old)


def test_l4_cli_creates_a_private_data_dir_and_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    out = subprocess.run(
        [
            "sh",
            "-c",
            f"umask 022 && exec {shlex.quote(sys.executable)} -m workvoice.cli db upgrade",
        ],
        env={"PATH": "/usr/bin:/bin", "WORKVOICE_DATA_DIR": str(data)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert mode(data) == 0o700
    assert mode(data / "workvoice.db") == 0o600


async def test_l4_database_and_its_wal_files_are_0600_and_old_ones_are_tightened(
    tmp_path: Path, umask_022: None
) -> None:
    from workvoice.context import AppContext

    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    (data / "workvoice.db").touch(mode=0o644)  # as an earlier version left it
    os.chmod(data, 0o755)
    os.chmod(data / "workvoice.db", 0o644)
    settings = load_settings(data_dir=data)
    ctx = AppContext.create(settings)
    try:
        async with ctx.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x TEXT)"))
            await conn.execute(text("INSERT INTO t VALUES ('worker answer')"))
        async with ctx.engine.connect() as conn:  # WAL mode: -wal and -shm exist while open
            await conn.execute(text("SELECT * FROM t"))
            assert (data / "workvoice.db-wal").exists()
            assert {p.name: mode(p) for p in data.iterdir() if p.name.startswith("workvoice")} == {
                "workvoice.db": 0o600,
                "workvoice.db-wal": 0o600,
                "workvoice.db-shm": 0o600,
            }
    finally:
        await ctx.close()
    assert mode(data) == 0o700


def test_l4_generated_keys_are_0600_in_a_0700_dir(tmp_path: Path, umask_022: None) -> None:
    from services.reports.crypto import keyring

    data = tmp_path / "fresh"
    settings = load_settings(data_dir=data)
    assert settings.effective_secret_key
    keyring(settings)
    assert mode(data) == 0o700
    assert mode(data / "secret_key") == 0o600 and mode(data / "report_key") == 0o600


# --- M10: each process its own secrets ------------------------------------------------------------

PUBLIC = "uMjAqXjvkqEmyuyFZ2pPYL1i8E1tP2TTrbS2Y+zP0Cs="


def _private_key() -> tuple[str, str]:
    from services.reports.crypto import generate_pair

    return generate_pair()


@pytest.mark.parametrize(
    ("role", "given", "named"),
    [
        ("bot", {"report_public_key": PUBLIC}, "WORKVOICE_SECRET_KEY"),
        ("bot", {"secret_key": "s" * 40}, "WORKVOICE_REPORT_PUBLIC_KEY"),
        ("console", {"report_private_key": "k"}, "WORKVOICE_SECRET_KEY"),
        ("console", {"secret_key": "s" * 40, "report_public_key": PUBLIC}, "REPORT_PRIVATE_KEY"),
        ("run", {"console_host": "0.0.0.0", "secret_key": "s" * 40}, "REPORT_PRIVATE_KEY"),
        ("run", {"console_host": "0.0.0.0"}, "WORKVOICE_SECRET_KEY"),
    ],
)
def test_m10_a_process_without_its_secrets_is_refused_naming_the_setting(
    role: Any, given: dict[str, Any], named: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as err:
        require_secrets(load_settings(data_dir=tmp_path, **given), role)
    assert str(err.value).startswith(named) or named in str(err.value).split(":")[0]
    assert "\n" not in str(err.value)


def test_m10_the_bot_refuses_the_private_key(tmp_path: Path) -> None:
    public, private = _private_key()
    for name in ("report_private_key", "report_old_private_keys"):
        given = {"secret_key": "s" * 40, "report_public_key": public, name: private}
        with pytest.raises(ConfigError) as err:
            require_secrets(load_settings(data_dir=tmp_path, **given), "bot")
        assert str(err.value).startswith(f"WORKVOICE_{name.upper()}: the bot must not hold it")
    ok = load_settings(data_dir=tmp_path, secret_key="s" * 40, report_public_key=public)
    require_secrets(ok, "bot")
    require_secrets(load_settings(data_dir=tmp_path), "run")  # a laptop: generated into DATA_DIR


def test_m10_a_process_reachable_from_the_network_never_generates_keys(tmp_path: Path) -> None:
    from services.reports.crypto import keyring

    public, _ = _private_key()
    bot = load_settings(
        data_dir=tmp_path, console_host="0.0.0.0", secret_key="s" * 40, report_public_key=public
    )
    ring = keyring(bot)
    assert ring.private == {} and not ring.can_open  # seals, cannot open
    bare = load_settings(data_dir=tmp_path, console_host="0.0.0.0")
    with pytest.raises(ConfigError, match="WORKVOICE_REPORT_PUBLIC_KEY"):
        keyring(bare)
    with pytest.raises(ConfigError, match="WORKVOICE_SECRET_KEY"):
        _ = bare.effective_secret_key
    assert list(tmp_path.iterdir()) == []  # no key file was written


@pytest.mark.parametrize(
    ("command", "env", "named"),
    [
        ("bot", {"WORKVOICE_BOT_TOKEN": "123:abc"}, "WORKVOICE_SECRET_KEY"),
        (
            "bot",
            {"WORKVOICE_BOT_TOKEN": "123:abc", "WORKVOICE_SECRET_KEY": "s" * 40},
            "WORKVOICE_REPORT_PUBLIC_KEY",
        ),
        (
            "bot",
            {
                "WORKVOICE_BOT_TOKEN": "123:abc",
                "WORKVOICE_SECRET_KEY": "s" * 40,
                "WORKVOICE_REPORT_PUBLIC_KEY": PUBLIC,
                "WORKVOICE_REPORT_PRIVATE_KEY": "anything",
            },
            "WORKVOICE_REPORT_PRIVATE_KEY",
        ),
        ("console", {"WORKVOICE_SECRET_KEY": "s" * 40}, "WORKVOICE_REPORT_PRIVATE_KEY"),
        (
            "run",
            {"WORKVOICE_BOT_TOKEN": "123:abc", "WORKVOICE_CONSOLE_HOST": "0.0.0.0"},
            "WORKVOICE_SECRET_KEY",
        ),
    ],
)
def test_m10_commands_refuse_to_start_without_their_secrets(
    command: str, env: dict[str, str], named: str, tmp_path: Path
) -> None:
    out = wv(command, env={"WORKVOICE_DATA_DIR": str(tmp_path / "data"), **env}, cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.strip().startswith(f"Error: {named}:"), out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert not (tmp_path / "data").exists()  # nothing generated, nothing created


def test_m10_a_secret_missing_mid_command_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """E.g. `db upgrade` in a container whose migration needs SECRET_KEY and cannot generate it."""
    from click.testing import CliRunner

    import bot.storage.migrate
    from workvoice.cli import main

    def needs_the_secret(url: str, *args: Any, **kwargs: Any) -> None:
        _ = load_settings(data_dir=tmp_path, console_host="0.0.0.0").effective_secret_key

    monkeypatch.setattr(bot.storage.migrate, "upgrade", needs_the_secret)
    result = CliRunner().invoke(main, ["db", "upgrade"], env={"WORKVOICE_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 1 and result.exception is not None
    assert isinstance(result.exception, SystemExit)
    assert result.output.startswith(
        "Error: WORKVOICE_SECRET_KEY: required when listening on 0.0.0.0"
    )
    assert not (tmp_path / "secret_key").exists()


def _compose_env(service: dict[str, Any]) -> dict[str, str]:
    """The variables a compose service gets from its env files (the shipped examples)."""
    values: dict[str, str] = {}
    for name in service.get("env_file", []):
        example = ROOT / f"{name}.example"
        for line in example.read_text().splitlines():
            line = line.lstrip("# ")
            if re.match(r"WORKVOICE_[A-Z_]+=", line):
                key, _, value = line.partition("=")
                values[key] = value
    values.update(service.get("environment", {}))
    return values


def test_m10_compose_gives_the_bot_only_the_public_key() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())  # compose files use anchors
    services = compose["services"]
    bot, console = _compose_env(services["bot"]), _compose_env(services["console"])
    assert "WORKVOICE_REPORT_PUBLIC_KEY" in bot
    assert not any("PRIVATE_KEY" in k for k in bot)
    assert "WORKVOICE_REPORT_PRIVATE_KEY" in console
    assert "WORKVOICE_SECRET_KEY" in bot and "WORKVOICE_SECRET_KEY" in console
    shared = set(services["bot"]["env_file"]) & set(services["console"]["env_file"])
    assert any("WORKVOICE_SECRET_KEY=" in (ROOT / f"{f}.example").read_text() for f in shared)
    migrate = _compose_env(services["migrate"])
    assert "WORKVOICE_SECRET_KEY" in migrate and not any("REPORT" in k for k in migrate)
    for name in ("bot.env", "console.env", "common.env"):  # the real files stay out of git
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", f"deploy/{name}"], cwd=ROOT, check=False
        )
        assert ignored.returncode == 0


# --- L8: no demo or metrics for the network by accident -------------------------------------------


def _dockerfile() -> tuple[dict[str, str], list[str]]:
    content = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    final = content.rsplit("\nFROM ", 1)[1]
    env: dict[str, str] = {}
    for line in final.splitlines():
        if line.startswith("ENV "):
            env.update(dict(pair.split("=", 1) for pair in shlex.split(line[4:])))
    cmd = re.findall(r"^CMD (\[.*\])$", final, re.M)[-1]
    return env, yaml.safe_load(cmd)


def test_l8_the_image_without_a_token_refuses_instead_of_serving_the_demo(tmp_path: Path) -> None:
    env, cmd = _dockerfile()
    assert cmd == ["workvoice", "run"] and env["WORKVOICE_CONSOLE_HOST"] == "0.0.0.0"
    assert "WORKVOICE_LOCALES_DIR" not in env  # the catalogs ship inside the wheel
    env = {**env, "WORKVOICE_DATA_DIR": str(tmp_path / "data")}
    out = wv(*cmd[1:], env=env, cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.startswith("Error: WORKVOICE_BOT_TOKEN: not set"), out.stderr
    assert "WORKVOICE_DEMO=1" in out.stderr
    assert not (tmp_path / "data").exists()  # nothing seeded, nothing listened


def test_l8_the_demo_listens_beyond_loopback_only_when_asked(tmp_path: Path) -> None:
    out = wv(
        "demo",
        env={"WORKVOICE_DATA_DIR": str(tmp_path / "d"), "WORKVOICE_CONSOLE_HOST": "0.0.0.0"},
        cwd=tmp_path,
    )
    assert out.returncode == 1
    assert out.stderr.startswith("Error: WORKVOICE_CONSOLE_HOST: the demo listens on 0.0.0.0")
    assert "--host" in out.stderr and "WORKVOICE_DEMO=1" in out.stderr


async def test_l8_the_demo_never_holds_the_servers_real_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import workvoice.app
    from workvoice.demo.run import run_demo

    public, private = _private_key()
    real = load_settings(
        data_dir=tmp_path / "demo",
        secret_key="the-production-secret-key-" + "x" * 20,
        report_public_key=public,
        report_private_key=private,
    )
    assert real.effective_secret_key.startswith("the-production")  # cached on the real settings
    seen: list[Any] = []

    async def fake_serve(settings: Any, **kwargs: Any) -> None:
        seen.append(settings)

    monkeypatch.setattr(workvoice.app, "serve", fake_serve)
    await run_demo(real, seed=False, announce=lambda _: None)
    (demo,) = seen
    assert demo.secret_key is None and demo.report_private_key is None
    assert demo.report_public_key is None
    assert not demo.effective_secret_key.startswith("the-production")


async def test_l8_metrics_need_the_bearer_token_and_healthz_says_only_ok(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def get(path: str, **headers: str) -> httpx.Response:
        web = create_web_app(make_context(db.sessions, db.engine, tmp_path), console=True)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=web), base_url="http://console.test"
        ) as client:
            return await client.get(path, headers=headers)

    # No token configured: /metrics does not exist for anyone on the console port.
    assert (await get("/metrics")).status_code == 404
    health = await get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    monkeypatch.setenv("WORKVOICE_METRICS_TOKEN", "scrape-token-1234")
    anonymous = await get("/metrics")
    assert anonymous.status_code == 401 and "# TYPE" not in anonymous.text
    assert (await get("/metrics", Authorization="Bearer wrong")).status_code == 401
    scraped = await get("/metrics", Authorization="Bearer scrape-token-1234")
    assert scraped.status_code == 200 and "# TYPE" in scraped.text


# --- L7: pinned, hash-checked dependencies --------------------------------------------------------


def _lock() -> dict[str, tuple[str, list[str]]]:
    pins: dict[str, tuple[str, list[str]]] = {}
    for entry in re.split(r"\n(?=[a-z0-9])", (ROOT / "requirements.lock").read_text()):
        found = re.match(r"([a-z0-9][a-z0-9._-]*)==([^\s\\]+)", entry)
        if found:
            pins[found.group(1)] = (
                found.group(2),
                re.findall(r"--hash=sha256:[0-9a-f]{64}", entry),
            )
    return pins


def test_l7_the_lock_pins_every_runtime_dependency_with_hashes() -> None:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = _lock()
    assert len(pins) > 30 and all(hashes for _, hashes in pins.values())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for spec in project["dependencies"]:
        req = Requirement(spec)
        version, _ = pins[canonicalize_name(req.name)]
        assert req.specifier.contains(version), (req, version)
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--require-hashes" in dockerfile and "requirements.lock" in dockerfile


@pytest.mark.parametrize(
    ("name", "vulnerable"),
    [
        ("starlette", "1.3.0"),  # CVE-2026-54283
        ("python-multipart", "0.0.17"),  # CVE-2024-53981
        ("jinja2", "3.1.5"),  # CVE-2025-27516
        ("fastapi", "0.132.0"),  # requires starlette < 1.0
    ],
)
def test_l7_floors_exclude_known_vulnerable_versions(name: str, vulnerable: str) -> None:
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (spec,) = [Requirement(s) for s in project["dependencies"] if Requirement(s).name == name]
    assert not spec.specifier.contains(vulnerable)
    assert spec.specifier.contains(_lock()[name][0])
