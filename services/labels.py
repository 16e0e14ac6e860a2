"""Human words, in the reader's language, for the values the domain stores as keys (states,
severities, categories, harms, outcomes, referral bodies, roles, sides, weekdays, age bands).

The console shows them through the ``label`` template filter; the bot's flows use the same words,
so a worker and a case handler read the same thing. Each enum registers its words once here with
``register``; words a worker also reads live beside their domain (``services.reports.labels``,
``services.demographics``: catalogs every worker language has), the words only staff read are
here (the console's catalog). An unregistered value falls back to a readable form of its key, and
a test checks that every value the console can show has words.

The database keeps these values as plain strings, so ``label`` also takes a string: it finds the
enum that has such a value (``label(case.state)``); a template that shows a value several enums
share with different words names the kind (``{{ member.gender | label("gender") }}``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, TypeVar

from babel import Locale, UnknownLocaleError

from bot.i18n import N_, current_locale, gettext
from bot.i18n.languages import LANGUAGES
from bot.storage.models import Gender, StaffRole
from services.broadcasts.messages import BroadcastStatus
from services.committees.members import (
    ActionStatus,
    Kind,
    MeetingStatus,
    MemberStatus,
    Role,
    Rsvp,
    Side,
)
from services.committees.schedule import Weekday
from services.demographics import AGE_WORDS, GENDER_WORDS
from services.errors import use_value_words
from services.helplines import FALLBACK_LABELS, HelplineKind
from services.onboarding import AgeBand
from services.reports.labels import CATEGORY_WORDS, HARM_WORDS
from services.reports.protocol import (
    Actor,
    Category,
    EventKind,
    Harm,
    Outcome,
    Referral,
    Severity,
    State,
)
from services.surveys.definition import QuestionType
from services.surveys.waves import Repeat, WaveStatus

E = TypeVar("E", bound=Enum)

_WORDS: dict[type[Enum], Mapping[Any, str]] = {}
_NAMES: dict[str, type[Enum]] = {}
# A stored string -> the registered enums that have it as a value, in the order registered.
_BY_VALUE: dict[str, list[type[Enum]]] = {}
# Values several enums share with different words, shown without a kind: a neutral word.
_SHARED: dict[str, str] = {"other": N_("Other")}


def register(kind: type[E], words: Mapping[E, str], *, name: str | None = None) -> None:
    """``words``: each member's English label, marked with ``N_`` for extraction. ``name`` is how
    a template names the kind for a value several enums share (``label("gender")``)."""
    _WORDS[kind] = words
    if name is not None:
        _NAMES[name] = kind
    for member in words:
        owners = _BY_VALUE.setdefault(str(member.value), [])
        if kind not in owners:
            owners.append(kind)


def registered() -> dict[type[Enum], Mapping[Any, str]]:
    return dict(_WORDS)


def has_words(value: Enum) -> bool:
    return value in _WORDS.get(type(value), {})


def _kind_of(kind: type[Enum] | str | None) -> type[Enum] | None:
    if kind is None or isinstance(kind, type):
        return kind
    return _NAMES[kind]


def msgid_for(value: object, kind: type[Enum] | str | None = None) -> str | None:
    """The English words (the msgid) for ``value``, or ``None`` when no registered enum has it."""
    wanted = _kind_of(kind)
    if isinstance(value, Enum) and wanted is None:
        return _WORDS.get(type(value), {}).get(value)
    key = str(value.value if isinstance(value, Enum) else value)
    owners = [wanted] if wanted is not None else _BY_VALUE.get(key, [])
    found = {
        _WORDS[owner][member]
        for owner in owners
        for member in _WORDS.get(owner, {})
        if member.value == key
    }
    if len(found) == 1:
        return found.pop()
    if found:
        return _SHARED.get(key, _WORDS[owners[0]][owners[0](key)])
    return None


def label(value: object, kind: type[Enum] | str | None = None, *, locale: str | None = None) -> str:
    """The words for ``value`` (an enum member or its stored string) in ``locale``, the current
    one by default; ``kind`` (the enum or its registered name) when several enums share it."""
    if value is None or value == "":
        return "—"
    words = msgid_for(value, kind)
    if words is not None:
        return gettext(words, locale=locale)
    raw = value.value if isinstance(value, Enum) else value
    return str(raw).replace("_", " ")


# -- words only staff read (the console's catalog) -------------------------------------------------

register(
    State,
    {
        State.NEW: N_("New"),
        State.ACKNOWLEDGED: N_("Acknowledged"),
        State.TRIAGED: N_("Triaged"),
        State.INVESTIGATING: N_("Investigating"),
        State.REMEDIATION: N_("Remediation"),
        State.VERIFICATION: N_("Verification"),
        State.CLOSED: N_("Closed"),
    },
    name="state",
)
register(
    Severity,
    {Severity.CRITICAL: N_("Critical"), Severity.HIGH: N_("High"), Severity.NORMAL: N_("Normal")},
    name="severity",
)
register(Category, CATEGORY_WORDS, name="category")
register(Harm, HARM_WORDS, name="harm")
register(
    Outcome,
    {
        Outcome.RESOLVED: N_("Resolved"),
        Outcome.UNSUBSTANTIATED: N_("Not substantiated"),
        Outcome.WITHDRAWN: N_("Withdrawn by the worker"),
        Outcome.REFERRED: N_("Referred to another body"),
    },
    name="outcome",
)
register(
    Referral,
    {
        Referral.LABOUR_AUTHORITY: N_("Labour authority"),
        Referral.UNION: N_("Trade union"),
        Referral.BRAND_ALERT: N_("Alert to the brand"),
        Referral.OTHER_HOTLINE: N_("Another helpline"),
    },
    name="referral",
)
register(
    StaffRole,
    {
        StaffRole.ADMIN: N_("Administrator"),
        StaffRole.COUNTRY_MANAGER: N_("Country manager"),
        StaffRole.CASE_HANDLER: N_("Case handler"),
        StaffRole.ANALYST: N_("Analyst"),
        StaffRole.ORGANISER: N_("Organiser"),
        StaffRole.TRANSLATOR: N_("Translator"),
    },
    name="staff_role",
)
register(
    EventKind,
    {
        EventKind.SUBMITTED: N_("Report sent"),
        EventKind.TRANSITION: N_("Moved to another step"),
        EventKind.CLOSE_PROPOSED: N_("Closing proposed"),
        EventKind.CLOSE_REJECTED: N_("Closing refused"),
        EventKind.CLOSED: N_("Closed"),
        EventKind.REOPENED: N_("Reopened"),
        EventKind.RETALIATION_REPORTED: N_("Retaliation reported"),
        EventKind.ASSIGNED: N_("Assigned"),
        EventKind.NOTE: N_("Internal note"),
        EventKind.REFERRAL: N_("Referred"),
        EventKind.MESSAGE_TO_REPORTER: N_("Message to the worker"),
        EventKind.MESSAGE_FROM_REPORTER: N_("Message from the worker"),
        EventKind.ESCALATED: N_("Escalated to managers"),
    },
    name="event",
)
register(
    Actor,
    {Actor.STAFF: N_("Staff"), Actor.REPORTER: N_("The worker"), Actor.SYSTEM: N_("system")},
    name="actor",
)
register(
    Kind,
    {
        Kind.PICC: N_("PICC (performance improvement consultative committee)"),
        Kind.PC: N_("Participation committee"),
        Kind.SAFETY: N_("Safety committee"),
        Kind.LKS: N_("LKS Bipartit (bipartite cooperation body)"),
        Kind.OSH: N_("Occupational safety and health committee"),
        Kind.OTHER: N_("Other committee"),
    },
    name="committee_kind",
)
register(
    Side, {Side.WORKER: N_("Workers' side"), Side.MANAGEMENT: N_("Management side")}, name="side"
)
register(
    Role,
    {Role.CHAIR: N_("Chair"), Role.SECRETARY: N_("Secretary"), Role.MEMBER: N_("Member")},
    name="committee_role",
)
register(
    MemberStatus,
    {
        MemberStatus.PENDING: N_("Waiting for approval"),
        MemberStatus.ACTIVE: N_("Active"),
        MemberStatus.LEFT: N_("Left"),
    },
    name="member_status",
)
register(
    MeetingStatus,
    {
        MeetingStatus.PLANNED: N_("Planned"),
        MeetingStatus.CANCELLED: N_("Cancelled"),
        MeetingStatus.HELD: N_("Held"),
    },
    name="meeting_status",
)
register(
    Rsvp,
    {Rsvp.YES: N_("Coming"), Rsvp.NO: N_("Not coming"), Rsvp.MAYBE: N_("Maybe")},
    name="rsvp",
)
register(
    ActionStatus,
    {ActionStatus.OPEN: N_("Open"), ActionStatus.DONE: N_("Done")},
    name="action_status",
)
register(
    Weekday,
    {
        Weekday.MO: N_("Monday"),
        Weekday.TU: N_("Tuesday"),
        Weekday.WE: N_("Wednesday"),
        Weekday.TH: N_("Thursday"),
        Weekday.FR: N_("Friday"),
        Weekday.SA: N_("Saturday"),
        Weekday.SU: N_("Sunday"),
    },
    name="weekday",
)
register(AgeBand, AGE_WORDS, name="age_band")
register(Gender, GENDER_WORDS, name="gender")
register(
    QuestionType,
    {
        # The survey builder's words for the same types (admin/surveys/common.py).
        QuestionType.SINGLE: N_("single choice"),
        QuestionType.MULTI: N_("multiple choice"),
        QuestionType.SCALE: N_("scale 1–5"),
        QuestionType.YESNO: N_("yes / no"),
        QuestionType.NUMBER: N_("number"),
        QuestionType.TEXT: N_("short text"),
    },
    name="question_type",
)
register(
    WaveStatus,
    {
        WaveStatus.SCHEDULED: N_("Scheduled"),
        WaveStatus.OPEN: N_("Open"),
        WaveStatus.CLOSED: N_("Closed"),
        WaveStatus.CANCELLED: N_("Cancelled"),
    },
    name="wave_status",
)
register(
    Repeat,
    {
        Repeat.NONE: N_("Once"),
        Repeat.MONTHLY: N_("Every month"),
        Repeat.QUARTERLY: N_("Every three months"),
    },
    name="repeat",
)
register(
    BroadcastStatus,
    {
        BroadcastStatus.DRAFT: N_("Draft"),
        BroadcastStatus.SCHEDULED: N_("Scheduled"),
        BroadcastStatus.SENDING: N_("Sending"),
        BroadcastStatus.SENT: N_("Sent"),
        BroadcastStatus.CANCELLED: N_("Cancelled"),
    },
    name="broadcast_status",
)
register(HelplineKind, FALLBACK_LABELS, name="helpline_kind")


# -- keys that are not enums -----------------------------------------------------------------------


def language_name(code: object) -> str:
    """A worker or staff language code as its own name ("বাংলা"): read the same in any console
    language, as the language menus show it."""
    if not code:
        return "—"
    lang = LANGUAGES.get(str(code))
    return lang.native_name if lang is not None else str(code)


# Babel has no Haitian Creole names; Haitian staff read French ones.
_NAMES_FALLBACK = {"ht": "fr"}


def country_name(code: object, *, locale: str | None = None) -> str:
    """An ISO country code as the country's name in the reader's language (Babel's CLDR data)."""
    if not code:
        return "—"
    key = str(code).upper()
    wanted = locale or current_locale()
    for candidate in (wanted, _NAMES_FALLBACK.get(wanted, "en"), "en"):
        try:
            name = Locale.parse(candidate).territories.get(key)
        except (UnknownLocaleError, ValueError):
            continue
        if name:
            return str(name)
    return key


# What a staff member did, for the audit log (``services.audit.record``'s ``action``).
AUDIT_ACTIONS: dict[str, str] = {
    "login.ok": N_("Signed in"),
    "login.failed": N_("Sign-in refused: wrong password"),
    "login.paused": N_("Sign-in paused after many attempts"),
    "login.totp_failed": N_("Sign-in refused: wrong code"),
    "login.totp_paused": N_("Code entry paused after many attempts"),
    "login.totp_locked": N_("Code entry locked"),
    "totp.enrolled": N_("Set up the second factor"),
    "staff.invited": N_("Invited a staff member"),
    "staff.invite_resent": N_("Made a new invitation link"),
    "staff.password_reset": N_("Reset a staff member's password"),
    "staff.renamed": N_("Changed their name"),
    "staff.role_changed": N_("Changed a staff member's role or countries"),
    "staff.languages_changed": N_("Changed the languages a staff member reviews"),
    "translation.approved": N_("Approved a translation"),
    "translation.changed": N_("Changed a translation"),
    "audio.upload": N_("Uploaded a recording"),
    "audio.replace": N_("Replaced a recording"),
    "audio.delete": N_("Deleted a recording"),
    "staff.totp_reset": N_("Reset a staff member's second factor"),
    "case.reopen": N_("Reopened a case"),
    "case.counts.export": N_("Downloaded report numbers"),
    "staff.invite_accepted": N_("Accepted an invitation"),
    "staff.password_changed": N_("Changed their password"),
    "staff.activated": N_("Re-activated a staff account"),
    "staff.deactivated": N_("Deactivated a staff account"),
    "staff.telegram_link_started": N_("Started linking Telegram alerts"),
    "staff.telegram_linked": N_("Linked Telegram alerts"),
    "staff.telegram_unlinked": N_("Stopped Telegram alerts"),
    "case.queue": N_("Opened the case queue"),
    "case.view": N_("Viewed a case"),
    "case.evidence": N_("Opened a case's evidence"),
    "case.transition": N_("Moved a case to another state"),
    "case.close_proposed": N_("Proposed to close a case"),
    "case.close_rejected": N_("Refused a proposed closing"),
    "case.close": N_("Closed a case"),
    "case.assign": N_("Assigned a case"),
    "case.note": N_("Wrote an internal note"),
    "case.refer": N_("Referred a case"),
    "case.message": N_("Wrote to the worker"),
    "factory.save": N_("Saved a factory"),
    "factory.import": N_("Imported factories"),
    "survey.create": N_("Created a survey"),
    "survey.edit": N_("Edited a survey"),
    "survey.publish": N_("Published a survey"),
    "wave.create": N_("Planned a survey wave"),
    "wave.cancel": N_("Cancelled or closed a survey wave"),
    "wave.close_the_loop": N_("Sent results to respondents"),
    "survey.results.view": N_("Viewed survey results"),
    "survey.results.export": N_("Downloaded survey results"),
    "broadcast.create": N_("Wrote a broadcast"),
    "broadcast.update": N_("Edited a broadcast"),
    "broadcast.schedule": N_("Sent or planned a broadcast"),
    "broadcast.delete": N_("Deleted a broadcast draft"),
    "broadcast.cancel": N_("Stopped a broadcast"),
    "topic.create": N_("Created a topic"),
    "topic.update": N_("Edited a topic"),
    "committee.view": N_("Viewed a committee"),
    "committee.create": N_("Created a committee"),
    "committee.member_add": N_("Added a committee member"),
    "committee.member_update": N_("Changed a committee member"),
    "committee.member_approve": N_("Approved a committee member"),
    "committee.member_refuse": N_("Refused a request to join a committee"),
    "committee.member_remove": N_("Removed a committee member"),
    "committee.invite": N_("Made a committee invitation code"),
    "committee.schedule": N_("Set a committee's schedule"),
    "committee.names": N_("Named a committee in workers' languages"),
    "committee.meeting_add": N_("Added a committee meeting"),
    "committee.meeting_cancel": N_("Cancelled a committee meeting"),
    "committee.meeting_move": N_("Moved a committee meeting"),
    "committee.holiday": N_("Marked a factory holiday"),
    "committee.attendance": N_("Recorded attendance"),
    "committee.minutes": N_("Posted minutes"),
    "committee.action_add": N_("Added an action item"),
    "committee.action_done": N_("Marked an action item as done"),
    "audit.export": N_("Downloaded the audit log"),
    "logout": N_("Signed out"),
    "helpline.save": N_("Saved a helpline"),
    "helpline.remove": N_("Removed a helpline"),
}


def audit_action(action: object) -> str:
    """Words for an audit action; an action without words yet shows its key, never nothing."""
    key = str(action or "")
    words = AUDIT_ACTIONS.get(key)
    return gettext(words) if words is not None else key


def template_filters() -> dict[str, Callable[..., str]]:
    """The console's Jinja filters for stored keys."""
    return {
        "label": label,
        "language_name": language_name,
        "country_name": country_name,
        "audit_action": audit_action,
    }


# A refusal that names a stored key ("A case that is triaged cannot move to closed") says it in words.
use_value_words(label)
