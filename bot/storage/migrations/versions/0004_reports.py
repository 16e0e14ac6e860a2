"""Reports: cases with encrypted narratives, their history, evidence, due tasks, receipt
throttling and the counts kept after retention.

Revision ID: 0004_reports
Revises: 0003_console
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL, JSON text on SQLite (frozen here: migrations do not import app code).
JSONB = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0004_reports"
down_revision: str | Sequence[str] | None = "0003_console"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "closed_case_counts",
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "country_code",
            "month",
            "category",
            "severity",
            "outcome",
            name=op.f("pk_closed_case_counts"),
        ),
    )
    op.create_table(
        "receipt_attempts",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_receipt_attempts")),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column(
            "factory_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("harm", sa.String(length=32), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("danger", sa.Boolean(), nullable=False),
        sa.Column("affects_others", sa.Boolean(), nullable=True),
        sa.Column("consent_to_share", sa.Boolean(), nullable=False),
        sa.Column("consent_to_name", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column(
            "reporter_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("receipt_lookup", sa.String(length=64), nullable=False),
        sa.Column("receipt_hash", sa.String(length=255), nullable=False),
        sa.Column("narrative", sa.LargeBinary(), nullable=True),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("submission_token", sa.String(length=64), nullable=False),
        sa.Column(
            "assigned_staff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ack_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("triage_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("triaged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("pending_close", JSONB, nullable=True),
        sa.Column(
            "reopened_from_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["assigned_staff_id"],
            ["staff.id"],
            name=op.f("fk_cases_assigned_staff_id_staff"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["country_code"], ["countries.code"], name=op.f("fk_cases_country_code_countries")
        ),
        sa.ForeignKeyConstraint(
            ["factory_id"],
            ["factories.id"],
            name=op.f("fk_cases_factory_id_factories"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reopened_from_id"],
            ["cases.id"],
            name=op.f("fk_cases_reopened_from_id_cases"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reporter_user_id"],
            ["users.id"],
            name=op.f("fk_cases_reporter_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("receipt_lookup", name=op.f("uq_cases_receipt_lookup")),
        sa.UniqueConstraint("submission_token", name=op.f("uq_cases_submission_token")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cases_country_code"), ["country_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_factory_id"), ["factory_id"], unique=False)
        batch_op.create_index("ix_cases_queue", ["state", "severity", "ack_due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_cases_reporter_user_id"), ["reporter_user_id"], unique=False
        )

    op.create_table(
        "case_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "actor_staff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("actor", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=True),
        sa.Column("detail", JSONB, nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_staff_id"], ["staff.id"], name=op.f("fk_case_events_actor_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_events_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_events_case_id"), ["case_id"], unique=False)

    op.create_table(
        "case_evidence",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("mime_type", sa.String(length=80), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_evidence_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_evidence")),
    )
    with op.batch_alter_table("case_evidence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_evidence_case_id"), ["case_id"], unique=False)

    op.create_table(
        "case_tasks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.String(length=24), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_tasks_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_tasks")),
        sa.UniqueConstraint("case_id", "kind", name="uq_case_tasks_case_kind"),
    )
    with op.batch_alter_table("case_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_case_tasks_due", ["done_at", "due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_case_tasks_due")

    op.drop_table("case_tasks")
    with op.batch_alter_table("case_evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_evidence_case_id"))

    op.drop_table("case_evidence")
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_events_case_id"))

    op.drop_table("case_events")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_reporter_user_id"))
        batch_op.drop_index("ix_cases_queue")
        batch_op.drop_index(batch_op.f("ix_cases_factory_id"))
        batch_op.drop_index(batch_op.f("ix_cases_country_code"))

    op.drop_table("cases")
    op.drop_table("receipt_attempts")
    op.drop_table("closed_case_counts")
