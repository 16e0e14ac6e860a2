"""Words for what the worker chose and for where her case stands, in her language."""

from __future__ import annotations

from bot.i18n import _
from bot.storage.reports import Case
from services.reports.protocol import Category, Harm
from services.reports.protocol import State as CaseState


def category_label(category: Category) -> str:
    return {
        Category.HARASSMENT: _("Harassment, violence or abuse"),
        Category.COMPENSATION: _("Wages, overtime pay or benefits"),
        Category.SAFETY: _("Safety and health"),
        Category.WORKING_TIME: _("Working hours and rest"),
        Category.DISCRIMINATION: _("Unfair treatment or discrimination"),
        Category.FREEDOM_OF_ASSOCIATION: _("Union or workers' committee"),
        Category.CONTRACTS: _("Contract, dismissal or documents"),
        Category.FORCED_LABOUR: _("Forced work or not free to leave"),
        Category.CHILD_LABOUR: _("Child workers"),
        Category.DORMITORY: _("Dormitory or housing"),
        Category.OTHER: _("Something else"),
    }[category]


def harm_label(harm: Harm) -> str:
    return {
        Harm.SEXUAL_HARASSMENT: _("Sexual harassment"),
        Harm.PHYSICAL_VIOLENCE: _("Hitting or physical violence"),
        Harm.VERBAL_ABUSE: _("Shouting, insults or bullying"),
        Harm.THREATS: _("Threats"),
        Harm.CORPORAL_PUNISHMENT: _("Physical punishment"),
        Harm.UNDER_15: _("Children under 15 work here"),
        Harm.UNDER_18_HAZARDOUS: _("Under-18s do dangerous work"),
        Harm.NOT_ALLOWED_TO_LEAVE: _("Workers are not allowed to leave"),
        Harm.DOCUMENTS_KEPT: _("My passport or papers are kept"),
        Harm.DEBT: _("I must work to pay a debt"),
        Harm.PUNISHED_FOR_UNION: _("Punished for joining a union"),
        Harm.UNION_BLOCKED: _("Stopped from joining or meeting"),
        Harm.UNPAID_WAGES: _("Wages not paid or paid late"),
        Harm.RETALIATION: _("Punished for speaking up"),
        Harm.PUNISHED_FOR_LEAVING_DANGER: _("Punished for leaving a dangerous place"),
        Harm.EXITS_LOCKED: _("Exits locked or blocked"),
        Harm.FIRE_RISK: _("Fire risk"),
        Harm.BUILDING_CRACKS: _("Cracks in the building"),
        Harm.INJURY: _("Someone was injured"),
        Harm.NO_PROTECTIVE_EQUIPMENT: _("No masks, gloves or safety gear"),
        Harm.CHEMICALS: _("Dangerous chemicals"),
        Harm.HEAT: _("Too hot to work"),
        Harm.TOILETS_WATER: _("No toilets or drinking water"),
        Harm.FORCED_OVERTIME: _("Forced overtime"),
        Harm.NO_DAY_OFF: _("No weekly day off"),
        Harm.OTHER: _("Something else"),
    }[harm]


def status_label(case: Case) -> str:
    if case.state == CaseState.CLOSED:
        return _("closed")
    if case.state in (CaseState.NEW, CaseState.ACKNOWLEDGED):
        return _("received")
    return _("being looked into")
