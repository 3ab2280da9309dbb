"""`/api/v1/admin/tenants…` (seed 004): tenants, soft and hard deletes, members, admins, settings."""

from __future__ import annotations

import contextlib
import threading

import pytest
import sqlalchemy as sa

from flux.audit import AuditRecord
from flux.db import db
from flux.storage.sql import kv_table
from flux.tenancy import Tenant, TenantMembership, tenant_scope
from plugins.tenants import store
from tests.conftest import AuthActions, create_tenant, login, tenant_admin

BASE = "/api/v1/admin/tenants"


def created(client, headers, slug: str, **extra) -> dict:
    response = client.post(BASE, json={"slug": slug, "name": slug.title(), **extra}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def audit_actions(app, tenant_id: str) -> list[str]:
    with app.app_context(), tenant_scope(tenant_id):
        return list(db.session.scalars(sa.select(AuditRecord.action).order_by(AuditRecord.created_at)))


def default_id(client, headers) -> str:
    return client.get(f"{BASE}/default", headers=headers).json["id"]


# --- create, read, change -------------------------------------------------------------------


def test_create_answers_the_tenant_and_stores_it(app, client, admin_headers):
    body = created(client, admin_headers, "acme", metadata={"plan": "pro"})
    assert set(body) == {"id", "slug", "name", "metadata", "created_at", "updated_at", "deleted_at"}
    assert (body["slug"], body["name"], body["metadata"], body["deleted_at"]) == ("acme", "Acme", {"plan": "pro"}, None)
    with app.app_context():
        stored = db.session.get(Tenant, body["id"])
        assert (stored.slug, stored.metadata_) == ("acme", {"plan": "pro"})
    assert audit_actions(app, body["id"]) == ["tenant.create"]  # in its own trail, not the one acted in
    assert "tenant.create" not in audit_actions(app, default_id(client, admin_headers))


@pytest.mark.parametrize("slug", ["Acme", "1acme", "-acme", "ac_me", "a" * 64, "", "mine", "deleted", "ac me"])
def test_a_bad_slug_is_400_and_stores_nothing(app, client, admin_headers, slug):
    response = client.post(BASE, json={"slug": slug, "name": "X"}, headers=admin_headers)
    assert (response.status_code, response.json["code"]) == (400, "INVALID_FIELD")
    assert response.json["details"][0]["loc"] == ["slug"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Tenant)) == 1


def test_slugs_of_63_characters_with_digits_and_dashes_are_fine(client, admin_headers):
    assert created(client, admin_headers, "a" + "-9" * 31)["slug"] == "a" + "-9" * 31


def test_a_taken_slug_is_409_even_when_its_tenant_is_soft_deleted(client, admin_headers):
    created(client, admin_headers, "acme")
    assert client.delete(f"{BASE}/acme", headers=admin_headers).status_code == 204
    response = client.post(BASE, json={"slug": "acme", "name": "Again"}, headers=admin_headers)
    assert (response.status_code, response.json["code"]) == (409, "ALREADY_EXISTS")


def test_get_by_id_or_slug_and_unknown_is_404(client, admin_headers):
    tenant = created(client, admin_headers, "acme")
    assert client.get(f"{BASE}/{tenant['id']}", headers=admin_headers).json == tenant
    assert client.get(f"{BASE}/acme", headers=admin_headers).json == tenant
    response = client.get(f"{BASE}/nope", headers=admin_headers)
    assert (response.status_code, response.json["code"]) == (404, "TENANT_NOT_FOUND")


def test_the_list_paginates_with_a_total(client, admin_headers):
    for index in range(3):
        created(client, admin_headers, f"t{index}")
    response = client.get(f"{BASE}?limit=2&offset=1", headers=admin_headers)
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "4"
    assert [tenant["slug"] for tenant in response.json] == ["t0", "t1"]
    assert client.get(f"{BASE}?limit=1001", headers=admin_headers).json["code"] == "INVALID_PAGE"


