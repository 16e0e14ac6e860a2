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


def status_label(case: Case) -> str:
    if case.state == CaseState.CLOSED:
        return _("closed")
    if case.state in (CaseState.NEW, CaseState.ACKNOWLEDGED):
        return _("received")
    return _("being looked into")
