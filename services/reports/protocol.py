"""The remediation protocol as data (DESIGN §5): categories, severity, states, transitions, deadlines.

The console draws its buttons from ``TRANSITIONS``; the services refuse anything not in it.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum


class Category(StrEnum):
    """Better Work's compliance clusters plus violence and harassment (ILO C190), in the order the
    report screen shows them: what workers report most and what is most urgent first (review B10),
    so harassment is never below the fold on a small phone."""

    HARASSMENT = "harassment"
    COMPENSATION = "compensation"
    SAFETY = "safety"
    WORKING_TIME = "working_time"
    FORCED_LABOUR = "forced_labour"
    CHILD_LABOUR = "child_labour"
    DISCRIMINATION = "discrimination"
    FREEDOM_OF_ASSOCIATION = "association"
    CONTRACTS = "contracts"
    DORMITORY = "dormitory"
    OTHER = "other"


class Harm(StrEnum):
    """The structured answer that most decides severity: what happened, in the worker's words' place."""

    SEXUAL_HARASSMENT = "sexual_harassment"
    PHYSICAL_VIOLENCE = "physical_violence"
    VERBAL_ABUSE = "verbal_abuse"
    THREATS = "threats"
    UNDER_15 = "under_15"
    UNDER_18_HAZARDOUS = "under_18_hazardous"
    NOT_ALLOWED_TO_LEAVE = "not_allowed_to_leave"
    DOCUMENTS_KEPT = "documents_kept"
    DEBT = "debt"
    PUNISHED_FOR_UNION = "punished_for_union"
    UNION_BLOCKED = "union_blocked"
    UNPAID_WAGES = "unpaid_wages"
    RETALIATION = "retaliation"
    CORPORAL_PUNISHMENT = "corporal_punishment"
    PUNISHED_FOR_LEAVING_DANGER = "punished_for_leaving_danger"
    # Safety and health: what workers report (the Rana Plaza and Tazreen issues first).
    EXITS_LOCKED = "exits_locked"
    BUILDING_CRACKS = "building_cracks"
    FIRE_RISK = "fire_risk"
    INJURY = "injury"
    NO_PROTECTIVE_EQUIPMENT = "no_protective_equipment"
    CHEMICALS = "chemicals"
    HEAT = "heat"
    TOILETS_WATER = "toilets_water"
    # Working time.
    FORCED_OVERTIME = "forced_overtime"
    NO_DAY_OFF = "no_day_off"
    OTHER = "other"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"


SEVERITY_ORDER = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.NORMAL: 2}

# Better Work's Zero Tolerance issues and imminent threats to life: always critical. (Sexual
# harassment without violence or danger is "other harassment": high.) A locked exit, cracks in the
# building and a fire risk are threats to life (DESIGN §5), not questions of comfort.
ZERO_TOLERANCE = {
    Harm.EXITS_LOCKED,
    Harm.BUILDING_CRACKS,
    Harm.FIRE_RISK,
    Harm.PHYSICAL_VIOLENCE,
    Harm.UNDER_15,
    Harm.UNDER_18_HAZARDOUS,
    Harm.NOT_ALLOWED_TO_LEAVE,
    Harm.CORPORAL_PUNISHMENT,
    Harm.PUNISHED_FOR_LEAVING_DANGER,
    Harm.PUNISHED_FOR_UNION,
}
HIGH_HARMS = {
    Harm.SEXUAL_HARASSMENT,
    Harm.VERBAL_ABUSE,
    Harm.THREATS,
    Harm.UNPAID_WAGES,
    Harm.RETALIATION,
    Harm.DOCUMENTS_KEPT,
    Harm.DEBT,
    Harm.UNION_BLOCKED,
    # Someone was already hurt, or is being exposed to harm: faster than "normal".
    Harm.INJURY,
    Harm.CHEMICALS,
    # Overtime under threat of a penalty is an ILO forced-labour indicator.
    Harm.FORCED_OVERTIME,
}


def severity_for(category: Category, harm: Harm | None, *, danger: bool) -> Severity:
    """Zero Tolerance issues, threats to life and anyone in danger now are critical; harassment,
    unpaid wages, retaliation, injuries, chemicals and forced overtime are high; the rest (missing
    protective equipment, heat, toilets and water, no day off, ...) is normal."""
    if danger or harm in ZERO_TOLERANCE:
        return Severity.CRITICAL
    if category in {Category.CHILD_LABOUR, Category.FORCED_LABOUR}:
        return Severity.CRITICAL
    if harm in HIGH_HARMS or category == Category.HARASSMENT:
        return Severity.HIGH
    return Severity.NORMAL


# The structured question per category: which harms a worker can choose from.
HARMS_BY_CATEGORY: dict[Category, tuple[Harm, ...]] = {
    Category.HARASSMENT: (
        Harm.SEXUAL_HARASSMENT,
        Harm.PHYSICAL_VIOLENCE,
        Harm.VERBAL_ABUSE,
        Harm.THREATS,
        Harm.CORPORAL_PUNISHMENT,
    ),
    Category.CHILD_LABOUR: (Harm.UNDER_15, Harm.UNDER_18_HAZARDOUS, Harm.OTHER),
    Category.FORCED_LABOUR: (
        Harm.NOT_ALLOWED_TO_LEAVE,
        Harm.DOCUMENTS_KEPT,
        Harm.DEBT,
        Harm.THREATS,
    ),
    Category.FREEDOM_OF_ASSOCIATION: (Harm.PUNISHED_FOR_UNION, Harm.UNION_BLOCKED, Harm.OTHER),
    Category.COMPENSATION: (Harm.UNPAID_WAGES, Harm.OTHER),
    Category.SAFETY: (
        Harm.EXITS_LOCKED,
        Harm.FIRE_RISK,
        Harm.BUILDING_CRACKS,
        Harm.INJURY,
        Harm.NO_PROTECTIVE_EQUIPMENT,
        Harm.CHEMICALS,
        Harm.HEAT,
        Harm.TOILETS_WATER,
        Harm.PUNISHED_FOR_LEAVING_DANGER,
        Harm.OTHER,
    ),
    Category.DISCRIMINATION: (Harm.RETALIATION, Harm.VERBAL_ABUSE, Harm.OTHER),
    Category.CONTRACTS: (Harm.DOCUMENTS_KEPT, Harm.OTHER),
    Category.WORKING_TIME: (Harm.FORCED_OVERTIME, Harm.NO_DAY_OFF, Harm.OTHER),
    Category.DORMITORY: (Harm.THREATS, Harm.OTHER),
    Category.OTHER: (Harm.OTHER,),
}


class State(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    TRIAGED = "triaged"
    INVESTIGATING = "investigating"
    REMEDIATION = "remediation"
    VERIFICATION = "verification"
    CLOSED = "closed"


class Outcome(StrEnum):
    RESOLVED = "resolved"
    UNSUBSTANTIATED = "unsubstantiated"
    WITHDRAWN = "withdrawn"
    REFERRED = "referred"


# Where a case may go from each state. Closing goes through ``close`` (four eyes may apply);
# reopening goes through ``reopen``: a staff decision, with a written reason, takes a closed case
# back to investigating (retaliation a worker reports at a check-in opens a new, linked case).
TRANSITIONS: dict[State, tuple[State, ...]] = {
    State.NEW: (State.ACKNOWLEDGED, State.CLOSED),
    State.ACKNOWLEDGED: (State.TRIAGED, State.CLOSED),
    State.TRIAGED: (State.INVESTIGATING, State.CLOSED),
    State.INVESTIGATING: (State.REMEDIATION, State.CLOSED),
    State.REMEDIATION: (State.VERIFICATION, State.INVESTIGATING, State.CLOSED),
    State.VERIFICATION: (State.CLOSED, State.REMEDIATION),
    State.CLOSED: (State.INVESTIGATING,),
}
REOPEN_TO = State.INVESTIGATING


class Referral(StrEnum):
    LABOUR_AUTHORITY = "labour_authority"
    UNION = "union"
    BRAND_ALERT = "brand_alert"
    OTHER_HOTLINE = "other_hotline"


# Calendar-hour deadlines from submission (DESIGN §5).
ACK_DEADLINE = {
    Severity.CRITICAL: timedelta(hours=24),
    Severity.HIGH: timedelta(hours=48),
    Severity.NORMAL: timedelta(days=5),
}
TRIAGE_DEADLINE = {
    Severity.CRITICAL: timedelta(hours=48),
    Severity.HIGH: timedelta(days=5),
    Severity.NORMAL: timedelta(days=10),
}
CRITICAL_FOLLOW_UP = timedelta(hours=72)
CHECKIN_OUTCOME = "outcome"  # "did this help you?"; the later check-ins ask about retaliation
CHECKINS = (
    (CHECKIN_OUTCOME, timedelta(days=1)),
    ("day30", timedelta(days=30)),
    ("day90", timedelta(days=90)),
)


class EventKind(StrEnum):
    """What one row of a case's history (``CaseEvent.kind``) records."""

    SUBMITTED = "submitted"
    TRANSITION = "transition"
    CLOSE_PROPOSED = "close_proposed"
    CLOSE_REJECTED = "close_rejected"
    CLOSED = "closed"
    RETALIATION_REPORTED = "retaliation_reported"
    ASSIGNED = "assigned"
    NOTE = "note"
    REFERRAL = "referral"
    MESSAGE_TO_REPORTER = "message_to_reporter"
    MESSAGE_FROM_REPORTER = "message_from_reporter"
    ESCALATED = "escalated"
    REOPENED = "reopened"