def test_patch_changes_what_is_given(app, client, admin_headers):
    tenant = created(client, admin_headers, "acme", metadata={"plan": "pro"})
    response = client.patch(f"{BASE}/acme", json={"name": "Acme Corp", "slug": "acme-corp"}, headers=admin_headers)
    assert response.status_code == 200
    assert (response.json["name"], response.json["slug"], response.json["metadata"]) == (
        "Acme Corp",
        "acme-corp",
        {"plan": "pro"},
    )
    assert client.get(f"{BASE}/{tenant['id']}", headers=admin_headers).json["slug"] == "acme-corp"
    assert client.get(f"{BASE}/acme", headers=admin_headers).status_code == 404
    empty = client.patch(f"{BASE}/acme-corp", json={}, headers=admin_headers)
    assert (empty.status_code, empty.json["code"]) == (400, "NOTHING_TO_UPDATE")


def test_a_renamed_tenant_is_named_by_its_new_slug_at_once(client, admin_headers):
    created(client, admin_headers, "acme")
    assert client.get("/api/v1/secrets", headers={**admin_headers, "X-FB-Tenant": "acme"}).status_code == 200
    client.patch(f"{BASE}/acme", json={"slug": "globex"}, headers=admin_headers)
    assert client.get("/api/v1/secrets", headers={**admin_headers, "X-FB-Tenant": "acme"}).status_code == 404
    assert client.get("/api/v1/secrets", headers={**admin_headers, "X-FB-Tenant": "globex"}).status_code == 200


def test_patch_to_a_taken_slug_is_409(client, admin_headers):
    created(client, admin_headers, "acme")
    created(client, admin_headers, "globex")
    response = client.patch(f"{BASE}/globex", json={"slug": "acme"}, headers=admin_headers)
    assert (response.status_code, response.json["code"]) == (409, "ALREADY_EXISTS")
    assert client.get(f"{BASE}/globex", headers=admin_headers).json["slug"] == "globex"


@pytest.mark.parametrize("change", [{"slug": "main"}, {"name": "Main"}])
def test_the_default_tenant_cannot_be_renamed_or_deleted(client, admin_headers, change):
    response = client.patch(f"{BASE}/default", json=change, headers=admin_headers)
    assert (response.status_code, response.json["code"]) == (400, "DEFAULT_TENANT_FIXED")
    for hard in ("false", "true"):
        response = client.delete(f"{BASE}/default?hard={hard}", headers=admin_headers)
        assert (response.status_code, response.json["code"]) == (400, "DEFAULT_TENANT_FIXED")
    assert client.get(f"{BASE}/default", headers=admin_headers).json["name"] == "Default"
    metadata = client.patch(f"{BASE}/default", json={"metadata": {"region": "eu"}}, headers=admin_headers)
    assert (metadata.status_code, metadata.json["metadata"]) == (200, {"region": "eu"})


def test_metadata_is_bounded(client, admin_headers):
    response = client.post(
        BASE, json={"slug": "big", "name": "Big", "metadata": {"x": "y" * 70_000}}, headers=admin_headers
    )
    assert (response.status_code, response.json["code"]) == (413, "VALUE_TOO_LARGE")


# --- soft delete, recovery, hard delete ---------------------------------------------------------


