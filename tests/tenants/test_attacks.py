"""An attacker's and an operator's pass over the tenants API (seed 004).

Each test is one attempt: a passing test shows the defence holds; a hole found is a
failing test with its fix, or `xfail(strict=True)` with the reason it stays open.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from flux import tenancy
from flux.api import Conflict
from flux.db import db
from flux.storage.sql import kv_table
from flux.tenancy import Tenant, TenantMembership
from plugins.functions.models import FunctionExecution
from plugins.tenants import store
from tests.conftest import PASSWORD, SETUP_TOKEN, AuthActions, DashboardClient, login, tenant_admin
from tests.settings.conftest import add_system
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
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.json["code"] == code, response.json


@pytest.fixture
def acme_and_globex(app, client, admin_headers) -> tuple[str, str]:
    """Two tenants with a setting each; returns their ids."""
    ids = []
    for slug in ("acme", "globex"):
        ids.append(created(client, admin_headers, slug)["id"])
        change = {"settings": {"branding.company_name": f"{slug}-secret"}}
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
        ("patch", f"{BASE}/{tenant}/settings", {"settings": {"branding.company_name": "pwned"}}),
        ("get", f"{BASE}/{tenant}/settings/branding.company_name", None),
        ("delete", f"{BASE}/{tenant}/settings/branding.company_name", None),
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
    assert settings_keys(app, globex) == ["branding.company_name"]


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
        # Acting in its own tenant the role is refused; naming another, the tenant is.
        code = "TENANT_ACCESS_DENIED" if "X-FB-Tenant" in headers else "FORBIDDEN"
        for method, path in (("post", BASE), ("get", f"{BASE}/deleted"), ("get", f"{BASE}/mine")):
            response = getattr(client, method)(path, json={"slug": "new", "name": "New"}, headers=headers)
            refused(response, 403, code)
        for method, path in (("delete", f"{BASE}/globex?hard=true"), ("post", f"{BASE}/globex/recover")):
            refused(getattr(client, method)(path, headers=headers), 403, code)
    assert memberships(app, globex) == {}
    assert settings_keys(app, globex) == ["branding.company_name"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Tenant)) == 3


# --- slug tricks ------------------------------------------------------------------------------


def test_a_slug_shaped_like_another_tenants_id_is_refused(app, client, admin_headers):
    """Routes and `X-FB-Tenant` take an id or a slug: a slug equal to an id would make one name two tenants."""
    victim = "abcdef01-2345-4678-9abc-def012345678"  # a lowercase UUID starting with a letter fits the slug rule
    with app.app_context():
        db.session.add(Tenant(id=victim, slug="victim", name="Victim"))
        db.session.commit()
    response = client.post(BASE, json={"slug": victim, "name": "Impostor"}, headers=admin_headers)
    refused(response, 400, "INVALID_FIELD")
    created(client, admin_headers, "impostor")
    refused(client.patch(f"{BASE}/impostor", json={"slug": victim}, headers=admin_headers), 400, "INVALID_FIELD")
    unused = str(uuid.UUID(victim.replace("abcdef01", "fedcba98")))
    refused(client.post(BASE, json={"slug": unused, "name": "Any"}, headers=admin_headers), 400, "INVALID_FIELD")
    assert client.delete(f"{BASE}/{victim}?hard=true", headers=admin_headers).status_code == 204
    with app.app_context():
        assert sorted(db.session.scalars(sa.select(Tenant.slug))) == ["default", "impostor"]


LOOKALIKE_SLUGS = ["\u0430cme", "acme\u200b", "ACME", "acme\n", "a/b", "..", "mine", "deleted", " acme", "acm\u0435"]


def test_lookalike_and_path_like_slugs_are_refused(app, client, admin_headers):
    created(client, admin_headers, "acme")
    for slug in LOOKALIKE_SLUGS:  # Cyrillic a and e, a zero-width space, a newline, reserved paths
        refused(client.post(BASE, json={"slug": slug, "name": "X"}, headers=admin_headers), 400, "INVALID_FIELD")
        refused(client.patch(f"{BASE}/acme", json={"slug": slug}, headers=admin_headers), 400, "INVALID_FIELD")
    with app.app_context():
        assert sorted(db.session.scalars(sa.select(Tenant.slug))) == ["acme", "default"]


def test_a_tenant_is_named_only_by_its_exact_slug(client, admin_headers):
    created(client, admin_headers, "acme")
    for name in ("ACME", "Acme", "acme%20", "%61cme-", "acme.", "ac%2Fme"):
        assert client.get(f"{BASE}/{name}", headers=admin_headers).status_code == 404, name
        named = client.get("/api/v1/secrets", headers={**admin_headers, "X-FB-Tenant": name})
        assert named.status_code == 404, name


def test_a_setting_key_cannot_step_out_of_its_tenant(app, client, admin_headers, acme_and_globex):
    for key in ("..", "%2e%2e", "..%2F..%2Fglobex", "a%2Fb", "a.", ".a", "tenant:x:settings", "a" * 201, "%C3%A9"):
        for method in ("get", "delete"):
            response = getattr(client, method)(f"{BASE}/acme/settings/{key}", headers=admin_headers)
            assert response.status_code in (400, 404), (method, key, response.status_code)
            assert "globex-secret" not in response.get_data(as_text=True)
    assert settings_keys(app, acme_and_globex[1]) == ["branding.company_name"]


# --- a soft-deleted tenant, by every way in --------------------------------------------------


@pytest.fixture
def deleted_acme(app, client, admin_headers, auth):
    """Tenant `acme` with an app user (signed in: `tokens`) and a tenant admin (`admin_tokens`), then soft-deleted."""
    acme = created(client, admin_headers, "acme")["id"]
    tokens = auth.signup("u@example.com", tenant="acme")
    tenant_admin(app, "ta@example.com", acme)
    signed_in = client.post("/api/v1/admin/login", json={"email": "ta@example.com", "password": PASSWORD})
    assert client.delete(f"{BASE}/acme", headers=admin_headers).status_code == 204
    return {"id": acme, "tokens": tokens, "admin_tokens": signed_in.json}


def test_a_soft_deleted_tenants_app_user_cannot_sign_in_or_up_again(client, deleted_acme):
    for path in ("/api/v1/auth/signin", "/api/v1/auth/signup"):
        for tenant in ("acme", deleted_acme["id"]):
            body = {"email": "u@example.com" if path.endswith("in") else "new@example.com", "password": PASSWORD}
            refused(client.post(path, json=body, headers={"X-FB-Tenant": tenant}), 404, "TENANT_NOT_FOUND")


def test_a_soft_deleted_tenants_app_user_refreshes_no_token_until_it_is_recovered(client, admin_headers, deleted_acme):
    refresh = {"refresh_token": deleted_acme["tokens"]["refresh_token"]}
    refused(client.post("/api/v1/auth/refresh", json=refresh), 403, "TENANT_ACCESS_DENIED")
    assert client.post(f"{BASE}/acme/recover", headers=admin_headers).status_code == 200
    fresh = client.post("/api/v1/auth/refresh", json=refresh)  # the refused attempt did not use the token up
    assert fresh.status_code == 200, fresh.json
    assert client.get("/api/v1/auth/user", headers=AuthActions.bearer(fresh.json)).status_code == 200


def test_a_soft_deleted_home_tenants_admin_refreshes_but_acts_there_no_more(client, deleted_acme):
    """A dashboard account may act in its other tenants, so its session refreshes; its home tenant stays closed."""
    fresh = client.post("/api/v1/admin/refresh", json={"refresh_token": deleted_acme["admin_tokens"]["refresh_token"]})
    assert fresh.status_code == 200
    response = client.get(f"{BASE}/acme/settings", headers=AuthActions.bearer(fresh.json))
    refused(response, 403, "TENANT_ACCESS_DENIED")


def test_a_soft_deleted_tenants_public_settings_and_functions_answer_no_one(make_app):
    app = make_app(FUNCTIONS_RUNTIME="my-echo")
    client = app.test_client()
    admin = AuthActions.bearer(AuthActions(client).setup_admin())
    acme = created(client, admin, "acme")["id"]
    in_acme = {**admin, "X-FB-Tenant": "acme"}
    function = {"name": "hello", "code": "any", "is_public": True, "allow_unauthenticated": True}
    assert client.post("/api/v1/functions", json=function, headers=in_acme).status_code == 201
    add_system(client, in_acme, "site/name", "acme-public", is_public=True)
    anyone = {"X-FB-Tenant": "acme"}
    assert client.post("/api/v1/functions/hello/invoke", headers=anyone).status_code == 200
    assert client.get("/api/v1/settings/site/name", headers=anyone).json["value"] == "acme-public"

    assert client.delete(f"{BASE}/acme", headers=admin).status_code == 204
    for method, path in (
        ("post", "/api/v1/functions/hello/invoke"),
        ("get", "/api/v1/functions/hello/invoke"),
        ("get", "/api/v1/functions"),
        ("get", "/api/v1/functions/hello"),
        ("get", "/api/v1/settings/site/name"),
        ("get", "/api/v1/settings/"),
        ("post", "/api/v1/settings/batch"),
    ):
        response = getattr(client, method)(path, json={"keys": ["site/name"]}, headers=anyone)
        refused(response, 404, "TENANT_NOT_FOUND")
    for header in ({"X-FB-Tenant": acme}, {**anyone, "Authorization": "Bearer not-a-token"}):
        refused(client.post("/api/v1/functions/hello/invoke", headers=header), 404, "TENANT_NOT_FOUND")
    with app.app_context():
        executions = sa.select(sa.func.count()).select_from(FunctionExecution)
        assert db.session.execute(executions, execution_options={"all_tenants": True}).scalar() == 1
    assert client.delete(f"{BASE}/acme?hard=true", headers=admin).status_code == 204
    assert set(footprint(app, acme).values()) == {0}  # the function, its versions and its execution


def test_a_dashboard_cookie_of_a_soft_deleted_tenants_admin_shows_none_of_its_data(app, client, admin_headers):
    acme = created(client, admin_headers, "acme")["id"]
    in_acme = {**admin_headers, "X-FB-Tenant": "acme"}
    assert client.post("/api/v1/secrets", json={"name": "ACME_ONLY", "value": "v"}, headers=in_acme).status_code == 201
    tenant_admin(app, "ta@example.com", acme)
    browser = DashboardClient(app.test_client())
    assert browser.sign_in("ta@example.com").status_code == 302
    assert "ACME_ONLY" in browser.client.get("/dashboard/secrets/").get_data(as_text=True)

    assert client.delete(f"{BASE}/acme", headers=admin_headers).status_code == 204
    for path in ("/dashboard/", "/dashboard/secrets/", "/dashboard/settings/", "/dashboard/functions/"):
        response = browser.client.get(path)
        assert response.status_code in (200, 302, 403, 404), (path, response.status_code)
        assert "ACME_ONLY" not in response.get_data(as_text=True)


# --- hard delete: what goes, what stays ----------------------------------------------------------


def footprint(app, tenant_id: str) -> dict[str, int]:
    """Rows the tenant owns, per table: every `tenant_id` column, sign-in lockouts, its settings namespace."""
    counts = {}
    with app.app_context():
        for table in db.metadata.sorted_tables:
            where = {"tenant_id": table.c.get("tenant_id"), "signin_lockouts": table.c.get("scope")}
            column = where["signin_lockouts"] if table.name == "signin_lockouts" else where["tenant_id"]
            if column is not None:
                count = sa.select(sa.func.count()).select_from(table).where(column == tenant_id)
                counts[table.name] = db.session.execute(count, execution_options={"all_tenants": True}).scalar()
        namespace = sa.select(sa.func.count()).select_from(kv_table).where(kv_table.c.namespace.contains(tenant_id))
        counts["flux_kv"] = db.session.scalar(namespace)
    return counts


def populate(app, client, admin_headers, auth, slug: str) -> str:
    """A tenant with a secret, a setting, an app user signed in, a locked-out e-mail, an admin signed in, a key."""
    tenant = created(client, admin_headers, slug)["id"]
    here = {**admin_headers, "X-FB-Tenant": slug}
    assert client.post("/api/v1/secrets", json={"name": "K", "value": "v"}, headers=here).status_code == 201
    change = {"settings": {"branding.company_name": slug}}
    assert client.patch(f"{BASE}/{slug}/settings", json=change, headers=admin_headers).status_code == 200
    auth.signup(f"u@{slug}.example", tenant=slug)
    wrong = {"email": f"u@{slug}.example", "password": "wrong password"}
    assert client.post("/api/v1/auth/signin", json=wrong, headers={"X-FB-Tenant": slug}).status_code == 401
    tenant_admin(app, f"ta@{slug}.example", tenant)
    login(client, f"ta@{slug}.example")
    assert (
        client.post("/api/v1/admin/service-keys", json={"name": "k", "scopes": ["*"]}, headers=here).status_code == 201
    )
    return tenant


def test_a_hard_delete_leaves_nothing_of_the_tenant_and_takes_nothing_of_another(app, client, admin_headers, auth):
    acme, globex = (populate(app, client, admin_headers, auth, slug) for slug in ("acme", "globex"))
    kept = footprint(app, globex)
    counted = footprint(app, acme)
    for table in ("auth_sessions", "signin_lockouts", "auth_users", "service_keys", "audit_events", "flux_kv"):
        assert counted[table] > 0, table
    assert (
        client.delete(f"{BASE}/{acme}?hard=true", headers={**admin_headers, "X-FB-Tenant": "globex"}).status_code == 204
    )
    assert set(footprint(app, acme).values()) == {0}
    assert footprint(app, globex) == kept  # the delete is audited in default, not in the tenant acted in
    assert memberships(app, acme) == {}


class _AbortAtTheEnd:
    """Stands in for `store.audit`: the hard delete's last step fails, after every row went."""

    def __init__(self, real, fail) -> None:
        self.real, self.fail = real, fail

    def record(self, action: str, *args, **details) -> None:
        if action == "tenant.delete" and details.get("hard"):
            self.fail()
        self.real.record(action, *args, **details)


