"""Trailing slashes: every route answers the same with and without one (the reference SDK sends both)."""

from __future__ import annotations

import re
from collections import defaultdict

from tests.test_no_500 import fill

# These end the session both calls would use.
SIGN_OUTS = {"auth.signout", "admin_auth.logout"}


def test_every_api_route_answers_the_same_with_a_trailing_slash(app, client, admin_headers):
    """Each route once without and once with a final slash: the same status, never a 404 or a redirect."""
    differences, tried = [], defaultdict(int)
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint in SIGN_OUTS or rule.endpoint.startswith("my_plugin."):
            continue
        path = fill(rule.rule, "x").rstrip("/")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            without = client.open(path, method=method, json={}, headers=admin_headers)
            with_slash = client.open(f"{path}/", method=method, json={}, headers=admin_headers)
            if with_slash.status_code != without.status_code:
                differences.append((method, path, without.status_code, with_slash.status_code))
            tried[rule.endpoint.partition(".")[0]] += 1
    assert differences == []
    assert {"auth", "admin_auth", "service_keys", "settings_user", "settings_admin", "functions", "secrets"} <= set(
        tried
    )


def test_writes_through_a_slashed_path_store_what_they_name(client, auth, admin_headers):
    user = auth.bearer(auth.signup())
    created = client.post("/api/v1/settings/secret/", json={"key": "api/token", "value": "s3cret"}, headers=user)
    assert created.status_code == 201, created.json
    assert [row["key"] for row in client.get("/api/v1/settings/secret/", headers=user).json] == ["api/token"]

    put = client.put("/api/v1/settings/user/theme/", json={"value": "dark"}, headers=user)
    assert (put.status_code, put.json["key"]) == (200, "theme")
    assert client.get("/api/v1/settings/user/theme", headers=user).json["value"] == "dark"

    key = client.post("/api/v1/admin/service-keys/", json={"name": "ci", "scopes": ["*"]}, headers=admin_headers)
    assert key.status_code == 201
    assert client.get(f"/api/v1/admin/service-keys/{key.json['id']}/", headers=admin_headers).json["name"] == "ci"


def test_rules_are_not_doubled(app):
    """`strict_slashes=False` does the work, not a second rule per route."""
    seen = defaultdict(list)
    for rule in app.url_map.iter_rules():
        seen[(re.sub(r"/$", "", rule.rule) or "/", frozenset(rule.methods))].append(rule.rule)
    assert [rules for rules in seen.values() if len(rules) > 1] == []
