"""``docs/flows.md``: every wizard's steps and transitions, drawn from the step tables in English,
so translators and reviewers can see each screen in order. ``workvoice flows --write`` rewrites it;
a test fails when the file is stale."""

from __future__ import annotations

import importlib
from pathlib import Path

from bot import wizard
from bot.i18n import use_locale
from workvoice.capabilities import FLOW_MODULES

DOC = Path(__file__).resolve().parent.parent / "docs" / "flows.md"


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def render() -> str:
    for name in FLOW_MODULES:  # importing a flow registers its wizards
        importlib.import_module(name)
    lines = [
        "# Worker conversations, step by step",
        "",
        "Generated from the step tables (`bot/wizard.py`) by `workvoice flows --write`; a test fails "
        "when it is stale. Every step also has ✖️ Cancel, every step after the first ⬅️ Back, and "
        "`/cancel`, `/start`, `/menu` and 🏠 end the conversation with its draft.",
        "",
    ]
    with use_locale("en"):
        for flow, wiz in sorted(wizard.WIZARDS.items()):
            draft = wiz.sample if wiz.sample is not None else wiz.draft_model()
            lines += [f"## {wiz.title} (`{flow}`)", ""]
            lines += [
                "| step | the worker sees | buttons | typed answer | next |",
                "|---|---|---|---|---|",
            ]
            for name, step in wiz.steps.items():
                screen = wiz.screen(name, draft, can_go_back=name != wiz.first)
                buttons = " / ".join(" · ".join(row) for row in screen.labels())
                typed = "text" if step.parse else ("messages" if step.on_message else "—")
                targets = step.targets() or (("finish",) if step.next is None else ())
                lines.append(
                    f"| `{name}` | {_cell(screen.text)} | {_cell(buttons)} | {typed} | "
                    f"{', '.join(f'`{t}`' for t in targets) or 'finish'} |"
                )
            lines.append("")
    return "\n".join(lines)


def write(path: Path = DOC) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(), encoding="utf-8")
    return path
