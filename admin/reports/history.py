"""A case's history as staff read it: one sentence per event with the acting person's name, in the
staff member's language and the case's local time; the conversation with the worker and the
internal notes apart, so nobody mistakes a note for what the worker reads (review M4, M5).

Nothing here prints a stored key, an id or a sealed value: the sealed copies a message carries for
the reporter (``to_reporter``, ``for_reporter``) stay in the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, dates
from babel.units import format_unit

from bot.i18n import N_, current_locale, gettext
from bot.storage.reports import Case, CaseEvent
from services.labels import label
from services.reports.protocol import (
    CRITICAL_ALERT_REASON,
    Actor,
    EventKind,
    Outcome,
    Referral,
    State,
    TaskKind,
)

# What the system did when a deadline passed or a critical report came in (``ESCALATED.reason``).
ESCALATIONS = {
    CRITICAL_ALERT_REASON: N_("System: a critical report came in; managers were alerted."),
    TaskKind.ACK_DEADLINE: N_(
        "System: the acknowledgement deadline passed; managers were alerted."
    ),
    TaskKind.TRIAGE_DEADLINE: N_("System: the triage deadline passed; managers were alerted."),
    TaskKind.FOLLOWUP_DEADLINE: N_("System: the follow-up deadline passed; managers were alerted."),
}
FILE_SENT = {
    "voice": N_("The worker sent a voice note."),
    "photo": N_("The worker sent a photo."),
    "document": N_("The worker sent a document."),
}


@dataclass(frozen=True)
class Entry:
    """One history row as shown: when, the sentence, the text that goes with it (opened)."""

    id: int
    at: str
    sentence: str
    text: str | None
    kind: str
    by_worker: bool = False
    evidence_id: int | None = None
    linked_case: int | None = None


def zone_for(tz_name: str | None) -> ZoneInfo:
    """The zone a case's times are shown in: the factory's (else the country's, else UTC).

    Staff carry no time zone of their own yet; when they do, theirs comes first here."""
    try:
        return ZoneInfo(tz_name) if tz_name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(value: datetime, zone: ZoneInfo, *, locale: str | None = None) -> str:
    """A moment as the staff member's language writes it, at the zone's wall-clock time, with the
    zone's city so nobody takes it for their own: "Dec 4, 2026, 7:50 PM (Dhaka)"."""
    loc = Locale.parse(locale or current_locale())
    local = value.astimezone(zone)
    pattern = str(dates.get_datetime_format("medium", locale=loc)).replace("'", "")
    text = pattern.replace("{0}", dates.format_time(local, "short", locale=loc)).replace(
        "{1}", dates.format_date(local, "medium", locale=loc)
    )
    city = dates.get_timezone_location(zone, locale=loc, return_city=True)
    return f"{text} ({city})"


def file_size(size: int, *, locale: str | None = None) -> str:
    """A file's size in kB or MB, written the staff member's way ("1.2 MB", "١٫٢ م.ب")."""
    loc = Locale.parse(locale or current_locale())
    if size >= 1024 * 1024:
        return format_unit(
            size / (1024 * 1024), "digital-megabyte", length="short", format="#,##0.0", locale=loc
        )
    return format_unit(
        max(1, round(size / 1024)), "digital-kilobyte", length="short", format="#,##0", locale=loc
    )


def _enum_label(kind: type[State] | type[Outcome] | type[Referral], value: object) -> str:
    try:
        return label(kind(str(value)))
    except ValueError:
        return label(value)


def sentence(event: CaseEvent, names: dict[int, str]) -> str:
    """What happened, in one sentence with the acting person's name."""
    detail = event.detail or {}
    who = (
        names.get(event.actor_staff_id, gettext("A staff member"))
        if event.actor_staff_id is not None
        else gettext("A staff member")
    )
    kind = event.kind
    if kind == EventKind.SUBMITTED:
        if detail.get("retaliation_after"):
            return gettext(
                "The worker reported retaliation after case {case} was closed.",
                case=detail["retaliation_after"],
            )
        return gettext("The worker sent the report.")
    if kind == EventKind.TRANSITION:
        if event.to_state == State.ACKNOWLEDGED:
            return gettext("{who} acknowledged the report.", who=who)
        if event.to_state == State.TRIAGED:
            return gettext("{who} triaged the case.", who=who)
        return gettext(
            "{who} moved the case from {before} to {after}.",
            who=who,
            before=_enum_label(State, event.from_state),
            after=_enum_label(State, event.to_state),
        )
    if kind == EventKind.CLOSE_PROPOSED:
        return gettext(
            "{who} proposed closing the case as {outcome}; a second person must confirm.",
            who=who,
            outcome=_enum_label(Outcome, detail.get("outcome")),
        )
    if kind == EventKind.CLOSE_REJECTED:
        return gettext("{who} did not confirm the closing; the case stays open.", who=who)
    if kind == EventKind.CLOSED:
        outcome = _enum_label(Outcome, detail.get("outcome"))
        if detail.get("confirmed"):
            return gettext(
                "{who} confirmed the closing: the case is closed as {outcome}.",
                who=who,
                outcome=outcome,
            )
        return gettext("{who} closed the case as {outcome}.", who=who, outcome=outcome)
    if kind == EventKind.REOPENED:
        return gettext("{who} reopened the case.", who=who)
    if kind == EventKind.RETALIATION_REPORTED:
        return gettext(
            "The worker reported retaliation; it is followed up as case {case}.",
            case=detail.get("linked_case", "?"),
        )
    if kind == EventKind.ASSIGNED:
        to_staff = detail.get("to_staff")
        if to_staff is None:
            return gettext("{who} left the case unassigned.", who=who)
        if to_staff == event.actor_staff_id:
            return gettext("{who} took the case.", who=who)
        whom = names.get(to_staff, gettext("a staff member"))
        return gettext("{who} assigned the case to {whom}.", who=who, whom=whom)
    if kind == EventKind.NOTE:
        return gettext("{who} wrote an internal note.", who=who)
    if kind == EventKind.REFERRAL:
        body = _enum_label(Referral, detail.get("to"))
        if detail.get("worker_named"):
            return gettext(
                "{who} referred the case to {body}, naming the worker (they consented).",
                who=who,
                body=body,
            )
        return gettext(
            "{who} referred the case to {body}, without naming the worker.", who=who, body=body
        )
    if kind == EventKind.MESSAGE_TO_REPORTER:
        return gettext("{who} wrote to the worker.", who=who)
    if kind == EventKind.MESSAGE_FROM_REPORTER:
        sent = FILE_SENT.get(detail.get("file") or "")
        return gettext(sent) if sent else gettext("The worker replied.")
    if kind == EventKind.ESCALATED:
        reason = ESCALATIONS.get(detail.get("reason") or "")
        return gettext(reason) if reason else gettext("System: managers were alerted.")
    # A kind this page does not know yet (a newer server wrote it): say who, never the raw data.
    if event.actor == Actor.SYSTEM:
        return gettext("System: the case was updated.")
    if event.actor == Actor.REPORTER:
        return gettext("The worker updated the case.")
    return gettext("{who} updated the case.", who=who)


def staff_ids(case: Case, events: list[CaseEvent]) -> set[int]:
    """Every staff member a case page names: actors, assignees, the proposer of a closing."""
    ids = {e.actor_staff_id for e in events if e.actor_staff_id is not None}
    ids |= {
        e.detail["to_staff"]
        for e in events
        if e.kind == EventKind.ASSIGNED and isinstance((e.detail or {}).get("to_staff"), int)
    }
    if case.assigned_staff_id is not None:
        ids.add(case.assigned_staff_id)
    if case.pending_close:
        ids.add(int(case.pending_close["proposed_by"]))
    return ids


def entries(opened: list[dict[str, object]], names: dict[int, str], zone: ZoneInfo) -> list[Entry]:
    out = []
    for item in opened:
        event = item["event"]
        assert isinstance(event, CaseEvent)
        text = item["text"]
        detail = event.detail or {}
        out.append(
            Entry(
                id=event.id,
                at=local_time(event.at, zone),
                sentence=sentence(event, names),
                text=text if isinstance(text, str) else None,
                kind=event.kind,
                by_worker=event.actor == Actor.REPORTER,
                evidence_id=detail.get("evidence"),
                linked_case=detail.get("linked_case") or detail.get("retaliation_after"),
            )
        )
    return out


def conversation(history: list[Entry]) -> list[Entry]:
    """What the worker and the handlers wrote to each other: the worker reads all of it."""
    talk = {EventKind.MESSAGE_TO_REPORTER, EventKind.MESSAGE_FROM_REPORTER}
    return [e for e in history if e.kind in talk]


def notes(history: list[Entry]) -> list[Entry]:
    """Internal notes: staff only."""
    return [e for e in history if e.kind == EventKind.NOTE]


def proposal_reason(history: list[Entry]) -> str | None:
    """The reason written with the latest proposal to close."""
    for entry in reversed(history):
        if entry.kind == EventKind.CLOSE_PROPOSED:
            return entry.text
    return None
