"""Reports: words sealed from the first keystroke, reporter keys from the receipt (placeholder, filled by #14).

Revision ID: 0012_report_sealing
Revises: 0011_staff_security
"""

from collections.abc import Sequence

revision: str = "0012_report_sealing"
down_revision: str | Sequence[str] | None = "0011_staff_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
