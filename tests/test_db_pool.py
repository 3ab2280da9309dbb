"""Connections and transactions: none goes back to the pool inside one, one the server dropped is replaced unseen.

Migrations are all or nothing on both databases. PostgreSQL is not pinged at checkout
(`flux.db.engine_options`): reads run outside any transaction, a write begins one, and
a pooled connection the server ended is replaced at checkout without a round trip
(`flux.db.closed_by_server`).
"""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa

from flux.db import db
from flux.migrate import upgrade
from flux.tenancy import Tenant
from tests.conftest import BACKEND, PG_ADMIN_URL

SETTING = "/api/v1/settings/user/theme"
RAW = {"all_tenants": True}  # the tenants table, which no tenant owns
on_postgresql = pytest.mark.skipif(BACKEND != "postgresql", reason="PostgreSQL's pool")


def in_transaction(dbapi_connection) -> bool:
    if BACKEND == "postgresql":
        return dbapi_connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
    return dbapi_connection.in_transaction


def returned_in_transaction(app) -> list[bool]:
    """For every connection the pool gets back from now on: was it inside a transaction?"""
    seen: list[bool] = []

    def on_checkin(dbapi_connection, _record) -> None:
        if dbapi_connection is not None:  # None: invalidated, closed rather than pooled
            seen.append(in_transaction(dbapi_connection))

    with app.app_context():
        sa.event.listen(db.engine.pool, "checkin", on_checkin)
    return seen


def idle_in_transaction(app) -> int:
    """Server sessions of the test database that sit inside a transaction between statements."""
    name = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    admin = sa.create_engine(PG_ADMIN_URL)
    with admin.connect() as connection:
        query = "SELECT count(*) FROM pg_stat_activity WHERE datname = :name AND state LIKE 'idle in transaction%'"
        count = connection.scalar(sa.text(query), {"name": name})
    admin.dispose()
    return count


def test_no_request_returns_its_connection_inside_a_transaction(app, client, auth):
    returned = returned_in_transaction(app)
    headers = auth.bearer(auth.signup())
    answers = [
        client.get(SETTING, headers=headers),  # 404: not set
        client.put(SETTING, json={"value": "light"}, headers=headers),
        client.get(SETTING, headers=headers),
        client.put(SETTING, json={"value": ["not", "a", "theme"]}, headers={"Authorization": "Bearer bad"}),
        client.post("/api/v1/my-plugin/conflict", headers=headers),
        client.get("/api/v1/my-plugin/boom"),
        client.delete(SETTING, headers=headers),
        client.get("/health"),
    ]
    assert [response.status_code for response in answers] == [404, 200, 200, 401, 409, 500, 204, 200]
    assert returned and not any(returned)
    if BACKEND == "postgresql":
        assert idle_in_transaction(app) == 0


def test_a_request_that_wrote_and_did_not_commit_is_rolled_back_before_its_connection_is_pooled(app):
    returned = returned_in_transaction(app)
    with app.test_request_context("/", method="PUT"):
        db.session.execute(sa.update(Tenant).values(name="never committed"), execution_options=RAW)
        assert in_transaction(db.session.connection().connection.dbapi_connection)
    with app.app_context():
        assert db.session.scalar(sa.select(Tenant.name).where(Tenant.slug == "default")) != "never committed"
    assert returned and not any(returned)


@on_postgresql
def test_postgresql_reads_run_outside_a_transaction_and_a_write_begins_one(app):
    """A read costs one round trip: no BEGIN before it, no ROLLBACK after; a write is still all or nothing."""
    with app.test_request_context("/", method="GET"):
        assert db.session.scalar(sa.select(Tenant.name).where(Tenant.slug == "default"), execution_options=RAW)
        dbapi_connection = db.session.connection().connection.dbapi_connection
        assert not in_transaction(dbapi_connection)
        db.session.execute(sa.text("UPDATE tenants SET name = 'raw and rolled back'"), execution_options=RAW)
        db.session.execute(sa.update(Tenant).values(name="rolled back"), execution_options=RAW)
        assert in_transaction(dbapi_connection)
        db.session.rollback()
        names = db.session.scalars(sa.select(Tenant.name), execution_options=RAW).all()
        assert "rolled back" not in names and "raw and rolled back" not in names


def test_a_failing_migration_leaves_nothing_behind(app, monkeypatch):
    """Migrations run in one transaction: DDL, which neither driver begins one for, joins it."""
    from alembic import command

    def create_then_fail(config, target):
        config.attributes["connection"].exec_driver_sql("CREATE TABLE half_done (id INTEGER)")
        raise RuntimeError("revision failed")

    monkeypatch.setattr(command, "upgrade", create_then_fail)
    with pytest.raises(RuntimeError, match="revision failed"):
        upgrade(app)
    with app.app_context():
        assert not sa.inspect(db.engine).has_table("half_done")


def terminate_connections(app) -> int:
    """Cut every server session of the test database, as a restart of PostgreSQL does; how many were cut."""
    name = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        # Waits up to 5 s for each session to end, as a restart ends them before it serves again.
        query = "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE datname = :name"
        cut = connection.scalar(sa.text(query), {"name": name})
    admin.dispose()
    return cut


@on_postgresql
def test_a_restarted_postgresql_answers_the_next_requests(app, client, auth):
    headers = auth.bearer(auth.signup())
    assert client.put(SETTING, json={"value": "light"}, headers=headers).status_code == 200
    with app.app_context():  # three pooled connections, all of which the restart kills
        held = [db.engine.connect() for _ in range(3)]
        for connection in held:
            connection.exec_driver_sql("SELECT 1")
            connection.close()
    assert terminate_connections(app) >= 3
    for _ in range(4):
        response = client.get(SETTING, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.json["value"] == "light"
    assert terminate_connections(app) >= 1
    changed = client.put(SETTING, json={"value": "dark"}, headers=headers)
    assert changed.status_code == 200, changed.get_data(as_text=True)
    assert client.get(SETTING, headers=headers).json["value"] == "dark"
    assert terminate_connections(app) >= 1
    assert client.get("/health").status_code == 200
