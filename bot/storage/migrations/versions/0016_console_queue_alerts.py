"""The triage console (issue 17): a queue that can be trusted, alerts to handlers and managers.

- ``cases.overdue`` goes: a flag a job set once and nothing cleared kept acknowledged cases red
  and above new critical ones (review M1). Lateness is read from the current deadline instead.
- ``cases.handler_read_event_id``: the newest history row the case's handler has seen; worker
  messages after it count as unread in the queue.
- ``staff.timezone``: the zone the console shows a staff member's deadlines in.
- ``saved_queue_filters``: named queue filters per staff member.
- ``alert_cursors`` / ``alert_emails``: the alerts job's place in the case history, and e-mail
  alerts waiting to be sent. The cursor starts at today's newest event, so an upgrade does not
  send an alert for every case ever made.

Revision ID: 0016_console_queue_alerts
Revises: 0015_survey_invitations
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)

revision: str = "0016_console_queue_alerts"
down_revision: str | Sequence[str] | None = "0015_survey_invitations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Native ADD/DROP COLUMN, never a batch copy of ``cases`` (see 0012: a copy would
    # cascade-delete every case's events on SQLite).
    op.execute("ALTER TABLE cases DROP COLUMN overdue")
    op.add_column("cases", sa.Column("handler_read_event_id", sa.BigInteger(), nullable=True))
    op.add_column("staff", sa.Column("timezone", sa.String(length=64), nullable=True))
    op.create_table(
        "saved_queue_filters",
        sa.Column("id", BigId, primary_key=True),
        sa.Column(
            "staff_id",
            BigId,
            sa.ForeignKey(
                "staff.id",
                ondelete="CASCADE",
                name=op.f("fk_saved_queue_filters_staff_id_staff"),
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("query", sa.String(length=500), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.UniqueConstraint("staff_id", "name", name="uq_saved_queue_filters_name"),
    )
    op.create_index(
        "ix_saved_queue_filters_staff_id", "saved_queue_filters", ["staff_id"], unique=False
    )
    op.create_table(
        "alert_cursors",
        sa.Column("name", sa.String(length=32), primary_key=True),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", When, nullable=False),
    )
    op.execute(
        "INSERT INTO alert_cursors (name, event_id, updated_at) "
        "SELECT 'case_alerts', COALESCE(MAX(id), 0), CURRENT_TIMESTAMP FROM case_events"
    )
    op.create_table(
        "alert_emails",
        sa.Column("id", BigId, primary_key=True),
        sa.Column(
            "staff_id",
            BigId,
            sa.ForeignKey(
                "staff.id", ondelete="CASCADE", name=op.f("fk_alert_emails_staff_id_staff")
            ),
            nullable=False,
        ),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", When, nullable=False),
        sa.Column("claimed_at", When, nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", When, nullable=True),
        sa.Column("error", sa.String(length=120), nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_alert_emails_dedupe_key")),
    )
    op.create_index("ix_alert_emails_due", "alert_emails", ["status", "due_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_alert_emails_due", "alert_emails")
    op.drop_table("alert_emails")
    op.drop_table("alert_cursors")
    op.drop_index("ix_saved_queue_filters_staff_id", "saved_queue_filters")
    op.drop_table("saved_queue_filters")
    op.execute("ALTER TABLE staff DROP COLUMN timezone")
    op.execute("ALTER TABLE cases DROP COLUMN handler_read_event_id")
    op.add_column(
        "cases", sa.Column("overdue", sa.Boolean(), nullable=False, server_default=sa.false())
    )
