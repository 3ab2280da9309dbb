"""Sign-in lockouts per e-mail, known or not; the accounts' own lockout columns go.

A lockout kept on the account row could only lock existing accounts, so an unknown
e-mail kept answering 401 where a known one answered 429: an enumeration oracle.
Locks in force when this runs are forgotten (they last minutes).

Revision ID: core_0003
Revises: core_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "core_0003"
down_revision = "core_0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
ACCOUNT_TABLES = ("platform_accounts", "auth_users")


def upgrade() -> None:
    op.create_table(
        "signin_lockouts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("account_kind", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(36), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("locked_until", TZ),
        sa.Column("updated_at", TZ, nullable=False),
        sa.UniqueConstraint("account_kind", "scope", "email", name="uq_signin_lockouts_email"),
    )
    op.create_index("ix_signin_lockouts_updated_at", "signin_lockouts", ["updated_at"])
    for table in ACCOUNT_TABLES:
        # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): a batch rebuild would drop and
        # re-create the table, and with foreign keys on cascade-delete the memberships.
        op.drop_column(table, "failed_signins")
        op.drop_column(table, "locked_until")


def downgrade() -> None:
    for table in ACCOUNT_TABLES:
        op.add_column(table, sa.Column("failed_signins", sa.Integer, nullable=False, server_default="0"))
        op.add_column(table, sa.Column("locked_until", TZ))
    op.drop_index("ix_signin_lockouts_updated_at", "signin_lockouts")
    op.drop_table("signin_lockouts")
