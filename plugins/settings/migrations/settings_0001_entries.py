"""The settings table: user and system settings and secrets of every tenant.

Revision ID: settings_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "settings_0001"
down_revision = None
branch_labels = ("settings",)
depends_on = "core_0001"

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "settings_entries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.JSON),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("user_id", sa.String(36)),
        sa.Column("is_public", sa.Boolean, nullable=False),
        sa.Column("is_secret", sa.Boolean, nullable=False),
        sa.Column("encrypted_value", sa.Text),
        sa.Column("created_by", sa.String(36)),
        sa.Column("updated_by", sa.String(36)),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_index("ix_settings_entries_tenant_id", "settings_entries", ["tenant_id"])
    op.create_index(
        "ux_settings_entries_user_key",
        "settings_entries",
        ["tenant_id", "user_id", "key"],
        unique=True,
        sqlite_where=sa.text("user_id IS NOT NULL"),
        postgresql_where=sa.text("user_id IS NOT NULL"),
    )
    op.create_index(
        "ux_settings_entries_system_key",
        "settings_entries",
        ["tenant_id", "key"],
        unique=True,
        sqlite_where=sa.text("user_id IS NULL"),
        postgresql_where=sa.text("user_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("settings_entries")
