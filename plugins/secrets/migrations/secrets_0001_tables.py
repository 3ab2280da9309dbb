"""Function secrets and their versions.

Revision ID: secrets_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "secrets_0001"
down_revision = None
branch_labels = ("secrets",)
depends_on = "core_0001"

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "function_secrets",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("env_name", sa.String(144), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("encrypted_value", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("expires_at", TZ),
        sa.Column("created_by", sa.String(36)),
        sa.Column("updated_by", sa.String(36)),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.UniqueConstraint("tenant_id", "scope", "namespace", "name", name="ux_function_secrets_name"),
        sa.UniqueConstraint("tenant_id", "scope", "namespace", "env_name", name="ux_function_secrets_env_name"),
    )
    op.create_index("ix_function_secrets_tenant_id", "function_secrets", ["tenant_id"])
    op.create_table(
        "function_secret_versions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("secret_id", sa.String(36), sa.ForeignKey("function_secrets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("encrypted_value", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(36)),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("secret_id", "version", name="ux_function_secret_versions"),
    )
    op.create_index("ix_function_secret_versions_tenant_id", "function_secret_versions", ["tenant_id"])
    op.create_index("ix_function_secret_versions_secret_id", "function_secret_versions", ["secret_id"])


def downgrade() -> None:
    op.drop_table("function_secret_versions")
    op.drop_table("function_secrets")
