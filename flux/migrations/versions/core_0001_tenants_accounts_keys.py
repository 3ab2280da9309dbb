"""Tenants, memberships, platform accounts, app users, sessions and service keys; the default tenant.

Revision ID: core_0001
Revises:
"""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "core_0001"
down_revision = None
branch_labels = ("core",)
depends_on = None

TZ = sa.DateTime(timezone=True)


def _id() -> sa.Column:
    return sa.Column("id", sa.String(36), primary_key=True)


def _tenant() -> sa.Column:
    return sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)


def _credentials() -> list[sa.Column]:
    return [
        _id(),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("failed_signins", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", TZ),
        sa.Column("last_signin_at", TZ),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    ]


def upgrade() -> None:
    tenants = op.create_table(
        "tenants",
        _id(),
        sa.Column("slug", sa.String(63), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("deleted_at", TZ),
    )
    op.create_table(
        "platform_accounts",
        *_credentials(),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.UniqueConstraint("email"),
    )
    op.create_table(
        "tenant_memberships",
        _id(),
        _tenant(),
        sa.Column(
            "account_id", sa.String(36), sa.ForeignKey("platform_accounts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("tenant_id", "account_id"),
    )
    op.create_index("ix_tenant_memberships_account_id", "tenant_memberships", ["account_id"])
    op.create_table(
        "auth_users",
        *_credentials(),
        _tenant(),
        sa.Column("user_metadata", sa.JSON, nullable=False),
        sa.UniqueConstraint("tenant_id", "email"),
    )
    op.create_table(
        "auth_sessions",
        _id(),
        sa.Column("account_kind", sa.String(16), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        _tenant(),
        sa.Column("refresh_hash", sa.String(64), nullable=False),
        sa.Column("refresh_generation", sa.Integer, nullable=False),
        sa.Column("user_agent", sa.String(255), nullable=False),
        sa.Column("ip_address", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("refreshed_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("revoked_at", TZ),
        sa.Column("revoked_reason", sa.String(64)),
    )
    op.create_index("ix_auth_sessions_account_id", "auth_sessions", ["account_id"])
    op.create_table(
        "service_keys",
        _id(),
        _tenant(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False, unique=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("expires_at", TZ),
        sa.Column("revoked_at", TZ),
        sa.Column("revoked_reason", sa.Text),
        sa.Column("deprecated_at", TZ),
        sa.Column("grace_until", TZ),
        sa.Column("replaced_by", sa.String(36)),
        sa.Column("created_by", sa.String(36)),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("last_used_at", TZ),
    )
    op.create_index("ix_service_keys_tenant_id", "service_keys", ["tenant_id"])
    op.create_table(
        "service_key_events",
        _id(),
        _tenant(),
        sa.Column("key_id", sa.String(36), sa.ForeignKey("service_keys.id", ondelete="CASCADE"), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor_id", sa.String(36)),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index("ix_service_key_events_key_id", "service_key_events", ["key_id"])
    for table in ("auth_users", "service_key_events", "tenant_memberships"):
        op.create_index(f"ix_{table}_tenant_id", table, ["tenant_id"])
    now = datetime.now(UTC)
    op.bulk_insert(
        tenants,
        [
            {
                "id": str(uuid.uuid4()),
                "slug": "default",
                "name": "Default",
                "metadata": {},
                "created_at": now,
                "updated_at": now,
                "deleted_at": None,
            }
        ],
    )


def downgrade() -> None:
    for table in (
        "service_key_events",
        "service_keys",
        "auth_sessions",
        "auth_users",
        "tenant_memberships",
        "platform_accounts",
        "tenants",
    ):
        op.drop_table(table)
