"""A directory function's own files besides its entry (`helpers.ts`, `lib/types.ts`), kept with each version;
and bundles in a table of their own, the function keeping their digest, which invocations read instead.

Revision ID: functions_0007
Revises: functions_0006

Existing functions are single files: they get none. Existing bundles move, with their digest.
"""

import hashlib

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
    op.add_column("functions", sa.Column("bundle_digest", sa.String(64)))
    bundles = op.create_table(
        "function_bundles",
        sa.Column("function_id", sa.String(36), sa.ForeignKey("functions.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("bundle", sa.Text, nullable=False),
    )
    op.create_index("ix_function_bundles_tenant_id", "function_bundles", ["tenant_id"])
    functions = sa.table(
        "functions",
        sa.column("id", sa.String),
        sa.column("tenant_id", sa.String),
        sa.column("bundle", sa.Text),
        sa.column("bundle_digest", sa.String),
    )
    connection = op.get_bind()
    bundled = sa.select(functions.c.id, functions.c.tenant_id, functions.c.bundle).where(
        functions.c.bundle.is_not(None)
    )
    for function_id, tenant_id, bundle in connection.execute(bundled).all():
        digest = hashlib.sha256(bundle.encode()).hexdigest()
        connection.execute(sa.update(functions).where(functions.c.id == function_id).values(bundle_digest=digest))
        row = {"function_id": function_id, "tenant_id": tenant_id, "digest": digest, "bundle": bundle}
        connection.execute(sa.insert(bundles).values(**row))
    # In place, not in batch: SQLite's batch mode copies the table and drops the old one,
    # and the drop would cascade to every version and execution (foreign keys are on).
    op.drop_column("functions", "bundle")


def downgrade() -> None:
    op.add_column("functions", sa.Column("bundle", sa.Text))
    op.execute("UPDATE functions SET bundle = (SELECT bundle FROM function_bundles WHERE function_id = functions.id)")
    op.drop_table("function_bundles")
    # In place: a batch copy's drop of the old table would cascade to every version and execution.
    op.drop_column("functions", "bundle_digest")
    for table in TABLES:
        op.drop_column(table, "files")
