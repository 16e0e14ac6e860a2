"""Words for what the worker chose and for where her case stands, in her language. What she chose
reads the same as on the console's case page: both come from ``services.labels``."""

from __future__ import annotations

from bot.i18n import _
from bot.storage.reports import Case
from services.labels import label
from services.reports.protocol import Category, Harm
from services.reports.protocol import State as CaseState


def category_label(category: Category) -> str:
    return label(category)


def harm_label(harm: Harm) -> str:
    return label(harm)


def status_line(case: Case, number: str) -> str:
    """Where her case stands, as one whole sentence per state: a status word glued after a colon
    cannot agree with the sentence around it in Arabic or Bangla (review B14)."""
    if case.state == CaseState.CLOSED:
        return _("<b>Report {number}</b> is closed.", number=number)
    if case.state in (CaseState.NEW, CaseState.ACKNOWLEDGED):
        return _("<b>Report {number}</b> was received. We will look into it.", number=number)
    return _("<b>Report {number}</b> is being looked into.", number=number)
