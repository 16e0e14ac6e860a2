"""Audio clips for workers who do not read (issue 19, part 3).

- ``audio_clips``: a key screen or a survey question or answer read aloud, one per language.
- ``users.listen``: the worker chose "🔊 Listen": screens with a clip come as voice messages too.

Revision ID: 0020_audio_clips
Revises: 0019_committee_names
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_audio_clips"
down_revision: str | Sequence[str] | None = "0019_committee_names"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audio_clips",
        sa.Column("id", BigId, nullable=False),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("target", sa.String(120), nullable=False),
        sa.Column("survey_key", sa.String(32), nullable=True),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("telegram_file_id", sa.String(255), nullable=True),
        sa.Column("synthetic", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("uploaded_by_staff_id", BigId, nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["uploaded_by_staff_id"],
            ["staff.id"],
            name=op.f("fk_audio_clips_uploaded_by_staff_id_staff"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audio_clips")),
        sa.UniqueConstraint("token", name=op.f("uq_audio_clips_token")),
        sa.UniqueConstraint("target", "locale", name=op.f("uq_audio_clips_target_locale")),
    )
    op.create_index(op.f("ix_audio_clips_target"), "audio_clips", ["target"])
    op.create_index(op.f("ix_audio_clips_survey_key"), "audio_clips", ["survey_key"])
    op.add_column(
        "users", sa.Column("listen", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("listen")
    op.drop_index("ix_audio_clips_survey_key", table_name="audio_clips")
    op.drop_index("ix_audio_clips_target", table_name="audio_clips")
    op.drop_table("audio_clips")
