"""Surveys: answers reach the anonymous tables in batches; drafts leave the database.

- ``survey_participations`` loses ``draft`` and ``position``: answers so far live sealed in the
  ephemeral survey store (Redis with a TTL, or memory), never next to a person key on disk.
  Unfinished drafts at upgrade time are dropped (those workers start the survey again).
- ``survey_responses.completed_on`` and ``survey_answers.answered_on`` go: answers carry the wave,
  not the day. ``language`` may be empty when it was generalised away.
- ``survey_waves`` gains ``batched_at`` (results last changed), ``settled_at`` (the close's
  remainder was handled) and ``late_dropped`` (late answers dropped to keep them anonymous).

Revision ID: 0009_survey_batches
Revises: 0008_broadcasts
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL, JSON text on SQLite (frozen here: migrations do not import app code).
JSONB = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0009_survey_batches"
down_revision: str | Sequence[str] | None = "0008_broadcasts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("survey_participations", schema=None) as batch_op:
        batch_op.drop_column("draft")
        batch_op.drop_column("position")
    with op.batch_alter_table("survey_responses", schema=None) as batch_op:
        batch_op.drop_column("completed_on")
        batch_op.alter_column("language", existing_type=sa.String(length=8), nullable=True)
    with op.batch_alter_table("survey_answers", schema=None) as batch_op:
        batch_op.drop_column("answered_on")
        batch_op.alter_column("language", existing_type=sa.String(length=8), nullable=True)
    with op.batch_alter_table("survey_waves", schema=None) as batch_op:
        batch_op.add_column(sa.Column("batched_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("late_dropped", sa.Integer(), nullable=False, server_default="0")
        )
    # Answers written before this release count as published; closed waves have nothing pending.
    op.execute(
        "UPDATE survey_waves SET batched_at = CURRENT_TIMESTAMP WHERE EXISTS "
        "(SELECT 1 FROM survey_responses r WHERE r.wave_id = survey_waves.id)"
    )
    op.execute(
        "UPDATE survey_waves SET settled_at = CURRENT_TIMESTAMP "
        "WHERE status IN ('closed', 'cancelled')"
    )


def downgrade() -> None:
    # Plain ALTER TABLE (SQLite 3.35+): a batch copy would drop survey_waves, and its ON DELETE
    # CASCADE would empty the participation and answer tables.
    for column in ("late_dropped", "settled_at", "batched_at"):
        op.execute(f"ALTER TABLE survey_waves DROP COLUMN {column}")
    # The day is gone for good: rows get today's date; a generalised language becomes "".
    for table, column in (("survey_answers", "answered_on"), ("survey_responses", "completed_on")):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column(column, sa.Date(), nullable=False, server_default=sa.func.current_date())
            )
        op.execute(f"UPDATE {table} SET language = '' WHERE language IS NULL")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, existing_type=sa.Date(), server_default=None)
            batch_op.alter_column("language", existing_type=sa.String(length=8), nullable=False)
    with op.batch_alter_table("survey_participations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("position", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("draft", JSONB, nullable=False, server_default="{}"))
