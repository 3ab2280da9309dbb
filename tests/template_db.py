"""Migrated template databases: Alembic runs once per session and plugin set, not once per test.

The first test that asks for a migrated app on an empty database runs the real
migrations (six branches) and leaves a snapshot of the result, the template; later
tests with the same plugin set get a copy of it. SQLite: the template is a file, copied
over the test's (empty, 0600) `flux.sqlite`. PostgreSQL: the template is a database,
and the test's database is dropped and created again from it (`CREATE DATABASE …
TEMPLATE …`); the README's testing section has the measurements.

Keys: `create_app` gives every test its own key files, so no template may hold a key
canary, which is sealed with the keys of the app that migrated it and would answer
KEY_MISMATCH to any other. The snapshot drops the canary row (on SQLite a VACUUM then
leaves no stale copy of it in a free page); after each copy the test's app seals its
own canary, as `migrate.upgrade` does on a new database.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from flux import migrate
from flux.crypto import canary
from flux.db import db
from flux.storage.sql import kv_table

DROP_CANARY = sa.delete(kv_table).where(kv_table.c.namespace == canary.NAMESPACE, kv_table.c.key == canary.KEY)


def is_empty(app: Flask) -> bool:
    """True when the app's database has no table at all: a template copy then equals a real upgrade."""
    with app.app_context():
        return not sa.inspect(db.engine).get_table_names()


class Templates:
    """One migrated template per plugin set (its tuple of migration folders), made on first use."""

    def __init__(self, folder: Path, admin: sa.Engine | None) -> None:
        self.folder = folder  # SQLite template files
        self.admin = admin  # PostgreSQL: an AUTOCOMMIT engine on the server's maintenance database
        self.made: dict[tuple[str, ...], str] = {}

    def migrate(self, app: Flask) -> None:
        """Bring the app's empty database to every head, from a template when one exists."""
        folders = tuple(map(str, migrate.migration_folders(app)))
        template = self.made.get(folders)
        if template is None:
            migrate.upgrade(app)
            self.made[folders] = self._snapshot(app, len(self.made))
            return
        with app.app_context():
            url = db.engine.url
            db.engine.dispose()
        if self.admin is None:
            _copy_sqlite(Path(template), Path(url.database))
        else:
            name = url.database
            self._execute(f'DROP DATABASE "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        canary.store_if_absent(app)

    def drop(self) -> None:
        """Remove the PostgreSQL templates (SQLite's go with the session's temporary folder)."""
        if self.admin is not None:
            self._execute(*(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in self.made.values()))

    def _snapshot(self, app: Flask, number: int) -> str:
        """Copy the freshly migrated database, without its key canary; the template's file path or name."""
        with app.app_context():
            url = db.engine.url
            db.engine.dispose()  # a PostgreSQL template must have no other connection
        if self.admin is None:
            path = self.folder / f"template-{number}.sqlite"
            _snapshot_sqlite(Path(url.database), path)
            return str(path)
        name = f"{url.database}_template_{number}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"')
        engine = sa.create_engine(url.set(database=name))
        with engine.begin() as connection:
            connection.execute(DROP_CANARY)
        engine.dispose()
        return name

    def _execute(self, *statements: str) -> None:
        with self.admin.connect() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)


def _snapshot_sqlite(database: Path, template: Path) -> None:
    """A consistent copy (the backup API reads the WAL too), without the canary, in one file."""
    with contextlib.closing(sqlite3.connect(database)) as source, contextlib.closing(sqlite3.connect(template)) as copy:
        source.backup(copy)
        copy.execute("DELETE FROM flux_kv WHERE namespace = ? AND key = ?", (canary.NAMESPACE, canary.KEY))
        copy.commit()
        copy.execute("VACUUM")
        copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it


def _copy_sqlite(template: Path, database: Path) -> None:
    """Write the template over the test's database file, which `create_app` made with mode 0600 (kept)."""
    for leftover in (database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(template, database)