def test_a_hard_delete_failing_at_its_last_step_keeps_every_row_and_setting(
    app, client, admin_headers, auth, monkeypatch
):
    """The settings live in the key-value store, which joins the delete's transaction: they roll back with it."""
    acme = populate(app, client, admin_headers, auth, "acme")
    before = footprint(app, acme)

    def fail():
        raise Conflict("refused at the last step", code="ALREADY_EXISTS")

    monkeypatch.setattr(store, "audit", _AbortAtTheEnd(store.audit, fail))
    refused(client.delete(f"{BASE}/acme?hard=true", headers=admin_headers), 409, "ALREADY_EXISTS")
    assert footprint(app, acme) == before
    settings = client.get(f"{BASE}/acme/settings", headers=admin_headers).json
    assert settings == {"settings": {"branding.company_name": "acme"}}


KILLED_MID_DELETE = """
import os, signal, sys
from flux import create_app
from plugins.tenants import store

class Killer:
    def record(self, action, *args, **details):
        if action == "tenant.delete" and details.get("hard"):
            os.kill(os.getpid(), signal.SIGKILL)

store.audit = Killer()
client = create_app().test_client()
client.delete("/api/v1/admin/tenants/acme?hard=true", headers={"Authorization": sys.argv[1]})
sys.exit(3)  # not reached: the process dies with every row deleted but nothing committed
"""


