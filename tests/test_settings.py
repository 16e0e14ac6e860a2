"""Settings: defaults that run on a laptop, and one clear line for every bad value."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from workvoice.kernel.settings import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_run_on_a_laptop(tmp_path: Path) -> None:
    s = load_settings(data_dir=tmp_path)
    assert s.demo_mode and not s.webhook_mode
    assert s.effective_database_url == f"sqlite+aiosqlite:///{tmp_path / 'workvoice.db'}"
    key = s.effective_secret_key
    assert len(key) > 40 and (tmp_path / "secret_key").read_text() == key
    assert oct((tmp_path / "secret_key").stat().st_mode)[-3:] == "600"
    assert load_settings(data_dir=tmp_path).effective_secret_key == key  # kept, not regenerated


def test_postgres_url_gets_the_async_driver() -> None:
    s = load_settings(database_url="postgresql://postgres@db:5432/workvoice")
    assert s.effective_database_url == "postgresql+asyncpg://postgres@db:5432/workvoice"


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"bot_token": "not-a-token"}, "WORKVOICE_BOT_TOKEN"),
        ({"telegram_api_url": "ftp://x"}, "WORKVOICE_TELEGRAM_API_URL"),
        ({"database_url": "mysql://x"}, "WORKVOICE_DATABASE_URL"),
        ({"redis_url": "http://x"}, "WORKVOICE_REDIS_URL"),
        ({"default_locale": "xx"}, "WORKVOICE_DEFAULT_LOCALE"),
        ({"console_port": 70000}, "WORKVOICE_CONSOLE_PORT"),
        ({"suppression_k": 2}, "WORKVOICE_SUPPRESSION_K"),
        ({"webhook_url": "https://bot.example.org"}, "WORKVOICE_WEBHOOK_SECRET"),
        (
            {"webhook_url": "https://bot.example.org", "webhook_secret": "has space"},
            "WORKVOICE_WEBHOOK_SECRET",
        ),
    ],
)
def test_bad_setting_is_named_in_one_line(overrides: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(**overrides)
    assert named in str(err.value)
    assert "\n" not in str(err.value)


def test_cli_reports_a_bad_setting_without_traceback(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "WORKVOICE_BOT_TOKEN": "nonsense",
        "WORKVOICE_DATA_DIR": str(tmp_path),
    }
    out = subprocess.run(
        [sys.executable, "-m", "workvoice.cli", "db", "current"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0
    assert "WORKVOICE_BOT_TOKEN" in out.stderr
    assert "Traceback" not in out.stderr
