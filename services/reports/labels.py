"""Words for what a worker chose in a report, in the reader's language: the bot's buttons and the
console's case pages read the same ones (registered with ``services.labels``). Kept in the
``reports`` catalog, which every worker language has."""

from __future__ import annotations

from bot.i18n import N_
from services.reports.protocol import Category, Harm

CATEGORY_WORDS: dict[Category, str] = {
    Category.HARASSMENT: N_("Harassment, violence or abuse"),
    Category.COMPENSATION: N_("Wages, overtime pay or benefits"),
    Category.SAFETY: N_("Safety and health"),
    Category.WORKING_TIME: N_("Working hours and rest"),
    Category.DISCRIMINATION: N_("Unfair treatment or discrimination"),
    Category.FREEDOM_OF_ASSOCIATION: N_("Union or workers' committee"),
    Category.CONTRACTS: N_("Contract, dismissal or documents"),
    Category.FORCED_LABOUR: N_("Forced work or not free to leave"),
    Category.CHILD_LABOUR: N_("Child workers"),
    Category.DORMITORY: N_("Dormitory or housing"),
    Category.OTHER: N_("Something else"),
}

HARM_WORDS: dict[Harm, str] = {
    Harm.SEXUAL_HARASSMENT: N_("Sexual harassment"),
    Harm.PHYSICAL_VIOLENCE: N_("Hitting or physical violence"),
    Harm.VERBAL_ABUSE: N_("Shouting, insults or bullying"),
    Harm.THREATS: N_("Threats"),
    Harm.CORPORAL_PUNISHMENT: N_("Physical punishment"),
    Harm.UNDER_15: N_("Children under 15 work here"),
    Harm.UNDER_18_HAZARDOUS: N_("Under-18s do dangerous work"),
    Harm.NOT_ALLOWED_TO_LEAVE: N_("Workers are not allowed to leave"),
    Harm.DOCUMENTS_KEPT: N_("My passport or papers are kept"),
    Harm.DEBT: N_("I must work to pay a debt"),
    Harm.PUNISHED_FOR_UNION: N_("Punished for joining a union"),
    Harm.UNION_BLOCKED: N_("Stopped from joining or meeting"),
    Harm.UNPAID_WAGES: N_("Wages not paid or paid late"),
    Harm.RETALIATION: N_("Punished for speaking up"),
    Harm.PUNISHED_FOR_LEAVING_DANGER: N_("Punished for leaving a dangerous place"),
    Harm.EXITS_LOCKED: N_("Exits locked or blocked"),
    Harm.FIRE_RISK: N_("Fire risk"),
    Harm.BUILDING_CRACKS: N_("Cracks in the building"),
    Harm.INJURY: N_("Someone was injured"),
    Harm.NO_PROTECTIVE_EQUIPMENT: N_("No masks, gloves or safety gear"),
    Harm.CHEMICALS: N_("Dangerous chemicals"),
    Harm.HEAT: N_("Too hot to work"),
    Harm.TOILETS_WATER: N_("No toilets or drinking water"),
    Harm.FORCED_OVERTIME: N_("Forced overtime"),
    Harm.NO_DAY_OFF: N_("No weekly day off"),
    Harm.OTHER: N_("Something else"),
}
