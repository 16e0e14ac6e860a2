"""The capability manifest: what each capability brings to the bot, the console and the scheduler.

Pure data. Modules are named as strings, so the console reads this without importing a flow or
aiogram. Everything that lists capabilities is derived from ``CAPABILITIES``, in its order:

* the bot's routers (``FLOW_MODULES``): gatekeeping flows first, then the others, the fallback last;
* the main menu (``MENU``): each capability's actions, in manifest order;
* the console's routers (``CONSOLE_MODULES``) and navigation (``NAV``; each entry is shown to the
  roles its route allows, read from the route's declared policy when the console starts);
* the scheduler's jobs (``JOBS``, beside the platform's own purges in ``workvoice.scheduler``);
* the message catalogs (``CATALOG_DOMAINS``) and the model modules (``MODEL_MODULES``, which must
  equal ``bot.storage.MODEL_MODULES``: storage is the bottom layer and imports nothing above it).

Adding a capability: a folder in ``services/``, a flow, a console module, a migration and one entry
here (see CONTRIBUTING).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.i18n import N_


class MenuAction(StrEnum):
    """A main-menu button; the capability that lists it in ``menu`` answers its tap."""

    SURVEYS = "surveys"
    REPORT = "report"
    MY_REPORTS = "follow"
    COMMITTEE = "committee"
    NEWS = "news"
    LANGUAGE = "language"
    HELP = "help"
    PRIVACY = "privacy"
    HOME = "home"
    HELP_NOW = "sos"  # who to call when someone is in danger (the reports capability answers it)
    LINK_FACTORY = "factory"  # link a factory later, where a step needs one (onboarding answers it)


@dataclass(frozen=True)
class Job:
    """A periodic job: ``run`` is ``"module:function"``, a coroutine function taking the
    application context (``(ctx) -> Any``)."""

    name: str
    every_seconds: float
    run: str


@dataclass(frozen=True)
class NavEntry:
    """A console navigation link. ``label`` is a msgid (translated where the link is shown).

    ``stands_in_for``: the path of another entry; this one is then shown only to roles that may not
    open that one (analysts see "Report numbers" where the others see "Reports").
    """

    path: str
    label: str
    stands_in_for: str | None = None


@dataclass(frozen=True)
class Capability:
    """``flows`` see updates in manifest order, except that a ``gate`` capability's flows see them
    before every other's (staff linking before onboarding, onboarding before what needs it)."""

    name: str
    catalog: str
    models: str | None = None
    flows: tuple[str, ...] = ()
    console: tuple[str, ...] = ()
    jobs: tuple[Job, ...] = ()
    menu: tuple[MenuAction, ...] = ()
    nav: tuple[NavEntry, ...] = ()
    gate: bool = False


CONSOLE_CATALOG = "console"
# Included after every capability's flow: whatever no flow took gets a hint and the main menu.
FALLBACK_FLOW = "bot.flows.fallback"
# The shared tables (users, factories, staff, outbox) that every capability builds on.
FOUNDATION_MODELS = "bot.storage.models"

