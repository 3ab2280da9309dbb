"""`flux.client.FluxClient` and the plugins' client classes against a real `fluxbase serve` process."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from flux.client import ClientError, FluxClient
from plugins.secrets.client import SecretsClient
from plugins.settings.client import SettingSecretsClient
from tests.conftest import ADMIN_EMAIL, PASSWORD, free_port

VALUE = "sk_live_never-shown-0123456789"


@pytest.fixture
def admin_client(live_server, live_admin) -> FluxClient:
    client = FluxClient(live_server.url)
    client.login(ADMIN_EMAIL, PASSWORD)
    return client


def test_login_signs_in_an_admin_and_sends_the_token(live_server, live_admin):
    client = FluxClient(live_server.url + "/")
    answer = client.login(ADMIN_EMAIL, PASSWORD)
    assert answer["user"]["email"] == ADMIN_EMAIL
    assert client.access_token == answer["access_token"]
    assert client.refresh_token == answer["refresh_token"]
    assert client.request("GET", "/api/v1/admin/me")["user"]["email"] == ADMIN_EMAIL
    client.logout()
    with pytest.raises(ClientError) as raised:
        client.refresh()  # the session is over on the server
    assert (raised.value.status, raised.value.code) == (401, "INVALID_REFRESH_TOKEN")


def test_wrong_password_is_a_client_error_with_the_servers_code(live_server, live_admin):
    with pytest.raises(ClientError) as raised:
        FluxClient(live_server.url).login(ADMIN_EMAIL, "wrong password")
    assert raised.value.status == 401
    assert raised.value.code
    assert str(raised.value) == f"{raised.value.message} (401 {raised.value.code})"
    assert "wrong password" not in str(raised.value)


def test_lists_are_read_to_the_end_page_by_page(admin_client):
    """The server answers pages (at most 1000 items); the client keeps asking until a page runs short."""
    system, secrets = SettingSecretsClient(admin_client), SecretsClient(admin_client)
    for index in range(7):
        system.create_setting_secret(f"key/{index}", VALUE)
        secrets.set_secret(f"SECRET_{index}", VALUE)
    for index in range(4):
        secrets.set_secret("SECRET_0", f"{VALUE}{index}")
    admin_client.page_size = 3
    assert sorted(row["key"] for row in system.list_setting_secrets()) == [f"key/{index}" for index in range(7)]
    assert sorted(row["name"] for row in secrets.list_secrets()) == [f"SECRET_{index}" for index in range(7)]
    assert [row["version"] for row in secrets.secret_versions("SECRET_0")] == [5, 4, 3, 2, 1]


def test_system_secrets_upsert_get_list_delete(admin_client):
    system = SettingSecretsClient(admin_client)
    created, was_created = system.set_setting_secret("stripe/key", VALUE, description="Stripe")
    assert was_created
    assert created["key"] == "stripe/key"
    assert created["description"] == "Stripe"
    updated, was_created = system.set_setting_secret("stripe/key", VALUE + "2")
    assert not was_created
    assert updated["id"] == created["id"]
    assert updated["description"] == "Stripe"  # kept when not given
    assert [row["key"] for row in system.list_setting_secrets()] == ["stripe/key"]
    assert system.get_setting_secret("stripe/key")["id"] == created["id"]
    system.delete_setting_secret("stripe/key")
    with pytest.raises(ClientError) as raised:
        system.get_setting_secret("stripe/key")
    assert (raised.value.status, raised.value.code) == (404, "NOT_FOUND")
    assert str(raised.value) == "secret 'stripe/key' not found (404 NOT_FOUND)"


def test_a_key_taken_by_a_plain_setting_fails_with_the_servers_conflict(admin_client):
    admin_client.request("POST", "/api/v1/admin/settings/custom", json={"key": "theme", "value": "dark"})
    with pytest.raises(ClientError) as raised:
        SettingSecretsClient(admin_client).set_setting_secret("theme", VALUE)
    assert (raised.value.status, raised.value.code) == (409, "ALREADY_EXISTS")


def test_user_secrets_belong_to_the_signed_in_app_user(live_server, admin_client):
    with pytest.raises(ClientError) as raised:
        SettingSecretsClient(admin_client).list_setting_secrets(user=True)
    assert (raised.value.status, raised.value.code) == (403, "APP_USER_REQUIRED")
    live_server.signup("ann@example.com")
    live_server.signup("bob@example.com")
    ann = FluxClient(live_server.url, app_user=True)
    ann.login("ann@example.com", PASSWORD)
    bob = FluxClient(live_server.url, app_user=True)
    bob.login("bob@example.com", PASSWORD)
    metadata, _ = SettingSecretsClient(ann).set_setting_secret("openai", VALUE, user=True)
    assert metadata["user_id"] == ann.request("GET", "/api/v1/auth/user")["id"]
    assert [row["key"] for row in SettingSecretsClient(ann).list_setting_secrets(user=True)] == ["openai"]
    assert SettingSecretsClient(bob).list_setting_secrets(user=True) == []
    assert SettingSecretsClient(admin_client).list_setting_secrets() == []


def test_an_expired_access_token_is_refreshed_once_and_the_new_pair_reported(start_live_server):
    server = start_live_server(SETTINGS_TOKENS_ACCESS_TOKEN_LIFETIME="1")
    server.signup("ann@example.com")
    pairs = []
    client = FluxClient(server.url, app_user=True, on_tokens=pairs.append)
    first = client.login("ann@example.com", PASSWORD)
    time.sleep(2.1)
    assert SettingSecretsClient(client).list_setting_secrets(user=True) == []
    assert [pair["access_token"] for pair in pairs] == [first["access_token"], client.access_token]
    assert client.refresh_token == pairs[-1]["refresh_token"] != first["refresh_token"]
    # The first refresh token is spent: presenting it again is refused (and ends the session).
    with pytest.raises(ClientError) as raised:
        FluxClient(server.url, refresh_token=first["refresh_token"], app_user=True).refresh()
    assert (raised.value.status, raised.value.code) == (401, "INVALID_REFRESH_TOKEN")
    assert first["refresh_token"] not in str(raised.value)


def test_a_service_key_is_recognised_and_checked(live_server, live_admin):
    key = live_server.create_service_key(live_admin, ["settings:write"])
    client = FluxClient(live_server.url, token=key)
    assert (client.service_key, client.access_token) == (key, None)
    client.check_service_key()  # valid, though without service_keys:read
    assert SettingSecretsClient(client).set_setting_secret("smtp", VALUE)[1] is True
    with pytest.raises(ClientError) as raised:
        FluxClient(live_server.url, token="fbk_notakey_000").check_service_key()
    assert (raised.value.status, raised.value.code) == (401, "INVALID_SERVICE_KEY")
    assert "fbk_notakey_000" not in str(raised.value)


def test_tenant_header_is_sent(live_server, live_admin):
    client = FluxClient(live_server.url, token=live_admin["access_token"], tenant="nowhere")
    with pytest.raises(ClientError) as raised:
        SettingSecretsClient(client).list_setting_secrets()
    assert (raised.value.status, raised.value.code) == (404, "TENANT_NOT_FOUND")


def test_function_secrets_lifecycle(admin_client):
    secrets = SecretsClient(admin_client)
    expires = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    created, was_created = secrets.set_secret("API_KEY", VALUE, description="global one", expires_at=expires)
    assert was_created
    assert (created["scope"], created["version"], created["is_expired"]) == ("global", 1, False)
    assert datetime.fromisoformat(created["expires_at"]) == datetime.fromisoformat(expires)
    production, _ = secrets.set_secret("API_KEY", VALUE, namespace="production")
    assert (production["scope"], production["namespace"]) == ("namespace", "production")
    updated, was_created = secrets.set_secret("API_KEY", VALUE + "2")
    assert (was_created, updated["version"], updated["description"]) == (False, 2, "global one")
    assert {row["namespace"] for row in secrets.list_secrets()} == {"", "production"}
    assert [row["scope"] for row in secrets.list_secrets(namespace="production")] == ["namespace"]
    assert secrets.get_secret("API_KEY", namespace="production")["id"] == production["id"]
    versions = secrets.secret_versions("API_KEY")
    assert [version["version"] for version in versions] == [2, 1]
    rolled_back = secrets.rollback_secret("API_KEY", 1)
    assert rolled_back["version"] == 3
    secrets.delete_secret("API_KEY", namespace="production")
    assert secrets.get_secret("API_KEY")["version"] == 3
    with pytest.raises(ClientError) as raised:
        secrets.get_secret("API_KEY", namespace="production")
    assert (raised.value.status, raised.value.code) == (404, "NOT_FOUND")


def test_an_unreachable_server_says_what_to_check_and_no_credential():
    url = f"http://someone:hunter2@127.0.0.1:{free_port()}"
    with pytest.raises(ClientError) as raised:
        SettingSecretsClient(FluxClient(url, token="eyJ.secret.token")).list_setting_secrets()
    message = str(raised.value)
    assert raised.value.status is None
    assert message.startswith("cannot reach the Fluxbase server at http://127.0.0.1:")
    assert "check the URL and that the server is running" in message
    assert "hunter2" not in message
    assert "secret.token" not in message


def test_an_answer_that_is_not_fluxbase_json_is_reported(live_server):
    with pytest.raises(ClientError) as raised:
        FluxClient(live_server.url).request("GET", "/dashboard/login")
    assert raised.value.status == 200
    assert "not Fluxbase's JSON: check the URL" in raised.value.message
