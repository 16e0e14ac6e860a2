"""The committee page's forms (pydantic models read by ``admin.forms``) and the schedule in words.

A committee's schedule is stored as an RRULE; staff read it as "Every month on the first Tuesday
at 14:00" and the schedule form opens filled with it (first day, weekday, time), so saving it
again without a change keeps it as it is.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from admin.forms import FieldRefused
from bot.i18n import N_, gettext, is_rtl
from bot.i18n.languages import LANGUAGES
from bot.storage.committees import Committee
from bot.storage.models import Gender
from services.clock import to_utc, utcnow
from services.committees.members import DEFAULT_OFFSETS, Kind, Role, Side, zone
from services.committees.schedule import WEEKDAYS, parse_local
from services.errors import DomainError
from services.labels import label

WEEKDAY_WORDS = {
    "MO": N_("Monday"),
    "TU": N_("Tuesday"),
    "WE": N_("Wednesday"),
    "TH": N_("Thursday"),
    "FR": N_("Friday"),
    "SA": N_("Saturday"),
    "SU": N_("Sunday"),
}
ORDINAL_WORDS = {
    1: N_("first"),
    2: N_("second"),
    3: N_("third"),
    4: N_("fourth"),
    -1: N_("last"),
    0: N_("every"),
}
FREQ_WORDS = {"monthly": N_("monthly"), "weekly": N_("weekly")}


def words(kind: type[Enum], value: str | None) -> str:
    """A stored key of ``kind`` in the reader's words ("—" when empty)."""
    if not value:
        return "—"
    try:
        return label(kind(value))
    except ValueError:  # a key no longer in the enum: still readable
        return label(value)


def weekday_options() -> list[tuple[str, str]]:
    return [(code, gettext(WEEKDAY_WORDS[code])) for code in WEEKDAYS]


def ordinal_options() -> list[tuple[int, str]]:
    return [(n, gettext(word)) for n, word in ORDINAL_WORDS.items()]


def freq_options() -> list[tuple[str, str]]:
    return [(key, gettext(word)) for key, word in FREQ_WORDS.items()]


def enum_options(kind: type[Enum]) -> list[tuple[str, str]]:
    return [(str(member.value), label(member)) for member in kind]


# --- the schedule, read back --------------------------------------------------------------


def simple_parts(rule: str | None) -> dict[str, Any] | None:
    """The simple form's choices that give ``rule`` (see ``schedule.friendly_rrule``), or
    ``None`` for a rule only the RRULE field can say."""
    if not rule:
        return None
    parts: dict[str, str] = {}
    for piece in rule.removeprefix("RRULE:").split(";"):
        key, sep, value = piece.partition("=")
        if not sep or key.upper() in parts:
            return None
        parts[key.upper()] = value.upper()
    if set(parts) - {"FREQ", "INTERVAL", "BYDAY"} or parts.get("FREQ") not in {
        "WEEKLY",
        "MONTHLY",
    }:
        return None
    freq, byday = parts["FREQ"].lower(), parts.get("BYDAY", "")
    weekday, number = byday[-2:], byday[:-2]
    interval = parts.get("INTERVAL", "1")
    if weekday not in WEEKDAYS or not interval.isdigit() or not 1 <= int(interval) <= 12:
        return None
    if number and (freq == "weekly" or number not in {"1", "2", "3", "4", "-1"}):
        return None
    return {
        "freq": freq,
        "weekday": weekday,
        "ordinal": int(number or 0),
        "interval": int(interval),
    }


def schedule_words(rule: str | None, at: str) -> str:
    """The schedule as staff say it: "Every month on the first Tuesday at 14:00"."""
    parts = simple_parts(rule)
    if parts is None:
        return gettext("A custom repeat rule: {rule}", rule=rule or "")
    day = gettext(WEEKDAY_WORDS[parts["weekday"]])
    n, which = parts["interval"], parts["ordinal"]
    if parts["freq"] == "weekly" or which == 0:
        if n == 1:
            return gettext("Every {weekday} at {time}", weekday=day, time=at)
        unit = gettext("weeks") if parts["freq"] == "weekly" else gettext("months")
        return gettext(
            "Every {weekday}, every {n} {unit}, at {time}", weekday=day, n=n, unit=unit, time=at
        )
    ordinal = gettext(ORDINAL_WORDS[which])
    if n == 1:
        return gettext(
            "Every month on the {which} {weekday} at {time}", which=ordinal, weekday=day, time=at
        )
    return gettext(
        "Every {n} months on the {which} {weekday} at {time}",
        n=n,
        which=ordinal,
        weekday=day,
        time=at,
    )


def schedule_values(committee: Committee) -> dict[str, Any]:
    """The schedule form filled with the committee's current schedule (or sensible defaults)."""
    start = committee.local_start or ""
    parts = simple_parts(committee.rrule)
    hours = ", ".join(f"{o / 60:g}" for o in committee.reminder_offsets or DEFAULT_OFFSETS)
    return {
        "mode": "raw" if committee.rrule and parts is None else "simple",
        "freq": "monthly",
        "interval": 1,
        "ordinal": 1,
        "weekday": "TU",
        **(parts or {}),
        "rrule": committee.rrule or "",
        "first_day": start[:10],
        "at": start[11:16] or "14:00",
        "location": committee.location,
        "offsets": hours,
        "quorum": round(committee.quorum * 100),
    }