def test_a_server_killed_mid_hard_delete_leaves_the_tenant_whole(app, client, admin_headers, auth):
    acme = populate(app, client, admin_headers, auth, "acme")
    before = footprint(app, acme)
    with app.app_context():
        db.engine.dispose()  # SQLite: no pooled connection of this process holds the file
    env = {
        **os.environ,
        "FLUXBASE_INSTANCE_PATH": app.instance_path,
        "FLUXBASE_DATABASE_URL": app.config["DATABASE_URL"],
        "FLUXBASE_SECURITY_SETUP_TOKEN": SETUP_TOKEN,
    }
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_MID_DELETE, admin_headers["Authorization"]], env=env, timeout=60, check=False
    )
    assert killed.returncode == -signal.SIGKILL
    assert footprint(app, acme) == before
    settings = client.get(f"{BASE}/acme/settings", headers=admin_headers).json
    assert settings == {"settings": {"branding.company_name": "acme"}}
    assert client.delete(f"{BASE}/acme?hard=true", headers=admin_headers).status_code == 204  # no lock was left
    assert set(footprint(app, acme).values()) == {0}


# --- races --------------------------------------------------------------------------------------


def at_once(app, monkeypatch, calls: list[tuple[str, str, dict | None]], at: str, before: bool = False) -> list[int]:
    """Make the calls from threads, each waiting for the others right after (or before) `store.<at>`; the statuses."""
    met = threading.Barrier(len(calls), timeout=2)
    real = getattr(store, at)

    def meet() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):  # a lock keeps the others waiting
            met.wait()

    def waiting(*args, **kwargs):
        if before:
            meet()
        found = real(*args, **kwargs)
        if not before:
            meet()
        return found

    monkeypatch.setattr(store, at, waiting)
    statuses: list[int] = []

    def call(method: str, path: str, body: dict | None) -> None:
        client = app.test_client()
        headers = login(client, "admin@example.com")
        response = getattr(client, method)(path, json=body, headers=headers)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=call, args=one) for one in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(statuses)


