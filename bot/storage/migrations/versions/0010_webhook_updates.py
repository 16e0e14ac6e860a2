"""Webhook updates: no payload column; raw_updates keeps ids, status and times only (DESIGN §4.7).

The payload (names, Telegram ids, message text) now waits in Redis or process memory. Dropping a
column on PostgreSQL only hides it (the bytes stay in the table's pages), so the table is rebuilt:
a new one with the ids of handled updates (still needed to recognise Telegram's retries), and the
old relation with every payload ever written is dropped, which removes its files. PostgreSQL's WAL
and backups taken before this revision still hold old payloads (see the README).

Updates stored but not handled when this runs are forgotten: their payload cannot be kept, and a
forgotten id lets Telegram's retry, if one comes, be handled.

Revision ID: 0010_webhook_updates
Revises: 0009_survey_batches
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL, JSON text on SQLite (frozen here: migrations do not import app code).
JSONB = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0010_webhook_updates"
down_revision: str | Sequence[str] | None = "0009_survey_batches"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    # PostgreSQL names a primary key's index in the schema: the new one cannot take the old name
    # while the old table exists. SQLite names constraints per table.
    pk = "pk_raw_updates_new" if postgres else "pk_raw_updates"
    op.create_table(
        "raw_updates_new",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("update_id", name=pk),
    )
    op.execute(
        "INSERT INTO raw_updates_new (update_id, received_at, status, claimed_at) "
        "SELECT update_id, received_at, status, claimed_at FROM raw_updates "
        "WHERE status IN ('done', 'failed')"
    )
    with op.batch_alter_table("raw_updates", schema=None) as batch_op:
        batch_op.drop_index("ix_raw_updates_received_at")
    op.drop_table("raw_updates")
    op.rename_table("raw_updates_new", "raw_updates")
    if postgres:
        op.execute("ALTER TABLE raw_updates RENAME CONSTRAINT pk_raw_updates_new TO pk_raw_updates")
    with op.batch_alter_table("raw_updates", schema=None) as batch_op:
        batch_op.create_index("ix_raw_updates_received_at", ["received_at"], unique=False)


def downgrade() -> None:
    # The column comes back empty: payloads were never written since the upgrade.
    with op.batch_alter_table("raw_updates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payload", JSONB, nullable=True))
