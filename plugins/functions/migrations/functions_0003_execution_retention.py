"""Executions: an index that finds a function's latest execution (and its newest N) without a sort.

Revision ID: functions_0003
Revises: functions_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "functions_0003"
down_revision = "functions_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_function_executions_function_started", table_name="function_executions")
    op.create_index("ix_function_executions_latest", "function_executions", ["function_id", sa.text("started_at DESC")])


def downgrade() -> None:
    op.drop_index("ix_function_executions_latest", table_name="function_executions")
    op.create_index("ix_function_executions_function_started", "function_executions", ["function_id", "started_at"])
