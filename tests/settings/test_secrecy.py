"""Secret values stay secret: not in the database, any response, any log line; keys do not cross users.

The plaintexts are distinctive strings, so finding one anywhere is a leak, not chance.
"""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from flux.cli import cli
from flux.crypto import DecryptionError
from flux.db import db
from flux.errors import SecretUnreadable
from flux.tenancy import default_tenant_id, find_tenant, tenant_scope
from plugins.functions.secret_layers import invocation_secret
from plugins.settings import store
from plugins.settings.models import Setting
from tests.conftest import create_tenant, stored_bytes
from tests.settings.conftest import (
    ADMIN,
    ADMIN_SECRETS,
    PUBLIC,
    SECRETS,
    USER,
    add_secret,
    stored_rows,
    user_id,
)

ALICE_SECRET = "sk-alice-9f3e1d7c-leak-canary"
ALICE_UPDATED = "sk-alice-2b8a4c6e-leak-canary"
BOB_SECRET = "sk-bob-7d1f0a3b-leak-canary"
SYSTEM_SECRET = "sk-system-4e6c8a2d-leak-canary"
OTHER_TENANT_SECRET = "sk-globex-5a7b9c1d-leak-canary"
CANARIES = (ALICE_SECRET, ALICE_UPDATED, BOB_SECRET, SYSTEM_SECRET, OTHER_TENANT_SECRET)
PLAIN_CONTROL = "plain-setting-3c5e7a9b-visible"


@pytest.fixture
def secrets_everywhere(app, client, auth, alice, bob, admin_headers) -> list:
    """Secrets of two users, of the system and of a second tenant; every response kept."""
    responses = [
        client.post(SECRETS, json={"key": "api/token", "value": ALICE_SECRET, "description": "x"}, headers=alice),
        client.put(f"{SECRETS}/api/token", json={"value": ALICE_UPDATED}, headers=alice),
        client.post(SECRETS, json={"key": "api/token", "value": BOB_SECRET}, headers=bob),
        client.post(ADMIN_SECRETS, json={"key": "stripe", "value": SYSTEM_SECRET}, headers=admin_headers),
        client.put(f"{USER}/plain", json={"value": PLAIN_CONTROL}, headers=alice),
    ]
    create_tenant(app, "globex")
    in_globex = {**admin_headers, "X-FB-Tenant": "globex"}
    responses.append(
        client.post(ADMIN_SECRETS, json={"key": "stripe", "value": OTHER_TENANT_SECRET}, headers=in_globex)
    )
    assert [response.status_code for response in responses] == [201, 200, 201, 201, 200, 201]
    for headers in (alice, bob):
        responses += [
            client.get(SECRETS, headers=headers),
            client.get(f"{SECRETS}/api/token", headers=headers),
            client.get(f"{USER}/api/token", headers=headers),
            client.get(f"{USER}/own/api/token", headers=headers),
            client.get(f"{USER}/stripe", headers=headers),
            client.get(f"{USER}/system/stripe", headers=headers),
            client.get(f"{USER}/list", headers=headers),
            client.get(f"{PUBLIC}/stripe", headers=headers),
            client.get(f"{PUBLIC}/", headers=headers),
            client.post(f"{PUBLIC}/batch", json={"keys": ["stripe", "api/token"]}, headers=headers),
        ]
    responses += [
        client.get(ADMIN_SECRETS, headers=admin_headers),
        client.get(f"{ADMIN_SECRETS}/stripe", headers=admin_headers),
        client.get(ADMIN, headers=admin_headers),
        client.get("/api/v1/admin/audit?limit=1000", headers=admin_headers),
        client.get(ADMIN_SECRETS, headers=in_globex),
    ]
    return responses


def test_no_response_body_holds_a_secret(secrets_everywhere):
    for response in secrets_everywhere:
        body = response.get_data(as_text=True)
        assert not [canary for canary in CANARIES if canary in body], (response.request.path, body)
    assert any(PLAIN_CONTROL in response.get_data(as_text=True) for response in secrets_everywhere)


def test_no_log_line_holds_a_secret(app, client, auth, admin_headers, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="flux")
    alice = auth.bearer(auth.signup("alice@example.com"))
    add_secret(client, alice, "token", ALICE_SECRET)
    client.put(f"{SECRETS}/token", json={"value": ALICE_UPDATED}, headers=alice)
    add_secret(client, admin_headers, "stripe", SYSTEM_SECRET, base=ADMIN_SECRETS)
    client.post(SECRETS, json={"key": "token", "value": BOB_SECRET}, headers=alice)  # 409
    client.post(SECRETS, json={"key": "bad key", "value": BOB_SECRET}, headers=alice)  # 400
    # A value that no longer opens fails the invocation and is logged, by key and row id only.
    tamper_copy(app, {"key": "token"}, {"key": "stripe"})
    alice_id = user_id(client, alice)
    with app.app_context(), pytest.raises(SecretUnreadable):
        invocation_secret(default_tenant_id(), "default", alice_id, "stripe")
    assert "does not open" in caplog.text
    leaked = [canary for canary in CANARIES if canary in caplog.text]
    assert leaked == []


