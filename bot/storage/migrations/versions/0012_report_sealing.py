"""Reports: words sealed from the first keystroke, reporter keys from the receipt.

- ``cases.reference``: a random code workers see instead of the sequential id (which reveals volume);
  existing cases get one here.
- ``cases.reporter_salt`` / ``cases.reporter_public_key``: handler messages are sealed to a key
  derived from the receipt. Older cases have none until their reporter next types the receipt.
- ``reporter_messages``: a reporter's message waits, sealed together with a sealed case reference,
  until the console (which holds the private key) attaches it to its case.
- ``report_draft_files``: evidence of an unsent report, sealed as it arrives.
- Data: the bot-readable copy (``detail.for_reporter``, sealed with a key derived from SECRET_KEY) of
  every message a reporter wrote is dropped; it cannot be restored by a downgrade.

Revision ID: 0012_report_sealing
Revises: 0011_staff_security
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL, JSON text on SQLite (frozen here: migrations do not import app code).
JSONB = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Same alphabet as services.reports.cases.new_reference (no 0/O, 1/I/L, 2/Z, 5/S, 8/B).
ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"

revision: str = "0012_report_sealing"
down_revision: str | Sequence[str] | None = "0011_staff_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _reference() -> str:
    return "R-" + "".join(secrets.choice(ALPHABET) for _ in range(6))


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN, never a batch copy of ``cases``: on SQLite (foreign keys on)
    # dropping the old copy would cascade-delete every case's events, evidence and tasks.
    op.add_column("cases", sa.Column("reference", sa.String(length=12), nullable=True))
    op.add_column("cases", sa.Column("reporter_salt", sa.LargeBinary(), nullable=True))
    op.add_column("cases", sa.Column("reporter_public_key", sa.LargeBinary(), nullable=True))
    bind = op.get_bind()
    cases = sa.table("cases", sa.column("id", BigId), sa.column("reference", sa.String))
    used: set[str] = set()
    for (case_id,) in bind.execute(sa.select(cases.c.id)).all():
        reference = _reference()
        while reference in used:
            reference = _reference()
        used.add(reference)
        bind.execute(cases.update().where(cases.c.id == case_id).values(reference=reference))
    op.create_index(op.f("ix_cases_reference"), "cases", ["reference"], unique=True)
    if bind.dialect.name != "sqlite":  # SQLite cannot add NOT NULL in place; the app always sets it
        op.alter_column("cases", "reference", existing_type=sa.String(length=12), nullable=False)

    # H3: no bot-readable copy of what a reporter wrote stays in the database.
    events = sa.table(
        "case_events",
        sa.column("id", BigId),
        sa.column("kind", sa.String),
        sa.column("detail", JSONB),
    )
    rows = bind.execute(
        sa.select(events.c.id, events.c.detail).where(events.c.kind == "message_from_reporter")
    ).all()
    for event_id, detail in rows:
        if isinstance(detail, dict) and "for_reporter" in detail:
            kept = {k: v for k, v in detail.items() if k != "for_reporter"}
            bind.execute(events.update().where(events.c.id == event_id).values(detail=kept))

    op.create_table(
        "reporter_messages",
        sa.Column("id", BigId, nullable=False),
        sa.Column("case_ref", sa.LargeBinary(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reporter_messages")),
    )
    op.create_table(
        "report_draft_files",
        sa.Column("id", BigId, nullable=False),
        sa.Column("draft", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("mime_type", sa.String(length=80), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_draft_files")),
    )
    with op.batch_alter_table("report_draft_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_draft_files_draft"), ["draft"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("report_draft_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_draft_files_draft"))
    op.drop_table("report_draft_files")
    op.drop_table("reporter_messages")
    op.drop_index(op.f("ix_cases_reference"), table_name="cases")
    for column in ("reporter_public_key", "reporter_salt", "reference"):
        # Native DROP COLUMN (SQLite >= 3.35, PostgreSQL): no table copy, so no cascade (above).
        op.execute(f"ALTER TABLE cases DROP COLUMN {column}")
