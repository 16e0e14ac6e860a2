"""Urgent broadcasts through Telegram's paid broadcasts (issue 18).

- ``broadcasts.urgent``: sent day or night, and through the paid budget when it is switched on.
- ``outbox.paid``: a message sent with ``allow_paid_broadcast``, by the delivery lane of its own.

Revision ID: 0017_paid_broadcasts
Revises: 0016_console_queue_alerts
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_paid_broadcasts"
down_revision: str | Sequence[str] | None = "0016_console_queue_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Native ADD COLUMN with a default: existing rows are neither urgent nor paid.
    op.add_column(
        "broadcasts", sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column(
        "outbox", sa.Column("paid", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    op.drop_column("outbox", "paid")
    op.drop_column("broadcasts", "urgent")
