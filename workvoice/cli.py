"""The ``workvoice`` command. Commands that do not run the bot never import aiogram (it costs ~6 s):
nothing imported here loads it; the bot's modules load only when a process starts the bot
(``workvoice.app.start_bot``)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy import select

from bot.i18n import locales_dir
from bot.storage import migrate
from bot.storage.db import transaction
from bot.storage.models import StaffRole
from bot.storage.surveys import Survey, SurveyVersion
from services import translations
from services.accounts import do_create_staff
from services.errors import DomainError
from services.factories import (
    FactoryImportError,
    FactoryInput,
    do_add_factory,
    do_import_factories,
    list_factories,
)
from services.reports.crypto import generate_pair
from services.scope import Scope
from services.surveys.builder import (
    definition_of,
    do_import_survey,
    do_install_templates,
    do_publish,
    latest_version,
)
from services.surveys.definition import to_json, to_yaml
from workvoice import i18n_tools
from workvoice.app import check_schema, serve
from workvoice.context import AppContext
from workvoice.demo.run import run_demo
from workvoice.kernel.logs import configure_logging
from workvoice.kernel.settings import (
    ConfigError,
    Role,
    Settings,
    is_loopback,
    load_settings,
    require_secrets,
)

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _run(coro_fn: Callable[[], Awaitable[T]]) -> T:

    try:
        return asyncio.run(coro_fn())  # type: ignore[arg-type]
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None


def _serve(**kwargs: Any) -> None:

    settings = _settings()
    configure_logging(settings.log_level)
    with contextlib.suppress(KeyboardInterrupt):
        _run(lambda: serve(settings, **kwargs))


class _Main(click.Group):
    """A missing or wrong setting met mid-command (e.g. a secret a migration needs, which a process
    listening beyond loopback never generates) ends in its one line, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="workvoice")
def main() -> None:
    """workvoice: surveys, grievance reporting, committee reminders and broadcasts for factory workers.

    Settings come from WORKVOICE_* environment variables or a .env file (see README).
    """


def _require_secrets(settings: Settings, role: Role) -> None:
    try:
        require_secrets(settings, role)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run everything in one process: bot, scheduler and console (the demo when no token is set)."""
    settings = _settings()
    if settings.bot_token is None:
        if not (settings.demo or is_loopback(settings.console_host)):
            # The container image listens on 0.0.0.0: without a token it must not quietly serve
            # the demo (public password and sign-in codes) to the network (L8).
            raise click.ClickException(
                f"WORKVOICE_BOT_TOKEN: not set, and the demo listens on {settings.console_host} "
                "only when asked: set the token, or WORKVOICE_DEMO=1 to serve the demo there"
            )
        click.echo(
            "WORKVOICE_BOT_TOKEN is not set: starting the demo (no Telegram needed).", err=True
        )
        ctx.invoke(demo)
        return
    _require_secrets(settings, "run")
    _serve(bot=True, console=True, scheduler=True, auto_upgrade=True)


@main.command()
def bot() -> None:
    """Run the bot and the scheduler only (for scaling out; needs `db upgrade` first)."""
    settings = _settings()
    if settings.bot_token is None:
        raise click.ClickException("WORKVOICE_BOT_TOKEN: required to run the bot on its own")
    _require_secrets(settings, "bot")
    _serve(bot=True, console=False, scheduler=True)


@main.command()
def console() -> None:
    """Run the web console only (for scaling out; needs `db upgrade` first)."""
    _require_secrets(_settings(), "console")
    _serve(bot=False, console=True, scheduler=False)


@main.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the demo keeps its SQLite database (default: <WORKVOICE_DATA_DIR>/demo).",
)
@click.option(
    "--seed/--no-seed",
    default=True,
    show_default=True,
    help="Fill the database with realistic demo data (safe to repeat).",
)
@click.option(
    "--port", type=int, default=None, help="Console port (default: WORKVOICE_CONSOLE_PORT)."
)
@click.option(
    "--host",
    default=None,
    help="Listen here, e.g. 0.0.0.0 (default: WORKVOICE_CONSOLE_HOST if it is loopback or "
    "WORKVOICE_DEMO=1 is set, else refused: the demo's password and codes are public).",
)
def demo(data_dir: Path | None, seed: bool, port: int | None, host: str | None) -> None:
    """Run the whole product on a laptop without Telegram: bot, console and a phone simulator."""

    settings = _settings()
    if host is None and not (settings.demo or is_loopback(settings.console_host)):
        raise click.ClickException(
            f"WORKVOICE_CONSOLE_HOST: the demo listens on {settings.console_host} only when asked "
            "(its password and sign-in codes are public): pass --host or set WORKVOICE_DEMO=1"
        )
    updates: dict[str, Any] = {
        "data_dir": data_dir or settings.data_dir / "demo",
        "database_url": None,
    }
    if port is not None:
        updates["console_port"] = port
    if host is not None:
        updates["console_host"] = host
    try:
        settings = load_settings(**{**settings.model_dump(exclude_unset=True), **updates})
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    configure_logging(settings.log_level)
    with contextlib.suppress(KeyboardInterrupt):
        _run(lambda: run_demo(settings, seed=seed))


@main.group()
def db() -> None:
    """Database migrations (Alembic)."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Upgrade the schema to REVISION (default: the newest)."""

    settings = _settings()
    if settings.effective_database_url.startswith("sqlite"):
        settings.secure_data_dir()  # 0700 directory, 0600 database (L4)
    migrate.upgrade(
        settings.effective_database_url, revision, secret_key=lambda: settings.effective_secret_key
    )
    click.echo(f"database at {migrate.current(settings.effective_database_url)}")


