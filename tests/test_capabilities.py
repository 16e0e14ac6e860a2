"""The capability manifest drives every list of capabilities: the bot's routers, the main menu, the
console's routers, the scheduler's jobs, the model modules and the catalogs."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import bot.storage
from admin.app import CONSOLE_MODULES
from bot.dispatcher import FLOW_MODULES
from bot.widgets import MenuAction, main_menu_keyboard, menu_labels
from tests.harness import shared_dispatcher
from workvoice import capabilities, i18n_tools, scheduler
from workvoice.capabilities import CAPABILITIES, Capability, Job

FAKE_JOB_RUNS: list[Any] = []


async def fake_job(ctx: Any) -> None:
    FAKE_JOB_RUNS.append(ctx)


FAKE = Capability(
    "petitions",
    "petitions",
    flows=("bot.flows.petitions",),
    console=("admin.petitions",),
    jobs=(Job("petition_deadlines", 60, "tests.test_capabilities:fake_job"),),
    menu=(MenuAction.NEWS,),
)


def test_the_bot_includes_the_manifests_flows_gates_first_and_the_fallback_last() -> None:
    declared = [flow for c in CAPABILITIES for flow in c.flows]
    assert sorted(FLOW_MODULES) == sorted([*declared, "bot.flows.fallback"])
    assert FLOW_MODULES[:2] == ("bot.flows.staff", "bot.flows.onboarding")
    assert FLOW_MODULES[-1] == "bot.flows.fallback"
    dp, _ = shared_dispatcher()  # a flow's router joins one dispatcher per process
    # /cancel (bot.wizard) comes first: it ends whatever conversation the worker is in.
    assert [r.name for r in dp.sub_routers] == ["bot.wizard", *FLOW_MODULES, "errors"]


def test_the_main_menu_is_the_manifests_actions_in_manifest_order() -> None:
    assert [a for c in CAPABILITIES for a in c.menu] == list(capabilities.MENU)
    # The order workers know (surveys first, language/help/privacy last) is the manifest's order.
    assert [action for action, _ in menu_labels()] == [
        MenuAction.SURVEYS,
        MenuAction.REPORT,
        MenuAction.MY_REPORTS,
        MenuAction.HELP_NOW,
        MenuAction.COMMITTEE,
        MenuAction.NEWS,
        MenuAction.LANGUAGE,
        MenuAction.HELP,
        MenuAction.PRIVACY,
    ]
    without_surveys = tuple(c for c in CAPABILITIES if c.name != "surveys")
    keyboard = main_menu_keyboard(capabilities.menu(without_surveys))
    shown = [b.callback_data for row in keyboard.inline_keyboard for b in row]
    assert "m:surveys" not in shown and "m:report" in shown


def test_every_menu_action_is_answered_by_its_capabilitys_flow() -> None:
    """A button that leads nowhere is worse than no button."""
    for capability in CAPABILITIES:
        source = ""
        for flow in capability.flows:
            module = importlib.import_module(flow)
            files = (
                sorted(Path(module.__path__[0]).rglob("*.py"))
                if hasattr(module, "__path__")
                else [Path(str(module.__file__))]
            )
            source += "".join(f.read_text() for f in files)
        for action in capability.menu:
            assert f"F.action == MenuAction.{action.name}" in source, (capability.name, action)
    assert "enable_menu" not in "".join(
        p.read_text() for p in Path(bot.storage.__file__).parents[1].rglob("*.py")
    )


def test_the_console_includes_the_manifests_modules() -> None:
    assert list(CONSOLE_MODULES) == [m for c in CAPABILITIES for m in c.console]


def test_the_scheduler_runs_the_platform_purges_and_the_manifests_jobs() -> None:
    names = [job.name for job in scheduler.JOBS]
    assert names == ["purge_raw_updates", "purge_outbox", *(j.name for j in capabilities.JOBS)]
    for declared, job in zip(capabilities.JOBS, scheduler.JOBS[2:], strict=True):
        module, function = declared.run.split(":")
        assert job.run is getattr(importlib.import_module(module), function)
        assert job.every_seconds == declared.every_seconds


async def test_a_new_capability_is_one_manifest_entry() -> None:
    with_fake = (*CAPABILITIES, FAKE)
    assert capabilities.flow_modules(with_fake)[-2:] == (
        "bot.flows.petitions",
        "bot.flows.fallback",
    )
    assert capabilities.console_modules(with_fake)[-1] == "admin.petitions"
    assert capabilities.menu(with_fake)[-1] == MenuAction.NEWS
    assert capabilities.catalog_domains(with_fake)[-1] == "petitions"
    (job,) = [scheduler.capability_job(j) for j in capabilities.jobs(with_fake)[-1:]]
    assert (job.name, job.every_seconds) == ("petition_deadlines", 60)
    await job.run("ctx")  # type: ignore[arg-type]
    assert FAKE_JOB_RUNS == ["ctx"]


def test_storage_and_catalogs_list_the_manifests_models_and_domains() -> None:
    assert bot.storage.MODEL_MODULES == capabilities.MODEL_MODULES
    assert i18n_tools.CAPABILITIES == capabilities.CATALOG_DOMAINS
    assert set(capabilities.CATALOG_DOMAINS) == {
        "onboarding",
        "reports",
        "surveys",
        "committees",
        "broadcasts",
    }


def test_the_manifest_is_data_the_console_can_read_without_the_bot() -> None:
    code = (
        "import sys, workvoice.capabilities; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('aiogram', 'admin', 'services', 'sqlalchemy', 'fastapi') or m.startswith('bot.flows')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_menu_action_belongs_to_exactly_one_capability() -> None:
    contextual = {MenuAction.HOME, MenuAction.LINK_FACTORY}  # shown where needed, not on the menu
    assert sorted(capabilities.MENU) == sorted(a for a in MenuAction if a not in contextual)
