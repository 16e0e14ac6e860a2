"""The README's commands: scripts/bootstrap installs what each command needs, and says so by exit code."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _sandbox(tmp_path: Path) -> Path:
    """A copy of the scripts with a stand-in .venv/bin/python that records how it was called."""
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\necho "$@" >> "{tmp_path}/calls"\n')
    python.chmod(0o755)
    return tmp_path


def test_bootstrap_installs_the_app_and_the_dev_tools(tmp_path: Path) -> None:
    box = _sandbox(tmp_path)
    run = subprocess.run(
        ["bash", str(box / "scripts" / "bootstrap")], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    dev = subprocess.run(
        ["bash", str(box / "scripts" / "bootstrap"), "dev"], capture_output=True, text=True
    )
    assert dev.returncode == 0, dev.stderr
    calls = (box / "calls").read_text().splitlines()
    assert calls == ["-m pip install --quiet -e .", "-m pip install --quiet -e .[dev]"]
    assert (box / ".venv" / ".installed").exists() and (box / ".venv" / ".installed-dev").exists()
    again = subprocess.run(
        ["bash", str(box / "scripts" / "bootstrap")], capture_output=True, text=True
    )
    assert (
        again.returncode == 0 and len((box / "calls").read_text().splitlines()) == 2
    )  # nothing to redo