@db.command("downgrade")
@click.argument("revision", default="-1")
def db_downgrade(revision: str) -> None:
    """Downgrade the schema to REVISION (default: one step back; 'base' removes everything)."""

    settings = _settings()
    if settings.effective_database_url.startswith("sqlite"):
        settings.secure_data_dir()
    migrate.downgrade(
        settings.effective_database_url, revision, secret_key=lambda: settings.effective_secret_key
    )
    click.echo(f"database at {migrate.current(settings.effective_database_url) or 'base'}")


@db.command("current")
def db_current() -> None:
    """Show the schema revision of the database and of the code."""

    settings = _settings()
    if settings.effective_database_url.startswith("sqlite"):
        settings.secure_data_dir()
    click.echo(f"database: {migrate.current(settings.effective_database_url) or 'none'}")
    click.echo(f"code:     {migrate.head_revision()}")


async def _in_transaction(settings: Settings, fn: Callable[[Any], Awaitable[T]]) -> T:

    ctx = AppContext.create(settings)
    try:
        await check_schema(ctx, auto_upgrade=False)
        async with transaction(ctx.sessions) as session:
            return await fn(session)
    finally:
        await ctx.close()


@main.command("create-staff")
@click.option("--email", required=True, help="Sign-in e-mail address.")
@click.option(
    "--role",
    required=True,
    type=click.Choice([role.value for role in StaffRole]),
)
@click.option(
    "--language",
    "languages",
    multiple=True,
    help="A language whose translations they review (bn, km, ...); repeat for more.",
)
@click.option(
    "--country", "countries", multiple=True, help="ISO code (BD, KH, ...); repeat for more."
)
@click.option("--name", default="", help="Display name.")
@click.option("--password", default=None, help="Set a password now (otherwise you are prompted).")
def create_staff(
    email: str,
    role: str,
    countries: tuple[str, ...],
    languages: tuple[str, ...],
    name: str,
    password: str | None,
) -> None:
    """Create a staff account for the console."""

    settings = _settings()
    if password is None:
        password = click.prompt(
            "Password (12+ characters)", hide_input=True, confirmation_prompt=True
        )
    staff = _run(
        lambda: _in_transaction(
            settings,
            lambda s: do_create_staff(
                s,
                email=email,
                role=role,
                countries=countries,
                password=password,
                name=name,
                languages=languages,
            ),
        )
    )
    where = ", ".join(countries) if countries else "all countries"
    click.echo(f"created {staff.role} {staff.email} ({where})")


