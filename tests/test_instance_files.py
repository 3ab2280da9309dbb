"""The instance folder holds the keys and the database: only the server's user may read them."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from flux import create_app
from flux.db import db
from tests.conftest import BACKEND, PASSWORD, SETUP_TOKEN

SQLITE_ONLY = pytest.mark.skipif(BACKEND != "sqlite", reason="the database is in the instance folder on SQLite only")


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_instance_folder_and_its_files_are_private(make_app):
    previous = os.umask(0o022)  # the usual default, which would leave files world-readable
    try:
        app = make_app()
        client = app.test_client()
        body = {"email": "a@example.com", "password": PASSWORD, "name": "A", "setup_token": SETUP_TOKEN}
        assert client.post("/api/v1/admin/setup", json=body).status_code == 201  # a write: WAL and shared memory
        instance = Path(app.instance_path)
        assert mode(instance) == 0o700
        files = ["jwt.secret", "encryption.keys"]
        if BACKEND == "sqlite":
            files += ["flux.sqlite", "flux.sqlite-wal", "flux.sqlite-shm"]
        for name in files:
            assert (instance / name).exists(), name
            assert mode(instance / name) == 0o600, (name, oct(mode(instance / name)))
    finally:
        os.umask(previous)


@SQLITE_ONLY
def test_an_existing_world_readable_database_is_narrowed(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "flux.sqlite").touch(mode=0o644)
    os.chmod(instance / "flux.sqlite", 0o644)
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(instance), "SECURITY_SETUP_TOKEN": SETUP_TOKEN})
    with app.app_context():
        db.engine.dispose()
    assert mode(instance / "flux.sqlite") == 0o600
