"""What a committee request can break, as translated domain errors (``members`` re-exports them)."""

from __future__ import annotations

from bot.i18n import N_
from services.errors import DomainError


class UnknownInvite(DomainError):
    code = "unknown_invite"
    message = N_("This invitation code is not valid. Please check it and try again.")
    status = 404


class InviteExpired(DomainError):
    code = "invite_expired"
    message = N_("This invitation has expired. Please ask the committee chair for a new one.")


class AlreadyMember(DomainError):
    code = "already_member"
    message = N_("You are already on this committee, or your request is waiting for approval.")


class MeetingClosed(DomainError):
    code = "meeting_closed"
    message = N_("This meeting was cancelled or has already taken place.")


class NotChair(DomainError):
    code = "not_chair"
    message = N_("Only the committee chair can do this.")
    status = 403


class InvalidInput(DomainError):
    code = "invalid_input"
    message = N_("Some of this is missing or not valid. Please check and try again.")


class NoFactory(DomainError):
    code = "no_factory"
    message = N_(
        "Committees are for workers of a factory. Please link your factory first, then use the "
        "invitation again."
    )


class OtherFactory(DomainError):
    code = "other_factory"
    message = N_(
        "This invitation is for a committee of another factory. You can only join a committee of "
        "your own factory. Please check the code with the committee chair."
    )
