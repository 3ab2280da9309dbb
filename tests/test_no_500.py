"""No request, however malformed, gets a 500: every API route against junk input."""

from __future__ import annotations

import itertools
import re

import pytest

from tests.conftest import DashboardClient

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


FORMS = [
    {},
    {"key": "", "value": "", "description": "x" * 5000, "is_public": "maybe"},
    {"key": "a//b", "value": "{", "name": "\x00", "scopes": "nope", "expires_on": "yesterday"},
    {"key": "k" * 300, "value": "1" * 2_000_000, "reason": "", "grace_hours": "-5"},
    {"email": "x", "password": "", "setup_token": "t", "next": "//evil.example/"},
    {
        "name": "ok",
        "value": "v",
        "scope": "namespace",
        "namespace": "billing",
        "expires_at": "9999-12-31T23:59:59-23:59",
    },
    {"name": "ok", "value": "v", "scope": "global", "expires_at": "99999-01-01", "confirm": "yes"},
]


def test_no_dashboard_page_answers_500(app, client, auth):
    auth.setup_admin()
    browser_like = DashboardClient(client)
    assert browser_like.sign_in().status_code == 302
    token = browser_like.csrf_token("/dashboard/")
    failures, seen = [], set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/dashboard") or rule.endpoint == "dashboard.signin.logout":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for value, form in zip(itertools.cycle(PATH_VALUES), FORMS, strict=False):
                response = client.open(fill(rule.rule, value), method=method, data={**form, "csrf_token": token})
                seen.add(response.status_code)
                if response.status_code >= 500:
                    failures.append((method, fill(rule.rule, value), response.status_code))
    assert failures == []
    assert {200, 400, 404} <= seen  # the junk reached the views, not only the sign-in redirect
