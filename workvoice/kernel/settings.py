"""Settings read from the environment (prefix ``WORKVOICE_``) and an optional ``.env`` file.

Everything the process needs to start is validated here, so a bad value stops start-up with one
line that names the setting instead of a traceback from deep inside a library.
"""

from __future__ import annotations

import contextlib
import ipaddress
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


def is_loopback(host: str) -> bool:
    """Only this machine can connect (a laptop); anything else is reachable from a network."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    # one. Neither set: a pair is generated once into the data directory, but only by the demo or
    # a process listening on loopback (see ``generates_secrets`` and ``require_secrets``).
    report_public_key: str | None = None
    report_private_key: SecretStr | None = None
    report_old_private_keys: SecretStr | None = None  # comma-separated, after a rotation
    case_retention_days: Annotated[int, Field(ge=30, le=3650)] = 730
    # Prometheus /metrics answers only `Authorization: Bearer <this>`; unset, it answers 404.
    metrics_token: SecretStr | None = None
    # Conversation state (an unsent report's sealed draft, a survey or committee step) expires this
    # long after its last change, in Redis and in memory alike; sealed draft files too (H1).
    draft_ttl_minutes: Annotated[int, Field(ge=10, le=24 * 60)] = 120
    # A survey draft (answers so far) is forgotten this long after the last answer, and at the
    # wave's end at the latest. It lives only in Redis or memory, never in the database.
    survey_draft_ttl_days: Annotated[int, Field(ge=1, le=30)] = 3
    # E-mail alerts to staff ("Case 23 needs you" and a link, never case content). Unset host: no
    # e-mail is sent (Telegram alerts still go to staff who linked it). Port 465 speaks TLS from
    # the start; any other port upgrades with STARTTLS unless SMTP_STARTTLS is false.
    smtp_host: str | None = None
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 587
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str | None = None
    smtp_starttls: bool = True
    # Telegram's paid broadcasts (``allow_paid_broadcast``): a country manager may send a broadcast
    # as urgent, and it then goes out day or night at up to PAID_BROADCAST_RATE a second (Telegram
    # allows 1,000) for 0.1 Telegram Star a message from the bot's balance, on a budget of its own.
    # Telegram enables it only for bots that meet its conditions. Off: everything keeps to ~30/s.
    paid_broadcasts: bool = False
    paid_broadcast_rate: Annotated[float, Field(gt=0, le=1000)] = 800.0

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

    @model_validator(mode="after")
    def _smtp_complete(self) -> Settings:
        if self.smtp_host and not self.smtp_from:
            raise ValueError("WORKVOICE_SMTP_FROM is required when WORKVOICE_SMTP_HOST is set")
        if self.smtp_from and "@" not in self.smtp_from:
            raise ValueError("WORKVOICE_SMTP_FROM: expected an address such as alerts@example.org")
        if self.smtp_user and self.smtp_password is None:
            raise ValueError("WORKVOICE_SMTP_PASSWORD is required when WORKVOICE_SMTP_USER is set")
        return self

    @property
    def email_alerts(self) -> bool:
        """Whether staff alerts also go out by e-mail."""
        return bool(self.smtp_host)

    @property
    def console_url(self) -> str:
        """Where staff open the console: the public address, else where it listens."""
        return self.public_url or f"http://{self.console_host}:{self.console_port}"

    @property
    def demo_mode(self) -> bool:
        """No token means nobody can reach Telegram: run the demo against the built-in fake."""
        return self.demo or self.bot_token is None

    @cached_property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'workvoice.db').resolve()}"

    @property
    def generates_secrets(self) -> bool:
        """Missing secrets may be generated into DATA_DIR only by the demo or a process that listens
        on loopback (a laptop). A process others can reach is given them, so the bot never makes
        a private key of its own and two processes never hold different keys (M10)."""
        return self.demo or is_loopback(self.console_host)

    @cached_property
    def effective_secret_key(self) -> str:
        """The configured key, or one generated once and kept in the data directory (laptops, demos)."""
        if self.secret_key is not None and self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value()
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        if not self.generates_secrets:
            raise ConfigError(
                f"{ENV_PREFIX}SECRET_KEY: required when listening on {self.console_host} "
                "(the same value for the bot and the console)"
            )
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        _chmod_own(self.data_dir, 0o700)
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key

    def secure_data_dir(self) -> None:
        """DATA_DIR 0700 and the SQLite database 0600 (L4): only the service's user may read them.

        The database file is created empty (SQLite takes an empty file as a new database) so that
        its mode is ours, not the umask's; SQLite gives its -wal and -shm files the same mode."""
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        _chmod_own(self.data_dir, 0o700)
        scheme, _, rest = self.effective_database_url.partition(":///")
        database = rest.split("?", 1)[0]
        if not scheme.startswith("sqlite") or database in ("", ":memory:"):
            return
        db_file = Path(database)
        db_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.close(os.open(db_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        for path in (db_file, Path(f"{db_file}-wal"), Path(f"{db_file}-shm")):
            _chmod_own(path, 0o600)

    @property
    def webhook_mode(self) -> bool:
        return self.webhook_url is not None


def _chmod_own(path: Path, mode: int) -> None:
    """Tighten a path we own; leave alone one that is missing or someone else's (a mounted volume)."""
    try:
        if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o777 != mode:
            path.chmod(mode)
    except FileNotFoundError:
        pass


Role = Literal["run", "bot", "console"]


def require_secrets(settings: Settings, role: Role) -> None:
    """Refuse to start without the secrets this role needs, in one line naming the setting (M10).

    ``bot`` and ``console`` (the scale-out path) always need theirs; ``run`` with a token needs them
    when it listens beyond loopback (on a laptop it generates them into DATA_DIR, as the demo does).
    The bot gets the public report key and never the private one: a compromised bot host must not
    read past reports."""
    if role == "run" and is_loopback(settings.console_host):
        return
    command = f"`workvoice {role}`"
    if role == "run":
        command += f" listening on {settings.console_host}"
    if settings.secret_key is None or not settings.secret_key.get_secret_value():
        raise ConfigError(
            f"{ENV_PREFIX}SECRET_KEY: required for {command} "
            "(the same value for the bot and the console)"
        )
    if role == "bot":
        for name in ("report_private_key", "report_old_private_keys"):
            value = getattr(settings, name)
            if value is not None and value.get_secret_value():
                raise ConfigError(
                    f"{ENV_PREFIX}{name.upper()}: the bot must not hold it; give the bot only "
                    f"{ENV_PREFIX}REPORT_PUBLIC_KEY and keep the private keys on the console"
                )
        if not settings.report_public_key:
            raise ConfigError(
                f"{ENV_PREFIX}REPORT_PUBLIC_KEY: required for {command} "
                "(make a pair with `workvoice keys generate`)"
            )
    elif settings.report_private_key is None or not settings.report_private_key.get_secret_value():
        raise ConfigError(
            f"{ENV_PREFIX}REPORT_PRIVATE_KEY: required for {command} "
            "(make a pair with `workvoice keys generate`)"
        )


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