def test_a_soft_deleted_tenant_is_invisible_to_every_request_that_names_it(
    app, client, admin_headers, auth, service_key
):
    created(client, admin_headers, "acme")
    in_acme = {**admin_headers, "X-FB-Tenant": "acme"}
    assert client.post("/api/v1/secrets", json={"name": "API_KEY", "value": "v1"}, headers=in_acme).status_code == 201
    user = auth.bearer(auth.signup("u@example.com", tenant="acme"))
    key = service_key(["secrets:read"], **{"X-FB-Tenant": "acme"})
    assert client.get("/api/v1/auth/user", headers=user).status_code == 200
    assert client.get("/api/v1/secrets", headers=key).status_code == 200

    assert client.delete(f"{BASE}/acme", headers=admin_headers).status_code == 204
    assert client.get(f"{BASE}/acme", headers=admin_headers).status_code == 404
    assert "acme" not in [tenant["slug"] for tenant in client.get(BASE, headers=admin_headers).json]
    assert [tenant["slug"] for tenant in client.get(f"{BASE}/deleted", headers=admin_headers).json] == ["acme"]
    named = client.get("/api/v1/secrets", headers=in_acme)
    assert (named.status_code, named.json["code"]) == (404, "TENANT_NOT_FOUND")
    for headers in (user, key, {**user, "X-FB-Tenant": "acme"}):
        refused = client.get("/api/v1/secrets" if headers is key else "/api/v1/auth/user", headers=headers)
        assert refused.status_code in (403, 404), refused.json
        assert refused.json["code"] in ("TENANT_ACCESS_DENIED", "TENANT_NOT_FOUND")

    recovered = client.post(f"{BASE}/acme/recover", headers=admin_headers)
    assert (recovered.status_code, recovered.json["deleted_at"]) == (200, None)
    assert [secret["name"] for secret in client.get("/api/v1/secrets", headers=in_acme).json] == ["API_KEY"]
    assert client.get("/api/v1/auth/user", headers=user).status_code == 200
    assert client.get("/api/v1/secrets", headers=key).status_code == 200


def test_recovering_a_live_tenant_is_409_and_an_unknown_one_404(client, admin_headers):
    created(client, admin_headers, "acme")
    response = client.post(f"{BASE}/acme/recover", headers=admin_headers)
    assert (response.status_code, response.json["code"]) == (409, "TENANT_NOT_DELETED")
    assert client.post(f"{BASE}/nope/recover", headers=admin_headers).status_code == 404


def test_a_hard_delete_removes_the_tenant_and_its_rows_and_keeps_the_others(app, client, admin_headers, auth):
    acme = created(client, admin_headers, "acme")["id"]
    for slug in ("acme", "default"):
        headers = {**admin_headers, "X-FB-Tenant": slug}
        assert client.post("/api/v1/secrets", json={"name": "K", "value": "v"}, headers=headers).status_code == 201
        settings = {"settings": {"branding.company_name": slug}}
        assert client.patch(f"{BASE}/{slug}/settings", json=settings, headers=admin_headers).status_code == 200
    auth.signup("u@example.com", tenant="acme")

    assert client.delete(f"{BASE}/acme?hard=true", headers=admin_headers).status_code == 204
    assert client.get(f"{BASE}/{acme}", headers=admin_headers).status_code == 404
    assert client.get(f"{BASE}/deleted", headers=admin_headers).json == []
    with app.app_context():
        assert db.session.get(Tenant, acme) is None
        for table in db.metadata.sorted_tables:
            if "tenant_id" in table.c:
                count = sa.select(sa.func.count()).select_from(table).where(table.c.tenant_id == acme)
                rows = db.session.execute(count, execution_options={"all_tenants": True})
                assert rows.scalar() == 0, table.name
        namespaces = set(db.session.scalars(sa.select(kv_table.c.namespace)))
        assert f"tenant:{acme}:settings" not in namespaces
    assert [secret["name"] for secret in client.get("/api/v1/secrets", headers=admin_headers).json] == ["K"]
    kept = client.get(f"{BASE}/default/settings", headers=admin_headers).json
    assert kept == {"settings": {"branding.company_name": "default"}}
    assert audit_actions(app, default_id(client, admin_headers))[-1] == "tenant.delete"


def test_a_soft_deleted_tenant_can_be_deleted_for_good(app, client, admin_headers):
    acme = created(client, admin_headers, "acme")["id"]
    client.delete(f"{BASE}/acme", headers=admin_headers)
    assert client.delete(f"{BASE}/acme?hard=true", headers=admin_headers).status_code == 204
    with app.app_context():
        assert db.session.get(Tenant, acme) is None


