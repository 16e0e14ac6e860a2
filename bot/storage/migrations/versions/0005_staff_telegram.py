"""Staff can link their own Telegram account for urgent case alerts.

Revision ID: 0005_staff_telegram
Revises: 0004_reports
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_staff_telegram"
down_revision: str | Sequence[str] | None = "0004_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff") as batch_op:
        batch_op.add_column(sa.Column("telegram_link_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("telegram_link_expires_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("staff") as batch_op:
        batch_op.drop_column("telegram_link_expires_at")
        batch_op.drop_column("telegram_link_hash")
