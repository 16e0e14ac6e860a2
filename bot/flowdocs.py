"""``docs/flows.md``: every wizard's steps and transitions, drawn from the step tables in English,
so translators and reviewers can see each screen in order. ``workvoice flows --write`` rewrites it;
a test fails when the file is stale."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from bot import wizard
from bot.i18n import recording, use_locale
from workvoice.capabilities import FLOW_MODULES

DOC = Path(__file__).resolve().parent.parent / "docs" / "flows.md"


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def _load_flows() -> None:
    for name in FLOW_MODULES:  # importing a flow registers its wizards
        importlib.import_module(name)


def render() -> str:
    _load_flows()
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


@dataclass(frozen=True)
class StepPreview:
    """One step of a worker conversation drawn in one language, for the translation workspace."""

    title: str
    flow: str
    step: str
    text: str
    rows: list[list[str]]


class ScreenBook:
    """Which worker screens say a message, and those screens drawn in any language: the console's
    translation workspace shows a translator each message where workers meet it (the console
    cannot import the flows, so the process that runs it hands it one of these)."""

    @cached_property
    def _used(self) -> dict[tuple[str | None, str], list[tuple[str, str]]]:
        _load_flows()
        used: dict[tuple[str | None, str], list[tuple[str, str]]] = {}
        with use_locale("en"):
            for flow, wiz in sorted(wizard.WIZARDS.items()):
                draft = wiz.sample if wiz.sample is not None else wiz.draft_model()
                for name in wiz.steps:
                    with recording() as heard:
                        wiz.screen(name, draft, can_go_back=name != wiz.first)
                    for message in heard:
                        used.setdefault(message, []).append((flow, name))
        return used

    def where(self, context: str | None, msgid: str) -> list[tuple[str, str]]:
        """The (conversation, step) pairs whose screen says this message."""
        return self._used.get((context, msgid), [])

    def draw(self, locale: str, flow: str, step: str) -> StepPreview | None:
        wiz = wizard.WIZARDS.get(flow)
        if wiz is None or step not in wiz.steps:
            return None
        draft = wiz.sample if wiz.sample is not None else wiz.draft_model()
        with use_locale(locale):
            screen = wiz.screen(step, draft, can_go_back=step != wiz.first)
        return StepPreview(wiz.title, flow, step, screen.text, screen.labels())