def test_deleting_the_tenant_acted_in_audits_in_the_default_tenant(app, client, admin_headers):
    created(client, admin_headers, "acme")
    in_acme = {**admin_headers, "X-FB-Tenant": "acme"}
    response = client.delete(f"{BASE}/acme?hard=true", headers=in_acme)
    assert response.status_code == 204, response.json
    with app.app_context(), tenant_scope(default_id(client, admin_headers)):
        record = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "tenant.delete")).one()
        assert (record.target, record.details["hard"]) == ("acme", True)


# --- who may do what -------------------------------------------------------------------------


def test_app_users_and_anonymous_callers_are_refused(client, auth):
    user = auth.bearer(auth.signup("u@example.com"))
    for method, path in (("get", BASE), ("post", BASE), ("get", f"{BASE}/default"), ("get", f"{BASE}/mine")):
        assert getattr(client, method)(path, json={}, headers=user).status_code == 403, path
        assert getattr(client, method)(path, json={}).status_code == 401, path


def test_a_tenant_admin_reads_its_tenants_and_never_creates_or_deletes(app, client, admin_headers):
    acme = created(client, admin_headers, "acme")["id"]
    created(client, admin_headers, "globex")
    tenant_admin(app, "ta@example.com", acme)
    headers = login(client, "ta@example.com")
    assert [tenant["slug"] for tenant in client.get(BASE, headers=headers).json] == ["acme"]
    assert client.get(f"{BASE}/acme", headers=headers).status_code == 200
    hidden = client.get(f"{BASE}/globex", headers=headers)
    assert (hidden.status_code, hidden.json["code"]) == (404, "TENANT_NOT_FOUND")
    for method, path in (
        ("post", BASE),
        ("patch", f"{BASE}/acme"),
        ("delete", f"{BASE}/acme"),
        ("post", f"{BASE}/acme/recover"),
        ("get", f"{BASE}/deleted"),
    ):
        response = getattr(client, method)(path, json={"slug": "x", "name": "X"}, headers=headers)
        assert (response.status_code, response.json["code"]) == (403, "FORBIDDEN"), path
    mine = client.get(f"{BASE}/mine", headers=headers)
    assert [(tenant["slug"], tenant["role"]) for tenant in mine.json] == [("acme", "tenant_admin")]


def test_a_service_key_reads_and_manages_only_its_own_tenant(app, client, admin_headers, service_key):
    created(client, admin_headers, "acme")
    reader = service_key(["tenants:read"], **{"X-FB-Tenant": "acme"})
    writer = service_key(["tenants:write"], **{"X-FB-Tenant": "acme"})
    assert [tenant["slug"] for tenant in client.get(BASE, headers=reader).json] == ["acme"]
    assert client.get(f"{BASE}/default", headers=reader).status_code == 404
    change = {"settings": {"branding.logo_url": "https://acme.example/logo.png"}}
    assert client.patch(f"{BASE}/acme/settings", json=change, headers=reader).status_code == 403
    assert client.patch(f"{BASE}/acme/settings", json=change, headers=writer).status_code == 200
    assert client.patch(f"{BASE}/default/settings", json=change, headers=writer).status_code == 404
    for path in (BASE, f"{BASE}/acme/recover"):
        assert client.post(path, json={"slug": "new", "name": "New"}, headers=writer).status_code == 403
    assert client.delete(f"{BASE}/acme", headers=writer).status_code == 403
    assert client.get(f"{BASE}/acme", headers=admin_headers).json["deleted_at"] is None


# --- members and admins ----------------------------------------------------------------------


