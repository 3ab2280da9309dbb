"""Bundles: a function's code with the shared modules it imports, stored with it.

Revision ID: functions_0006
Revises: functions_0005

Existing functions import nothing (until now an import of `_shared/…` did not compile),
so they get no bundle and run their code as before.
"""

import sqlalchemy as sa
from alembic import op

revision = "functions_0006"
down_revision = "functions_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("functions", sa.Column("bundle", sa.Text))
    op.add_column("functions", sa.Column("is_bundled", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("functions", sa.Column("bundle_error", sa.Text))
    op.add_column("functions", sa.Column("bundled_modules", sa.JSON, nullable=False, server_default="{}"))


def downgrade() -> None:
    # In place: a batch copy's drop of the old table would cascade to every version and execution.
    for column in ("bundled_modules", "bundle_error", "is_bundled", "bundle"):
        op.drop_column("functions", column)