def tenant_rows(app) -> list[tuple[str, bool]]:
    with app.app_context():
        return sorted((tenant.slug, tenant.deleted_at is not None) for tenant in db.session.scalars(sa.select(Tenant)))


def hard_deletes_audited(app, client, admin_headers) -> int:
    records = client.get("/api/v1/admin/audit?limit=1000", headers=admin_headers).json
    return sum(record["action"] == "tenant.delete" and record["details"].get("hard") for record in records)


def test_two_creates_of_one_slug_at_once_give_one_201_and_one_409(app, admin_headers, monkeypatch):
    body = {"slug": "acme", "name": "Acme"}
    assert at_once(app, monkeypatch, [("post", BASE, body)] * 2, at="flush_or_conflict", before=True) == [201, 409]
    assert tenant_rows(app) == [("acme", False), ("default", False)]


def test_two_hard_deletes_at_once_give_one_204_and_one_404(app, client, admin_headers, monkeypatch):
    created(client, admin_headers, "acme")
    calls = [("delete", f"{BASE}/acme?hard=true", None)] * 2
    assert at_once(app, monkeypatch, calls, at="any_state") == [204, 404]
    assert tenant_rows(app) == [("default", False)]
    assert hard_deletes_audited(app, client, admin_headers) == 1


def test_a_recovery_racing_a_hard_delete_never_answers_500(app, client, admin_headers, monkeypatch):
    created(client, admin_headers, "acme")
    assert client.delete(f"{BASE}/acme", headers=admin_headers).status_code == 204
    calls = [("delete", f"{BASE}/acme?hard=true", None), ("post", f"{BASE}/acme/recover", None)]
    statuses = at_once(app, monkeypatch, calls, at="any_state")
    assert statuses in ([200, 204], [204, 404]), statuses
    assert tenant_rows(app) == [("default", False)]


