"""Webhook updates: no plaintext payload in the database (placeholder, filled by #14).

Revision ID: 0010_webhook_updates
Revises: 0009_survey_batches
"""

from collections.abc import Sequence

revision: str = "0010_webhook_updates"
down_revision: str | Sequence[str] | None = "0009_survey_batches"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
