"""What the wheel ships and declares: catalogs and console files as package data, and every
third-party package the code imports listed in pyproject.toml (review §4.5 #18)."""

from __future__ import annotations

import ast
import importlib.metadata
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("workvoice", "services", "bot", "admin")


def _package_data() -> dict[str, list[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return dict(config["tool"]["setuptools"]["package-data"])


def _shipped(package: str) -> set[Path]:
    folder = ROOT / package.replace(".", "/")
    return {
        path.resolve()
        for pattern in _package_data().get(package, [])
        for path in folder.glob(pattern)
        if path.is_file()
    }


def test_every_catalog_ships_inside_the_bot_i18n_package() -> None:
    assert (ROOT / "bot/i18n/locales").resolve() == ROOT / "locales"
    catalogs = {p.resolve() for p in (ROOT / "locales").glob("*/LC_MESSAGES/*.po")}
    assert len(catalogs) > 16 and catalogs <= _shipped("bot.i18n")


def test_every_console_template_and_static_file_ships() -> None:
    files = {p.resolve() for p in (ROOT / "admin/templates").rglob("*.html")}
    files |= {p.resolve() for p in (ROOT / "admin/static").iterdir() if p.is_file()}
    assert files and files <= _shipped("admin")


def test_installed_bot_i18n_finds_its_own_catalogs(tmp_path: Path) -> None:
    """A wheel's layout: site-packages/bot/i18n/locales is a real folder, no checkout around it."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "bot/i18n", site / "bot/i18n", symlinks=False)
    (site / "bot/__init__.py").write_text("")
    probe = "from bot.i18n import gettext, locales_dir; print(locales_dir())"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(out.stdout.strip()) == site / "bot/i18n/locales"
    assert (site / "bot/i18n/locales/bn/LC_MESSAGES/core.po").is_file()


def _imported_top_level_names() -> set[str]:
    names: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return names - set(PACKAGES) - set(sys.stdlib_module_names)


def test_every_imported_package_is_declared() -> None:
    declared = {
        canonicalize_name(Requirement(spec).name)
        for spec in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    distributions = importlib.metadata.packages_distributions()
    missing = {
        name
        for name in _imported_top_level_names()
        if not {canonicalize_name(d) for d in distributions.get(name, [name])} & declared
    }
    assert not missing, f"imported but not in [project.dependencies]: {sorted(missing)}"


def test_the_test_script_checks_formatting_after_lint() -> None:
    script = (ROOT / "scripts/test").read_text()
    assert ".venv/bin/ruff check ." in script and ".venv/bin/ruff format --check ." in script
    assert script.index("ruff check .") < script.index("ruff format --check .")