CAPABILITIES: tuple[Capability, ...] = (
    Capability("home", CONSOLE_CATALOG, console=("admin.home",), nav=(NavEntry("/", N_("Home")),)),
    Capability(
        "surveys",
        "surveys",
        models="bot.storage.surveys",
        flows=("bot.flows.surveys",),
        # The list's fixed paths ("/surveys/import") before a survey's own ("/surveys/{id}").
        console=(
            "admin.surveys.listing",
            "admin.surveys.builder",
            "admin.surveys.translate",
            "admin.surveys.waves",
            "admin.surveys.results",
        ),
        jobs=(
            Job("survey_waves", 60, "workvoice.jobs:survey_waves"),
            Job("survey_batches", 300, "workvoice.jobs:survey_batches"),
        ),
        menu=(MenuAction.SURVEYS,),
        nav=(NavEntry("/surveys", N_("Surveys")),),
    ),
    Capability(
        "reports",
        "reports",
        models="bot.storage.reports",
        flows=("bot.flows.reports",),
        console=("admin.reports.queue", "admin.reports.counts", "admin.reports.case"),
        jobs=(
            Job("case_tasks", 30, "services.reports.jobs:run_case_tasks"),
            Job("purge_closed_cases", 6 * 3600, "services.reports.jobs:purge_closed_cases"),
            Job("reporter_messages", 30, "services.reports.jobs:attach_reporter_messages"),
            Job("report_drafts", 600, "services.reports.jobs:purge_draft_files"),
            # Staff alerts: read the case history from a cursor, then send the e-mails.
            Job("case_alerts", 15, "services.reports.alerts:fan_out_alerts"),
            Job("alert_emails", 15, "services.reports.alerts:send_alert_emails"),
        ),
        menu=(MenuAction.REPORT, MenuAction.MY_REPORTS, MenuAction.HELP_NOW),
        nav=(
            NavEntry("/reports", N_("Reports")),
            NavEntry("/reports/counts", N_("Report numbers"), stands_in_for="/reports"),
        ),
    ),
    Capability(
        "committees",
        "committees",
        models="bot.storage.committees",
        flows=("bot.flows.committees",),
        console=("admin.committees",),
        jobs=(Job("committees", 1, "services.committees.jobs:run_committees"),),
        menu=(MenuAction.COMMITTEE,),
        nav=(NavEntry("/committees", N_("Committees")),),
    ),
    Capability(
        "broadcasts",
        "broadcasts",
        models="bot.storage.broadcasts",
        flows=("bot.flows.broadcasts",),
        console=("admin.broadcasts", "admin.broadcast_form", "admin.broadcast_topics"),
        jobs=(Job("broadcasts", 5, "workvoice.jobs:broadcasts"),),
        menu=(MenuAction.NEWS,),
        nav=(NavEntry("/broadcasts", N_("Broadcasts")),),
    ),
    Capability(
        "factories",
        CONSOLE_CATALOG,
        console=("admin.factories",),
        nav=(NavEntry("/factories", N_("Factories")),),
    ),
    Capability(
        "helplines",
        CONSOLE_CATALOG,
        console=("admin.helplines",),
        nav=(NavEntry("/helplines", N_("Helplines")),),
    ),
    Capability(
        "audio",
        CONSOLE_CATALOG,
        models="bot.storage.audio",
        console=("admin.audio",),
        nav=(NavEntry("/audio", N_("Audio")),),
    ),
    Capability(
        "translations",
        CONSOLE_CATALOG,
        console=("admin.translations",),
        nav=(NavEntry("/translations", N_("Translations")),),
    ),
    Capability(
        "accounts",
        CONSOLE_CATALOG,
        models=FOUNDATION_MODELS,
        flows=("bot.flows.staff",),
        console=("admin.staff", "admin.audit", "admin.accounts", "admin.account_zone"),
        nav=(
            NavEntry("/staff", N_("Staff")),
            NavEntry("/audit", N_("Audit log")),
            NavEntry("/account", N_("Account")),
        ),
        gate=True,
    ),
    Capability(
        "onboarding",
        "onboarding",
        flows=("bot.flows.onboarding",),
        menu=(MenuAction.LANGUAGE, MenuAction.HELP, MenuAction.PRIVACY),
        gate=True,
    ),
    # The phone simulator's pages (404 unless the demo runs).
    Capability("demo", CONSOLE_CATALOG, console=("admin.simulator",)),
)


def flow_modules(capabilities: tuple[Capability, ...]) -> tuple[str, ...]:
    return (
        *(flow for c in capabilities if c.gate for flow in c.flows),
        *(flow for c in capabilities if not c.gate for flow in c.flows),
        FALLBACK_FLOW,
    )


def console_modules(capabilities: tuple[Capability, ...]) -> tuple[str, ...]:
    return tuple(module for c in capabilities for module in c.console)


def jobs(capabilities: tuple[Capability, ...]) -> tuple[Job, ...]:
    return tuple(job for c in capabilities for job in c.jobs)


def menu(capabilities: tuple[Capability, ...]) -> tuple[MenuAction, ...]:
    return tuple(action for c in capabilities for action in c.menu)


def nav(capabilities: tuple[Capability, ...]) -> tuple[NavEntry, ...]:
    return tuple(entry for c in capabilities for entry in c.nav)


def model_modules(capabilities: tuple[Capability, ...]) -> tuple[str, ...]:
    others = (c.models for c in capabilities if c.models and c.models != FOUNDATION_MODELS)
    return (FOUNDATION_MODELS, *others)


def catalog_domains(capabilities: tuple[Capability, ...]) -> tuple[str, ...]:
    """Capabilities with a catalog of their own (``locales/<name>.pot``); the others speak through
    the console's catalog or the core one."""
    return tuple(c.catalog for c in capabilities if c.catalog == c.name != CONSOLE_CATALOG)


FLOW_MODULES = flow_modules(CAPABILITIES)
CONSOLE_MODULES = console_modules(CAPABILITIES)
JOBS = jobs(CAPABILITIES)
MENU = menu(CAPABILITIES)
NAV = nav(CAPABILITIES)
MODEL_MODULES = model_modules(CAPABILITIES)
CATALOG_DOMAINS = catalog_domains(CAPABILITIES)
