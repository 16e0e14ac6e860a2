"""Organiser broadcasts: topics, workers' opt-ins, and messages with their delivery counts.

Revision ID: 0008_broadcasts
Revises: 0007_committees
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008_broadcasts"
down_revision: str | Sequence[str] | None = "0007_committees"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# JSONB on PostgreSQL, JSON text on SQLite (frozen here: migrations do not import app code).
JSONB = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "broadcast_topics",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=True),
        sa.Column("names", JSONB, nullable=False),
        sa.Column("default_locale", sa.String(length=8), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_by_staff_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["country_code"],
            ["countries.code"],
            name=op.f("fk_broadcast_topics_country_code_countries"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_staff_id"],
            ["staff.id"],
            name=op.f("fk_broadcast_topics_created_by_staff_id_staff"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcast_topics")),
        sa.UniqueConstraint("key", name=op.f("uq_broadcast_topics_key")),
    )
    op.create_index(
        op.f("ix_broadcast_topics_country_code"), "broadcast_topics", ["country_code"], unique=False
    )
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("topic_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("countries", JSONB, nullable=False),
        sa.Column("factory_ids", JSONB, nullable=False),
        sa.Column("languages", JSONB, nullable=False),
        sa.Column("texts", JSONB, nullable=False),
        sa.Column("default_locale", sa.String(length=8), nullable=False),
        sa.Column("fallback", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("queued_count", sa.Integer(), nullable=False),
        sa.Column("sent_count", sa.Integer(), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("blocked_count", sa.Integer(), nullable=False),
        sa.Column("skipped_count", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_by_staff_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_staff_id"],
            ["staff.id"],
            name=op.f("fk_broadcasts_created_by_staff_id_staff"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"],
            ["broadcast_topics.id"],
            name=op.f("fk_broadcasts_topic_id_broadcast_topics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcasts")),
    )
    op.create_index("ix_broadcasts_due", "broadcasts", ["status", "send_at"], unique=False)
    op.create_index(op.f("ix_broadcasts_topic_id"), "broadcasts", ["topic_id"], unique=False)
    op.create_table(
        "broadcast_subscriptions",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("topic_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["topic_id"],
            ["broadcast_topics.id"],
            name=op.f("fk_broadcast_subscriptions_topic_id_broadcast_topics"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_broadcast_subscriptions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "topic_id", name=op.f("pk_broadcast_subscriptions")),
    )
    op.create_index(
        op.f("ix_broadcast_subscriptions_topic_id"),
        "broadcast_subscriptions",
        ["topic_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_broadcast_subscriptions_topic_id"), table_name="broadcast_subscriptions")
    op.drop_table("broadcast_subscriptions")
    op.drop_index(op.f("ix_broadcasts_topic_id"), table_name="broadcasts")
    op.drop_index("ix_broadcasts_due", table_name="broadcasts")
    op.drop_table("broadcasts")
    op.drop_index(op.f("ix_broadcast_topics_country_code"), table_name="broadcast_topics")
    op.drop_table("broadcast_topics")
