"""An attacker's and an operator's pass over the tenants API (seed 004).

Each test is one attempt: a passing test shows the defence holds; a hole found is a
failing test with its fix, or `xfail(strict=True)` with the reason it stays open.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from flux.db import db
from flux.storage.sql import kv_table
from flux.tenancy import Tenant, TenantMembership
from tests.conftest import login, tenant_admin
from tests.tenants.test_api import BASE, created

# --- helpers -----------------------------------------------------------------------------------


def memberships(app, tenant_id: str) -> dict[str, str]:
    with app.app_context():
        query = sa.select(TenantMembership.account_id, TenantMembership.role).where(
            TenantMembership.tenant_id == tenant_id
        )
        return dict(db.session.execute(query).all())


def settings_keys(app, tenant_id: str) -> list[str]:
    with app.app_context():
        query = sa.select(kv_table.c.key).where(kv_table.c.namespace == f"tenant:{tenant_id}:settings")
        return sorted(db.session.scalars(query))


def refused(response, status: int, code: str) -> None:
    assert (response.status_code, response.json["code"]) == (status, code), response.json


@pytest.fixture
def acme_and_globex(app, client, admin_headers) -> tuple[str, str]:
    """Two tenants with a setting each; returns their ids."""
    ids = []
    for slug in ("acme", "globex"):
        ids.append(created(client, admin_headers, slug)["id"])
        change = {"settings": {"branding.name": f"{slug}-secret"}}
        assert client.patch(f"{BASE}/{slug}/settings", json=change, headers=admin_headers).status_code == 200
    return ids[0], ids[1]


def every_tenant_route(tenant: str, user_id: str) -> list[tuple[str, str, dict | None]]:
    """(method, path, body) of every route naming one tenant."""
    return [
        ("get", f"{BASE}/{tenant}", None),
        ("post", f"{BASE}/{tenant}/migrate", None),
        ("get", f"{BASE}/{tenant}/members", None),
        ("post", f"{BASE}/{tenant}/members", {"user_id": user_id, "role": "tenant_admin"}),
        ("delete", f"{BASE}/{tenant}/members/{user_id}", None),
        ("get", f"{BASE}/{tenant}/admins", None),
        ("post", f"{BASE}/{tenant}/admins", {"user_id": user_id}),
        ("delete", f"{BASE}/{tenant}/admins/{user_id}", None),
        ("get", f"{BASE}/{tenant}/settings", None),
        ("patch", f"{BASE}/{tenant}/settings", {"settings": {"branding.name": "pwned"}}),
        ("get", f"{BASE}/{tenant}/settings/branding.name", None),
        ("delete", f"{BASE}/{tenant}/settings/branding.name", None),
    ]


# --- a tenant admin escalating ------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "acme", "globex"])
def test_a_tenant_admin_reaches_nothing_of_a_tenant_it_is_only_a_member_of(
    app, client, admin_headers, acme_and_globex, header
):
    """Admin of acme, member of globex: by globex's id or slug, with any X-FB-Tenant, no route answers."""
    acme, globex = acme_and_globex
    me = tenant_admin(app, "ta@example.com", acme)
    client.post(f"{BASE}/globex/members", json={"user_id": me}, headers=admin_headers)
    headers = login(client, "ta@example.com") | ({"X-FB-Tenant": header} if header else {})
    before = memberships(app, globex)
    for name in ("globex", globex):
        for method, path, body in every_tenant_route(name, me):
            response = getattr(client, method)(path, json=body, headers=headers)
            # Acting in globex (where it is no admin) the role check refuses first; elsewhere globex is unknown.
            expected = (403, "FORBIDDEN") if header == "globex" else (404, "TENANT_NOT_FOUND")
            assert (response.status_code, response.json["code"]) == expected, (method, path)
            assert "globex-secret" not in response.get_data(as_text=True)
    assert memberships(app, globex) == before == {me: "tenant_member"}
    assert settings_keys(app, globex) == ["branding.name"]


def test_a_tenant_admin_cannot_make_itself_admin_of_another_tenant(app, client, admin_headers, acme_and_globex):
    acme, globex = acme_and_globex
    me = tenant_admin(app, "ta@example.com", acme)
    headers = login(client, "ta@example.com")
    for name in ("globex", globex):
        for path in (f"{BASE}/{name}/admins", f"{BASE}/{name}/members"):
            response = client.post(path, json={"user_id": me, "role": "tenant_admin"}, headers=headers)
            refused(response, 404, "TENANT_NOT_FOUND")
    assert memberships(app, globex) == {}
    assert [tenant["slug"] for tenant in client.get(BASE, headers=headers).json] == ["acme"]


def test_making_an_instance_admin_a_tenant_admin_gives_the_tenant_admin_nothing(
    app, client, admin_headers, acme_and_globex
):
    """A tenant admin may add any dashboard account to its own tenant; that changes no account's role."""
    acme, _ = acme_and_globex
    tenant_admin(app, "ta@example.com", acme)
    headers = login(client, "ta@example.com")
    instance_admin = client.get("/api/v1/admin/me", headers=admin_headers).json["user"]["id"]
    added = client.post(f"{BASE}/acme/admins", json={"user_id": instance_admin}, headers=headers)
    assert (added.status_code, added.json["role"]) == (201, "tenant_admin")
    for method, path in (("get", f"{BASE}/deleted"), ("post", BASE), ("delete", f"{BASE}/globex")):
        refused(getattr(client, method)(path, json={"slug": "x", "name": "X"}, headers=headers), 403, "FORBIDDEN")
    assert client.get(f"{BASE}/globex", headers=headers).status_code == 404
    # Removing the instance admin again is the tenant admin's to do, and leaves the tenant its own admin.
    assert client.delete(f"{BASE}/acme/members/{instance_admin}", headers=headers).status_code == 204
    assert list(memberships(app, acme).values()) == ["tenant_admin"]


# --- service keys of one tenant -----------------------------------------------------------------


def test_a_service_key_of_one_tenant_reaches_nothing_of_another(app, client, service_key, acme_and_globex):
    globex = acme_and_globex[1]
    account = tenant_admin(app, "ta@example.com")
    key = service_key(["*"], **{"X-FB-Tenant": "acme"})
    for headers in (key, {**key, "X-FB-Tenant": "globex"}, {**key, "X-FB-Tenant": globex}):
        for name in ("globex", globex):
            for method, path, body in every_tenant_route(name, account):
                response = getattr(client, method)(path, json=body, headers=headers)
                assert response.status_code in (403, 404), (method, path, response.json)
                assert "globex-secret" not in response.get_data(as_text=True)
        for method, path in (("post", BASE), ("get", f"{BASE}/deleted"), ("get", f"{BASE}/mine")):
            response = getattr(client, method)(path, json={"slug": "new", "name": "New"}, headers=headers)
            refused(response, 403, "FORBIDDEN")
        for method, path in (("delete", f"{BASE}/globex?hard=true"), ("post", f"{BASE}/globex/recover")):
            refused(getattr(client, method)(path, headers=headers), 403, "FORBIDDEN")
    assert memberships(app, globex) == {}
    assert settings_keys(app, globex) == ["branding.name"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Tenant)) == 3