def test_members_are_added_listed_and_removed(app, client, admin_headers):
    tenant = created(client, admin_headers, "acme")
    account = tenant_admin(app, "ta@example.com")
    added = client.post(f"{BASE}/acme/members", json={"user_id": account}, headers=admin_headers)
    assert added.status_code == 201
    assert {key: added.json[key] for key in ("user_id", "email", "role", "tenant_id")} == {
        "user_id": account,
        "email": "ta@example.com",
        "role": "tenant_member",
        "tenant_id": tenant["id"],
    }
    listed = client.get(f"{BASE}/acme/members", headers=admin_headers)
    assert (listed.headers["X-Total-Count"], [member["user_id"] for member in listed.json]) == ("1", [account])
    again = client.post(f"{BASE}/acme/members", json={"user_id": account}, headers=admin_headers)
    assert (again.status_code, again.json["code"]) == (409, "ALREADY_EXISTS")
    unknown = client.post(f"{BASE}/acme/members", json={"user_id": "nobody"}, headers=admin_headers)
    assert (unknown.status_code, unknown.json["code"]) == (404, "NOT_FOUND")
    bad_role = client.post(f"{BASE}/acme/members", json={"user_id": account, "role": "owner"}, headers=admin_headers)
    assert (bad_role.status_code, bad_role.json["code"]) == (400, "INVALID_FIELD")

    assert client.delete(f"{BASE}/acme/members/{account}", headers=admin_headers).status_code == 204
    assert client.get(f"{BASE}/acme/members", headers=admin_headers).json == []
    assert client.delete(f"{BASE}/acme/members/{account}", headers=admin_headers).status_code == 404
    actions = audit_actions(app, tenant["id"])
    assert actions[-2:] == ["tenant.member.add", "tenant.member.remove"]


def test_membership_changes_take_effect_on_the_next_request(app, client, admin_headers):
    created(client, admin_headers, "acme")
    account = tenant_admin(app, "ta@example.com")
    headers = {**login(client, "ta@example.com"), "X-FB-Tenant": "acme"}
    assert client.get("/api/v1/admin/service-keys", headers=headers).status_code == 403
    client.post(f"{BASE}/acme/admins", json={"user_id": account}, headers=admin_headers)
    assert client.get("/api/v1/admin/service-keys", headers=headers).status_code == 200
    client.delete(f"{BASE}/acme/admins/{account}", headers=admin_headers)
    assert client.get("/api/v1/admin/service-keys", headers=headers).status_code == 403
    client.delete(f"{BASE}/acme/members/{account}", headers=admin_headers)
    refused = client.get("/api/v1/admin/service-keys", headers=headers)
    assert (refused.status_code, refused.json["code"]) == (403, "TENANT_ACCESS_DENIED")


def test_admins_are_promoted_demoted_and_the_last_one_stays(app, client, admin_headers):
    acme = created(client, admin_headers, "acme")["id"]
    first = tenant_admin(app, "first@example.com", acme)
    second = tenant_admin(app, "second@example.com")
    as_first = login(client, "first@example.com")
    client.post(f"{BASE}/acme/members", json={"user_id": second}, headers=as_first)
    promoted = client.post(f"{BASE}/acme/admins", json={"user_id": second}, headers=as_first)
    assert (promoted.status_code, promoted.json["role"]) == (200, "tenant_admin")
    admins = client.get(f"{BASE}/acme/admins", headers=as_first).json
    assert sorted(admin["user_id"] for admin in admins) == sorted([first, second])

    assert client.delete(f"{BASE}/acme/admins/{second}", headers=as_first).status_code == 204
    roles = {member["user_id"]: member["role"] for member in client.get(f"{BASE}/acme/members", headers=as_first).json}
    assert roles == {first: "tenant_admin", second: "tenant_member"}
    for path in (f"{BASE}/acme/admins/{first}", f"{BASE}/acme/members/{first}"):
        refused = client.delete(path, headers=as_first)
        assert (refused.status_code, refused.json["code"]) == (409, "LAST_TENANT_ADMIN")
    assert client.delete(f"{BASE}/acme/admins/{first}", headers=admin_headers).status_code == 204
    with app.app_context():
        roles = dict(
            db.session.execute(
                sa.select(TenantMembership.account_id, TenantMembership.role).where(TenantMembership.tenant_id == acme)
            ).all()
        )
    assert roles == {first: "tenant_member", second: "tenant_member"}


