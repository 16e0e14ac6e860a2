"""Following a report up: a PIN before an "in this chat" case opens, and files in replies.

- ``cases.reporter_pin``: a keyed hash (HMAC with SECRET_KEY and the case's reporter salt) of the
  last 4 digits of the receipt, set only on cases followed up in the chat: someone else holding
  the phone cannot open them (review B3). NULL on older cases, which open with the whole receipt.
- ``reporter_messages.kind`` / ``mime_type`` / ``size``: a reporter's voice note, photo or PDF
  waits sealed like her text (``body`` is then the sealed file) until the console files it as
  evidence of its case (review B5).

Revision ID: 0014_follow_up_pin
Revises: 0013_helplines
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_follow_up_pin"
down_revision: str | Sequence[str] | None = "0013_helplines"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN, never a batch copy of ``cases`` (see 0012: a copy would
    # cascade-delete every case's events on SQLite).
    op.add_column("cases", sa.Column("reporter_pin", sa.String(length=64), nullable=True))
    op.add_column("reporter_messages", sa.Column("kind", sa.String(length=16), nullable=True))
    op.add_column("reporter_messages", sa.Column("mime_type", sa.String(length=80), nullable=True))
    op.add_column("reporter_messages", sa.Column("size", sa.Integer(), nullable=True))


def downgrade() -> None:
    # Native DROP COLUMN (SQLite >= 3.35, PostgreSQL): no table copy, so no cascade.
    for column in ("size", "mime_type", "kind"):
        op.execute(f"ALTER TABLE reporter_messages DROP COLUMN {column}")
    op.execute("ALTER TABLE cases DROP COLUMN reporter_pin")
