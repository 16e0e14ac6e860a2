"""Short worker-facing phrases shown outside the chat (factory posters), in every language."""

from bot.i18n import N_

POSTER_TITLE = N_("Your voice, safe and anonymous")
POSTER_SCAN = N_("Scan with your phone camera to open workvoice in Telegram")
