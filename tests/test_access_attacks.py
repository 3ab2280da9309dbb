"""Attacks on the one guard (`require` marks checked as the app dispatches), against a live server.

A narrower key, an app user, another tenant's key and unguarded methods each try to
reach what `require` names on a view; none gets past it, whatever its input.
"""

from __future__ import annotations

import pytest

from tests.conftest import create_tenant
from tests.live_server import LiveServer


@pytest.fixture
def server(live_server: LiveServer, live_admin: dict) -> LiveServer:
    return live_server


def key(server: LiveServer, admin: dict, scopes: list[str]) -> dict[str, str]:
    return {"X-Service-Key": server.create_service_key(admin, scopes)}


def test_a_read_key_cannot_write_and_its_input_is_not_looked_at(server, live_admin):
    reader = key(server, live_admin, ["secrets:read"])
    assert server.api("GET", "/api/v1/secrets", headers=reader).status_code == 200
    for body in ({"name": "API_KEY", "value": "v"}, {"name": 5}, None):
        answer = server.api("POST", "/api/v1/secrets", json=body, headers=reader)
        assert (answer.status_code, answer.json()["code"]) == (403, "FORBIDDEN"), body
    assert server.api("GET", "/api/v1/secrets", headers=reader).headers["X-Total-Count"] == "0"


def test_a_key_of_one_plugin_reaches_nothing_of_another(server, live_admin):
    settings_key = key(server, live_admin, ["settings:write"])
    for method, path in (
        ("GET", "/api/v1/secrets"),
        ("GET", "/api/v1/admin/service-keys"),
        ("GET", "/api/v1/admin/audit"),
        ("POST", "/api/v1/functions"),
    ):
        answer = server.api(method, path, json={}, headers=settings_key)
        assert (answer.status_code, answer.json()["code"]) == (403, "FORBIDDEN"), path


def test_an_app_user_reaches_no_admin_view_and_an_admin_no_users_own_data(server, live_admin):
    user = {"Authorization": f"Bearer {server.signup('mallory@example.com')['access_token']}"}
    for method, path in (("GET", "/api/v1/admin/settings/custom"), ("GET", "/api/v1/admin/plugins")):
        assert server.api(method, path, headers=user).status_code == 403, path
    admin = {"Authorization": f"Bearer {live_admin['access_token']}"}
    answer = server.api("GET", "/api/v1/settings/secret", headers=admin)
    assert (answer.status_code, answer.json()["code"]) == (403, "APP_USER_REQUIRED")


def test_head_and_options_open_nothing(server):
    assert server.api("HEAD", "/api/v1/admin/service-keys").status_code == 401
    options = server.api("OPTIONS", "/api/v1/admin/service-keys")
    assert options.status_code == 200 and options.content == b""


def test_another_tenants_key_cannot_name_this_tenant(server, live_admin, live_app):
    create_tenant(live_app, "other")
    own = key(server, live_admin, ["*"])
    server.api("POST", "/api/v1/secrets", json={"name": "MINE", "value": "v"}, headers=own)
    answer = server.api("GET", "/api/v1/secrets", headers={**own, "X-FB-Tenant": "other"})
    assert (answer.status_code, answer.json()["code"]) == (403, "TENANT_ACCESS_DENIED")
