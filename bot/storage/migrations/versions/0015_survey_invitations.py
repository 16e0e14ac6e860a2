"""Surveys: who each wave invited, so workers who join its audience after it opened are invited
once too (review B17).

Waves open at the upgrade count every worker who has a factory as invited (they were, when the
wave opened); workers who link a factory later are invited by the scheduler.

Revision ID: 0015_survey_invitations
Revises: 0014_follow_up_pin
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0015_survey_invitations"
down_revision: str | Sequence[str] | None = "0014_follow_up_pin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "survey_invitations",
        sa.Column(
            "wave_id",
            BigId,
            sa.ForeignKey("survey_waves.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        ),
    )
    op.create_index("ix_survey_invitations_user_id", "survey_invitations", ["user_id"])
    # Waves already open invited everyone with a factory when they opened; their outbox rows
    # may be purged by now, so count all of today's linked workers as invited (none gets a second
    # invitation; only workers who link a factory from now on are invited late).
    op.execute(
        "INSERT INTO survey_invitations (wave_id, user_id) "
        "SELECT w.id, u.id FROM survey_waves w, users u "
        "WHERE w.status = 'open' AND u.factory_id IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index("ix_survey_invitations_user_id", "survey_invitations")
    op.drop_table("survey_invitations")
