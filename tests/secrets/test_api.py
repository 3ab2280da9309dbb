"""Every route of `/api/v1/secrets` (seed 004) and `/api/v1/admin/secrets` (seed 001), and their errors."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from flux.db import utcnow
from tests.secrets.conftest import ADMIN, BASE, METADATA, add, expire, in_days, stored


def names(response) -> list[tuple[str, str, str]]:
    assert response.status_code == 200, response.json
    return [(row["name"], row["scope"], row["namespace"]) for row in response.json]


def test_create_returns_metadata_only(client, admin_headers):
    created = add(client, admin_headers, "API_KEY", "sk-create-1", description="External API key")
    assert set(created) == METADATA
    assert created["name"] == "API_KEY" and created["scope"] == "global" and created["namespace"] == ""
    assert created["version"] == 1 and created["expires_at"] is None and created["is_expired"] is False
    assert created["description"] == "External API key"
    assert created["created_by"] == created["updated_by"] is not None
    assert client.get(f"{BASE}/{created['id']}", headers=admin_headers).json == created
    assert client.get(f"{BASE}/by-name/API_KEY", headers=admin_headers).json == created


def test_list_filters_by_scope_and_namespace(client, admin_headers):
    add(client, admin_headers, "B", "v")
    add(client, admin_headers, "A", "v")
    add(client, admin_headers, "A", "v", scope="namespace", namespace="production")
    add(client, admin_headers, "C", "v", namespace="staging")  # a namespace alone means namespace scope
    everything = [
        ("A", "global", ""),
        ("B", "global", ""),
        ("A", "namespace", "production"),
        ("C", "namespace", "staging"),
    ]
    assert names(client.get(BASE, headers=admin_headers)) == everything
    assert names(client.get(f"{BASE}/", headers=admin_headers)) == everything
    assert names(client.get(f"{BASE}?scope=global", headers=admin_headers)) == everything[:2]
    assert names(client.get(f"{BASE}?scope=namespace", headers=admin_headers)) == everything[2:]
    assert names(client.get(f"{BASE}?namespace=production", headers=admin_headers)) == [everything[2]]
    assert names(client.get(f"{BASE}?search=a", headers=admin_headers)) == [everything[0], everything[2]]
    assert client.get(f"{BASE}?scope=tenant", headers=admin_headers).status_code == 400


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        ({"value": "v"}, 400, "FIELD_REQUIRED", "name: Field required"),
        ({"name": "", "value": "v"}, 400, "FIELD_REQUIRED", "name: is required"),
        ({"name": "has space", "value": "v"}, 400, "INVALID_FIELD", "name: use 1 to 128 letters"),
        ({"name": "a/b", "value": "v"}, 400, "INVALID_FIELD", "name: use 1 to 128 letters"),
        ({"name": "x" * 129, "value": "v"}, 400, "INVALID_FIELD", "name: use 1 to 128 letters"),
        ({"name": 7, "value": "v"}, 400, "INVALID_FIELD", "name: Input should be a valid string"),
        ({"name": "N"}, 400, "FIELD_REQUIRED", "value: Field required"),
        ({"name": "N", "value": ""}, 400, "FIELD_REQUIRED", "value: is required"),
        ({"name": "N", "value": None}, 400, "FIELD_REQUIRED", "value: is required"),
        ({"name": "N", "value": 42}, 400, "INVALID_FIELD", "value: Input should be a valid string"),
        ({"name": "N", "value": "x" * (64 * 1024 + 1)}, 413, "VALUE_TOO_LARGE", "value: is 65537 bytes"),
        ({"name": "N", "value": "v", "scope": "tenant"}, 400, "INVALID_FIELD", "scope: Input should be 'global'"),
        (
            {"name": "N", "value": "v", "scope": "namespace"},
            400,
            "FIELD_REQUIRED",
            "namespace: scope 'namespace' needs",
        ),
        (
            {"name": "N", "value": "v", "scope": "global", "namespace": "prod"},
            400,
            "INVALID_FIELD",
            "namespace: a global secret has no namespace",
        ),
        ({"name": "N", "value": "v", "namespace": "-prod"}, 400, "INVALID_FIELD", "namespace: use 1 to 64 letters"),
        (
            {"name": "N", "value": "v", "expires_at": "2020-01-01T00:00:00Z"},
            400,
            "INVALID_FIELD",
            "expires_at: must be in",
        ),
        ({"name": "N", "value": "v", "expires_at": "next tuesday"}, 400, "INVALID_FIELD", "expires_at: must be an RFC"),
        ({"name": "N", "value": "v", "expires_at": "2099-01-01T00:00:00"}, 400, "INVALID_FIELD", "expires_at: must be"),
        ({"name": "N", "value": "v", "expires_at": 4102444800}, 400, "INVALID_FIELD", "expires_at: must be an RFC"),
        (
            {"name": "N", "value": "v", "expires_at": "9999-12-31T23:59:59-23:59"},
            400,
            "INVALID_FIELD",
            "expires_at: must be an RFC",
        ),
        ({"name": "N", "value": "v", "description": 3}, 400, "INVALID_FIELD", "description: Input should be"),
        ({"name": "N", "value": "v", "description": "d" * 2001}, 400, "INVALID_FIELD", "description: String should"),
    ],
)
def test_bad_create_is_refused_and_changes_nothing(app, client, admin_headers, body, status, code, message):
    response = client.post(BASE, json=body, headers=admin_headers)
    assert (response.status_code, response.json["code"]) == (status, code), response.json
    assert response.json["error"].startswith(message), response.json["error"]
    assert stored(app) == [] and stored(app, "function_secret_versions") == []


def test_non_object_bodies_are_400(client, admin_headers):
    for data in ("[1]", "not json", ""):
        response = client.post(BASE, data=data, headers={**admin_headers, "Content-Type": "application/json"})
        assert response.status_code == 400, data


def test_duplicates_are_409_per_scope_and_namespace(client, admin_headers):
    add(client, admin_headers, "DB_URL", "one")
    add(client, admin_headers, "DB_URL", "two", namespace="production")
    add(client, admin_headers, "DB_URL", "three", namespace="staging")
    again = client.post(BASE, json={"name": "DB_URL", "value": "x", "namespace": "production"}, headers=admin_headers)
    assert (again.status_code, again.json["code"]) == (409, "ALREADY_EXISTS")
    assert "production" in again.json["error"]
    # Two names that would become one FLUXBASE_SECRET_* variable cannot live side by side.
    clash = client.post(BASE, json={"name": "db.url", "value": "x"}, headers=admin_headers)
    assert (clash.status_code, clash.json["code"]) == (409, "ENV_NAME_TAKEN")
    assert "FLUXBASE_SECRET_DB_URL" in clash.json["error"]


def test_expires_at_is_stored_and_reported(app, client, admin_headers):
    expires = (utcnow() + timedelta(days=30)).replace(microsecond=0)
    created = add(client, admin_headers, "TEMP", "v", expires_at=expires.isoformat().replace("+00:00", "Z"))
    assert datetime.fromisoformat(created["expires_at"]) == expires and not created["is_expired"]
    expire(app, created["id"])
    listed = client.get(BASE, headers=admin_headers).json
    assert [row["is_expired"] for row in listed] == [True]


def test_unknown_secrets_and_versions_are_404(client, admin_headers):
    created = add(client, admin_headers, "K", "v")
    missing = [
        client.get(f"{BASE}/00000000-0000-4000-8000-000000000000", headers=admin_headers),
        client.get(f"{BASE}/not-an-id", headers=admin_headers),
        client.put(f"{BASE}/not-an-id", json={"value": "x"}, headers=admin_headers),
        client.delete(f"{BASE}/not-an-id", headers=admin_headers),
        client.get(f"{BASE}/by-name/NOPE", headers=admin_headers),
        client.get(f"{BASE}/by-name/K?namespace=production", headers=admin_headers),
        client.get(f"{BASE}/by-name/NOPE/versions", headers=admin_headers),
        client.get(f"{ADMIN}/NOPE", headers=admin_headers),
        client.get(f"{ADMIN}/NOPE/history", headers=admin_headers),
    ]
    assert [(r.status_code, r.json["code"]) for r in missing] == [(404, "NOT_FOUND")] * len(missing)
    for response in (
        client.post(f"{BASE}/{created['id']}/rollback/5", headers=admin_headers),
        client.post(f"{BASE}/by-name/K/rollback/2", headers=admin_headers),
        client.post(f"{ADMIN}/K/rollback", json={"version": 9}, headers=admin_headers),
    ):
        assert (response.status_code, response.json["code"]) == (404, "NOT_FOUND")
        assert "has no version" in response.json["error"]


@pytest.mark.parametrize("version", ["0", "-1", "abc", "1.5", "99999999999", "²"])
def test_bad_version_numbers_are_400(client, admin_headers, version):
    created = add(client, admin_headers, "K", "v")
    for response in (
        client.post(f"{BASE}/{created['id']}/rollback/{version}", headers=admin_headers),
        client.post(f"{BASE}/by-name/K/rollback/{version}", headers=admin_headers),
    ):
        assert (response.status_code, response.json["code"]) == (400, "INVALID_FIELD"), version
        assert response.json["error"] == "version: must be a whole number from 1"


@pytest.mark.parametrize("version", [None, "1", 0, True, 1.0, [1]])
def test_bad_rollback_bodies_are_400(client, admin_headers, version):
    add(client, admin_headers, "K", "v")
    response = client.post(f"{ADMIN}/K/rollback", json={"version": version}, headers=admin_headers)
    assert (response.status_code, response.json["code"]) == (400, "INVALID_FIELD")
    assert response.json["error"] == "version: must be a whole number from 1"


def versions(client, headers, path: str) -> list[tuple[int, bool]]:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.json
    return [(row["version"], row["is_current"]) for row in response.json]


def test_value_changes_make_versions_and_rollback_makes_a_new_one(app, client, admin_headers):
    created = add(client, admin_headers, "K", "value-one")
    by_id = f"{BASE}/{created['id']}"
    updated = client.put(by_id, json={"value": "value-two"}, headers=admin_headers)
    assert updated.status_code == 200 and updated.json["version"] == 2
    assert versions(client, admin_headers, f"{by_id}/versions") == [(2, True), (1, False)]
    rolled = client.post(f"{by_id}/rollback/1", headers=admin_headers)
    assert rolled.status_code == 200 and rolled.json["version"] == 3
    assert versions(client, admin_headers, f"{BASE}/by-name/K/versions") == [(3, True), (2, False), (1, False)]
    assert versions(client, admin_headers, f"{ADMIN}/K/history") == [(3, True), (2, False), (1, False)]
    assert runtime_value(app, "K") == "value-one"
    client.post(f"{BASE}/by-name/K/rollback/2", headers=admin_headers)
    assert runtime_value(app, "K") == "value-two"
    assert client.get(by_id, headers=admin_headers).json["version"] == 4


def runtime_value(app, name: str, namespace: str = "default") -> str | None:
    from flux.tenancy import default_tenant_id
    from plugins.secrets import store

    with app.app_context():
        return store.invocation_function_secret(default_tenant_id(), namespace, name, ("function",)).get("function")


def test_description_and_expiry_changes_keep_the_version(app, client, admin_headers):
    created = add(client, admin_headers, "K", "v", expires_at=in_days(3))
    path = f"{BASE}/by-name/K"
    described = client.put(path, json={"description": "now described"}, headers=admin_headers)
    assert described.status_code == 200
    assert (described.json["version"], described.json["description"]) == (1, "now described")
    later = client.put(path, json={"expires_at": in_days(60)}, headers=admin_headers).json
    assert later["version"] == 1 and later["expires_at"] > created["expires_at"]
    cleared = client.put(path, json={"expires_at": None, "description": None}, headers=admin_headers).json
    assert (cleared["version"], cleared["expires_at"], cleared["description"]) == (1, None, "")
    assert cleared["updated_at"] >= created["updated_at"]
    assert len(stored(app, "function_secret_versions")) == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "NOTHING_TO_UPDATE"),
        ({"name": "K"}, "NOTHING_TO_UPDATE"),
        ({"value": "x", "name": "OTHER"}, "INVALID_FIELD"),
        ({"value": "x", "namespace": "prod"}, "INVALID_FIELD"),
        ({"value": ""}, "FIELD_REQUIRED"),
        ({"value": None}, "FIELD_REQUIRED"),
        ({"expires_at": "2001-01-01T00:00:00+00:00"}, "INVALID_FIELD"),
        ({"expires_at": "tomorrow"}, "INVALID_FIELD"),
        ({"description": ["x"]}, "INVALID_FIELD"),
    ],
)
def test_bad_updates_are_400_and_change_nothing(app, client, admin_headers, body, code):
    add(client, admin_headers, "K", "v")
    before = stored(app)
    response = client.put(f"{BASE}/by-name/K", json=body, headers=admin_headers)
    assert (response.status_code, response.json["code"]) == (400, code)
    assert stored(app) == before


def test_update_by_name_reaches_the_namespace_secret(app, client, admin_headers):
    add(client, admin_headers, "K", "global-value")
    add(client, admin_headers, "K", "prod-value", namespace="production")
    response = client.put(f"{BASE}/by-name/K?namespace=production", json={"value": "prod-2"}, headers=admin_headers)
    assert (response.json["namespace"], response.json["version"]) == ("production", 2)
    assert client.get(f"{BASE}/by-name/K", headers=admin_headers).json["version"] == 1
    assert runtime_value(app, "K", "production") == "prod-2"
    assert runtime_value(app, "K", "staging") == "global-value"


def test_delete_removes_the_secret_and_its_history(app, client, admin_headers):
    created = add(client, admin_headers, "K", "v")
    client.put(f"{BASE}/{created['id']}", json={"value": "v2"}, headers=admin_headers)
    add(client, admin_headers, "KEEP", "v")
    assert client.delete(f"{BASE}/{created['id']}", headers=admin_headers).status_code == 204
    assert client.get(f"{BASE}/{created['id']}", headers=admin_headers).status_code == 404
    assert [row["name"] for row in stored(app)] == ["KEEP"]
    assert len(stored(app, "function_secret_versions")) == 1
    add(client, admin_headers, "K", "again")
    assert client.delete(f"{BASE}/by-name/K", headers=admin_headers).status_code == 204
    assert client.delete(f"{BASE}/by-name/K", headers=admin_headers).status_code == 404


def test_seed_001_admin_routes(app, client, admin_headers):
    body = {"name": "API_KEY", "value": "sk-1", "scope": "global", "namespace": "", "description": "External API key"}
    created = client.post(ADMIN, json=body, headers=admin_headers)
    assert created.status_code == 201 and set(created.json) == METADATA
    namespaced = {"name": "API_KEY", "value": "sk-prod", "scope": "namespace", "namespace": "production"}
    assert client.post(ADMIN, json=namespaced, headers=admin_headers).status_code == 201
    assert names(client.get(ADMIN, headers=admin_headers)) == [
        ("API_KEY", "global", ""),
        ("API_KEY", "namespace", "production"),
    ]
    assert client.get(f"{ADMIN}/API_KEY", headers=admin_headers).json == created.json
    assert client.get(f"{ADMIN}/API_KEY?namespace=production", headers=admin_headers).json["namespace"] == "production"
    updated = client.put(f"{ADMIN}/API_KEY", json={**body, "value": "sk-2"}, headers=admin_headers)
    assert updated.status_code == 200 and updated.json["version"] == 2
    assert versions(client, admin_headers, f"{ADMIN}/API_KEY/history") == [(2, True), (1, False)]
    rolled = client.post(f"{ADMIN}/API_KEY/rollback", json={"version": 1}, headers=admin_headers)
    assert rolled.status_code == 200 and rolled.json["version"] == 3
    assert runtime_value(app, "API_KEY", "staging") == "sk-1"
    assert client.delete(f"{ADMIN}/API_KEY?namespace=production", headers=admin_headers).status_code == 204
    assert names(client.get(ADMIN, headers=admin_headers)) == [("API_KEY", "global", "")]


def test_stats_count_total_expiring_soon_and_expired(app, client, admin_headers):
    add(client, admin_headers, "FOREVER", "v")
    add(client, admin_headers, "SOON", "v", expires_at=in_days(2))
    add(client, admin_headers, "LATER", "v", expires_at=in_days(30))
    gone = add(client, admin_headers, "GONE", "v", expires_at=in_days(1))
    expire(app, gone["id"])
    response = client.get(f"{BASE}/stats", headers=admin_headers)
    assert response.status_code == 200
    assert response.json == {"total": 4, "expiring_soon": 1, "expired": 1}


def test_changes_are_audited_without_values(client, admin_headers):
    created = add(client, admin_headers, "K", "audit-canary-1")
    client.put(f"{BASE}/{created['id']}", json={"value": "audit-canary-2", "description": "d"}, headers=admin_headers)
    client.post(f"{BASE}/{created['id']}/rollback/1", headers=admin_headers)
    client.delete(f"{BASE}/{created['id']}", headers=admin_headers)
    response = client.get("/api/v1/admin/audit?limit=100", headers=admin_headers)
    events = [event for event in response.json if event["action"].startswith("secrets.")]
    assert [event["action"] for event in reversed(events)] == [
        "secrets.created",
        "secrets.updated",
        "secrets.rolled_back",
        "secrets.deleted",
    ]
    assert {event["target"] for event in events} == {"K"}
    assert events[2]["details"] == {
        "scope": "global",
        "namespace": "",
        "version": 2,
        "fields": ["value", "description"],
    }
    assert events[1]["details"]["from_version"] == 1
    assert "audit-canary" not in response.get_data(as_text=True)


def test_who_may_call(client, auth, admin_headers, service_key):
    add(client, admin_headers, "K", "v")
    user = auth.bearer(auth.signup("user@example.com"))
    assert client.get(BASE, headers=user).status_code == 403
    assert client.get(ADMIN, headers=user).status_code == 403
    assert client.post(BASE, json={"name": "X", "value": "v"}, headers=user).status_code == 403
    assert client.get(BASE).status_code == 401
    assert client.get(f"{BASE}/stats").status_code == 401
    reader, writer = service_key(["secrets:read"]), service_key(["secrets:write"])
    other = service_key(["settings:read", "functions:execute"])
    assert names(client.get(BASE, headers=reader)) == [("K", "global", "")]
    assert client.get(f"{BASE}/by-name/K/versions", headers=reader).status_code == 200
    refused = client.put(f"{BASE}/by-name/K", json={"value": "x"}, headers=reader)
    assert (refused.status_code, refused.json["code"]) == (403, "FORBIDDEN")
    assert client.post(BASE, json={"name": "W", "value": "v"}, headers=writer).status_code == 201
    assert client.post(f"{BASE}/by-name/W/rollback/1", headers=writer).status_code == 200
    assert client.get(BASE, headers=other).status_code == 403
    assert client.get(BASE, headers=service_key(["secrets:*"])).status_code == 200


def test_junk_against_existing_secrets_is_never_500(app, client, admin_headers):
    """The generic fuzz test meets empty tables; here every route finds a secret to work on."""
    from tests.test_no_500 import BODIES, fill

    created = add(client, admin_headers, "x", "v", namespace="x")
    add(client, admin_headers, "x", "v")
    routes = [
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(("/api/v1/secrets", "/api/v1/admin/secrets"))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]
    failures, answered = [], set()
    for method, rule in sorted(routes, key=lambda route: route[0] == "DELETE"):  # deletes last
        for value in ("x", created["id"], "1"):
            path = fill(rule.replace("<version>", "1"), value)
            for body in BODIES:
                for query in ("", "?namespace=x", "?namespace=%00&scope=[]"):
                    response = client.open(
                        path + query, method=method, data=body, headers=admin_headers, content_type="application/json"
                    )
                    answered.add(response.status_code)
                    if response.status_code >= 500:
                        failures.append((method, path + query, body, response.get_data()[:200]))
    assert failures == []
    assert {200, 204, 400, 404} <= answered  # the junk did reach secrets, not only 404s
