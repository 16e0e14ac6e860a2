"""Committee names and meeting places per language (review B13), as broadcast topics have.

- ``committees.names``: ``{locale: name}``, the names workers read in their language.
- ``committees.places``: ``{locale: place}``, the usual meeting place the same way.
- ``committees.default_locale``: the language ``name`` and ``location`` are written in; a reader
  whose language has no name gets those. Existing committees were named in English.

Revision ID: 0019_committee_names
Revises: 0018_translation_reviews
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019_committee_names"
down_revision: str | Sequence[str] | None = "0018_translation_reviews"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# JSONB on PostgreSQL, JSON text on SQLite (frozen here: migrations do not import app code).
JSONB = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    # Native ADD COLUMN with a default: no table rebuild, existing rows get no translations yet.
    op.add_column(
        "committees", sa.Column("names", JSONB, nullable=False, server_default=sa.text("'{}'"))
    )
    op.add_column(
        "committees", sa.Column("places", JSONB, nullable=False, server_default=sa.text("'{}'"))
    )
    op.add_column(
        "committees",
        sa.Column("default_locale", sa.String(8), nullable=False, server_default="en"),
    )


def downgrade() -> None:
    op.drop_column("committees", "default_locale")
    op.drop_column("committees", "places")
    op.drop_column("committees", "names")
