"""Words for a worker's gender and age group: the onboarding buttons she taps and the console's
committee and survey pages read the same ones (registered with ``services.labels``). They are in
the ``core`` catalog, which every worker language has."""

from __future__ import annotations

from bot.i18n import N_
from bot.storage.models import Gender
from services.onboarding import AgeBand

GENDER_WORDS: dict[Gender, str] = {
    Gender.WOMAN: N_("Woman"),
    Gender.MAN: N_("Man"),
    Gender.OTHER: N_("Other"),
    Gender.UNDISCLOSED: N_("Prefer not to say"),
}

# Number ranges need no translation (gettext gives them back as they are); the bot isolates them
# for right-to-left text itself.
AGE_WORDS: dict[AgeBand, str] = {
    AgeBand.UNDER_18: N_("Under 18"),
    AgeBand.FROM_18: "18–24",
    AgeBand.FROM_25: "25–34",
    AgeBand.FROM_35: "35–44",
    AgeBand.FROM_45: N_("45 or older"),
    AgeBand.UNDISCLOSED: N_("Prefer not to say"),
}