# --- the forms ----------------------------------------------------------------------------

PAST = N_("This time has already passed. Please choose a later day or time.")


def future_start(committee: Committee, starts: str) -> str:
    """A typed local start, refused next to its field when it cannot be a new meeting time."""
    if not starts:
        raise FieldRefused("starts", N_("Please fill this in."))
    try:
        local = parse_local(starts)
        moment = to_utc(local, zone(committee))
    except DomainError as exc:
        raise FieldRefused.about("starts", exc) from None
    if moment <= utcnow():
        raise FieldRefused("starts", PAST)
    return starts


Name = Field(min_length=1, max_length=120)
Place = Field(default="", max_length=200)


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class Stripped(BaseModel):
    @field_validator("*", mode="before")
    @classmethod
    def strip(cls, value: Any) -> Any:
        return _stripped(value)


class CommitteeForm(Stripped):
    factory_id: int
    kind: Kind
    name: str = Field(min_length=1, max_length=200)
    default_locale: str = Field(default="en", max_length=8)


class NamesForm(BaseModel):
    """The committee's name and usual place per language: fields ``name:<code>``, ``place:<code>``
    (one pair per language, as topic names are typed)."""

    default_locale: str = Field(max_length=8)
    names: dict[str, str] = Field(default_factory=dict)
    places: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def per_language(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values

        def typed(prefix: str) -> dict[str, str]:
            found = {code: values.get(f"{prefix}:{code}") for code in LANGUAGES}
            return {code: text.strip() for code, text in found.items() if isinstance(text, str)}

        return {
            "default_locale": values.get("default_locale", ""),
            "names": typed("name"),
            "places": typed("place"),
        }


def name_languages(committee: Committee) -> list[tuple[str, str, bool]]:
    """(code, name in its own script, right to left) for the names form: the factory's
    languages first, the language the committee is named in next, then the rest."""
    first = [*(committee.factory.languages or []), committee.default_locale]
    order = list(dict.fromkeys(code for code in [*first, *LANGUAGES] if code in LANGUAGES))
    return [(code, LANGUAGES[code].native_name, is_rtl(code)) for code in order]


def names_values(committee: Committee) -> dict[str, str]:
    """The names form filled with what is stored (the default language's from ``name``)."""
    names = {committee.default_locale: committee.name, **(committee.names or {})}
    places = {**(committee.places or {})}
    if committee.location:
        places.setdefault(committee.default_locale, committee.location)
    return {
        "default_locale": committee.default_locale,
        **{f"name:{code}": text for code, text in names.items()},
        **{f"place:{code}": text for code, text in places.items()},
    }


class MemberForm(Stripped):
    display_name: str = Name
    side: Side
    role: Role
    gender: Gender | Literal[""] = ""
    language: str = Field(default="", max_length=8)


class MemberChange(Stripped):
    member_id: int
    op: Literal["approve", "refuse", "remove", "update"]
    role: Role | Literal[""] = ""
    side: Side | Literal[""] = ""
    gender: Gender | Literal[""] = ""
    language: str = Field(default="", max_length=8)


class InviteForm(Stripped):
    side: Side


class ScheduleForm(Stripped):
    mode: Literal["simple", "raw"] = "simple"
    freq: Literal["monthly", "weekly"] = "monthly"
    weekday: Literal["MO", "TU", "WE", "TH", "FR", "SA", "SU"] = "TU"
    ordinal: int = Field(default=1, ge=-1, le=4)
    interval: int = Field(default=1, ge=1, le=12)
    rrule: str = Field(default="", max_length=400)
    first_day: str = Field(min_length=1, pattern=r"^\d{4}-\d{2}-\d{2}$")
    at: str = Field(min_length=1, pattern=r"^\d{1,2}:\d{2}$")
    location: str = Place
    offsets: str = Field(default="", max_length=100)
    quorum: int = Field(default=50, ge=1, le=100)

    def reminder_minutes(self) -> list[int] | None:
        """ "72, 24, 2" hours as minutes (``None``: keep the committee's)."""
        if not self.offsets:
            return None
        try:
            return [round(float(h) * 60) for h in self.offsets.replace(";", ",").split(",") if h]
        except ValueError:
            return [-1]  # refused by the service with its reason


class MeetingForm(Stripped):
    starts: str = Field(min_length=1, max_length=20)
    location: str = Place


class MeetingChange(Stripped):
    meeting_id: int
    op: Literal["move", "cancel"]
    starts: str = Field(default="", max_length=20)
    location: str = Place


class HolidayForm(Stripped):
    day: str = Field(min_length=1, pattern=r"^\d{4}-\d{2}-\d{2}$")
    name: str = Field(default="", max_length=120)


class AttendanceForm(Stripped):
    meeting_id: int
    present: list[int] = Field(default_factory=list, max_length=500)


class MinutesForm(Stripped):
    meeting_id: int
    text: str = Field(min_length=1, max_length=20_000)


class ActionForm(Stripped):
    text: str = Field(min_length=1, max_length=500)
    owner_member_id: int
    due_on: str = Field(min_length=1, pattern=r"^\d{4}-\d{2}-\d{2}$")
    meeting_id: int | None = None

    @field_validator("meeting_id", mode="before")
    @classmethod
    def none_when_empty(cls, value: Any) -> Any:
        return None if value == "" else value


class ActionDone(Stripped):
    action_id: int
