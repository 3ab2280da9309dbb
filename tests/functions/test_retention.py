"""Execution records are pruned by age and by count per function, and lists read the latest without a sort."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from flux.db import db, new_id, utcnow
from tests.conftest import BACKEND
from tests.functions.conftest import BASE, call, deploy


@pytest.fixture
def app(make_app, deno_dir) -> Iterator:
    app = make_app(
        FUNCTIONS_DENO_DIR=str(deno_dir),
        FUNCTIONS_EXECUTION_RETENTION_DAYS=7,
        FUNCTIONS_EXECUTION_RETENTION_MAX_ROWS=3,
        FUNCTIONS_EXECUTION_PRUNE_EVERY=2,
    )
    yield app
    runtime = app.extensions["functions"]["runtime"]
    if runtime is not None:
        runtime.close()


def seed(app, name: str, ages: list[timedelta]) -> list[str]:
    """Execution rows of function `name`, started `ages` ago; their ids."""
    with app.app_context(), db.engine.begin() as connection:
        function_id, tenant_id = connection.execute(
            sa.text("SELECT id, tenant_id FROM functions WHERE name = :name"), {"name": name}
        ).one()
        ids = [new_id() for _ in ages]
        for execution_id, age in zip(ids, ages, strict=True):
            started = utcnow() - age
            connection.execute(
                sa.text(
                    "INSERT INTO function_executions (id, tenant_id, function_id, function_name, namespace, version,"
                    " status, status_code, duration_ms, logs, logs_truncated, trigger, started_at, completed_at)"
                    " VALUES (:id, :tenant, :function, :name, 'default', 1, 'error', 500, 1, '[]', false, 'http',"
                    " :started, :started)"
                ),
                {"id": execution_id, "tenant": tenant_id, "function": function_id, "name": name, "started": started},
            )
    return ids


def stored_ids(app, name: str) -> set[str]:
    with app.app_context(), db.engine.connect() as connection:
        query = "SELECT id FROM function_executions WHERE function_name = :name"
        return set(connection.execute(sa.text(query), {"name": name}).scalars())


def test_rows_beyond_the_count_are_pruned_as_functions_run(app, client, admin_headers):
    deploy(client, admin_headers, "hello", allow_unauthenticated=True)
    deploy(client, admin_headers, "other")
    others = seed(app, "other", [timedelta(minutes=minutes) for minutes in range(5)])
    seed(app, "hello", [timedelta(minutes=minutes) for minutes in range(1, 11)])
    first = call(client, "hello").headers["X-Fluxbase-Execution-Id"]  # this process's first: prunes
    kept = stored_ids(app, "hello")
    assert len(kept) == 3 and first in kept
    second = call(client, "hello").headers["X-Fluxbase-Execution-Id"]  # not its turn
    assert len(stored_ids(app, "hello")) == 4
    third = call(client, "hello").headers["X-Fluxbase-Execution-Id"]  # every 2nd prunes
    assert stored_ids(app, "hello") >= {first, second, third} and len(stored_ids(app, "hello")) == 3
    assert stored_ids(app, "other") == set(others)  # another function's records are its own
    listed = client.get(f"{BASE}/hello/executions", headers=admin_headers).json
    assert [row["id"] for row in listed] == [third, second, first]


def test_rows_older_than_the_retention_are_pruned(app, client, admin_headers):
    deploy(client, admin_headers, "hello", allow_unauthenticated=True)
    old = seed(app, "hello", [timedelta(days=30), timedelta(days=7, minutes=1)])
    young = seed(app, "hello", [timedelta(days=6)])
    new = call(client, "hello").headers["X-Fluxbase-Execution-Id"]
    assert stored_ids(app, "hello") == {*young, new}
    assert not set(old) & stored_ids(app, "hello")


def test_the_latest_status_of_each_function_is_read_off_an_index(app, client, admin_headers):
    for name in ("alpha", "beta", "gamma"):
        deploy(client, admin_headers, name)
        seed(app, name, [timedelta(seconds=seconds) for seconds in range(200)])
    with app.app_context():
        engine = db.engine
    run: list[tuple[str, object]] = []

    def remember(_connection, _cursor, statement, parameters, _context, _many):
        if "function_executions" in statement:
            run.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", remember)
    try:
        listed = client.get(BASE, headers=admin_headers)
    finally:
        sa.event.remove(engine, "before_cursor_execute", remember)
    assert [row["last_execution_status"] for row in listed.json] == ["error"] * 3
    assert len(run) == 1
    statement, parameters = run[0]
    with engine.connect() as connection:
        if BACKEND == "postgresql":
            connection.exec_driver_sql("ANALYZE function_executions")
            connection.exec_driver_sql("SET enable_seqscan = off")  # tiny tables: ask whether an index can serve
            plan = "\n".join(connection.exec_driver_sql(f"EXPLAIN {statement}", parameters).scalars())
            assert "Sort" not in plan, plan
        else:
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            plan = "\n".join(row[-1] for row in rows)
            assert "TEMP B-TREE" not in plan, plan
        connection.rollback()
    assert "ix_function_executions_latest" in plan, plan
