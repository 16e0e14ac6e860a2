"""Staff security: sessions, second-factor attempts, sealed TOTP secrets (placeholder, filled by #14).

Revision ID: 0011_staff_security
Revises: 0010_webhook_updates
"""

from collections.abc import Sequence

revision: str = "0011_staff_security"
down_revision: str | Sequence[str] | None = "0010_webhook_updates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
