"""Onboarding: language, privacy and consent, then the factory, gender and age (a wizard), then the
menu; and the controls a worker can use anywhere (/menu, 🏠, /help, /privacy, /language, /delete,
/stop, the same as words in her language, 🏭 Link my factory, 🧹 Remove my messages here).

This router is among the first, so it can gate: until a worker has chosen a language and agreed to
the privacy notice, anything they send re-shows the step they are on.
"""

from __future__ import annotations

from aiogram import Router

from bot import voice
from bot.flows.onboarding import controls, gate, setup
from bot.flows.onboarding.texts import privacy_notice

__all__ = ["privacy_notice", "router"]

router = Router(name=__name__)
router.include_router(voice.router)  # 🔊 under a key screen, before the gate (the picker has one)
router.include_router(gate.router)
router.include_router(controls.router)
router.include_router(gate.late)
router.include_router(setup.SETUP.router)
router.include_router(setup.LINK.router)
