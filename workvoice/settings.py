"""Settings read from the environment (prefix ``WORKVOICE_``) and an optional ``.env`` file.

Everything the process needs to start is validated here, so a bad value stops start-up with one
line that names the setting instead of a traceback from deep inside a library.
"""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "WORKVOICE_"
TELEGRAM_API_URL = "https://api.telegram.org"


class ConfigError(Exception):
    """A setting is missing or wrong; the message names it and is fit to print as is."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    bot_token: SecretStr | None = None
    telegram_api_url: str = TELEGRAM_API_URL
    data_dir: Path = Path("data")
    database_url: str | None = None
    redis_url: str | None = None
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    secret_key: SecretStr | None = None
    default_locale: str = "en"
    console_host: str = "127.0.0.1"
    console_port: Annotated[int, Field(ge=1, le=65535)] = 8080
    public_url: str | None = None
    # For deep links and poster QR codes when the console runs without the bot in its process.
    bot_username: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Raw Telegram updates carry names and message text: keep them only as long as dedupe needs.
    raw_update_retention_days: Annotated[int, Field(ge=1, le=90)] = 7
    # Handled outbox rows say who was sent (or spared) what: e.g. a survey reminder dropped because
    # the worker had finished. Kept only a few days, for delivery statistics and support.
    outbox_retention_days: Annotated[int, Field(ge=1, le=90)] = 7
    # Small-group suppression threshold (DESIGN §4.2): configurable, never below 3.
    suppression_k: Annotated[int, Field(ge=3, le=100)] = 5
    demo: bool = False
    # News waits for 08:00-20:00 at each factory (a phone buzzing at night can betray a worker).
    # The demo turns this on so a visitor sees a message arrive whatever the hour in Dhaka.
    news_at_night: bool = False
    # Report encryption (sealed boxes). The bot needs only the public key; the console the private
    # one. Neither set: a pair is generated once into the data directory (laptops and demos).
    report_public_key: str | None = None
    report_private_key: SecretStr | None = None
    report_old_private_keys: SecretStr | None = None  # comma-separated, after a rotation
    case_retention_days: Annotated[int, Field(ge=30, le=3650)] = 730
    # A survey draft (answers so far) is forgotten this long after the last answer, and at the
    # wave's end at the latest. It lives only in Redis or memory, never in the database.
    survey_draft_ttl_days: Annotated[int, Field(ge=1, le=30)] = 3

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        left, sep, right = value.get_secret_value().partition(":")
        if not sep or not left.isdigit() or not right:
            raise ValueError("expected the form 123456:ABC... given by @BotFather")
        return value

    @field_validator("telegram_api_url", "webhook_url", "public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError("expected an http(s) URL such as https://example.org")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if value.startswith(("postgresql://", "postgres://")):
            # Accept the URL people copy from their provider; the async driver is ours to pick.
            value = "postgresql+asyncpg://" + value.split("://", 1)[1]
        if value.startswith("sqlite://") and not value.startswith("sqlite+aiosqlite://"):
            value = "sqlite+aiosqlite://" + value.split("://", 1)[1]
        if not value.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError("expected postgresql://... or sqlite:///path/to/file.db")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected redis://host:6379/0")
        return value

    @field_validator("default_locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        from bot.i18n.languages import LANGUAGES  # local: keeps settings import cheap

        if value not in LANGUAGES:
            raise ValueError(f"expected one of {', '.join(LANGUAGES)}")
        return value

    @model_validator(mode="after")
    def _webhook_pair(self) -> Settings:
        if self.webhook_url and not self.webhook_secret:
            raise ValueError(
                "WORKVOICE_WEBHOOK_SECRET is required when WORKVOICE_WEBHOOK_URL is set"
            )
        if self.webhook_secret is not None:
            secret = self.webhook_secret.get_secret_value()
            # Telegram allows 1-256 characters A-Z a-z 0-9 _ - in secret_token.
            if not (1 <= len(secret) <= 256) or not all(c.isalnum() or c in "_-" for c in secret):
                raise ValueError("WORKVOICE_WEBHOOK_SECRET: use 1-256 letters, digits, _ or -")
        return self

    @property
    def demo_mode(self) -> bool:
        """No token means nobody can reach Telegram: run the demo against the built-in fake."""
        return self.demo or self.bot_token is None

    @cached_property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'workvoice.db').resolve()}"

    @cached_property
    def effective_secret_key(self) -> str:
        """The configured key, or one generated once and kept in the data directory (laptops, demos)."""
        if self.secret_key is not None and self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value()
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key

    @property
    def webhook_mode(self) -> bool:
        return self.webhook_url is not None


def load_settings(**overrides: object) -> Settings:
    """Build settings or raise ConfigError naming the first bad setting in one line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]).upper() if err["loc"] else ""
        message = str(err["msg"]).removeprefix("Value error, ")
        if field:
            raise ConfigError(f"{ENV_PREFIX}{field}: {message}") from None
        raise ConfigError(message) from None
