"""`/api/v1/admin/settings/custom…`: system settings and system secrets, roles and audit."""

from __future__ import annotations

import pytest

from tests.conftest import create_tenant, login, tenant_admin
from tests.settings.conftest import (
    ADMIN,
    ADMIN_SECRETS,
    SECRET_METADATA,
    USER,
    add_secret,
    add_system,
    audit_actions,
    stored_rows,
)
from tests.test_service_keys import create_key

SYSTEM_PLAINTEXT = "sk-system-stripe-secret-8d02"


def test_create_list_get_update_delete_a_system_setting(app, client, admin_headers):
    assert client.get(ADMIN, headers=admin_headers).json == []
    created = add_system(client, admin_headers, "site/name", "Acme", description="shown in the header", is_public=True)
    assert (created["key"], created["value"], created["is_public"], created["user_id"]) == (
        "site/name",
        "Acme",
        True,
        None,
    )
    add_system(client, admin_headers, "limits", {"max": 3})
    assert [row["key"] for row in client.get(ADMIN, headers=admin_headers).json] == ["limits", "site/name"]
    assert client.get(f"{ADMIN}/site/name", headers=admin_headers).json["description"] == "shown in the header"

    response = client.put(f"{ADMIN}/site/name", json={"is_public": False}, headers=admin_headers)
    assert response.status_code == 200 and response.json["is_public"] is False and response.json["value"] == "Acme"
    response = client.put(f"{ADMIN}/site/name", json={"value": None}, headers=admin_headers)
    assert response.json["value"] is None

    assert client.delete(f"{ADMIN}/site/name", headers=admin_headers).status_code == 204
    assert client.get(f"{ADMIN}/site/name", headers=admin_headers).status_code == 404
    assert [row["key"] for row in stored_rows(app)] == ["limits"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"value": 1}, 400, "FIELD_REQUIRED"),
        ({"key": "bad key", "value": 1}, 400, "INVALID_FIELD"),
        ({"key": "k"}, 400, "FIELD_REQUIRED"),
        ({"key": "k", "value": 1, "is_public": "yes"}, 400, "INVALID_FIELD"),
        ({"key": "k", "value": "v" * (1024 * 1024)}, 413, "VALUE_TOO_LARGE"),
    ],
)
def test_create_rejects_bad_input(client, admin_headers, body, status, code):
    response = client.post(ADMIN, json=body, headers=admin_headers)
    assert response.status_code == status and response.json["code"] == code


def test_create_is_409_and_update_of_nothing_is_400(client, admin_headers):
    add_system(client, admin_headers, "k", 1)
    assert client.post(ADMIN, json={"key": "k", "value": 2}, headers=admin_headers).status_code == 409
    response = client.put(f"{ADMIN}/k", json={}, headers=admin_headers)
    assert response.status_code == 400 and response.json["code"] == "NOTHING_TO_UPDATE"
    assert client.put(f"{ADMIN}/missing", json={"value": 1}, headers=admin_headers).status_code == 404
    assert client.delete(f"{ADMIN}/missing", headers=admin_headers).status_code == 404


def test_system_secrets_are_write_only(app, client, admin_headers):
    created = add_secret(client, admin_headers, "stripe", SYSTEM_PLAINTEXT, base=ADMIN_SECRETS, description="billing")
    assert set(created) == SECRET_METADATA and created["user_id"] is None
    assert client.post(ADMIN_SECRETS, json={"key": "stripe", "value": "x"}, headers=admin_headers).status_code == 409
    assert [item["key"] for item in client.get(ADMIN_SECRETS, headers=admin_headers).json] == ["stripe"]
    assert set(client.get(f"{ADMIN_SECRETS}/stripe", headers=admin_headers).json) == SECRET_METADATA
    # The plain system setting list and get do not show it.
    assert client.get(ADMIN, headers=admin_headers).json == []
    assert client.get(f"{ADMIN}/stripe", headers=admin_headers).status_code == 404
    response = client.put(f"{ADMIN_SECRETS}/stripe", json={"value": "sk-new-system-secret-77"}, headers=admin_headers)
    assert response.status_code == 200 and set(response.json) == SECRET_METADATA
    [row] = stored_rows(app)
    assert row["user_id"] is None and row["is_secret"] and row["value"] in (None, "null")
    assert "sk-new-system-secret-77" not in row["encrypted_value"]
    assert client.delete(f"{ADMIN_SECRETS}/stripe", headers=admin_headers).status_code == 204
    assert stored_rows(app) == []


