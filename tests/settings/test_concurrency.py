"""Concurrent writes of one key: real threads, each with its own client, connection and transaction."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from tests.settings.conftest import USER, add_secret, stored_rows

CALLERS = 16


def _all_at_once(app, request) -> list:
    """Run `request(client, i)` in CALLERS threads released together by a barrier."""
    barrier = threading.Barrier(CALLERS)

    def call(i: int):
        client = app.test_client()
        barrier.wait()
        return request(client, i)

    with ThreadPoolExecutor(CALLERS) as pool:
        return list(pool.map(call, range(CALLERS)))


def test_concurrent_puts_of_a_new_key_all_succeed(app, alice):
    """An upsert never answers 409: the second of two racing inserts updates instead."""
    for key in ("race/one", "race/two", "race/three"):
        responses = _all_at_once(
            app, lambda client, i, key=key: client.put(f"{USER}/{key}", json={"value": i}, headers=alice)
        )
        assert [(r.status_code, r.json.get("code")) for r in responses] == [(200, None)] * CALLERS
        rows = [row for row in stored_rows(app) if row["key"] == key]
        assert len(rows) == 1
        assert rows[0]["value"] in {str(i) for i in range(CALLERS)} | set(range(CALLERS))


def test_concurrent_puts_over_a_secret_all_answer_409(app, client, alice):
    add_secret(client, alice, "token", "s3cret-value-for-race")
    responses = _all_at_once(app, lambda client, i: client.put(f"{USER}/token", json={"value": i}, headers=alice))
    assert {(r.status_code, r.json["code"]) for r in responses} == {(409, "KEY_IS_SECRET")}
    [row] = stored_rows(app)
    assert row["is_secret"] and row["value"] in (None, "null")