# --- malformed input ------------------------------------------------------------------------------

DEEP = {"a": 1}
for _ in range(200):
    DEEP = {"a": DEEP}

MALFORMED = [
    ("post", BASE, {"slug": "x", "name": "X", "metadata": DEEP}),
    ("post", BASE, {"slug": "x", "name": "X", "metadata": ["not", "an", "object"]}),
    ("post", BASE, {"slug": "x", "name": "X", "metadata": {"k": "v" * 70_000}}),
    ("post", BASE, {"slug": "x", "name": "X" * 201}),
    ("post", BASE, {"slug": "x", "name": ""}),
    ("post", BASE, {"slug": 5, "name": "X"}),
    ("post", BASE, ["slug", "x"]),
    ("patch", f"{BASE}/acme", {"slug": None, "name": None, "metadata": None}),
    ("patch", f"{BASE}/acme", {"metadata": DEEP}),
    ("post", f"{BASE}/acme/members", {"user_id": 5}),
    ("post", f"{BASE}/acme/members", {"user_id": ["x"]}),
    ("post", f"{BASE}/acme/members", {"user_id": "x" * 37}),
    ("post", f"{BASE}/acme/members", {"user_id": {"$ne": None}}),
    ("post", f"{BASE}/acme/admins", {"user_id": None}),
    ("patch", f"{BASE}/acme/settings", {"settings": [["a", 1]]}),
    ("patch", f"{BASE}/acme/settings", {"settings": {f"k{index}": index for index in range(101)}}),
    ("patch", f"{BASE}/acme/settings", {"settings": {"a": DEEP}}),
    ("patch", f"{BASE}/acme/settings", {"settings": {"k" * 201: 1}}),
    ("patch", f"{BASE}/acme/settings", {"settings": None}),
    ("delete", f"{BASE}/acme?hard=maybe", None),
    ("get", f"{BASE}?limit=-1", None),
    ("get", f"{BASE}?offset=99999999999999999999", None),
    ("get", f"{BASE}/{'a' * 64}", None),
    ("delete", f"{BASE}/acme/members/{'u' * 37}", None),
]


CLIENT_ERRORS = {
    "INVALID_FIELD",
    "FIELD_REQUIRED",
    "VALUE_TOO_LARGE",
    "INVALID_JSON",
    "INVALID_PAGE",
    "NOTHING_TO_UPDATE",
    "INVALID_BODY",
    "TENANT_NOT_FOUND",
    "NOT_FOUND",
}


def test_malformed_input_is_a_4xx_and_changes_nothing(app, client, admin_headers):
    acme = created(client, admin_headers, "acme", metadata={"plan": "pro"})
    client.patch(f"{BASE}/acme/settings", json={"settings": {"kept": 1}}, headers=admin_headers)
    for index, (method, path, body) in enumerate(MALFORMED):
        response = getattr(client, method)(path, json=body, headers=admin_headers)
        assert 400 <= response.status_code < 500, (index, response.get_data(as_text=True)[:300])
        assert response.json["code"] in CLIENT_ERRORS, (index, response.json)
        assert client.get(f"{BASE}/acme", headers=admin_headers).json == acme, index
        assert client.get(f"{BASE}/acme/settings", headers=admin_headers).json == {"settings": {"kept": 1}}, index
    assert tenant_rows(app) == [("acme", False), ("default", False)]


def test_a_hostile_tenant_header_names_no_tenant(client, admin_headers, service_key):
    """Only what strips (`str.strip`, NBSP included) to a live tenant's name, or to nothing, names one.

    The tenants routes name their tenant in the path: an instance admin's header is not read there.
    """
    created(client, admin_headers, "acme")
    key = service_key(["*"], **{"X-FB-Tenant": "acme"})
    for value in ("a\u00e9", "\t", "a" * 1000, "%00", "acme,globex", "acme\u00a0", "ACME"):
        names_acme = value.strip() in ("", "acme")
        for headers in (admin_headers, key):
            status = client.get("/api/v1/secrets", headers={**headers, "X-FB-Tenant": value}).status_code
            assert status == 200 if names_acme else status in (403, 404), (value, status)
        response = client.get(f"{BASE}/acme/settings", headers={**admin_headers, "X-FB-Tenant": value})
        assert (response.status_code, response.json) == (200, {"settings": {}}), value


