"""Migrations run up cleanly on an empty database (SQLite or PostgreSQL, by FLUXBASE_TEST_DB)."""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from alembic import command

from flux import migrate
from flux.cli import cli
from flux.db import begin_writing, db


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
    assert applied == {"core_0003", "storage_0001", "my_plugin_0001", "secrets_0001", "settings_0001", "functions_0007"}


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


def downgrade(app, revision: str) -> None:
    config = migrate.alembic_config(app)
    with app.app_context(), db.engine.begin() as connection:
        begin_writing(connection)
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def downgraded(make_app, revision: str):
    """An app whose database is migrated up to date, then down to `revision`."""
    app = make_app(migrated=False)
    migrate.upgrade(app)
    downgrade(app, revision)
    return app


def insert_function(
    app, name: str, code: str = "code", anonymous: bool = False, public: bool = True, version: bool = False, **columns
) -> None:
    """A function row of functions_0001's columns (and `columns` of later ones), with its version 1 if asked."""
    given = {"name": name, "code": code, "anonymous": anonymous, "public": public, **columns}
    extra = "".join(f", {column}" for column in columns)
    values = "".join(f", :{column}" for column in columns)
    with app.app_context(), db.engine.begin() as connection:
        given["tenant"] = connection.execute(sa.text("SELECT id FROM tenants")).scalar_one()
        connection.execute(
            sa.text(
                "INSERT INTO functions (id, tenant_id, name, namespace, description, code, version, enabled, "
                "timeout_seconds, memory_mb, env, permissions, allow_unauthenticated, is_public, isolation, "
                f"created_at, updated_at{extra}) VALUES (:name, :tenant, :name, 'default', '', :code, 1, true, 60, "
                f"128, '[]', '{{}}', :anonymous, :public, 'warm', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP{values})"
            ),
            given,
        )
        if version:
            connection.execute(
                sa.text(
                    "INSERT INTO function_versions (id, tenant_id, function_id, version, code, created_at) "
                    "VALUES (:name, :tenant, :name, 1, :code, CURRENT_TIMESTAMP)"
                ),
                given,
            )


def test_settings_the_api_gave_move_into_api_settings_and_code_is_not_read(make_app):
    """Before functions_0004 only the API could set these; a directive in old code must not open a function."""
    app = downgraded(make_app, "functions_0003")
    for name, anonymous, public in (("open", True, True), ("hidden", False, False), ("plain", False, True)):
        insert_function(app, name, "// @fluxbase:allow-unauthenticated", anonymous=anonymous, public=public)
    migrate.upgrade(app)
    with app.app_context(), db.engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT name, api_settings, annotations, allow_unauthenticated FROM functions ORDER BY name")
        ).all()

    def decoded_json(value):  # SQLite's driver gives JSON columns as text, psycopg as objects
        return json.loads(value) if isinstance(value, str) else value

    decoded = {name: (decoded_json(api), decoded_json(found), bool(anonymous)) for name, api, found, anonymous in rows}
    assert decoded == {
        "hidden": ({"is_public": False}, {}, False),
        "open": ({"allow_unauthenticated": True}, {}, True),
        "plain": ({}, {}, False),
    }


def test_existing_bundles_move_to_their_table_with_their_digest_and_functions_get_no_files(make_app):
    """functions_0007: an invocation reads the bundle's digest, never the bundle; old functions are single files."""
    app = downgraded(make_app, "functions_0006")
    for name, bundle in (("bundled", "export const x = 1;"), ("plain", None)):
        insert_function(app, name, version=True, bundle=bundle)
    migrate.upgrade(app)
    with app.app_context(), db.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT name, bundle_digest, files FROM functions ORDER BY name")).all()
        bundles = connection.execute(sa.text("SELECT function_id, digest, bundle FROM function_bundles")).all()
        versions = connection.execute(sa.text("SELECT function_id FROM function_versions ORDER BY 1")).scalars().all()
    digest = hashlib.sha256(b"export const x = 1;").hexdigest()
    assert [(name, found, json.loads(files) if isinstance(files, str) else files) for name, found, files in rows] == [
        ("bundled", digest, {}),
        ("plain", None, {}),
    ]
    assert [tuple(row) for row in bundles] == [("bundled", digest, "export const x = 1;")]
    assert versions == ["bundled", "plain"]  # the functions' table changed in place: nothing cascaded


def test_the_functions_downgrades_keep_every_version_and_execution(make_app):
    """Their column drops are in place: SQLite's batch copy would drop the old table, and that cascades."""
    app = make_app(migrated=False)
    migrate.upgrade(app)
    insert_function(app, "f", version=True)
    downgrade(app, "functions_0001")
    with app.app_context(), db.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT id FROM function_versions")).scalars().all() == ["f"]
