"""The layering rules of DESIGN §10 (and CONTRIBUTING "Contracts"), enforced with import-linter
contracts from pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    out = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports"))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert " 0 broken" in out.stdout


def test_the_contracts_cover_layers_cycles_and_independence() -> None:
    """Weakening the contracts is a visible change: the ladder, no cycles in any package, services
    free of the application package, capability services independent of each other."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for contract in config["contracts"]:
        by_type.setdefault(contract["type"], []).append(contract)
    (acyclic,) = by_type["acyclic_siblings"]
    assert set(acyclic["ancestors"]) == set(config["root_packages"])
    (ladder,) = by_type["layers"]
    assert ladder["layers"][-1] == "bot.storage : bot.i18n"
    assert any("workvoice.capabilities" in layer for layer in ladder["layers"])
    independent = [set(c["modules"]) for c in by_type["independence"]]
    assert {
        "services.reports",
        "services.surveys",
        "services.committees",
        "services.broadcasts",
    } in (independent)
    services_may_not = {
        m
        for c in by_type["forbidden"]
        if c["source_modules"] == ["services"]
        for m in c["forbidden_modules"]
    }
    assert {
        "workvoice.app",
        "workvoice.context",
        "aiogram",
        "admin",
        "bot.flows",
    } <= services_may_not
