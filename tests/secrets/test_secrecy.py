"""Function secret values stay secret: not in the database, any response or log line; keys rotate them.

The plaintexts are distinctive strings, so finding one anywhere is a leak, not chance.
"""

from __future__ import annotations

import logging

import pytest

from flux.cli import cli
from flux.errors import SecretUnreadable
from flux.tenancy import default_tenant_id
from plugins.secrets import store
from tests.conftest import create_tenant, stored_bytes
from tests.secrets.conftest import ADMIN, BASE, add, stored, tamper

FIRST = "sk-fn-first-8c1d2e3f-leak-canary"
SECOND = "sk-fn-second-4a5b6c7d-leak-canary"
NAMESPACED = "sk-fn-prod-0e9f8a7b-leak-canary"
OTHER_TENANT = "sk-fn-globex-1f2e3d4c-leak-canary"
REFUSED = "sk-fn-refused-5d6e7f80-leak-canary"
CANARIES = (FIRST, SECOND, NAMESPACED, OTHER_TENANT, REFUSED)


@pytest.fixture
def secrets_everywhere(app, client, admin_headers) -> list:
    """Secrets with history, in a namespace and in a second tenant; every response kept."""
    created = add(client, admin_headers, "API_KEY", FIRST, description="plain-description-visible")
    by_id = f"{BASE}/{created['id']}"
    responses = [
        client.put(by_id, json={"value": SECOND}, headers=admin_headers),
        client.post(f"{by_id}/rollback/1", headers=admin_headers),
        client.post(BASE, json={"name": "API_KEY", "value": NAMESPACED, "namespace": "prod"}, headers=admin_headers),
        client.post(BASE, json={"name": "API_KEY", "value": REFUSED}, headers=admin_headers),  # 409
        client.post(BASE, json={"name": "bad name", "value": REFUSED}, headers=admin_headers),  # 400
        client.put(f"{ADMIN}/API_KEY", json={"value": REFUSED, "name": "RENAMED"}, headers=admin_headers),  # 400
    ]
    create_tenant(app, "globex")
    in_globex = {**admin_headers, "X-FB-Tenant": "globex"}
    responses.append(client.post(BASE, json={"name": "API_KEY", "value": OTHER_TENANT}, headers=in_globex))
    assert [r.status_code for r in responses] == [200, 200, 201, 409, 400, 400, 201]
    for headers in (admin_headers, in_globex):
        responses += [
            client.get(BASE, headers=headers),
            client.get(f"{BASE}/stats", headers=headers),
            client.get(f"{BASE}/by-name/API_KEY", headers=headers),
            client.get(f"{BASE}/by-name/API_KEY/versions", headers=headers),
            client.get(f"{ADMIN}/API_KEY/history", headers=headers),
            client.get(ADMIN, headers=headers),
            client.get("/api/v1/admin/audit?limit=1000", headers=headers),
        ]
    return [created, *responses]


def test_no_response_body_holds_a_secret(secrets_everywhere):
    created, *responses = secrets_everywhere
    assert not [canary for canary in CANARIES if canary in str(created)]
    for response in responses:
        body = response.get_data(as_text=True)
        assert not [canary for canary in CANARIES if canary in body], (response.request.path, body)
    assert any("plain-description-visible" in response.get_data(as_text=True) for response in responses)


def runtime_value(name: str, namespace: str) -> dict[str, str]:
    return store.invocation_function_secret(default_tenant_id(), namespace, name, ("function",))


def test_no_log_line_holds_a_secret(app, client, admin_headers, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="flux")
    first = add(client, admin_headers, "API_KEY", FIRST)
    client.put(f"{BASE}/by-name/API_KEY", json={"value": SECOND}, headers=admin_headers)
    moved = add(client, admin_headers, "MOVED", NAMESPACED)
    tamper(app, first["id"], moved["id"])  # a value that no longer opens is logged, by name only
    client.post(BASE, json={"name": "API_KEY", "value": REFUSED}, headers=admin_headers)
    client.post(BASE, json={"name": "x y", "value": REFUSED}, headers=admin_headers)
    with app.app_context(), pytest.raises(SecretUnreadable):
        store.invocation_function_secret(default_tenant_id(), "default", "MOVED", ("function",))
    assert "does not open" in caplog.text
    assert [canary for canary in CANARIES if canary in caplog.text] == []


def test_the_database_holds_no_plaintext(app, secrets_everywhere):
    stored_data = stored_bytes(app)
    assert b"plain-description-visible" in stored_data  # the scan does see stored text
    assert [canary for canary in CANARIES if canary.encode() in stored_data] == []
    secrets, versions = stored(app), stored(app, "function_secret_versions")
    assert len(secrets) == 3 and len(versions) == 5
    assert all(row["encrypted_value"].startswith("fx1:") for row in secrets + versions)


def test_keys_rotate_reencrypts_secrets_and_their_history(
    app, admin_headers, secrets_everywhere, monkeypatch, make_app
):
    monkeypatch.setenv("FLUXBASE_INSTANCE_PATH", app.instance_path)
    monkeypatch.setenv("FLUXBASE_DATABASE_URL", app.config["DATABASE_URL"])
    result = app.test_cli_runner().invoke(cli, ["keys", "rotate"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Re-encrypted 8 value(s)." in result.output
    fresh = make_app(migrated=False)
    new_primary = fresh.extensions["flux"].encryptor.keyring.primary.id
    key_ids = {row["encrypted_value"].split(":")[2] for row in stored(app) + stored(app, "function_secret_versions")}
    assert key_ids == {new_primary}
    with fresh.app_context():
        assert runtime_value("API_KEY", "prod") == {"function": NAMESPACED}
        assert runtime_value("API_KEY", "default") == {"function": FIRST}
    # History still opens under the new key: rolling back to version 2 brings SECOND back.
    rolled = fresh.test_client().post(f"{BASE}/by-name/API_KEY/rollback/2", headers=admin_headers)
    assert rolled.status_code == 200 and rolled.json["version"] == 4
    with fresh.app_context():
        assert runtime_value("API_KEY", "default") == {"function": SECOND}
