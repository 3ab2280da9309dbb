"""Migrations run up cleanly on an empty database (SQLite or PostgreSQL, by FLUXBASE_TEST_DB)."""

from __future__ import annotations

import sqlalchemy as sa

from flux import migrate
from flux.cli import cli
from flux.db import db


def table_names(app) -> set[str]:
    with app.app_context():
        return set(sa.inspect(db.engine).get_table_names())


def test_upgrade_on_empty_database(make_app):
    app = make_app(migrated=False)
    assert table_names(app) == set()
    migrate.upgrade(app)
    assert {"alembic_version", "flux_kv", "my_plugin_notes"} <= table_names(app)
    with app.app_context(), db.engine.connect() as connection:
        applied = set(connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())
    assert applied == {"core_0003", "storage_0001", "my_plugin_0001", "secrets_0001", "settings_0001", "functions_0003"}


def test_upgrade_is_idempotent(app):
    migrate.upgrade(app)
    assert migrate.pending_heads(app) == []


def test_db_commands(make_app, monkeypatch):
    app = make_app(migrated=False)
    monkeypatch.setenv("FLUXBASE_INSTANCE_PATH", app.instance_path)
    monkeypatch.setenv("FLUXBASE_DATABASE_URL", app.config["DATABASE_URL"])
    runner = app.test_cli_runner()
    status = runner.invoke(cli, ["db", "status"])
    assert status.exit_code == 1 and "storage_0001" in status.output
    assert runner.invoke(cli, ["db", "upgrade"]).output == "Database is up to date.\n"
    assert "flux_kv" in table_names(app)
    assert runner.invoke(cli, ["db", "status"]).exit_code == 0


def test_sqlite_runs_in_wal_mode_with_busy_timeout(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    with app.app_context(), db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000
