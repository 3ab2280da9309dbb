"""Functions, their versions and their executions.

Revision ID: functions_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "functions_0001"
down_revision = None
branch_labels = ("functions",)
depends_on = "core_0001"

TZ = sa.DateTime(timezone=True)


def _tenant() -> sa.Column:
    return sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)


def _function() -> sa.Column:
    return sa.Column("function_id", sa.String(36), sa.ForeignKey("functions.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "functions",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("timeout_seconds", sa.Integer, nullable=False),
        sa.Column("memory_mb", sa.Integer, nullable=False),
        sa.Column("env", sa.JSON, nullable=False),
        sa.Column("permissions", sa.JSON, nullable=False),
        sa.Column("allow_unauthenticated", sa.Boolean, nullable=False),
        sa.Column("is_public", sa.Boolean, nullable=False),
        sa.Column("isolation", sa.String(20), nullable=False),
        sa.Column("created_by", sa.String(36)),
        sa.Column("updated_by", sa.String(36)),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.UniqueConstraint("tenant_id", "namespace", "name", name="ux_functions_name"),
    )
    op.create_index("ix_functions_tenant_id", "functions", ["tenant_id"])
    op.create_table(
        "function_versions",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        _function(),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(36)),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("function_id", "version", name="ux_function_versions"),
    )
    op.create_index("ix_function_versions_tenant_id", "function_versions", ["tenant_id"])
    op.create_index("ix_function_versions_function_id", "function_versions", ["function_id"])
    op.create_table(
        "function_executions",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        _function(),
        sa.Column("function_name", sa.String(64), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("logs", sa.JSON, nullable=False),
        sa.Column("logs_truncated", sa.Boolean, nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(36)),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("completed_at", TZ, nullable=False),
    )
    op.create_index("ix_function_executions_tenant_id", "function_executions", ["tenant_id"])
    op.create_index("ix_function_executions_function_started", "function_executions", ["function_id", "started_at"])


def downgrade() -> None:
    op.drop_table("function_executions")
    op.drop_table("function_versions")
    op.drop_table("functions")
