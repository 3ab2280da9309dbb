"""The suite's template databases (`tests/template_db.py`) stand in for Alembic faithfully and carry no keys."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from flux import migrate
from flux.crypto import canary
from flux.db import db
from flux.storage.sql import kv_table
from tests.conftest import BACKEND

CANARY_ROWS = sa.select(sa.func.count()).where(kv_table.c.namespace == canary.NAMESPACE, kv_table.c.key == canary.KEY)


def schema(app) -> dict[str, list[str]]:
    with app.app_context(), db.engine.connect() as connection:
        inspector = sa.inspect(connection)
        return {table: sorted(c["name"] for c in inspector.get_columns(table)) for table in inspector.get_table_names()}


def test_no_template_holds_a_key_canary(app, templates):
    assert templates.made
    for template in templates.made.values():
        if BACKEND == "sqlite":
            with sqlite3.connect(template) as connection:
                sql = "SELECT count(*) FROM flux_kv WHERE namespace = ? AND key = ?"
                assert connection.execute(sql, (canary.NAMESPACE, canary.KEY)).fetchone() == (0,)
            with open(template, "rb") as file:
                assert canary.KEY.encode() not in file.read()  # not even in a free page
        else:
            engine = sa.create_engine(sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(database=template))
            with engine.connect() as connection:
                assert connection.execute(CANARY_ROWS).scalar_one() == 0
            engine.dispose()


def test_an_app_on_a_template_copy_seals_the_canary_with_its_own_keys(make_app):
    app = make_app(ENCRYPTION_KEY="t" * 32)
    with app.app_context(), db.engine.connect() as connection:
        assert connection.execute(CANARY_ROWS).scalar_one() == 1
    assert canary.app_problem(app) is None
    assert migrate.pending_heads(app) == []


@pytest.mark.skipif(BACKEND != "sqlite", reason="two databases side by side: one SQLite file each")
def test_a_template_copy_has_the_schema_alembic_makes(make_app, tmp_path):
    copied = make_app()
    migrated = make_app(INSTANCE_PATH=str(tmp_path / "other"))  # not the test's first app: real Alembic
    assert schema(copied) == schema(migrated)
    assert "my_plugin_notes" in schema(copied)
