"""Action items: what a committee decided someone will do by a date, the owner's reminder the day
before, marking one done, and the open ones of a committee."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.committees import (
    ActionItem,
    Committee,
    CommitteeMember,
    CommitteeNotice,
    CommitteeTask,
)
from bot.storage.models import Staff, User
from services import outbox
from services.clock import planned_moment, utcnow
from services.committees.members import (
    ACTION_LIMIT,
    ActionStatus,
    InvalidInput,
    access_seat,
    add_event,
    audit_change,
    committee_of,
    zone,
)
from services.committees.planning import ACTION_REMINDER_HOUR, TaskKind
from services.errors import NotFound


async def do_add_action(
    session: AsyncSession,
    committee: Committee,
    *,
    text: str,
    owner_member_id: int,
    due_on: str,
    meeting_id: int | None = None,
    actor: Staff | None,
    ip: str | None = None,
    now: datetime | None = None,
) -> ActionItem:
    now = now or utcnow()
    owner = await session.get(CommitteeMember, owner_member_id)
    if owner is None or owner.committee_id != committee.id or not text.strip():
        raise InvalidInput()
    try:
        due = date.fromisoformat(due_on.strip())
    except ValueError:
        raise InvalidInput() from None
    action = ActionItem(
        committee_id=committee.id,
        meeting_id=meeting_id,
        owner_member_id=owner.id,
        text=text.strip()[:ACTION_LIMIT],
        due_on=due.isoformat(),
        status=ActionStatus.OPEN,
        created_at=now,
    )
    session.add(action)
    await session.flush()
    add_event(session, committee.id, "action_added", actor, action_id=action.id)
    if owner.user_id is not None:
        await outbox.enqueue(
            session,
            CommitteeNotice.ACTION,
            user_id=owner.user_id,
            params={"action_id": action.id, "new": True},
            dedupe_key=f"cma:{action.id}:new",
        )
    remind_local = datetime.combine(due - timedelta(days=1), time(ACTION_REMINDER_HOUR))
    remind_at = planned_moment(remind_local, zone(committee))
    if remind_at > now:
        session.add(
            CommitteeTask(
                key=f"a:{action.id}:due",
                kind=TaskKind.ACTION,
                action_id=action.id,
                due_at=remind_at,
            )
        )
    await audit_change(session, committee, "action_add", actor=actor, ip=ip, action_id=action.id)
    await session.flush()
    return action


async def do_complete_action(
    session: AsyncSession, action: ActionItem, *, actor: Staff | None = None, ip: str | None = None
) -> None:
    """Mark an action done (its owner in the bot, or staff); repeating it changes nothing."""
    committee = await committee_of(session, action.committee_id)
    await audit_change(session, committee, "action_done", actor=actor, ip=ip, action_id=action.id)
    if action.status == ActionStatus.DONE:
        return
    action.status, action.done_at = ActionStatus.DONE, utcnow()
    add_event(session, action.committee_id, "action_done", actor, action_id=action.id)
    await session.flush()


async def access_action(session: AsyncSession, committee: Committee, action_id: int) -> ActionItem:
    """An action item of ``committee`` (already checked for scope), or NotFound."""
    action = await session.get(ActionItem, action_id)
    if action is None or action.committee_id != committee.id:
        raise NotFound()
    return action


async def access_own_action(session: AsyncSession, user: User | None, action_id: int) -> ActionItem:
    action = await session.get(ActionItem, action_id)
    if action is None or action.owner_member_id is None:
        raise NotFound()
    await access_seat(session, user, action.owner_member_id)
    return action


async def open_actions(session: AsyncSession, committee_id: int) -> list[ActionItem]:
    return list(
        (
            await session.scalars(
                select(ActionItem)
                .where(
                    ActionItem.committee_id == committee_id,
                    ActionItem.status == ActionStatus.OPEN,
                )
                .order_by(ActionItem.due_on, ActionItem.id)
            )
        ).all()
    )


async def actions_of(
    session: AsyncSession, committee_id: int, *, limit: int = 100
) -> list[ActionItem]:
    """A committee's action items for the console: open ones first, then by due date."""
    return list(
        (
            await session.scalars(
                select(ActionItem)
                .where(ActionItem.committee_id == committee_id)
                .order_by(ActionItem.status.desc(), ActionItem.due_on)
                .limit(limit)
            )
        ).all()
    )
