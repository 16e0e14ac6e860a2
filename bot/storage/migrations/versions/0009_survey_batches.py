"""Surveys: answers reach the anonymous tables in batches (placeholder, filled by #14).

Revision ID: 0009_survey_batches
Revises: 0008_broadcasts
"""

from collections.abc import Sequence

revision: str = "0009_survey_batches"
down_revision: str | Sequence[str] | None = "0008_broadcasts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
