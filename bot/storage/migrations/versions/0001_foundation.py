"""Foundation: countries, factories, users, staff, audit trail, raw updates, outbox.

Revision ID: 0001_foundation
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL, JSON text on SQLite (frozen here: migrations do not import app code).
JSONB = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0001_foundation"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The eight Better Work countries (DESIGN §2) with national emergency numbers; staff edit them later.
PROGRAMME_COUNTRIES = [
    {
        "code": "BD",
        "name": "Bangladesh",
        "timezone": "Asia/Dhaka",
        "default_locale": "bn",
        "helplines": [
            {"label": "National emergency", "phone": "999"},
            {"label": "Violence against women and children", "phone": "109"},
        ],
    },
    {
        "code": "KH",
        "name": "Cambodia",
        "timezone": "Asia/Phnom_Penh",
        "default_locale": "km",
        "helplines": [{"label": "Police", "phone": "117"}, {"label": "Ambulance", "phone": "119"}],
    },
    {
        "code": "ET",
        "name": "Ethiopia",
        "timezone": "Africa/Addis_Ababa",
        "default_locale": "am",
        "helplines": [{"label": "Police", "phone": "991"}, {"label": "Ambulance", "phone": "907"}],
    },
    {
        "code": "HT",
        "name": "Haiti",
        "timezone": "America/Port-au-Prince",
        "default_locale": "ht",
        "helplines": [{"label": "Police", "phone": "114"}, {"label": "Ambulance", "phone": "116"}],
    },
    {
        "code": "ID",
        "name": "Indonesia",
        "timezone": "Asia/Jakarta",
        "default_locale": "id",
        "helplines": [{"label": "Emergency", "phone": "112"}, {"label": "Police", "phone": "110"}],
    },
    {
        "code": "JO",
        "name": "Jordan",
        "timezone": "Asia/Amman",
        "default_locale": "ar",
        "helplines": [{"label": "Emergency", "phone": "911"}],
    },
    {
        "code": "NI",
        "name": "Nicaragua",
        "timezone": "America/Managua",
        "default_locale": "es",
        "helplines": [
            {"label": "Police", "phone": "118"},
            {"label": "Ambulance (Red Cross)", "phone": "128"},
        ],
    },
    {
        "code": "VN",
        "name": "Vietnam",
        "timezone": "Asia/Ho_Chi_Minh",
        "default_locale": "vi",
        "helplines": [
            {"label": "Police", "phone": "113"},
            {"label": "Ambulance", "phone": "115"},
            {"label": "Child protection", "phone": "111"},
        ],
    },
]


def upgrade() -> None:
    op.create_table(
        "countries",
        sa.Column("code", sa.String(length=2), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("default_locale", sa.String(length=8), nullable=False),
        sa.Column("helplines", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_countries")),
    )
    op.create_table(
        "raw_updates",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payload", JSONB, nullable=True),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_raw_updates")),
    )
    with op.batch_alter_table("raw_updates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_raw_updates_received_at"), ["received_at"], unique=False
        )

    op.create_table(
        "staff",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("totp_secret", sa.String(length=64), nullable=True),
        sa.Column("totp_confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("invite_token_hash", sa.String(length=128), nullable=True),
        sa.Column("invite_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("telegram_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
        sa.UniqueConstraint("email", name=op.f("uq_staff_email")),
        sa.UniqueConstraint("telegram_id", name=op.f("uq_staff_telegram_id")),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "actor_staff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=True),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("country_code", sa.String(length=2), nullable=True),
        sa.Column("detail", JSONB, nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_staff_id"], ["staff.id"], name=op.f("fk_audit_events_actor_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_action"), ["action"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_events_actor_staff_id"), ["actor_staff_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_audit_events_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_events_country_code"), ["country_code"], unique=False
        )

    op.create_table(
        "factories",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["country_code"], ["countries.code"], name=op.f("fk_factories_country_code_countries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_factories")),
        sa.UniqueConstraint("code", name=op.f("uq_factories_code")),
    )
    with op.batch_alter_table("factories", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_factories_country_code"), ["country_code"], unique=False
        )

    op.create_table(
        "staff_countries",
        sa.Column("staff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["country_code"],
            ["countries.code"],
            name=op.f("fk_staff_countries_country_code_countries"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_staff_countries_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("staff_id", "country_code", name=op.f("pk_staff_countries")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=True),
        sa.Column(
            "factory_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("gender", sa.String(length=16), nullable=True),
        sa.Column("age_band", sa.String(length=16), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["factory_id"],
            ["factories.id"],
            name=op.f("fk_users_factory_id_factories"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("telegram_id", name=op.f("uq_users_telegram_id")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_factory_id"), ["factory_id"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("staff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("params", JSONB, nullable=False),
        sa.Column("dedupe_key", sa.String(length=128), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(user_id IS NOT NULL) <> (staff_id IS NOT NULL)", name=op.f("ck_outbox_one_recipient")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_outbox_staff_id_staff"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_outbox_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_dedupe_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_due", ["status", "due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_user_id"), ["user_id"], unique=False)

    countries = sa.table(
        "countries",
        sa.column("code", sa.String),
        sa.column("name", sa.String),
        sa.column("timezone", sa.String),
        sa.column("default_locale", sa.String),
        sa.column("helplines", sa.JSON),
    )
    op.bulk_insert(countries, PROGRAMME_COUNTRIES)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_user_id"))
        batch_op.drop_index("ix_outbox_due")

    op.drop_table("outbox")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_factory_id"))

    op.drop_table("users")
    op.drop_table("staff_countries")
    with op.batch_alter_table("factories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_factories_country_code"))

    op.drop_table("factories")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_country_code"))
        batch_op.drop_index(batch_op.f("ix_audit_events_at"))
        batch_op.drop_index(batch_op.f("ix_audit_events_actor_staff_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_action"))

    op.drop_table("audit_events")
    op.drop_table("staff")
    with op.batch_alter_table("raw_updates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_raw_updates_received_at"))

    op.drop_table("raw_updates")
    op.drop_table("countries")
