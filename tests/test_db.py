"""SQLite transactions: reads take no lock, a write takes the write lock at once and waits its turn for it."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
import sqlalchemy as sa

from flux.db import db
from flux.tenancy import Tenant, write_rows
from tests.conftest import BACKEND

RAW = {"all_tenants": True}  # raw SQL on the tenants table, which no tenant owns

pytestmark = pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite transaction modes")


def sqlite_path(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")


def write_lock_is_free(app) -> bool:
    """Whether another connection could start writing now (a BEGIN IMMEDIATE that does not wait)."""
    other = sqlite3.connect(sqlite_path(app), timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as error:
        assert "locked" in str(error)
        return False
    finally:
        other.close()


def test_reads_open_no_transaction_whatever_the_request(app):
    for method in ("GET", "POST", "DELETE"):
        with app.test_request_context("/", method=method):
            assert db.session.scalar(sa.text("SELECT count(*) FROM tenants"), execution_options=RAW) >= 1
            assert not db.session.connection().connection.dbapi_connection.in_transaction
            assert write_lock_is_free(app)
            db.session.rollback()


def test_a_write_takes_the_write_lock_until_it_commits(app):
    with app.app_context():
        db.session.execute(sa.text("UPDATE tenants SET name = name"), execution_options=RAW)
        assert not write_lock_is_free(app)
        db.session.commit()
        assert write_lock_is_free(app)


def test_a_writer_that_read_first_waits_for_another_writer_instead_of_failing(app):
    """A deferred transaction that has read fails at once with "database is locked" here."""
    holder = sqlite3.connect(sqlite_path(app), isolation_level=None, check_same_thread=False)
    with app.app_context():
        db.session.scalar(sa.text("SELECT name FROM tenants WHERE slug = 'default'"), execution_options=RAW)
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE tenants SET name = 'changed meanwhile' WHERE slug = 'default'")
        releaser = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
        releaser.start()
        started = time.monotonic()
        db.session.execute(
            sa.text("UPDATE tenants SET name = name || '!' WHERE slug = 'default'"), execution_options=RAW
        )
        db.session.commit()
        assert time.monotonic() - started >= 0.2  # it waited for the lock
        releaser.join()
        assert (
            db.session.scalar(sa.text("SELECT name FROM tenants WHERE slug = 'default'"), execution_options=RAW)
            == "changed meanwhile!"
        )
    holder.close()


def test_select_for_update_takes_the_write_lock_as_postgresql_locks_the_rows(app):
    with app.app_context():
        db.session.execute(sa.select(Tenant.id).where(Tenant.slug == "default").with_for_update())
        assert not write_lock_is_free(app)
        db.session.rollback()
        assert write_lock_is_free(app)


def test_a_write_that_starts_with_a_cte_is_rolled_back_with_its_transaction(app):
    """The driver begins a transaction only before INSERT, UPDATE or DELETE as the first word."""
    with app.app_context():
        live = sa.select(Tenant.id).where(Tenant.slug == "default").cte("live")
        rename = sa.update(Tenant).where(Tenant.id.in_(sa.select(live.c.id))).values(name="renamed in a CTE")
        assert str(rename.compile(db.engine)).lstrip().startswith("WITH")
        db.session.execute(rename, execution_options=RAW)
        assert not write_lock_is_free(app)
        db.session.rollback()
        assert db.session.scalar(sa.select(Tenant.name).where(Tenant.slug == "default")) != "renamed in a CTE"


def test_writers_of_one_process_take_turns_without_polling_for_the_lock(make_app):
    """With no busy timeout at all, 16 threads writing at once never meet a locked database: they queue."""
    app = make_app(SQLITE_BUSY_TIMEOUT_MS=0)
    rename = Tenant.__table__.update().where(Tenant.__table__.c.slug == "default")
    failures: list[Exception] = []

    def write(number: int) -> None:
        with app.app_context():
            for turn in range(20):
                try:
                    write_rows(rename.values(name=f"writer {number} turn {turn}"), {})
                except sa.exc.OperationalError as error:
                    failures.append(error)

    writers = [threading.Thread(target=write, args=(number,)) for number in range(16)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert failures == []
    with app.app_context():
        name = db.session.scalar(sa.text("SELECT name FROM tenants WHERE slug = 'default'"), execution_options=RAW)
    assert name.startswith("writer ") and name.endswith(" turn 19")
