"""Alembic, driven from the app: every plugin's migration folder is one branch.

Alembic's own `alembic.ini` workflow assumes one project folder; here the folders come
from the `register_migrations` hook, so the configuration is built in code.
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask

from flux.crypto import canary
from flux.db import begin_writing, db

ENVIRONMENT = Path(__file__).parent / "migrations"


def migration_folders(app: Flask) -> list[Path]:
    """Every folder a plugin registered, in plugin order, without duplicates."""
    folders: list[Path] = []
    for contributed in app.extensions["flux"].plugins.hook.register_migrations():
        for folder in contributed if isinstance(contributed, (list, tuple)) else [contributed]:
            if folder is not None and Path(folder) not in folders:
                folders.append(Path(folder))
    return folders


def alembic_config(app: Flask) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ENVIRONMENT))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(map(str, migration_folders(app))))
    return config


def upgrade(app: Flask, target: str = "heads") -> None:
    """Apply every pending revision of every plugin's branch; store the key canary on first use."""
    config = alembic_config(app)
    with app.app_context(), db.engine.begin() as connection:
        begin_writing(connection)  # all revisions or none
        config.attributes["connection"] = connection
        command.upgrade(config, target)
        if target == "heads":
            canary.ensure(connection, app.extensions["flux"].encryptor)


def pending_heads(app: Flask) -> list[str]:
    """Heads not yet applied; empty when the database is up to date."""
    return schema_heads(app)[1]


def schema_heads(app: Flask) -> tuple[list[str], list[str]]:
    """The revisions the database is at (one per plugin branch), and the heads not yet applied."""
    script = ScriptDirectory.from_config(alembic_config(app))
    with app.app_context(), db.engine.connect() as connection:
        applied = set(MigrationContext.configure(connection).get_current_heads())
    return sorted(applied), sorted(set(script.get_heads()) - applied)
