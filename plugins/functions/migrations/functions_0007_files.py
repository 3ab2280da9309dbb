"""A directory function's own files besides its entry (`helpers.ts`, `lib/types.ts`), kept with each version.

Revision ID: functions_0007
Revises: functions_0006

Existing functions are single files: they get none.
"""

import sqlalchemy as sa
from alembic import op

revision = "functions_0007"
down_revision = "functions_0006"
branch_labels = None
depends_on = None

TABLES = ("functions", "function_versions")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("files", sa.JSON, nullable=False, server_default="{}"))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("files")
