"""The type check of new code (1-5 s) runs with no database lock held: other writers go on meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from flux.db import db
from plugins.functions import invoke
from tests.conftest import BACKEND
from tests.functions.conftest import BASE, HELLO, deploy

CHANGED = HELLO.replace("Hello", "Howdy")


@pytest.fixture
def app(make_app, deno_dir) -> Iterator:
    """Writers give up on SQLite's lock after 300 ms, so one held during a check shows."""
    app = make_app(FUNCTIONS_DENO_DIR=str(deno_dir), SQLITE_BUSY_TIMEOUT_MS=300)
    yield app
    runtime = app.extensions["functions"]["runtime"]
    if runtime is not None:
        runtime.close()


def function_row_is_free(app) -> bool:
    """Whether another session can lock the function's row at once (PostgreSQL's row lock)."""
    if BACKEND != "postgresql":
        return True
    with app.app_context(), db.engine.connect() as connection:
        try:
            connection.execute(sa.text("SELECT id FROM functions WHERE name = 'hello' FOR UPDATE NOWAIT"))
        except sa.exc.OperationalError:
            return False
        finally:
            connection.rollback()
    return True


def test_checks_hold_no_lock_so_a_concurrent_settings_put_succeeds(app, client, auth, admin_headers, monkeypatch):
    user = auth.bearer(auth.signup())
    deploy(client, admin_headers, "hello")
    runtime = invoke.runtime(app)
    real_check = runtime.check
    during_checks: list[tuple[int, bool]] = []

    def check_beside_another_writer(code: str, modules=None) -> str | None:
        """While the request checks code: a settings PUT of another client, in another thread."""
        answers = []
        writer = threading.Thread(
            target=lambda: answers.append(
                app.test_client().put("/api/v1/settings/user/theme", json={"value": code[-8:]}, headers=user)
            )
        )
        writer.start()
        writer.join()
        during_checks.append((answers[0].status_code, function_row_is_free(app)))
        return real_check(code, modules)

    monkeypatch.setattr(runtime, "check", check_beside_another_writer)
    created = client.post(BASE, json={"name": "other", "code": HELLO}, headers=admin_headers)
    updated = client.put(f"{BASE}/hello", json={"code": CHANGED}, headers=admin_headers)
    assert (created.status_code, updated.status_code) == (201, 200)
    assert updated.json["version"] == 2
    assert during_checks == [(200, True), (200, True)]
