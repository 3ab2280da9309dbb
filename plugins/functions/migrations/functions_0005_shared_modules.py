"""Shared modules: code functions import as `_shared/…`, with every version kept.

Revision ID: functions_0005
Revises: functions_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "functions_0005"
down_revision = "functions_0004"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "function_shared_modules",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("module_path", sa.String(255), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(36)),
        sa.Column("updated_by", sa.String(36)),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.UniqueConstraint("tenant_id", "module_path", name="ux_function_shared_modules_path"),
    )
    op.create_index("ix_function_shared_modules_tenant_id", "function_shared_modules", ["tenant_id"])
    op.create_table(
        "function_shared_module_versions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "module_id",
            sa.String(36),
            sa.ForeignKey("function_shared_modules.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(36)),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("module_id", "version", name="ux_function_shared_module_versions"),
    )
    op.create_index("ix_function_shared_module_versions_tenant_id", "function_shared_module_versions", ["tenant_id"])
    op.create_index("ix_function_shared_module_versions_module_id", "function_shared_module_versions", ["module_id"])


def downgrade() -> None:
    op.drop_table("function_shared_module_versions")
    op.drop_table("function_shared_modules")
