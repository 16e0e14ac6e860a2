"""Staff security: sessions, second-factor attempts, sealed TOTP secrets.

- ``session_version``: console sessions carry it; sign-out, password change and deactivation bump
  it, so a copied cookie dies with them.
- ``totp_failures`` / ``totp_locked_until``: wrong second-factor codes pause further codes.
- ``totp_sealed`` replaces ``totp_secret``: seeds are sealed (SecretBox) with a key derived from
  SECRET_KEY; existing seeds are sealed here and unsealed again on downgrade.
- ``failed_logins`` / ``locked_until`` go: password failures are now counted per (account, client
  address) outside the staff row, so nobody can lock a colleague out.

Revision ID: 0011_staff_security
Revises: 0010_webhook_updates
"""

import base64
import hashlib
import hmac
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import context, op
from nacl.secret import SecretBox

revision: str = "0011_staff_security"
down_revision: str | Sequence[str] | None = "0010_webhook_updates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Must stay equal to services.accounts.totp_box (a migration does not import live code).
_PURPOSE = b"workvoice:totp-secret"


def _box() -> SecretBox:
    get: Callable[[], str] | None = context.config.attributes.get("secret_key")
    if get is None:
        from workvoice.kernel.settings import load_settings

        key = load_settings().effective_secret_key
    else:
        key = get()
    return SecretBox(hmac.new(key.encode(), _PURPOSE, hashlib.sha256).digest())


def _staff_table(*columns: str) -> sa.TableClause:
    return sa.table(
        "staff", sa.column("id", sa.Integer), *(sa.column(c, sa.String) for c in columns)
    )


def upgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_sealed", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column("totp_failures", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("totp_locked_until", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), nullable=False, server_default="0")
        )
    staff = _staff_table("totp_secret", "totp_sealed")
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(staff.c.id, staff.c.totp_secret).where(staff.c.totp_secret.is_not(None))
    ).all()
    if rows:
        box = _box()
        for staff_id, secret in rows:
            sealed = base64.b64encode(box.encrypt(secret.encode())).decode()
            conn.execute(
                staff.update()
                .where(staff.c.id == staff_id)
                .values(totp_sealed=sealed, totp_secret=None)
            )
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("totp_secret")
        batch_op.drop_column("failed_logins")
        batch_op.drop_column("locked_until")


def downgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    staff = _staff_table("totp_secret", "totp_sealed")
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(staff.c.id, staff.c.totp_sealed).where(staff.c.totp_sealed.is_not(None))
    ).all()
    if rows:
        box = _box()
        for staff_id, sealed in rows:
            secret = box.decrypt(base64.b64decode(sealed)).decode()
            conn.execute(staff.update().where(staff.c.id == staff_id).values(totp_secret=secret))
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("session_version")
        batch_op.drop_column("totp_locked_until")
        batch_op.drop_column("totp_failures")
        batch_op.drop_column("totp_sealed")
