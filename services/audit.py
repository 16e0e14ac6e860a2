"""Append-only audit trail of staff actions and views (DESIGN §4.6)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import AuditEvent, Staff
from services.clock import utcnow


async def record(
    session: AsyncSession,
    action: str,
    *,
    actor: Staff | None,
    object_type: str | None = None,
    object_id: object = None,
    country_code: str | None = None,
    ip: str | None = None,
    **detail: Any,
) -> AuditEvent:
    event = AuditEvent(
        at=utcnow(),
        actor_staff_id=actor.id if actor is not None else None,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        country_code=country_code,
        detail=detail,
        ip=ip,
    )
    session.add(event)
    await session.flush()
    return event
