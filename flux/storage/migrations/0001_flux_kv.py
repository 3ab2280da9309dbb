"""The `flux_kv` table of the built-in SQL key-value store.

Revision ID: storage_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "storage_0001"
down_revision = None
branch_labels = ("storage",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flux_kv",
        sa.Column("namespace", sa.String(128), primary_key=True),
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("flux_kv")