# --- what the audit trail, the logs and the OpenAPI document tell ----------------------------------

SECRET_LOOKING = "sk-live-tenant-setting-5e1f"


def every_audit_detail(app) -> str:
    from flux.audit import AuditRecord

    with app.app_context():
        rows = db.session.execute(sa.select(AuditRecord), execution_options={"all_tenants": True}).scalars()
        return " ".join(f"{row.target} {row.details}" for row in rows)


def test_setting_and_metadata_values_reach_no_audit_record_and_no_log(app, client, admin_headers, caplog):
    caplog.set_level("DEBUG")
    created(client, admin_headers, "acme", metadata={"api": SECRET_LOOKING})
    client.patch(f"{BASE}/acme", json={"metadata": {"api": SECRET_LOOKING + "2"}}, headers=admin_headers)
    for value in (SECRET_LOOKING, {"nested": [SECRET_LOOKING]}, SECRET_LOOKING * 3000, None):
        client.patch(f"{BASE}/acme/settings", json={"settings": {"crm.key": value}}, headers=admin_headers)
    refused_body = client.patch(
        f"{BASE}/acme/settings", json={"settings": {"bad key": SECRET_LOOKING}}, headers=admin_headers
    )
    assert SECRET_LOOKING not in refused_body.get_data(as_text=True)
    assert "crm.key" in every_audit_detail(app)
    assert SECRET_LOOKING not in every_audit_detail(app)
    assert SECRET_LOOKING not in caplog.text


def test_another_tenants_management_stays_out_of_this_tenants_audit_trail(app, client, admin_headers, service_key):
    acme = created(client, admin_headers, "acme")["id"]
    member = tenant_admin(app, "member@example.com")
    client.post(f"{BASE}/acme/members", json={"user_id": member}, headers=admin_headers)
    client.patch(f"{BASE}/acme/settings", json={"settings": {"billing.plan": "gold"}}, headers=admin_headers)
    default_reader = service_key(["audit:read"])  # a key of the default tenant
    trail = client.get("/api/v1/admin/audit?limit=1000", headers=default_reader)
    assert trail.status_code == 200
    seen = trail.get_data(as_text=True)
    assert acme not in seen and member not in seen and "billing.plan" not in seen
    own = client.get("/api/v1/admin/audit?limit=1000", headers=service_key(["audit:read"], **{"X-FB-Tenant": "acme"}))
    assert [event["action"] for event in reversed(own.json)][:3] == [
        "tenant.create",
        "tenant.member.add",
        "tenant.settings.update",
    ]


def document_codes(paths: dict, path: str, method: str) -> dict[str, set[str]]:
    operation = paths[path][method]
    return {
        status: set(answer["content"]["application/json"]["schema"]["properties"]["code"]["enum"])
        for status, answer in operation["responses"].items()
        if status >= "400"
    }


OPENAPI_CODES = [
    ("", "post", {"409": {"ALREADY_EXISTS"}, "413": {"VALUE_TOO_LARGE"}, "400": {"INVALID_FIELD"}}),
    ("", "get", {"400": {"INVALID_PAGE"}, "403": {"FORBIDDEN"}}),
    ("/deleted", "get", {"403": {"FORBIDDEN"}}),
    ("/{id}", "get", {"404": {"TENANT_NOT_FOUND"}}),
    ("/{id}", "patch", {"400": {"DEFAULT_TENANT_FIXED", "NOTHING_TO_UPDATE"}, "409": {"ALREADY_EXISTS"}}),
    ("/{id}", "delete", {"400": {"DEFAULT_TENANT_FIXED"}, "404": {"TENANT_NOT_FOUND"}}),
    ("/{id}/recover", "post", {"409": {"TENANT_NOT_DELETED"}, "404": {"TENANT_NOT_FOUND"}}),
    ("/{id}/members", "post", {"404": {"TENANT_NOT_FOUND", "NOT_FOUND"}, "409": {"ALREADY_EXISTS"}}),
    ("/{id}/members/{user_id}", "delete", {"409": {"LAST_TENANT_ADMIN"}, "404": {"NOT_FOUND"}}),
    ("/{id}/admins/{user_id}", "delete", {"409": {"LAST_TENANT_ADMIN"}}),
    ("/{id}/settings", "patch", {"413": {"VALUE_TOO_LARGE"}, "403": {"FORBIDDEN", "TENANT_ACCESS_DENIED"}}),
    ("/{id}/settings/{key}", "get", {"404": {"NOT_FOUND", "TENANT_NOT_FOUND"}, "400": {"INVALID_FIELD"}}),
    ("/{id}/migrate", "post", {"404": {"TENANT_NOT_FOUND"}}),
]