@main.group()
def factory() -> None:
    """Factories: add, list, import from CSV."""


@factory.command("add")
@click.option("--code", required=True)
@click.option("--name", required=True)
@click.option("--country", required=True, help="ISO code, e.g. BD")
@click.option("--timezone", default=None, help="IANA name; default: the country's")
def factory_add(code: str, name: str, country: str, timezone: str | None) -> None:
    """Add one factory."""

    settings = _settings()
    made = _run(
        lambda: _in_transaction(
            settings,
            lambda s: do_add_factory(
                s, FactoryInput(code=code, name=name, country=country, timezone=timezone)
            ),
        )
    )
    click.echo(f"added {made.code} {made.name} ({made.country_code}, {made.timezone})")


@factory.command("list")
@click.option("--country", default=None)
def factory_list(country: str | None) -> None:
    """List factories."""

    settings = _settings()
    scope = Scope.only(country.upper()) if country else Scope.everywhere()
    rows = _run(lambda: _in_transaction(settings, lambda s: list_factories(s, scope)))
    for f in rows:
        click.echo(f"{f.code}\t{f.country_code}\t{f.timezone}\t{f.name}")
    if not rows:
        click.echo("no factories", err=True)


@factory.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def factory_import(csv_file: Path) -> None:
    """Import factories from a CSV with columns code,name,country,timezone (all or nothing)."""

    settings = _settings()
    try:
        text = csv_file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise click.ClickException("the file is not UTF-8 text") from None
    try:
        made = asyncio.run(_in_transaction(settings, lambda s: do_import_factories(s, text)))
    except FactoryImportError as exc:
        for problem in exc.problems:
            click.echo(f"{csv_file}:{problem}", err=True)
        raise click.ClickException(f"nothing imported: {len(exc.problems)} problem(s)") from None
    click.echo(f"imported {len(made)} factories")


@main.group()
def survey() -> None:
    """Survey definitions as YAML or JSON files: export, import, install the built-in templates."""


@survey.command("export")
@click.argument("key")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml")
@click.option("--version", "number", type=int, default=None, help="Default: the latest.")
def survey_export(key: str, fmt: str, number: int | None) -> None:
    """Print a survey's definition (for review, sharing or version control)."""

    async def load(session: Any) -> Any:
        found = await session.scalar(select(Survey).where(Survey.key == key))
        if found is None:
            raise click.ClickException(f"no survey with the key {key!r}")
        if number is None:
            return definition_of(await latest_version(session, found))
        version = await session.scalar(
            select(SurveyVersion).where(
                SurveyVersion.survey_id == found.id, SurveyVersion.number == number
            )
        )
        if version is None:
            raise click.ClickException(f"survey {key!r} has no version {number}")
        return definition_of(version)

    definition = _run(lambda: _in_transaction(_settings(), load))
    click.echo(to_yaml(definition) if fmt == "yaml" else to_json(definition), nl=False)


@survey.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--country", default=None, help="ISO code of the owning country; none: shared.")
@click.option("--publish", is_flag=True, help="Publish it at once (freeze the first version).")
def survey_import(path: Path, country: str | None, publish: bool) -> None:
    """Create a survey from a YAML or JSON file; an invalid file imports nothing."""

    content = path.read_bytes()

    async def create(session: Any) -> Any:
        made = await do_import_survey(
            session, content, country_code=country.upper() if country else None, actor=None
        )
        if publish:
            await do_publish(session, made, scope=Scope.everywhere(), actor=None)
        return made

    try:
        made = _run(lambda: _in_transaction(_settings(), create))
    except DomainError as exc:
        raise click.ClickException(f"{path}: {exc}") from None
    click.echo(f"imported survey {made.key} (id {made.id}){' and published it' if publish else ''}")


@survey.command("templates")
def survey_templates() -> None:
    """Install the built-in wellbeing templates as shared, published surveys (idempotent)."""

    made = _run(lambda: _in_transaction(_settings(), do_install_templates))
    click.echo("templates: " + ", ".join(s.key for s in made))


