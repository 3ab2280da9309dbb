"""No request, however malformed, gets a 500: every API route against junk input."""

from __future__ import annotations

import itertools
import re

import pytest

BODIES = [
    None,
    b"null",
    b"[]",
    b'"text"',
    b"12345678901234567890123456789",
    b'{"a": 1}',
    b'{"name": 5, "scopes": "x", "value": [], "key": {}, "email": [], "password": {}, "refresh_token": 7}',
    b'{"name": "n", "scopes": ["*"], "expires_at": "9999-12-31T23:59:59-23:59", "grace_period_hours": 1e308}',
    b'{"reason": null, "user_metadata": [1], "current_password": 1, "setup_token": 0}',
    b"\xff\xfe\x00garbage",
    b"{" * 50,
]
PATH_VALUES = ["x", "0" * 36, "../../etc/passwd", "%00", "a" * 300]


def api_routes(app) -> list[tuple[str, str]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint.startswith("my_plugin."):
            continue  # the test plugin's /boom route fails on purpose
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((method, rule.rule))
    return routes


def fill(rule: str, value: str) -> str:
    return re.sub(r"<[^>]+>", value, rule)


@pytest.fixture
def identities(auth):
    admin = auth.bearer(auth.setup_admin())
    user = auth.bearer(auth.signup("fuzz@example.com"))
    return [
        {},
        admin,
        user,
        {"Authorization": "Bearer not.a.token"},
        {"X-Service-Key": "fbk_000000000000_" + "A" * 43},
        {**admin, "X-FB-Tenant": "no-such-tenant"},
        {**user, "X-FB-Tenant": "\u00e9\u00e9"},
    ]


def test_no_route_answers_500(app, client, identities):
    failures = []
    routes = api_routes(app)
    assert len(routes) > 20
    for (method, rule), headers in itertools.product(routes, identities):
        for value, body in zip(itertools.cycle(PATH_VALUES), BODIES, strict=False):
            response = client.open(
                fill(rule, value), method=method, data=body, headers=headers, content_type="application/json"
            )
            if response.status_code >= 500:
                failures.append((method, fill(rule, value), body, response.status_code, response.get_data()[:200]))
    assert failures == []
