"""Case triage in the console: the queue (``queue``) and the case page with its actions (``case``)."""

from __future__ import annotations

from fastapi import Request

from admin.web import context, require
from bot.storage.models import StaffRole
from services.reports.crypto import KeyRing, keyring

HANDLE = require(StaffRole.COUNTRY_MANAGER, StaffRole.CASE_HANDLER)


def keys_for(request: Request) -> KeyRing:
    return keyring(context(request).settings)