def test_adding_an_admin_who_is_no_member_makes_them_both(client, app, admin_headers):
    created(client, admin_headers, "acme")
    account = tenant_admin(app, "ta@example.com")
    added = client.post(f"{BASE}/acme/admins", json={"user_id": account}, headers=admin_headers)
    assert (added.status_code, added.json["role"]) == (201, "tenant_admin")


def test_a_tenant_admin_manages_only_its_own_tenants_members(app, client, admin_headers):
    acme = created(client, admin_headers, "acme")["id"]
    created(client, admin_headers, "globex")
    tenant_admin(app, "ta@example.com", acme)
    other = tenant_admin(app, "other@example.com")
    headers = login(client, "ta@example.com")
    assert client.post(f"{BASE}/acme/members", json={"user_id": other}, headers=headers).status_code == 201
    hidden = client.post(f"{BASE}/globex/members", json={"user_id": other}, headers=headers)
    assert (hidden.status_code, hidden.json["code"]) == (404, "TENANT_NOT_FOUND")


# --- settings -----------------------------------------------------------------------------


def test_settings_are_patched_read_and_deleted_by_dotted_key(app, client, admin_headers):
    acme = created(client, admin_headers, "acme")["id"]
    change = {"settings": {"branding.company_name": "Acme", "ui.mfa": {"required": True}}}
    patched = client.patch(f"{BASE}/acme/settings", json=change, headers=admin_headers)
    assert patched.status_code == 200
    assert patched.json == change
    assert client.get(f"{BASE}/acme/settings", headers=admin_headers).json == change
    one = client.get(f"{BASE}/acme/settings/branding.company_name", headers=admin_headers)
    assert one.json == {"key": "branding.company_name", "value": "Acme"}
    with app.app_context():
        stored = db.session.execute(sa.select(kv_table.c.key).where(kv_table.c.namespace == f"tenant:{acme}:settings"))
        assert sorted(stored.scalars()) == ["branding.company_name", "ui.mfa"]

    assert client.delete(f"{BASE}/acme/settings/ui.mfa", headers=admin_headers).status_code == 204
    missing = client.get(f"{BASE}/acme/settings/ui.mfa", headers=admin_headers)
    assert (missing.status_code, missing.json["code"]) == (404, "NOT_FOUND")
    assert client.delete(f"{BASE}/acme/settings/ui.mfa", headers=admin_headers).status_code == 404
    removed = client.patch(
        f"{BASE}/acme/settings", json={"settings": {"branding.company_name": None}}, headers=admin_headers
    )
    assert removed.json == {"settings": {}}


def test_setting_changes_are_audited_by_key_never_by_value(app, client, admin_headers):
    acme = created(client, admin_headers, "acme")["id"]
    client.patch(f"{BASE}/acme/settings", json={"settings": {"crm.from": "s3cr3t-looking"}}, headers=admin_headers)
    with app.app_context(), tenant_scope(acme):
        record = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "tenant.settings.update")).one()
    assert record.details["keys"] == ["crm.from"]
    assert "s3cr3t-looking" not in str(record.details)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"settings": {"bad key": 1}}, 400, "INVALID_FIELD"),
        ({"settings": {"a..b": 1}}, 400, "INVALID_FIELD"),
        ({"settings": {}}, 400, "INVALID_FIELD"),
        ({"settings": "x"}, 400, "INVALID_FIELD"),
        ({}, 400, "FIELD_REQUIRED"),
        ({"settings": {"a.b": "x" * 70_000}}, 413, "VALUE_TOO_LARGE"),
    ],
)
def test_bad_settings_change_nothing(client, admin_headers, body, status, code):
    created(client, admin_headers, "acme")
    client.patch(f"{BASE}/acme/settings", json={"settings": {"kept.key": 1}}, headers=admin_headers)
    response = client.patch(f"{BASE}/acme/settings", json=body, headers=admin_headers)
    assert (response.status_code, response.json["code"]) == (status, code)
    assert client.get(f"{BASE}/acme/settings", headers=admin_headers).json == {"settings": {"kept.key": 1}}


