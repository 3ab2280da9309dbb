"""SQLite transactions: deferred for safe requests, IMMEDIATE for anything that may write."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from flux.db import db, immediate_transaction, read_connection, session_reads_only
from tests.conftest import BACKEND

pytestmark = pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite transaction modes")


def write_lock_is_free(app) -> bool:
    """Whether another connection could start writing now (a BEGIN IMMEDIATE that does not wait)."""
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as error:
        assert "locked" in str(error)
        return False
    finally:
        other.close()


@contextmanager
def open_transaction(app, method: str) -> Iterator[sa.Connection]:
    with app.test_request_context("/", method=method), db.engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))
        assert connection.connection.dbapi_connection.in_transaction
        yield connection


def test_safe_requests_read_without_taking_the_write_lock(app):
    for method in ("GET", "HEAD", "OPTIONS"):
        with open_transaction(app, method):
            assert write_lock_is_free(app)


def test_other_requests_begin_immediate(app):
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        with open_transaction(app, method):
            assert not write_lock_is_free(app)
    with app.app_context(), db.engine.begin():  # outside a request (CLI, jobs) too
        assert not write_lock_is_free(app)


def test_immediate_transaction_takes_the_write_lock_inside_a_get(app):
    with app.test_request_context("/", method="GET"), immediate_transaction():
        assert not write_lock_is_free(app)
    with app.test_request_context("/", method="GET"), db.engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))
        assert write_lock_is_free(app)  # only the block above was immediate


def test_autocommit_connections_get_no_begin(app):
    with app.app_context(), db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("SELECT 1"))
        assert not connection.connection.dbapi_connection.in_transaction
        assert write_lock_is_free(app)


def test_read_connection_never_takes_the_write_lock(app):
    with app.test_request_context("/", method="POST"), read_connection() as connection:
        connection.execute(sa.text("SELECT 1"))
        assert connection.connection.dbapi_connection.in_transaction
        assert write_lock_is_free(app)
    with app.app_context(), read_connection() as connection:  # outside a request too
        connection.execute(sa.text("SELECT 1"))
        assert write_lock_is_free(app)


def test_a_view_marked_session_reads_only_reads_deferred_whatever_its_method(app):
    seen = {}

    @session_reads_only
    def marked():
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
            seen["free"] = write_lock_is_free(app)
        return "ok"

    def unmarked():
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
            seen["free"] = write_lock_is_free(app)
        return "ok"

    app.add_url_rule("/test-marked", view_func=marked, methods=["POST"])
    app.add_url_rule("/test-unmarked", view_func=unmarked, methods=["POST"])
    client = app.test_client()
    assert client.post("/test-marked").status_code == 200
    assert seen.pop("free") is True
    assert client.post("/test-unmarked").status_code == 200
    assert seen.pop("free") is False
