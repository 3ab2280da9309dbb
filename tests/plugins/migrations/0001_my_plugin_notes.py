"""The test plugin's table, on its own branch.

Revision ID: my_plugin_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "my_plugin_0001"
down_revision = None
branch_labels = ("my_plugin",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "my_plugin_notes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("owner_id", sa.String(36), nullable=True),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("body", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("my_plugin_notes")
