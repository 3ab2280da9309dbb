"""Tenant A's administrators and keys cannot list, read, change or receive tenant B's secrets."""

from __future__ import annotations

import pytest

from tests.conftest import create_tenant
from tests.secrets.conftest import BASE, add, stored


@pytest.fixture
def two_tenants(app, client, admin_headers, service_key) -> dict:
    for slug in ("acme", "globex"):
        create_tenant(app, slug)
    globex_admin = {**admin_headers, "X-FB-Tenant": "globex"}
    return {
        "acme_key": service_key(["secrets:*"], **{"X-FB-Tenant": "acme"}),
        "globex_secret": add(client, globex_admin, "GLOBEX_ONLY", "globex-value"),
        "globex_admin": globex_admin,
    }


def test_a_key_of_another_tenant_reaches_nothing(app, client, two_tenants):
    acme, secret = two_tenants["acme_key"], two_tenants["globex_secret"]
    before = stored(app)
    assert client.get(BASE, headers=acme).json == []
    assert client.get(f"{BASE}/stats", headers=acme).json == {"total": 0, "expiring_soon": 0, "expired": 0}
    for response in (
        client.get(f"{BASE}/{secret['id']}", headers=acme),
        client.get(f"{BASE}/{secret['id']}/versions", headers=acme),
        client.put(f"{BASE}/{secret['id']}", json={"value": "hijacked"}, headers=acme),
        client.post(f"{BASE}/{secret['id']}/rollback/1", headers=acme),
        client.delete(f"{BASE}/{secret['id']}", headers=acme),
        client.get(f"{BASE}/by-name/GLOBEX_ONLY", headers=acme),
        client.put(f"{BASE}/by-name/GLOBEX_ONLY", json={"value": "hijacked"}, headers=acme),
        client.delete(f"{BASE}/by-name/GLOBEX_ONLY", headers=acme),
    ):
        assert (response.status_code, response.json["code"]) == (404, "NOT_FOUND")
    # Naming the other tenant is refused outright.
    response = client.get(BASE, headers={**acme, "X-FB-Tenant": "globex"})
    assert (response.status_code, response.json["error"]) == (403, "access denied to this tenant")
    assert stored(app) == before


def test_same_names_in_two_tenants_stay_apart(app, client, admin_headers, two_tenants):
    acme = two_tenants["acme_key"]
    created = client.post(BASE, json={"name": "GLOBEX_ONLY", "value": "acme-value"}, headers=acme)
    assert created.status_code == 201
    assert [row["name"] for row in client.get(BASE, headers=two_tenants["globex_admin"]).json] == ["GLOBEX_ONLY"]
    assert client.get(f"{BASE}/by-name/GLOBEX_ONLY", headers=acme).json["id"] == created.json["id"]
    assert {row["tenant_id"] for row in stored(app)} == {
        row["tenant_id"] for row in stored(app) if row["name"] == "GLOBEX_ONLY"
    }
    assert len({row["tenant_id"] for row in stored(app)}) == 2
