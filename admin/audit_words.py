"""The audit log in words: what each recorded action means and what its details say.

Actions are stored as keys ("case.view", "committee.meeting_cancel"); staff read "Viewed a case".
A key without words here (a new action) still reads as words: its parts, spaced.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.i18n import N_, gettext
from services.labels import AUDIT_ACTIONS, label

ACTIONS = AUDIT_ACTIONS  # one table of words per audit action (services.labels)

# What a detail is called; values are ids, counts, dates or stored keys (never a worker's words).
DETAILS: dict[str, str] = {
    "to": N_("to"),
    "to_staff": N_("to staff member"),
    "outcome": N_("outcome"),
    "confirmed": N_("confirmed by a second person"),
    "worker_named": N_("worker named"),
    "evidence": N_("evidence item"),
    "count": N_("number"),
    "imported": N_("imported"),
    "failures": N_("failed attempts"),
    "role": N_("role"),
    "countries": N_("countries"),
    "languages": N_("languages"),
    "version": N_("version"),
    "reason": N_("reason"),
    "minutes": N_("minutes"),
    "queued": N_("queued"),
    "send_at": N_("send at"),
    "starts_at": N_("starts"),
    "withdrawn": N_("withdrawn"),
    "active": N_("active"),
    "meeting_id": N_("meeting"),
    "member_id": N_("member"),
    "action_id": N_("action item"),
    "invite_id": N_("invitation"),
    "meetings": N_("meetings"),
    "rrule": N_("repeat rule"),
    "ambiguous": N_("times that happen twice"),
    "day": N_("day"),
    "filter_since": N_("from"),
    "filter_until": N_("until"),
    "filter_action": N_("action"),
    "filter_actor": N_("staff e-mail"),
    "key": N_("key"),
    "code": N_("code"),
    "status_code": N_("answer"),
    "locale": N_("language"),
    "domain": N_("catalog"),
    "msgid": N_("English"),
    "before": N_("before"),
    "after": N_("after"),
    "note": N_("note"),
    "was_languages": N_("languages before"),
    "seconds": N_("seconds"),
    "bytes": N_("bytes"),
}
OBJECTS: dict[str, str] = {
    "case": N_("case"),
    "staff": N_("staff member"),
    "factory": N_("factory"),
    "survey": N_("survey"),
    "wave": N_("survey wave"),
    "broadcast": N_("broadcast"),
    "topic": N_("topic"),
    "committee": N_("committee"),
    "translation": N_("translation"),
    "audio": N_("recording"),
}


def _spaced(key: str) -> str:
    return key.replace("_", " ").replace(".", ": ", 1)


def action_words(action: str) -> str:
    words = ACTIONS.get(action)
    return gettext(words) if words else _spaced(action).capitalize()


def object_words(object_type: str | None, object_id: str | None) -> str:
    if not object_type:
        return ""
    words = OBJECTS.get(object_type)
    name = gettext(words) if words else _spaced(object_type)
    return f"{name} {object_id}" if object_id else name


def _value(value: Any, emails: Mapping[int, str]) -> str:
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, list | tuple):
        return ", ".join(_value(v, emails) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_value(v, emails)}" for k, v in value.items())
    if value is None or value == "":
        return "—"
    return label(value) if isinstance(value, str) else str(value)


def detail_words(detail: Mapping[str, Any] | None, emails: Mapping[int, str]) -> str:
    """ "to: triaged · outcome: remedied", each detail named in words, staff ids as e-mails."""
    parts = []
    for key, value in (detail or {}).items():
        name = DETAILS.get(key)
        shown = (
            emails.get(value, str(value))
            if key == "to_staff" and isinstance(value, int)
            else _value(value, emails)
        )
        parts.append(f"{gettext(name) if name else _spaced(key)}: {shown}")
    return " · ".join(parts)


def staff_ids(details: list[Mapping[str, Any] | None]) -> set[int]:
    return {d["to_staff"] for d in details if d and isinstance(d.get("to_staff"), int)}