def test_the_database_holds_no_plaintext(app, secrets_everywhere):
    stored = stored_bytes(app)
    assert PLAIN_CONTROL.encode() in stored  # the scan does see stored values
    assert [canary for canary in CANARIES if canary.encode() in stored] == []
    secret_rows = [row for row in stored_rows(app) if row["is_secret"]]
    assert len(secret_rows) == 4
    assert all(row["value"] in (None, "null") and row["encrypted_value"].startswith("fx1:") for row in secret_rows)


def test_hook_returns_the_callers_and_the_tenants_secrets_only(app, client, secrets_everywhere, alice, bob):
    # Requests made inside an app context would share its `g`: ask for the ids first.
    alice_id, bob_id = user_id(client, alice), user_id(client, bob)
    with app.app_context():
        default, globex = default_tenant_id(), find_tenant("globex").id
        assert invocation_secret(default, "default", alice_id, "api/token") == {"user": ALICE_UPDATED}
        assert invocation_secret(default, "default", bob_id, "api/token") == {"user": BOB_SECRET}
        assert invocation_secret(default, "default", None, "api/token") == {}
        for user in (alice_id, bob_id, None):
            assert invocation_secret(default, "default", user, "stripe") == {"system": SYSTEM_SECRET}
        assert invocation_secret(globex, "default", None, "stripe") == {"system": OTHER_TENANT_SECRET}
        assert invocation_secret(default, "default", alice_id, "plain") == {}  # a plain setting is no secret
        # Alice's id in another tenant finds nothing of hers.
        assert invocation_secret(globex, "default", alice_id, "api/token") == {}


def tamper_copy(app, source: dict, target: dict) -> None:
    """Copy the ciphertext of the row matching `source` into the rows matching `target`, in the database."""
    table = Setting.__table__

    def matching(columns: dict) -> list[sa.ColumnElement[bool]]:
        return [table.c[name].is_(None) if value is None else table.c[name] == value for name, value in columns.items()]

    with app.app_context(), db.engine.begin() as connection:
        value = connection.execute(sa.select(table.c.encrypted_value).where(*matching(source))).scalar_one()
        connection.execute(sa.update(table).where(*matching(target)).values(encrypted_value=value))


def test_a_ciphertext_copied_to_another_users_row_does_not_open(app, client, secrets_everywhere, alice, bob):
    alice_id, bob_id = user_id(client, alice), user_id(client, bob)
    tamper_copy(app, {"key": "api/token", "user_id": alice_id}, {"key": "api/token", "user_id": bob_id})
    with app.app_context():
        with tenant_scope(default_tenant_id()):
            row = db.session.scalar(sa.select(Setting).where(Setting.user_id == bob_id))
            with pytest.raises(DecryptionError):
                store.open_setting_secret(row)
        with pytest.raises(SecretUnreadable) as refused:  # an error, never a secret read as missing
            invocation_secret(default_tenant_id(), "default", bob_id, "api/token")
    assert refused.value.status == 500 and ALICE_UPDATED not in refused.value.message


def test_a_ciphertext_copied_to_another_key_or_tenant_does_not_open(app, client, secrets_everywhere, alice):
    alice_id = user_id(client, alice)
    add_secret(client, alice, "other", "sk-other-key-of-alice")
    tamper_copy(app, {"key": "api/token", "user_id": alice_id}, {"key": "other", "user_id": alice_id})
    with app.app_context():
        default, globex = default_tenant_id(), find_tenant("globex").id
    tamper_copy(app, {"key": "stripe", "tenant_id": default}, {"key": "stripe", "tenant_id": globex})
    with app.app_context():
        assert invocation_secret(default, "default", None, "stripe") == {"system": SYSTEM_SECRET}
        for tenant, user, key in ((default, alice_id, "other"), (globex, None, "stripe")):
            with pytest.raises(SecretUnreadable):
                invocation_secret(tenant, "default", user, key)


def test_keys_rotate_reencrypts_settings_secrets(app, client, secrets_everywhere, alice, monkeypatch, make_app):
    old_primary = app.extensions["flux"].encryptor.keyring.primary.id
    monkeypatch.setenv("FLUXBASE_INSTANCE_PATH", app.instance_path)
    monkeypatch.setenv("FLUXBASE_DATABASE_URL", app.config["DATABASE_URL"])
    result = app.test_cli_runner().invoke(cli, ["keys", "rotate"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Re-encrypted 4 value(s)." in result.output
    key_ids = {row["encrypted_value"].split(":")[2] for row in stored_rows(app) if row["is_secret"]}
    alice_id = user_id(client, alice)
    fresh = make_app(migrated=False)
    new_primary = fresh.extensions["flux"].encryptor.keyring.primary.id
    assert key_ids == {new_primary} and new_primary != old_primary
    with fresh.app_context():
        tenant = default_tenant_id()
        assert invocation_secret(tenant, "default", alice_id, "api/token") == {"user": ALICE_UPDATED}
        assert invocation_secret(tenant, "default", alice_id, "stripe") == {"system": SYSTEM_SECRET}