def test_settings_of_a_tenant_the_caller_does_not_administer_are_404(app, client, admin_headers):
    acme = created(client, admin_headers, "acme")["id"]
    created(client, admin_headers, "globex")
    client.patch(f"{BASE}/globex/settings", json={"settings": {"a": 1}}, headers=admin_headers)
    tenant_admin(app, "ta@example.com", acme)
    headers = login(client, "ta@example.com")
    assert client.get(f"{BASE}/acme/settings", headers=headers).status_code == 200
    assert client.get(f"{BASE}/globex/settings", headers=headers).status_code == 404
    assert client.get(f"{BASE}/globex/settings/a", headers=headers).status_code == 404


# --- migrate -----------------------------------------------------------------------------------


def test_migrate_reports_the_shared_schema_and_changes_nothing(app, client, admin_headers):
    acme = created(client, admin_headers, "acme")["id"]
    response = client.post(f"{BASE}/acme/migrate", headers=admin_headers)
    assert response.status_code == 200
    assert response.json["tenant_id"] == acme
    assert (response.json["schema_mode"], response.json["pending"], response.json["migrated"]) == ("shared", [], False)
    assert {revision.split("_")[0] for revision in response.json["revisions"]} >= {"core", "secrets", "settings"}


@pytest.mark.parametrize("path", ["repair", "schema", "schema/apply", "schema/content"])
def test_per_tenant_database_routes_do_not_exist(client, admin_headers, path):
    create_path = f"{BASE}/default/{path}"
    assert client.post(create_path, headers=admin_headers).status_code in (404, 405)
    assert client.get(create_path, headers=admin_headers).status_code in (404, 405)


def test_two_admins_removing_each_other_at_once_leave_one(app, admin_headers, monkeypatch):
    """The tenant's row is locked before the admins are counted, so the second removal sees the first."""
    acme = create_tenant(app, "acme")
    accounts = [tenant_admin(app, f"admin{index}@example.com", acme) for index in range(2)]
    counted = threading.Barrier(2, timeout=2)
    count = store.admin_count

    def slow_count(tenant):
        found = count(tenant)
        with contextlib.suppress(threading.BrokenBarrierError):  # the lock keeps the other one waiting
            counted.wait()
        return found

    monkeypatch.setattr(store, "admin_count", slow_count)
    answers = []
    signed_in = [login(app.test_client(), f"admin{me}@example.com") for me in range(2)]  # before the race

    def remove(me: int) -> None:
        client = app.test_client()
        answers.append(client.delete(f"{BASE}/acme/admins/{accounts[1 - me]}", headers=signed_in[me]).status_code)

    threads = [threading.Thread(target=remove, args=(me,)) for me in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [204, 409]
    with app.app_context():
        admins = db.session.scalars(
            sa.select(TenantMembership.account_id).where(
                TenantMembership.tenant_id == acme, TenantMembership.role == "tenant_admin"
            )
        ).all()
    assert len(admins) == 1


def test_settings_live_in_whichever_store_is_configured(make_app):
    """With the memory backend nothing reaches the database's key-value table, and a hard delete clears it."""
    app = make_app(STORAGE_BACKEND="memory")
    client = app.test_client()
    headers = AuthActions.bearer(AuthActions(client).setup_admin())
    acme = created(client, headers, "acme")["id"]
    client.patch(f"{BASE}/acme/settings", json={"settings": {"branding.company_name": "Acme"}}, headers=headers)
    assert client.get(f"{BASE}/acme/settings/branding.company_name", headers=headers).json["value"] == "Acme"
    store_ = app.extensions["flux"].store
    assert store_.keys(f"tenant:{acme}:settings") == ["branding.company_name"]
    with app.app_context():
        assert (
            db.session.scalars(sa.select(kv_table.c.namespace).where(kv_table.c.namespace.like("tenant:%"))).all() == []
        )
    assert client.delete(f"{BASE}/acme?hard=true", headers=headers).status_code == 204
    assert store_.keys(f"tenant:{acme}:settings") == []