def test_system_secrets_are_listed_at_the_reference_path_too(client, admin_headers):
    """The reference SDK lists them at `/custom/secrets`; a system setting of that name is still listed."""
    add_secret(client, admin_headers, "stripe", SYSTEM_PLAINTEXT, base=ADMIN_SECRETS)
    add_system(client, admin_headers, "secrets", "a plain setting")
    listed = client.get(f"{ADMIN}/secrets", headers=admin_headers)
    assert listed.status_code == 200
    assert listed.json == client.get(ADMIN_SECRETS, headers=admin_headers).json
    assert [(item["key"], set(item)) for item in listed.json] == [("stripe", SECRET_METADATA)]
    assert [row["key"] for row in client.get(ADMIN, headers=admin_headers).json] == ["secrets"]


def test_every_change_is_audited_without_values(client, admin_headers, alice):
    add_system(client, admin_headers, "theme", "audit-plain-value-61")
    client.put(f"{ADMIN}/theme", json={"value": "audit-plain-value-62"}, headers=admin_headers)
    client.delete(f"{ADMIN}/theme", headers=admin_headers)
    add_secret(client, admin_headers, "stripe", SYSTEM_PLAINTEXT, base=ADMIN_SECRETS)
    client.put(f"{ADMIN_SECRETS}/stripe", json={"value": "sk-audit-secret-2"}, headers=admin_headers)
    client.delete(f"{ADMIN_SECRETS}/stripe", headers=admin_headers)
    add_secret(client, alice, "token", "sk-audit-user-secret-3")
    client.put("/api/v1/settings/secret/token", json={"description": "d"}, headers=alice)
    client.delete("/api/v1/settings/secret/token", headers=alice)
    client.put(f"{USER}/plain", json={"value": "user settings are not audited"}, headers=alice)

    events = audit_actions(client, admin_headers)
    assert sorted((event["action"], event["target"]) for event in events) == sorted(
        [
            ("settings.system.created", "theme"),
            ("settings.system.updated", "theme"),
            ("settings.system.deleted", "theme"),
            ("settings.secret.created", "stripe"),
            ("settings.secret.updated", "stripe"),
            ("settings.secret.deleted", "stripe"),
            ("settings.user_secret.created", "token"),
            ("settings.user_secret.updated", "token"),
            ("settings.user_secret.deleted", "token"),
        ]
    )
    updated = next(event for event in events if event["action"] == "settings.secret.updated")
    assert updated["details"] == {"fields": ["value"]} and updated["actor_kind"] == "platform"
    user_events = [event for event in events if event["action"].startswith("settings.user_secret.")]
    assert all(event["details"]["user_id"] == event["actor_id"] for event in user_events)
    text = str(events)
    for value in ("audit-plain-value", SYSTEM_PLAINTEXT, "sk-audit-secret-2", "sk-audit-user-secret-3"):
        assert value not in text


def test_ordinary_users_and_anonymous_callers_are_refused(client, alice):
    assert client.get(ADMIN).status_code == 401
    for response in (
        client.get(ADMIN, headers=alice),
        client.post(ADMIN, json={"key": "k", "value": 1}, headers=alice),
        client.post(ADMIN_SECRETS, json={"key": "k", "value": "v"}, headers=alice),
    ):
        assert response.status_code == 403 and response.json["code"] == "FORBIDDEN"


def test_service_key_needs_settings_write(client, admin_headers):
    writer = create_key(client, admin_headers, ["settings:write"])["key"]
    reader = create_key(client, admin_headers, ["settings:read"])["key"]
    created = client.post(ADMIN, json={"key": "k", "value": 1}, headers={"X-Service-Key": writer})
    assert created.status_code == 201 and created.json["created_by"] is not None
    assert (
        client.post(ADMIN_SECRETS, json={"key": "s", "value": "v"}, headers={"X-Service-Key": writer}).status_code
        == 201
    )
    response = client.post(ADMIN, json={"key": "k2", "value": 1}, headers={"X-Service-Key": reader})
    assert response.status_code == 403


def test_tenant_admin_manages_only_the_tenant_they_administer(app, client, admin_headers):
    acme = create_tenant(app, "acme")
    create_tenant(app, "globex")
    tenant_admin(app, "ta@example.com", acme)
    headers = login(client, "ta@example.com")
    in_acme = {**headers, "X-FB-Tenant": "acme"}
    assert client.post(ADMIN, json={"key": "k", "value": "acme"}, headers=in_acme).status_code == 201
    assert client.get(ADMIN, headers={**headers, "X-FB-Tenant": "globex"}).status_code == 403
    # The instance admin acts in any tenant; each tenant has its own system settings.
    assert client.get(ADMIN, headers=admin_headers).json == []
    assert client.get(f"{ADMIN}/k", headers={**admin_headers, "X-FB-Tenant": "acme"}).json["value"] == "acme"
    assert [row["tenant_id"] for row in stored_rows(app)] == [acme]
