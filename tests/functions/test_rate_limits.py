"""Per-function rate limits: per user or per IP, 429 before the function runs, shared through Redis by nodes."""

from __future__ import annotations

import logging
import time

import pytest

from tests.conftest import AuthActions
from tests.functions.conftest import HELLO, call, deploy
from tests.functions.test_invoke_cors import executions
from tests.test_redis_rate_limits import redis_url  # noqa: F401 (a fixture)

TWICE = "// @fluxbase:allow-unauthenticated\n// @fluxbase:rate-limit 2/min\n" + HELLO


def from_ip(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def test_calls_under_the_limit_carry_where_they_stand_and_the_next_is_a_429(app, client, admin_headers):
    deploy(client, admin_headers, "twice", TWICE)
    first, second = call(client, "twice", **from_ip("10.1.1.1")), call(client, "twice", **from_ip("10.1.1.1"))
    assert first.status_code == second.status_code == 200
    assert (first.headers["X-RateLimit-Limit"], first.headers["X-RateLimit-Remaining"]) == ("2", "1")
    assert second.headers["X-RateLimit-Remaining"] == "0"
    reset = int(first.headers["X-RateLimit-Reset"])
    assert time.time() < reset <= time.time() + 61
    over = call(client, "twice", **from_ip("10.1.1.1"))
    assert over.status_code == 429
    assert over.json["error"] == "Rate limit exceeded: 2 requests per minute"
    assert over.json["code"] == "RATE_LIMITED"
    assert 1 <= over.json["retry_after"] <= 60 and over.headers["Retry-After"] == str(over.json["retry_after"])
    assert over.headers["X-RateLimit-Remaining"] == "0" and over.headers["X-RateLimit-Reset"] == str(reset)
    assert executions(app) == 2  # the refused call did not run


def test_anonymous_callers_count_per_ip_and_users_per_account(client, admin_headers, auth):
    deploy(client, admin_headers, "twice", TWICE)
    for _ in range(2):
        assert call(client, "twice", **from_ip("10.0.0.1")).status_code == 200
    assert call(client, "twice", **from_ip("10.0.0.1")).status_code == 429
    assert call(client, "twice", **from_ip("10.0.0.2")).status_code == 200  # another address
    alice = AuthActions.bearer(auth.signup("alice@example.com"))
    bob = AuthActions.bearer(auth.signup("bob@example.com"))
    # Signed in, from the address that is used up: the account counts, not the address.
    answers = [call(client, "twice", headers=alice, **from_ip("10.0.0.1")).status_code for _ in range(3)]
    assert answers == [200, 200, 429]
    assert call(client, "twice", headers=bob, **from_ip("10.0.0.1")).status_code == 200


def test_each_function_has_its_own_count(client, admin_headers):
    deploy(client, admin_headers, "twice", TWICE)
    deploy(client, admin_headers, "also-twice", TWICE)
    assert [call(client, "twice").status_code for _ in range(3)] == [200, 200, 429]
    assert call(client, "also-twice").status_code == 200


def test_a_function_without_a_limit_sends_no_limit_headers(client, admin_headers):
    deploy(client, admin_headers, "free", "// @fluxbase:allow-unauthenticated\n" + HELLO)
    answer = call(client, "free")
    assert answer.status_code == 200 and "X-RateLimit-Limit" not in answer.headers


def test_a_limit_set_through_the_api_applies_and_null_lifts_it(client, admin_headers):
    deploy(client, admin_headers, "f", HELLO, rate_limit="1/hour")
    assert [call(client, "f", headers=admin_headers).status_code for _ in range(2)] == [200, 429]
    limited = call(client, "f", headers=admin_headers)
    assert limited.json["error"] == "Rate limit exceeded: 1 request per hour"
    client.put("/api/v1/functions/f", json={"rate_limit": None}, headers=admin_headers)
    assert call(client, "f", headers=admin_headers).status_code == 200


def test_the_limit_is_shared_by_nodes_through_redis(make_app, deno_dir, redis_url):  # noqa: F811
    config = {"RATE_LIMIT_STORAGE_URL": redis_url, "FUNCTIONS_DENO_DIR": str(deno_dir)}
    first = make_app(**config)
    second = make_app(migrated=False, **config)
    try:
        one, two = first.test_client(), second.test_client()
        deploy(one, AuthActions.bearer(AuthActions(one).setup_admin()), "twice", TWICE)
        assert call(one, "twice").status_code == 200
        assert call(two, "twice").status_code == 200
        assert call(one, "twice").status_code == 429
        assert call(two, "twice").status_code == 429
    finally:
        for app in (first, second):
            if app.extensions["functions"]["runtime"] is not None:
                app.extensions["functions"]["runtime"].close()


def test_a_failing_counter_lets_calls_through_and_says_so(make_app, deno_dir, caplog):
    app = make_app(RATE_LIMIT_STORAGE_URL="redis://127.0.0.1:1", FUNCTIONS_DENO_DIR=str(deno_dir))
    try:
        client = app.test_client()
        deploy(client, AuthActions.bearer(AuthActions(client).setup_admin()), "twice", TWICE)
        with caplog.at_level(logging.ERROR, logger="plugins.functions.rate_limits"):
            answers = [call(client, "twice").status_code for _ in range(3)]
        assert answers == [200, 200, 200]
        assert "rate limit of function" in caplog.text and "storage failed" in caplog.text
    finally:
        if app.extensions["functions"]["runtime"] is not None:
            app.extensions["functions"]["runtime"].close()


@pytest.mark.parametrize("limit", ["5/min", "5/hour", "5/day"])
def test_every_unit_is_counted(client, admin_headers, limit):
    deploy(client, admin_headers, "f", HELLO, rate_limit=limit)
    answer = call(client, "f", headers=admin_headers)
    assert answer.status_code == 200 and answer.headers["X-RateLimit-Remaining"] == "4"
    window = {"5/min": 60, "5/hour": 3600, "5/day": 86400}[limit]
    assert int(answer.headers["X-RateLimit-Reset"]) <= time.time() + window + 1