def test_the_openapi_document_lists_every_tenants_route_with_the_codes_it_answers(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path, method, expected in OPENAPI_CODES:
        codes = document_codes(paths, f"{BASE}{path}", method)
        for status, wanted in expected.items():
            assert wanted <= codes.get(status, set()), (path, method, status, codes.get(status))
        assert {"AUTH_REQUIRED", "INVALID_TOKEN", "INVALID_SERVICE_KEY"} <= codes["401"], (path, method)
        assert "NUL_CHARACTER" in codes["400"], (path, method)


def test_the_openapi_document_lists_the_refresh_refusal_of_a_deleted_tenant(client):
    assert (
        "TENANT_ACCESS_DENIED"
        in document_codes(client.get("/api/v1/openapi.json").json["paths"], "/api/v1/auth/refresh", "post")["403"]
    )


# --- the cached tenant directory ---------------------------------------------------------------------


def test_a_lookup_racing_a_delete_in_the_same_process_does_not_cache_the_deleted_tenant(
    app, client, admin_headers, monkeypatch
):
    """A request reads every live tenant just before another thread's soft delete of acme commits."""
    created(client, admin_headers, "acme")
    app.extensions["flux"].tenants.forget()  # the next request reads the copy afresh
    in_acme = {**admin_headers, "X-FB-Tenant": "acme"}
    real, raced = tenancy.live_tenants, []

    def delete_acme():
        return app.test_client().delete(f"{BASE}/acme", headers=admin_headers)

    def read_then_lose_the_race():
        tenants = real()
        if "acme" in tenants and not raced:
            raced.append("acme")
            other = threading.Thread(target=lambda: raced.append(delete_acme().status_code))
            other.start()
            other.join()
        return tenants

    monkeypatch.setattr(tenancy, "live_tenants", read_then_lose_the_race)
    assert client.get("/api/v1/secrets", headers=in_acme).status_code == 200  # it read acme while it was live
    assert raced == ["acme", 204]
    refused(client.get("/api/v1/secrets", headers=in_acme), 404, "TENANT_NOT_FOUND")


def test_another_process_serves_a_soft_deleted_tenant_no_longer_than_its_cache_time(
    app, make_app, client, admin_headers
):
    created(client, admin_headers, "acme")
    other = make_app(TENANT_CACHE_SECONDS=1).test_client()
    in_acme = {**admin_headers, "X-FB-Tenant": "acme"}
    assert other.get("/api/v1/secrets", headers=in_acme).status_code == 200  # now cached there
    assert client.delete(f"{BASE}/acme", headers=admin_headers).status_code == 204
    deleted_at = time.monotonic()
    refused(client.get("/api/v1/secrets", headers=in_acme), 404, "TENANT_NOT_FOUND")  # at once here
    while other.get("/api/v1/secrets", headers=in_acme).status_code == 200:
        assert time.monotonic() - deleted_at < 1.5, "the other process kept serving the deleted tenant"
        time.sleep(0.05)
    refused(other.get("/api/v1/secrets", headers=in_acme), 404, "TENANT_NOT_FOUND")


# --- writes racing a hard delete ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("patch", f"{BASE}/acme/settings", {"settings": {"late.key": "late"}}),
        ("delete", f"{BASE}/acme/settings/branding.company_name", None),
        ("post", f"{BASE}/acme/members", {"user_id": "ACCOUNT"}),
        ("post", f"{BASE}/acme/admins", {"user_id": "ACCOUNT"}),
    ],
)
def test_a_write_racing_a_hard_delete_leaves_nothing_behind(
    app, client, admin_headers, monkeypatch, method, path, body
):
    """The write has found its tenant when the hard delete runs; whichever goes first, nothing of acme stays."""
    acme = created(client, admin_headers, "acme")["id"]
    client.patch(f"{BASE}/acme/settings", json={"settings": {"branding.company_name": "x"}}, headers=admin_headers)
    account = tenant_admin(app, "late@example.com")
    body = {"user_id": account} if body and "user_id" in body else body
    found, deleted = threading.Event(), threading.Event()
    real = store.visible

    def found_then_wait(*args, **kwargs):
        tenant = real(*args, **kwargs)
        found.set()
        deleted.wait(timeout=1)  # a lock on the tenant keeps the delete waiting: go on after a while
        return tenant

    monkeypatch.setattr(store, "visible", found_then_wait)
    answers = []
    writer = threading.Thread(
        target=lambda: answers.append(getattr(app.test_client(), method)(path, json=body, headers=admin_headers))
    )
    writer.start()
    assert found.wait(timeout=5)
    assert client.delete(f"{BASE}/{acme}?hard=true", headers=admin_headers).status_code == 204
    deleted.set()
    writer.join()
    assert answers[0].status_code in (200, 201, 204, 404), answers[0].get_data(as_text=True)[:300]
    assert set(footprint(app, acme).values()) == {0}


