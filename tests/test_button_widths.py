"""Every button a worker can see fits a 360 dp phone, in every language (review B11).

Telegram cuts a label that does not fit its button with "…", so "❌ I cannot come" three to a
row reads "❌ I can…". Each label is measured the way the review did: Debian's chromium draws it
on a canvas (``measureText``) in Noto fonts at 15 px, medium weight, as Telegram on Android
draws buttons, and the width is compared with the space a label gets on a 360 dp phone: 328 dp
alone in its row, 154 with two in the row, 96 with three (20 dp of padding and gap per extra
button).

The screens are discovered, not listed, so flows added or changed later are measured too: the
main menu, every step of every wizard (``bot.wizard.WIZARDS``, each flow module imported), the
keyboards a flow module builds without arguments (``*_keyboard()``), every question of the
shipped survey templates (all options ticked: "✅" makes them wider) and the survey list, the
report categories and harms, and the RSVP answers.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from inspect import Parameter, signature
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import bot.flows
from bot.i18n import use_locale
from bot.i18n.languages import LANGUAGES
from services.screens import Screen, rows_of
from tests.test_browser import ARGS, CHROMIUM

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="Debian's chromium is not installed (scripts/test installs it as root)",
)

PHONE = 328  # dp a label gets alone in its row on a 360 dp phone
PER_BUTTON = 20  # padding and gap each further button in the row takes
FONT = (
    "500 15px 'Noto Sans', 'Noto Sans Arabic', 'Noto Sans Bengali', 'Noto Sans Devanagari', "
    "'Noto Sans Ethiopic', 'Noto Sans Khmer', 'Noto Sans Myanmar', 'Noto Sans Sinhala', "
    "'Noto Sans Tamil', 'Noto Color Emoji', sans-serif"
)
TEMPLATES = Path(__file__).resolve().parents[1] / "services" / "surveys" / "templates"


def space(per_row: int) -> float:
    """328 dp for one button, 154 for two, 96 for three, ..."""
    return (PHONE - PER_BUTTON * (per_row - 1)) / per_row


@dataclass(frozen=True)
class Seen:
    where: str
    label: str
    per_row: int


Rows = Sequence[Sequence[str]]


def _rows(where: str, rows: Rows) -> Iterator[Seen]:
    for row in rows:
        for label in row:
            yield Seen(where, label, len(row))


# --- where buttons come from (each in the current locale) -------------------------------------


def _import_flows() -> None:
    """Import every flow module, so each registers its wizards."""
    for info in pkgutil.walk_packages(bot.flows.__path__, "bot.flows."):
        importlib.import_module(info.name)


def menu() -> Iterator[Seen]:
    from bot.widgets import menu_labels

    labels = [label for _action, label in menu_labels()]
    yield from _rows("main menu", [[b.label for b in row] for row in _label_rows(labels, 2)])


def _label_rows(labels: list[str], per_row: int) -> Any:
    from services.screens import Button

    return rows_of([Button(label) for label in labels], per_row)


def wizards() -> Iterator[Seen]:
    from bot.wizard import WIZARDS

    for flow, wizard in sorted(WIZARDS.items()):
        draft = wizard.sample if wizard.sample is not None else wizard.draft_model()
        for step in wizard.steps:
            screen: Screen = wizard.screen(step, draft)
            yield from _rows(f"{flow}.{step}", screen.labels())


def keyboards() -> Iterator[Seen]:
    """Keyboards flow modules build with no arguments (language, consent, gender, age ...)."""
    for info in pkgutil.walk_packages(bot.flows.__path__, "bot.flows."):
        module = importlib.import_module(info.name)
        for name, function in sorted(vars(module).items()):
            if not (name.endswith("_keyboard") and callable(function)):
                continue
            if getattr(function, "__module__", None) != module.__name__ or _needs_arguments(
                function
            ):
                continue
            markup = function()
            rows = [[b.text for b in row] for row in markup.inline_keyboard]
            yield from _rows(f"{info.name}.{name}", rows)


def _needs_arguments(function: Callable[..., Any]) -> bool:
    return any(
        p.default is Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        for p in signature(function).parameters.values()
    )


def surveys() -> Iterator[Seen]:
    from bot.flows.surveys import list_label
    from bot.i18n import current_locale
    from services.surveys.definition import parse_definition
    from services.surveys.screens import question_screen

    for path in sorted(TEMPLATES.glob("*.yaml")):
        d = parse_definition(path.read_text("utf-8"))
        title = d.text(d.title, current_locale())
        for started in (False, True):
            yield Seen("survey list", list_label(title, started=started), 1)
        total = len(d.questions)
        for n, q in enumerate(d.questions, start=1):
            screen = question_screen(
                d,
                q,
                number=n,
                total=total,
                can_go_back=True,
                selected=[o.key for o in q.options],
            )
            yield from _rows(f"{d.key}.{q.key}", screen.labels())


def reports() -> Iterator[Seen]:
    from bot.flows.reports.labels import category_label, harm_label
    from services.reports.protocol import Category, Harm

    for category in Category:
        yield Seen("report categories", category_label(category), 1)
    for harm in Harm:
        yield Seen("report harms", harm_label(harm), 1)


def rsvp() -> Iterator[Seen]:
    from bot.flows.committees.texts import rsvp_keyboard

    thing = SimpleNamespace(id=1)
    markup = rsvp_keyboard(thing, thing)  # type: ignore[arg-type]
    yield from _rows("RSVP", [[b.text for b in row] for row in markup.inline_keyboard])


SOURCES: list[Callable[[], Iterator[Seen]]] = [menu, wizards, keyboards, surveys, reports, rsvp]


def everything() -> dict[str, list[Seen]]:
    _import_flows()
    found: dict[str, list[Seen]] = {}
    for lang in LANGUAGES:
        with use_locale(lang):
            found[lang] = sorted(
                {seen for source in SOURCES for seen in source()},
                key=lambda s: (s.where, s.label),
            )
    return found


# --- measuring --------------------------------------------------------------------------------

MEASURE = """
([font, labels]) => {
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = font;
  return labels.map((label) => ctx.measureText(label).width);
}
"""


async def measure(labels: list[str]) -> dict[str, float]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page()
            await page.set_content("<!doctype html><meta charset=utf-8><body></body>")
            widths = await page.evaluate(MEASURE, [FONT, labels])
        finally:
            await browser.close()
    return dict(zip(labels, widths, strict=True))


def test_discovery_finds_the_screens_it_promises() -> None:
    """The measuring below is only as good as what it finds: each source yields labels."""
    _import_flows()
    with use_locale("en"):
        for source in SOURCES:
            assert list(source()), f"{source.__name__} found no buttons"
        wheres = {s.where for source in SOURCES for s in source()}
    assert "main menu" in wheres and any(w.startswith("wellbeing-pulse.") for w in wheres)


async def test_every_button_fits_a_360_dp_phone_in_every_language() -> None:
    found = everything()
    labels = sorted({s.label for seen in found.values() for s in seen} | {"📋"})
    widths = await measure(labels)
    assert widths["📋"] > 0, "no emoji font: the widths would be wrong"
    too_wide = [
        f"{lang:3} {s.where:40} {widths[s.label]:4.0f} > {space(s.per_row):3.0f} dp "
        f"({s.per_row} in the row): {s.label}"
        for lang, seen in found.items()
        for s in seen
        if widths[s.label] > space(s.per_row)
    ]
    assert not too_wide, f"{len(too_wide)} labels are cut off:\n" + "\n".join(too_wide)
