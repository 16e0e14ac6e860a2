"""Translations reviewed in the console (issue 19).

- ``staff.languages``: the languages a staff member reviews translations for (the translator
  role, held alone or beside another role).
- ``translation_reviews``: a native speaker's approval or change of one catalog message in one
  language; a change overrides the catalog in the running bot and console until pulled into
  ``locales/``.

Revision ID: 0018_translation_reviews
Revises: 0017_paid_broadcasts
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)
# JSONB on PostgreSQL, JSON text on SQLite (frozen here: migrations do not import app code).
JSONB = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0018_translation_reviews"
down_revision: str | Sequence[str] | None = "0017_paid_broadcasts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "staff", sa.Column("languages", JSONB, nullable=False, server_default=sa.text("'[]'"))
    )
    op.create_table(
        "translation_reviews",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("domain", sa.String(length=48), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("context", sa.String(length=200), nullable=True),
        sa.Column("msgid", sa.Text(), nullable=False),
        sa.Column("catalog_text", JSONB, nullable=False),
        sa.Column("text", JSONB, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column(
            "staff_id",
            BigId,
            sa.ForeignKey(
                "staff.id", ondelete="SET NULL", name=op.f("fk_translation_reviews_staff_id_staff")
            ),
            nullable=True,
        ),
        sa.Column("decided_at", When, nullable=False),
        sa.UniqueConstraint("locale", "domain", "key", name="uq_translation_reviews"),
    )
    op.create_index(
        "ix_translation_reviews_decided_at", "translation_reviews", ["decided_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_translation_reviews_decided_at", table_name="translation_reviews")
    op.drop_table("translation_reviews")
    op.drop_column("staff", "languages")
