"""No request, however malformed, gets a 500: every API route against junk no schema describes.

Schema-shaped input, valid or not (wrong types, missing fields, out-of-range numbers),
is schemathesis's ground in `tests/test_api_conformance.py`. This sweep sends what it
does not: bytes that are no JSON or no UTF-8, nesting past the parser's limits, lone
surrogates, hostile path values, and broken credentials and tenant headers.
"""

from __future__ import annotations

import itertools
import re

import pytest

from tests.conftest import DashboardClient

BODIES = [
    None,
    b"12345678901234567890123456789",
    b'{"name": "n", "scopes": ["*"], "expires_at": "9999-12-31T23:59:59-23:59", "grace_period_hours": 1e308}',
    b"\xff\xfe\x00garbage",
    b"{" * 50,
    # Nested far past the parser's recursion limit, and just past ours.
    b"[" * 10_000 + b"]" * 10_000,
    b'{"user_metadata": ' * 101 + b"1" + b"}" * 101,
    # Lone surrogates, escaped and as raw bytes, in every field a view stores.
    b'{"email": "a\\ud800@example.com", "password": "correct horse \\ud800", "key": "k", "value": "\\ud800",'
    b' "name": "n\\udfff", "code": "// \\ud800", "description": "\\ud800", "user_metadata": {"\\ud800": 1},'
    b' "reason": "\\ud800", "scopes": ["\\ud800"], "env": {"A": "\\ud800"}, "current_password": "\\ud800"}',
    b'{"value": "\xed\xa0\x80", "password": "\xed\xa0\x80\xed\xa0\x80\xed\xa0\x80", "email": "b@example.com"}',
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
    # JSON in the value box: nested too deep, and a lone surrogate escaped.
    {"key": "deep", "value": "[" * 10_000, "description": '"\\ud800"'},
    {"key": "lone", "value": '"\\ud800"'},
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


@pytest.mark.parametrize("target", ["/dashboard/\r\nSet-Cookie: session=fixed", "/dashboard/\nX-Injected: 1"])
def test_a_dashboard_sign_in_with_cr_lf_in_next_goes_to_the_dashboard(client, auth, target):
    auth.setup_admin()
    browser_like = DashboardClient(client)
    data = {
        "email": "admin@example.com",
        "password": "Correct horse battery 9",
        "csrf_token": browser_like.csrf_token(),
    }
    response = client.post("/dashboard/login", query_string={"next": target}, data=data)
    assert (response.status_code, response.headers["Location"]) == (302, "/dashboard/")
    assert "X-Injected" not in response.headers and "session=fixed" not in response.headers.get("Set-Cookie", "")


def test_deep_json_and_lone_surrogates_are_400_and_store_nothing(app, client, auth):
    user = auth.bearer(auth.signup("deep@example.com"))
    deep = client.post("/api/v1/auth/signin", data=b"[" * 10_000, content_type="application/json")
    assert (deep.status_code, deep.json["code"]) == (400, "INVALID_JSON")
    lone = client.post("/api/v1/auth/signup", json={"email": "x@example.com", "password": "correct horse \ud800"})
    assert (lone.status_code, lone.json["code"]) == (400, "INVALID_JSON")
    assert "surrogate" in lone.json["error"]
    for path in ("/api/v1/settings/user/theme", "/api/v1/settings/user/theme/"):
        put = client.put(path, json={"value": {"nested": ["\udc00"]}}, headers=user)
        assert (put.status_code, put.json["code"]) == (400, "INVALID_JSON")
    secret = client.post("/api/v1/settings/secret", json={"key": "k", "value": "\ud800"}, headers=user)
    assert secret.status_code == 400
    nested = {"value": 1}
    for _ in range(99):
        nested = {"value": nested}
    assert client.put("/api/v1/settings/user/theme", json=nested, headers=user).status_code == 200
    assert client.put("/api/v1/settings/user/theme", json={"value": nested}, headers=user).status_code == 400
    emoji = client.put("/api/v1/settings/user/theme", json={"value": "\U0001f600 \u00e9"}, headers=user)
    assert (emoji.status_code, emoji.json["value"]) == (200, "\U0001f600 \u00e9")