def test_an_admin_whose_first_tenant_is_soft_deleted_signs_in_to_its_other_tenant(app, client, admin_headers):
    acme, globex = (created(client, admin_headers, slug)["id"] for slug in ("acme", "globex"))
    me = tenant_admin(app, "ta@example.com", acme)
    assert client.post(f"{BASE}/globex/admins", json={"user_id": me}, headers=admin_headers).status_code == 201
    assert client.delete(f"{BASE}/acme", headers=admin_headers).status_code == 204
    headers = login(client, "ta@example.com")
    mine = client.get(f"{BASE}/mine", headers=headers)
    assert mine.status_code == 200, mine.json
    assert [tenant["id"] for tenant in mine.json] == [globex]
    assert client.get(f"{BASE}/globex/settings", headers=headers).status_code == 200


NON_FINITE = [
    ("PATCH", f"{BASE}/acme/settings", b'{"settings": {"a": %s}}'),
    ("POST", BASE, b'{"slug": "other", "name": "Other", "metadata": {"a": %s}}'),
    ("PATCH", f"{BASE}/acme", b'{"metadata": {"a": [%s]}}'),
]


def test_a_number_json_cannot_hold_is_400_and_changes_nothing(app, client, admin_headers):
    """Python's parser reads NaN, ±Infinity and 1e400 (as inf): no JSON answer or PostgreSQL json column holds them."""
    acme = created(client, admin_headers, "acme", metadata={"plan": "pro"})
    for method, path, template in NON_FINITE:
        for number in (b"NaN", b"Infinity", b"-Infinity", b"1e400"):
            data = template % number
            response = client.open(
                path, method=method, data=data, headers=admin_headers, content_type="application/json"
            )
            refused(response, 400, "INVALID_JSON")
    assert client.get(f"{BASE}/acme", headers=admin_headers).json == acme
    assert settings_keys(app, acme["id"]) == []
    assert tenant_rows(app) == [("acme", False), ("default", False)]


def test_a_number_json_cannot_hold_is_400_in_the_settings_plugin_too(client, admin_headers):
    """Refused by the request parser, so no plugin can store or fail on one."""
    response = client.post(
        "/api/v1/admin/settings/custom",
        data=b'{"key": "k", "value": NaN}',
        headers=admin_headers,
        content_type="application/json",
    )
    assert (response.status_code, response.json["code"]) == (400, "INVALID_JSON")


def test_a_deleted_tenants_key_and_tokens_reach_nothing_soft_then_hard(app, client, admin_headers, auth, service_key):
    acme = created(client, admin_headers, "acme")["id"]
    key = service_key(["*"], **{"X-FB-Tenant": "acme"})
    tokens = auth.signup("u@example.com", tenant="acme")
    assert client.get(f"{BASE}/acme/settings", headers=key).status_code == 200
    account = tenant_admin(app, "ta@example.com")
    for stage in ("soft", "hard"):
        assert client.delete(f"{BASE}/acme?hard={stage == 'hard'}", headers=admin_headers).status_code == 204
        for name in ("acme", acme):
            for method, path, body in every_tenant_route(name, account):
                response = getattr(client, method)(path, json=body, headers=key)
                assert response.status_code in (401, 403, 404), (stage, method, path, response.status_code)
        assert client.get(BASE, headers=key).status_code == (403 if stage == "soft" else 401)
        refresh = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refresh.status_code in (401, 403), (stage, refresh.json)
        assert client.get("/api/v1/auth/user", headers=AuthActions.bearer(tokens)).status_code in (401, 403)
    assert memberships(app, acme) == {}


def test_a_repeated_hard_parameter_is_refused(app, client, admin_headers):
    """Found here: flask-openapi3 took the first value, so `?hard=true&hard=false` deleted for good."""
    created(client, admin_headers, "acme")
    refused(client.delete(f"{BASE}/acme?hard=true&hard=false", headers=admin_headers), 400, "INVALID_FIELD")
    assert client.get(f"{BASE}/acme", headers=admin_headers).json["deleted_at"] is None
    paged = client.get(f"{BASE}?limit=1&limit=1000", headers=admin_headers)
    refused(paged, 400, "INVALID_FIELD")
