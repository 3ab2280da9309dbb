"""Settings from the API kept apart from the code's `@fluxbase:` directives (`directives.py`).

Revision ID: functions_0004
Revises: functions_0003

`functions.api_settings` holds what the API set, `functions.annotations` what the
code's directives say. Until now `allow_unauthenticated` and `is_public` could only be
set through the API, so a value other than the default moves into `api_settings`.
Existing code is not read for directives here: they meant nothing when it was stored,
and a function must not open itself to anonymous callers on an upgrade; they apply
from the function's next save.
"""

import sqlalchemy as sa
from alembic import op

revision = "functions_0004"
down_revision = "functions_0003"
branch_labels = None
depends_on = None

FUNCTIONS = sa.table(
    "functions",
    sa.column("id", sa.String),
    sa.column("allow_unauthenticated", sa.Boolean),
    sa.column("is_public", sa.Boolean),
    sa.column("api_settings", sa.JSON),
)


def upgrade() -> None:
    op.add_column("functions", sa.Column("api_settings", sa.JSON, nullable=False, server_default="{}"))
    op.add_column("functions", sa.Column("annotations", sa.JSON, nullable=False, server_default="{}"))
    connection = op.get_bind()
    changed = sa.select(FUNCTIONS.c.id, FUNCTIONS.c.allow_unauthenticated, FUNCTIONS.c.is_public).where(
        sa.or_(FUNCTIONS.c.allow_unauthenticated.is_(True), FUNCTIONS.c.is_public.is_(False))
    )
    for row in connection.execute(changed).all():
        given = {}
        if row.allow_unauthenticated:
            given["allow_unauthenticated"] = True
        if not row.is_public:
            given["is_public"] = False
        connection.execute(FUNCTIONS.update().where(FUNCTIONS.c.id == row.id).values(api_settings=given))


def downgrade() -> None:
    # In place: a batch copy's drop of the old table would cascade to every version and execution.
    for column in ("annotations", "api_settings"):
        op.drop_column("functions", column)
