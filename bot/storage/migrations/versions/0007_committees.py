"""Committees: members, invites, holidays, meetings, RSVPs and attendance, due tasks, agenda,
minutes, action items and the committee history.

Revision ID: 0007_committees
Revises: 0006_surveys
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL, JSON text on SQLite (frozen here: migrations do not import app code).
JSONB = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0007_committees"
down_revision: str | Sequence[str] | None = "0006_surveys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "committee_holidays",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "factory_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["factory_id"],
            ["factories.id"],
            name=op.f("fk_committee_holidays_factory_id_factories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_committee_holidays")),
        sa.UniqueConstraint("factory_id", "day", name="uq_committee_holidays_day"),
    )
    op.create_table(
        "committees",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "factory_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("quorum", sa.Float(), nullable=False),
        sa.Column("reminder_offsets", JSONB, nullable=False),
        sa.Column("rrule", sa.String(length=400), nullable=True),
        sa.Column("local_start", sa.String(length=16), nullable=True),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("materialised_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["factory_id"],
            ["factories.id"],
            name=op.f("fk_committees_factory_id_factories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_committees")),
    )
    with op.batch_alter_table("committees", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_committees_factory_id"), ["factory_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_committees_materialised_until"), ["materialised_until"], unique=False
        )

    op.create_table(
        "committee_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "committee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "actor_staff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("detail", JSONB, nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_staff_id"],
            ["staff.id"],
            name=op.f("fk_committee_events_actor_staff_id_staff"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["committee_id"],
            ["committees.id"],
            name=op.f("fk_committee_events_committee_id_committees"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_committee_events")),
    )
    with op.batch_alter_table("committee_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_committee_events_committee_id"), ["committee_id"], unique=False
        )

    op.create_table(
        "committee_invites",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "committee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("side", sa.String(length=16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["committee_id"],
            ["committees.id"],
            name=op.f("fk_committee_invites_committee_id_committees"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_committee_invites")),
        sa.UniqueConstraint("code", name=op.f("uq_committee_invites_code")),
    )
    with op.batch_alter_table("committee_invites", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_committee_invites_committee_id"), ["committee_id"], unique=False
        )

    op.create_table(
        "committee_meetings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "committee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("occurrence", sa.String(length=40), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("minutes", sa.Text(), nullable=True),
        sa.Column("minutes_document", sa.String(length=255), nullable=True),
        sa.Column("minutes_document_name", sa.String(length=200), nullable=True),
        sa.Column("minutes_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["committee_id"],
            ["committees.id"],
            name=op.f("fk_committee_meetings_committee_id_committees"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_committee_meetings")),
        sa.UniqueConstraint("committee_id", "occurrence", name="uq_committee_meetings_occurrence"),
    )
    with op.batch_alter_table("committee_meetings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_committee_meetings_starts", ["committee_id", "starts_at"], unique=False
        )

    op.create_table(
        "committee_members",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "committee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("side", sa.String(length=16), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("gender", sa.String(length=16), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["committee_id"],
            ["committees.id"],
            name=op.f("fk_committee_members_committee_id_committees"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_committee_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_committee_members")),
        sa.UniqueConstraint("committee_id", "user_id", name="uq_committee_members_user"),
    )
    with op.batch_alter_table("committee_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_committee_members_committee_id"), ["committee_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_committee_members_user_id"), ["user_id"], unique=False)

    op.create_table(
        "committee_actions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "committee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "meeting_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "owner_member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("due_on", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["committee_id"],
            ["committees.id"],
            name=op.f("fk_committee_actions_committee_id_committees"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["committee_meetings.id"],
            name=op.f("fk_committee_actions_meeting_id_committee_meetings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_member_id"],
            ["committee_members.id"],
            name=op.f("fk_committee_actions_owner_member_id_committee_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_committee_actions")),
    )
    with op.batch_alter_table("committee_actions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_committee_actions_committee_id"), ["committee_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_committee_actions_owner_member_id"), ["owner_member_id"], unique=False
        )

    op.create_table(
        "committee_agenda_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "meeting_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["committee_meetings.id"],
            name=op.f("fk_committee_agenda_items_meeting_id_committee_meetings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["committee_members.id"],
            name=op.f("fk_committee_agenda_items_member_id_committee_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_committee_agenda_items")),
    )
    with op.batch_alter_table("committee_agenda_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_committee_agenda_items_meeting_id"), ["meeting_id"], unique=False
        )

    op.create_table(
        "committee_responses",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "meeting_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("rsvp", sa.String(length=8), nullable=True),
        sa.Column("attended", sa.Boolean(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["committee_meetings.id"],
            name=op.f("fk_committee_responses_meeting_id_committee_meetings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["committee_members.id"],
            name=op.f("fk_committee_responses_member_id_committee_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_committee_responses")),
        sa.UniqueConstraint("meeting_id", "member_id", name="uq_committee_responses"),
    )
    with op.batch_alter_table("committee_responses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_committee_responses_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "committee_tasks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=48), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "meeting_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("action_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["committee_actions.id"],
            name=op.f("fk_committee_tasks_action_id_committee_actions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["committee_meetings.id"],
            name=op.f("fk_committee_tasks_meeting_id_committee_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_committee_tasks")),
        sa.UniqueConstraint("key", name=op.f("uq_committee_tasks_key")),
    )
    with op.batch_alter_table("committee_tasks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_committee_tasks_action_id"), ["action_id"], unique=False
        )
        batch_op.create_index("ix_committee_tasks_due", ["done_at", "due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_committee_tasks_meeting_id"), ["meeting_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("committee_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_committee_tasks_meeting_id"))
        batch_op.drop_index("ix_committee_tasks_due")
        batch_op.drop_index(batch_op.f("ix_committee_tasks_action_id"))

    op.drop_table("committee_tasks")
    with op.batch_alter_table("committee_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_committee_responses_member_id"))

    op.drop_table("committee_responses")
    with op.batch_alter_table("committee_agenda_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_committee_agenda_items_meeting_id"))

    op.drop_table("committee_agenda_items")
    with op.batch_alter_table("committee_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_committee_actions_owner_member_id"))
        batch_op.drop_index(batch_op.f("ix_committee_actions_committee_id"))

    op.drop_table("committee_actions")
    with op.batch_alter_table("committee_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_committee_members_user_id"))
        batch_op.drop_index(batch_op.f("ix_committee_members_committee_id"))

    op.drop_table("committee_members")
    with op.batch_alter_table("committee_meetings", schema=None) as batch_op:
        batch_op.drop_index("ix_committee_meetings_starts")

    op.drop_table("committee_meetings")
    with op.batch_alter_table("committee_invites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_committee_invites_committee_id"))

    op.drop_table("committee_invites")
    with op.batch_alter_table("committee_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_committee_events_committee_id"))

    op.drop_table("committee_events")
    with op.batch_alter_table("committees", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_committees_materialised_until"))
        batch_op.drop_index(batch_op.f("ix_committees_factory_id"))

    op.drop_table("committees")
    op.drop_table("committee_holidays")