@main.group()
def keys() -> None:
    """Report encryption keys (sealed boxes): generate a pair, rotate."""


@keys.command("generate")
def keys_generate() -> None:
    """Print a new key pair for WORKVOICE_REPORT_PUBLIC_KEY / WORKVOICE_REPORT_PRIVATE_KEY."""

    public, private = generate_pair()
    click.echo(f"WORKVOICE_REPORT_PUBLIC_KEY={public}")
    click.echo(f"WORKVOICE_REPORT_PRIVATE_KEY={private}")
    click.echo(
        "# Give the bot only the public key; keep the private key on the console host.", err=True
    )


@keys.command("rotate")
def keys_rotate() -> None:
    """Print a new pair and the settings that keep older reports readable."""

    settings = _settings()
    public, private = generate_pair()
    old = [
        v for v in (settings.report_private_key, settings.report_old_private_keys) if v is not None
    ]
    old_value = ",".join(v.get_secret_value() for v in old)
    click.echo(f"WORKVOICE_REPORT_PUBLIC_KEY={public}")
    click.echo(f"WORKVOICE_REPORT_PRIVATE_KEY={private}")
    click.echo(f"WORKVOICE_REPORT_OLD_PRIVATE_KEYS={old_value}")
    click.echo(
        "# New reports use the new public key at once; the console opens older ones with the old "
        "private keys. Restart the bot and the console with these settings.",
        err=True,
    )


@main.group()
def i18n() -> None:
    """Translation catalogs: extract, update, compile, check."""


@i18n.command("extract")
def i18n_extract() -> None:
    """Extract messages from the code into locales/<capability>.pot."""

    for domain, count in i18n_tools.extract().items():
        click.echo(f"{domain}: {count} messages")


@i18n.command("update")
@click.option("--locale", "locales", multiple=True, help="Only these locales.")
def i18n_update(locales: tuple[str, ...]) -> None:
    """Merge new messages into every locale's .po files (creating missing ones)."""

    i18n_tools.extract()
    for path in i18n_tools.update(locales or None):
        click.echo(f"updated {path}")


@i18n.command("compile")
def i18n_compile() -> None:
    """Compile .po files to .mo (the bot reads .po directly; this is for gettext tools)."""

    click.echo(f"compiled {len(i18n_tools.compile_all())} catalogs")


@i18n.command("pull")
@click.option("--locale", "locales", multiple=True, help="Only these locales.")
def i18n_pull(locales: tuple[str, ...]) -> None:
    """Write the changes translators approved in the console into locales/*.po."""

    async def decided(session: Any) -> list[Any]:
        return list((await translations.reviews_for(session)).values())

    reviews = _run(lambda: _in_transaction(_settings(), decided))
    written = translations.pull(reviews, locales=locales or None)
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"{len(written)} catalogs changed")


@i18n.command("review")
@click.option("--write", is_flag=True, help="Rewrite locales/REVIEW.md instead of printing it.")
def i18n_review(write: bool) -> None:
    """Review coverage per language and catalog (locales/REVIEW.md), from the console's decisions."""

    counts = _run(lambda: _in_transaction(_settings(), translations.count))
    text = i18n_tools.review_markdown(counts)
    if write:
        path = locales_dir() / "REVIEW.md"
        path.write_text(text, encoding="utf-8")
        click.echo(f"wrote {path}")
    else:
        click.echo(text)


@i18n.command("check")
def i18n_check() -> None:
    """Fail if any required catalog is missing, incomplete, fuzzy or breaks placeholders or HTML."""

    problems = i18n_tools.check()
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        sys.exit(1)
    click.echo("all catalogs complete")


@main.command()
@click.option("--write", is_flag=True, help="Rewrite docs/flows.md instead of printing it.")
def flows(write: bool) -> None:
    """Every worker conversation's steps and transitions (docs/flows.md), from the step tables."""
    from bot import flowdocs  # loads the flows, so aiogram: only when asked for

    if write:
        click.echo(f"wrote {flowdocs.write()}")
    else:
        click.echo(flowdocs.render())


if __name__ == "__main__":
    main()
