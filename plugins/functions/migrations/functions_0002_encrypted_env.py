"""Function env values sealed: `functions.encrypted_env` holds them, `functions.env` only their names.

Revision ID: functions_0002
Revises: functions_0001

Existing plaintext values are sealed here, under the server's current key, and the
plaintext is gone from the row (on SQLite its old cells are zeroed; on PostgreSQL
old row versions stay in the table's file until `VACUUM FULL functions`). Runs
inside the app (`flux.migrate.upgrade`), which holds the keys.
"""

import json

import sqlalchemy as sa
from alembic import op

from flux.api import associated_data, flux_state

revision = "functions_0002"
down_revision = "functions_0001"
branch_labels = None
depends_on = None

# As plugins/functions/function_env.py wrote it at this revision: a migration keeps its own copy.
PURPOSE = "function-env"
FUNCTIONS = sa.table(
    "functions",
    sa.column("id", sa.String),
    sa.column("tenant_id", sa.String),
    sa.column("env", sa.JSON),
    sa.column("encrypted_env", sa.Text),
)


def _aad(row, names: list[str]) -> bytes:
    return associated_data(PURPOSE, row.tenant_id, row.id, ",".join(sorted(names)))


def upgrade() -> None:
    op.add_column("functions", sa.Column("encrypted_env", sa.Text))
    connection, encryptor = op.get_bind(), flux_state().encryptor
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA secure_delete = ON")  # the plaintext's old cells are zeroed
    for row in connection.execute(sa.select(FUNCTIONS.c.id, FUNCTIONS.c.tenant_id, FUNCTIONS.c.env)).all():
        values = row.env or {}
        names = sorted(values)
        sealed = encryptor.encrypt(json.dumps(values, sort_keys=True), aad=_aad(row, names)) if names else None
        update = sa.update(FUNCTIONS).where(FUNCTIONS.c.id == row.id)
        connection.execute(update.values(env=names, encrypted_env=sealed))


def downgrade() -> None:
    connection, encryptor = op.get_bind(), flux_state().encryptor
    query = sa.select(FUNCTIONS.c.id, FUNCTIONS.c.tenant_id, FUNCTIONS.c.env, FUNCTIONS.c.encrypted_env)
    for row in connection.execute(query).all():
        names = row.env or []
        values = json.loads(encryptor.decrypt_text(row.encrypted_env, aad=_aad(row, names))) if names else {}
        connection.execute(sa.update(FUNCTIONS).where(FUNCTIONS.c.id == row.id).values(env=values))
    # In place: a batch copy's drop of the old table would cascade to every version and execution.
    op.drop_column("functions", "encrypted_env")
