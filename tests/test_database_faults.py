"""A busy or unreachable database answers 503 with Retry-After, logged once per burst, and recovers by itself."""

from __future__ import annotations

import logging
import shutil
import sqlite3
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from flux.db import db
from tests.conftest import BACKEND, PG_ADMIN_URL

SETTING = "/api/v1/settings/user/theme"


def sqlite_path(app) -> Path:
    return Path(app.instance_path) / "flux.sqlite"


@contextmanager
def sqlite_write_lock(app):
    """SQLite's write lock, taken and held by a connection of another "process"."""
    holder = sqlite3.connect(sqlite_path(app), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@contextmanager
def postgres_row_lock(app):
    """The setting's row, locked by another session until the block ends."""
    engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"].split("?")[0])
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT id FROM settings_entries WHERE key = 'theme' FOR UPDATE"))
        yield
        connection.rollback()
    engine.dispose()


def busy_app(make_app, database_url):
    if BACKEND == "postgresql":  # a real lock timeout: the server gives up on a lock after 200 ms
        return make_app(DATABASE_URL=f"{database_url}?options=-c%20lock_timeout%3D200"), postgres_row_lock
    return make_app(SQLITE_BUSY_TIMEOUT_MS=200), sqlite_write_lock


def test_a_busy_database_answers_503_database_busy_with_retry_after(make_app, database_url, caplog):
    app, lock = busy_app(make_app, database_url)
    client = app.test_client()
    auth = client.post("/api/v1/auth/signup", json={"email": "busy@example.com", "password": "Correct horse battery 9"})
    headers = {"Authorization": f"Bearer {auth.json['access_token']}"}
    assert client.put(SETTING, json={"value": "light"}, headers=headers).status_code == 200
    with lock(app):
        answers = [client.put(SETTING, json={"value": "dark"}, headers=headers) for _ in range(3)]
    for response in answers:
        assert response.status_code == 503, response.get_data(as_text=True)
        assert response.json["code"] == "DATABASE_BUSY"
        assert int(response.headers["Retry-After"]) >= 1
    assert not [record for record in caplog.records if record.exc_info]
    assert len([record for record in caplog.records if "DATABASE_BUSY" in record.getMessage()]) == 1
    after = client.put(SETTING, json={"value": "dark"}, headers=headers)
    assert after.status_code == 200 and after.json["value"] == "dark"


@contextmanager
def postgres_outage(app):
    """The test database refuses connections and its open ones are cut, until the block ends."""
    name = sa.make_url(app.config["DATABASE_URL"]).database
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        connection.execute(
            sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"), {"name": name}
        )
        try:
            yield
        finally:
            connection.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    admin.dispose()


@contextmanager
def sqlite_outage(app):
    """The database file cannot be opened (a folder stands in its place), until the block ends."""
    path, aside = sqlite_path(app), sqlite_path(app).with_name("aside")
    aside.mkdir()
    with app.app_context():
        db.engine.dispose()  # open connections would keep reading the moved file
    for file in path.parent.glob("flux.sqlite*"):
        file.rename(aside / file.name)
    path.mkdir()
    try:
        yield
    finally:
        path.rmdir()
        for file in aside.iterdir():
            file.rename(path.parent / file.name)
        shutil.rmtree(aside)


def test_a_database_outage_answers_503_logs_once_and_recovers(app, client, auth, caplog):
    headers = auth.bearer(auth.signup())
    assert client.put(SETTING, json={"value": "light"}, headers=headers).status_code == 200
    outage = postgres_outage if BACKEND == "postgresql" else sqlite_outage
    caplog.set_level(logging.INFO)
    with outage(app):
        answers = [client.get(SETTING, headers=headers) for _ in range(10)]
        answers += [client.put(SETTING, json={"value": "dark"}, headers=headers) for _ in range(10)]
        assert client.get("/health").status_code == 503
    for response in answers:
        assert response.status_code == 503, response.get_data(as_text=True)
        assert response.json["code"] == "DATABASE_UNAVAILABLE"
        assert int(response.headers["Retry-After"]) >= 1
    logged = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert not [record for record in logged if record.exc_info], "no traceback per request"
    assert len(logged) == 1 and "DATABASE_UNAVAILABLE" in logged[0].getMessage()
    recovered = client.get(SETTING, headers=headers)
    assert recovered.status_code == 200 and recovered.json["value"] == "light"
    assert client.put(SETTING, json={"value": "dark"}, headers=headers).status_code == 200


def test_a_database_server_that_is_not_there_answers_503(make_app):
    app = make_app(migrated=False, DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")  # nothing listens on port 1
    client = app.test_client()
    for path in ("/api/v1/functions", "/api/v1/settings/system/list", "/dashboard/login"):
        response = client.get(path)
        assert response.status_code == 503, (path, response.get_data(as_text=True))
        assert int(response.headers["Retry-After"]) >= 1
    assert client.get("/api/v1/functions").json["code"] == "DATABASE_UNAVAILABLE"