class Actor(StrEnum):
    """Who made a history row (``CaseEvent.actor``)."""

    STAFF = "staff"
    REPORTER = "reporter"
    SYSTEM = "system"


class TaskKind(StrEnum):
    """Scheduled work on a case (``CaseTask.kind``); check-ins are ``checkin_<kind>`` of ``CHECKINS``."""

    ACK_DEADLINE = "ack_deadline"
    TRIAGE_DEADLINE = "triage_deadline"
    FOLLOWUP_DEADLINE = "followup_deadline"
    CRITICAL_ALERT = "critical_alert"


CHECKIN_PREFIX = "checkin_"
# Why managers are alerted: a critical report arrived, or a deadline task's kind (``TaskKind``).
CRITICAL_ALERT_REASON = "critical"


def needs_second_person(severity: Severity, outcome: Outcome, *, from_state: State) -> bool:
    """Four eyes (DESIGN §5, review M9): a critical or high case (harassment, unpaid wages,
    retaliation), a case closed from New (before anyone acknowledged it), or any case closed as
    unsubstantiated. A closing that needs a second person also needs a written reason, so the
    second person knows what they confirm."""
    return (
        severity in {Severity.CRITICAL, Severity.HIGH}
        or outcome == Outcome.UNSUBSTANTIATED
        or from_state == State.NEW
    )


def needs_reason(severity: Severity, outcome: Outcome, *, from_state: State) -> bool:
    """A written reason goes with every closing a second person must confirm."""
    return needs_second_person(severity, outcome, from_state=from_state)
