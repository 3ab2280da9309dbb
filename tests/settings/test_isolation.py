"""Two users and two tenants never see each other's settings or secrets."""

from __future__ import annotations

import pytest

from tests.conftest import create_tenant
from tests.settings.conftest import ADMIN, ADMIN_SECRETS, PUBLIC, SECRETS, USER, add_secret, add_system, put


def test_two_users_never_see_each_others_settings(client, alice, bob):
    put(client, alice, "theme", "alice-dark")
    assert client.get(f"{USER}/theme", headers=bob).status_code == 404
    assert client.get(f"{USER}/own/theme", headers=bob).status_code == 404
    assert client.get(f"{USER}/list", headers=bob).json == []
    assert client.delete(f"{USER}/theme", headers=bob).status_code == 404
    put(client, bob, "theme", "bob-light")
    assert client.get(f"{USER}/theme", headers=alice).json["value"] == "alice-dark"
    assert client.get(f"{USER}/theme", headers=bob).json["value"] == "bob-light"
    assert client.get(f"{PUBLIC}/theme", headers=bob).status_code == 404


@pytest.fixture
def tenants(app, client, auth, admin_headers) -> dict[str, dict]:
    """An app user in each of two tenants, and each tenant's own system settings and secrets."""
    headers = {}
    for slug in ("acme", "globex"):
        create_tenant(app, slug)
        as_admin = {**admin_headers, "X-FB-Tenant": slug}
        add_system(client, as_admin, "brand", f"{slug}-brand", is_public=True)
        add_secret(client, as_admin, "stripe", f"sk-{slug}-system-secret", base=ADMIN_SECRETS)
        headers[slug] = auth.bearer(auth.signup(f"user@{slug}.example", tenant=slug))
    return headers


def test_two_tenants_never_see_each_others_settings_or_secrets(client, tenants, admin_headers):
    acme, globex = tenants["acme"], tenants["globex"]
    put(client, acme, "theme", "acme-user-theme")
    add_secret(client, acme, "token", "sk-acme-user-secret")
    assert client.get(f"{USER}/brand", headers=acme).json == {"key": "brand", "value": "acme-brand", "source": "system"}
    assert client.get(f"{USER}/brand", headers=globex).json["value"] == "globex-brand"
    assert client.get(f"{USER}/theme", headers=globex).status_code == 404
    assert client.get(SECRETS, headers=globex).json == []
    assert client.get(f"{SECRETS}/token", headers=globex).status_code == 404
    assert client.get(f"{PUBLIC}/brand", headers={"X-FB-Tenant": "globex"}).json["value"] == "globex-brand"
    assert client.get(f"{PUBLIC}/brand").status_code == 404  # the default tenant has none
    # A user may not name another tenant.
    response = client.get(f"{USER}/brand", headers={**acme, "X-FB-Tenant": "globex"})
    assert response.status_code == 403
    as_globex = {**admin_headers, "X-FB-Tenant": "globex"}
    assert [row["key"] for row in client.get(ADMIN, headers=as_globex).json] == ["brand"]
    assert [row["key"] for row in client.get(ADMIN_SECRETS, headers=as_globex).json] == ["stripe"]
