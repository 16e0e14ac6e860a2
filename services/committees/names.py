"""A committee's name and usual meeting place in each member's language (review B13).

Staff name a committee once in its default language (``Committee.name``, ``Committee.location``)
and may add the name and place in workers' languages, as broadcast topics are named. A reader
whose language has none reads the default: a name staff did not translate is better than none.

A meeting's place is the committee's usual place unless staff typed another one for that meeting
(moving it to the training room, say); only the usual place has translations.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.i18n.languages import LANGUAGES
from bot.storage.committees import Committee, Meeting
from bot.storage.models import Staff
from services.clock import utcnow
from services.committees.members import (
    NAME_LIMIT,
    PLACE_LIMIT,
    MeetingStatus,
    add_event,
    audit_change,
)
from services.errors import DomainError


class InvalidNames(DomainError):
    code = "invalid_committee_names"
    message = N_("The names cannot be saved: {reason}")


def committee_name(committee: Committee, locale: str | None) -> str:
    """The committee's name in ``locale``, else in its default language."""
    return (committee.names or {}).get(locale or "", "") or committee.name


def usual_place(committee: Committee, locale: str | None) -> str:
    """The committee's usual meeting place in ``locale``, else in its default language."""
    if not committee.location:
        return ""
    return (committee.places or {}).get(locale or "", "") or committee.location


def meeting_place(meeting: Meeting, locale: str | None) -> str:
    """Where this meeting is: the usual place in the reader's language, or the place staff typed
    for this meeting alone, as typed."""
    committee = meeting.committee
    if meeting.location == committee.location:
        return usual_place(committee, locale)
    return meeting.location


def _clean(texts: Mapping[str, str], limit: int) -> dict[str, str]:
    cleaned = {code: " ".join(text.split()) for code, text in texts.items() if text.strip()}
    if not set(cleaned) <= set(LANGUAGES):
        raise InvalidNames(reason=N_("unknown language"))
    if any(len(text) > limit for text in cleaned.values()):
        raise InvalidNames(reason=N_("a name or place is too long"))
    return cleaned


def set_usual_place(committee: Committee, place: str) -> None:
    """A new usual place in the default language (the schedule form): the other languages'
    places named the old one, so they go unless the place is unchanged."""
    place = " ".join(place.split())[:PLACE_LIMIT]
    if place != committee.location:
        committee.places = {committee.default_locale: place} if place else {}
    committee.location = place


async def do_name_committee(
    session: AsyncSession,
    committee: Committee,
    *,
    default_locale: str,
    names: Mapping[str, str],
    places: Mapping[str, str],
    actor: Staff | None,
    ip: str | None = None,
) -> None:
    """Name the committee and its usual place in workers' languages. The default language's
    name is required; its place becomes the usual place of the meetings still to come."""
    if default_locale not in LANGUAGES:
        raise InvalidNames(reason=N_("unknown language"))
    clean_names = _clean(names, NAME_LIMIT)
    clean_places = _clean(places, PLACE_LIMIT)
    if default_locale not in clean_names:
        raise InvalidNames(reason=N_("name the committee in its default language"))
    old_place = committee.location
    committee.default_locale = default_locale
    committee.names = clean_names
    committee.places = clean_places
    committee.name = clean_names[default_locale]
    committee.location = clean_places.get(default_locale, "")
    if committee.location != old_place:
        # Planned meetings at the old usual place follow it; a place typed for one meeting stays.
        upcoming = await session.scalars(
            select(Meeting).where(
                Meeting.committee_id == committee.id,
                Meeting.status == MeetingStatus.PLANNED,
                Meeting.starts_at > utcnow(),
                Meeting.location == old_place,
            )
        )
        for meeting in upcoming:
            meeting.location = committee.location
    await session.flush()
    add_event(session, committee.id, "named", actor, languages=sorted(clean_names))
    await audit_change(
        session, committee, "names", actor=actor, ip=ip, languages=sorted(clean_names)
    )
