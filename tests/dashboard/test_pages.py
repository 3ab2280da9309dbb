"""Dashboard pages through the Flask test client: access, navigation, plugins, forms and errors."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from flux.auth.models import AuthSession, PlatformAccount, ServiceKey
from flux.auth.passwords import hash_password
from flux.db import db, utcnow
from flux.tenancy import Tenant, TenantMembership
from tests.conftest import ADMIN_EMAIL, PASSWORD, SETUP_TOKEN, DashboardClient

PAGES = [
    "/dashboard/",
    "/dashboard/plugins",
    "/dashboard/service-keys/",
    "/dashboard/secrets/",
    "/dashboard/functions/",
]


def add_account(app, email: str, tenant_slug: str | None = None) -> str | None:
    """A `tenant_admin` account, an admin member of a new tenant when one is named; the tenant id."""
    with app.app_context():
        account = PlatformAccount(email=email, password_hash=hash_password(PASSWORD), role="tenant_admin")
        db.session.add(account)
        tenant_id = None
        if tenant_slug:
            tenant = Tenant(slug=tenant_slug, name=tenant_slug.title())
            db.session.add(tenant)
            db.session.flush()
            db.session.add(TenantMembership(tenant_id=tenant.id, account_id=account.id, role="tenant_admin"))
            tenant_id = tenant.id
        db.session.commit()
        return tenant_id


def stored_keys(app) -> list[ServiceKey]:
    with app.app_context():
        return list(db.session.scalars(sa.select(ServiceKey).execution_options(all_tenants=True)))


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_visitors_to_the_login_page(client, auth, path):
    auth.setup_admin()
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/dashboard/login?next={path}"


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_private(dashboard, path):
    response = dashboard.client.get(path)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    ("target", "landing"),
    [
        ("/dashboard/plugins", "/dashboard/plugins"),
        ("https://evil.example/dashboard/", "/dashboard/"),
        ("//evil.example/dashboard/", "/dashboard/"),
        ("/\\evil.example/", "/dashboard/"),
        ("/api/v1/admin/me", "/dashboard/"),
    ],
)
def test_sign_in_only_returns_to_dashboard_pages(client, auth, target, landing):
    auth.setup_admin()
    browser_like = DashboardClient(client)
    data = {"email": ADMIN_EMAIL, "password": PASSWORD, "csrf_token": browser_like.csrf_token()}
    response = client.post("/dashboard/login", query_string={"next": target}, data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == landing


def test_lockout_applies_to_the_dashboard(client, auth, app):
    auth.setup_admin()
    browser_like = DashboardClient(client)
    for _ in range(5):  # authentication.lockout.max_attempts, by default
        assert browser_like.sign_in(password="wrong password").status_code == 401
    locked = browser_like.sign_in()
    assert locked.status_code == 429
    assert "Account temporarily locked" in text(locked)
    assert client.get("/dashboard/").status_code == 302


def test_only_platform_accounts_sign_in(client, auth):
    auth.setup_admin()
    auth.signup("appuser@example.com")
    response = DashboardClient(client).sign_in("appuser@example.com")
    assert response.status_code == 401
    assert "Invalid email or password" in text(response)


def test_setup_is_offered_only_while_no_instance_admin_exists(client, auth):
    browser_like = DashboardClient(client)
    assert "Set up Fluxbase" in text(client.get("/dashboard/login"))
    auth.setup_admin()
    assert "Sign in" in text(client.get("/dashboard/login"))
    fields = {"email": "late@example.com", "password": PASSWORD, "setup_token": SETUP_TOKEN}
    response = browser_like.post("/dashboard/setup", fields, token_from="/dashboard/login")
    assert response.status_code == 409
    assert "Setup is already complete" in text(response)


def test_setup_page_says_when_the_server_has_no_setup_token(make_app):
    page = make_app(SECURITY_SETUP_TOKEN="").test_client().get("/dashboard/login")
    assert "This server has no setup token" in text(page)


def test_plugins_page_lists_plugins_with_kind_and_hooks(dashboard):
    page = text(dashboard.client.get("/dashboard/plugins"))
    for expected in ["<td>dashboard</td><td>default</td>", "<td>auth</td><td>essential</td>", "actor_from_request"]:
        assert expected in page
    assert "<td>tests.plugins.my_plugin</td><td>extra</td>" in page


def test_instance_admins_see_every_page(dashboard):
    page = text(dashboard.client.get("/dashboard/"))
    for link in [
        'href="/dashboard/service-keys/"',
        'href="/dashboard/plugins"',
        'href="/dashboard/secrets/"',
        'href="/dashboard/functions/"',
        'href="/api/v1/my-plugin/page"',
    ]:
        assert link in page


def test_tenant_admins_see_the_pages_of_their_role_in_their_tenant(app, client, auth):
    auth.setup_admin()
    acme = add_account(app, "acme-admin@example.com", "acme")
    browser_like = DashboardClient(client)
    assert browser_like.sign_in("acme-admin@example.com").status_code == 302
    page = text(client.get("/dashboard/"))
    assert 'href="/dashboard/service-keys/"' in page
    assert 'href="/api/v1/my-plugin/page"' not in page  # that page needs an instance admin

    keys_page = text(client.get("/dashboard/service-keys/"))
    assert "<strong>Acme</strong> (<code>acme</code>)" in keys_page
    created = browser_like.post("/dashboard/service-keys/", {"name": "acme-bot", "scopes": "secrets:read"})
    assert created.status_code == 201
    assert [(key.name, key.tenant_id) for key in stored_keys(app)] == [("acme-bot", acme)]


def test_a_tenant_admin_without_a_tenant_sees_no_pages_and_gets_403(app, client, auth):
    auth.setup_admin()
    add_account(app, "nobody@example.com")
    assert DashboardClient(client).sign_in("nobody@example.com").status_code == 302
    assert 'href="/dashboard/service-keys/"' not in text(client.get("/dashboard/"))
    response = client.get("/dashboard/service-keys/")
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert "access denied to this tenant" in text(response)


def test_keys_of_other_tenants_are_not_found(app, client, auth, dashboard):
    dashboard.post("/dashboard/service-keys/", {"name": "default-bot", "scopes": "*"})
    (key,) = stored_keys(app)
    add_account(app, "acme-admin@example.com", "acme")
    other = DashboardClient(app.test_client())
    assert other.sign_in("acme-admin@example.com").status_code == 302
    response = other.post(f"/dashboard/service-keys/{key.id}/disable")
    assert response.status_code == 404
    assert "Service key not found in this tenant" in text(response)
    assert [key.enabled for key in stored_keys(app)] == [True]
    assert dashboard.post(f"/dashboard/service-keys/{uuid.uuid4()}/disable").status_code == 404


def test_the_new_key_records_who_created_it(app, dashboard):
    dashboard.post("/dashboard/service-keys/", {"name": "audited", "scopes": "*"})
    with app.app_context():
        admin_id = db.session.scalar(sa.select(PlatformAccount.id).where(PlatformAccount.email == ADMIN_EMAIL))
    assert [key.created_by for key in stored_keys(app)] == [admin_id]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"scopes": "*"}, "must not be blank"),
        ({"name": "   ", "scopes": "*"}, "must not be blank"),
        ({"name": "n" * 201, "scopes": "*"}, "at most 200 characters"),
        ({"name": "x", "scopes": "*", "description": "d" * 2001}, "at most 2000 characters"),
        ({"name": "no scopes"}, "must name at least one scope"),
        ({"name": "x", "scopes": "root:everything"}, "not a valid choice"),
        ({"name": "x", "scopes": "*", "expires_on": utcnow().date().isoformat()}, "must be in the future"),
        ({"name": "x", "scopes": "*", "expires_on": "31/01/2030"}, "Not a valid date value"),
    ],
)
def test_create_form_errors_are_shown_and_nothing_is_stored(app, dashboard, fields, message):
    """The API's rules (`flux.auth.key_schemas.KeyCreate`), shown on the form's fields."""
    response = dashboard.post("/dashboard/service-keys/", fields)
    assert response.status_code == 400
    assert message in text(response)
    assert stored_keys(app) == []


def test_an_expiry_day_becomes_its_start_in_utc(app, dashboard):
    day = utcnow().date() + timedelta(days=30)
    fields = {"name": "temporary", "scopes": "*", "expires_on": day.isoformat()}
    assert dashboard.post("/dashboard/service-keys/", fields).status_code == 201
    (key,) = stored_keys(app)
    assert key.expires_at.isoformat() == f"{day.isoformat()}T00:00:00+00:00"


def test_refused_changes_are_flashed(app, dashboard):
    dashboard.post("/dashboard/service-keys/", {"name": "keep", "scopes": "*"})
    (key,) = stored_keys(app)
    response = dashboard.post(f"/dashboard/service-keys/{key.id}/revoke", {"reason": "  "})
    assert response.status_code == 302
    assert "reason is required to revoke a key" in text(dashboard.client.get("/dashboard/service-keys/"))
    assert dashboard.post(f"/dashboard/service-keys/{key.id}/revoke", {"reason": "done"}).status_code == 302
    dashboard.post(f"/dashboard/service-keys/{key.id}/enable")
    assert "A revoked key cannot be enabled or disabled" in text(dashboard.client.get("/dashboard/service-keys/"))
    rotated = dashboard.post(f"/dashboard/service-keys/{key.id}/rotate", {"grace_hours": "24"})
    assert rotated.status_code == 302
    assert "A revoked key cannot be deprecated or rotated" in text(dashboard.client.get("/dashboard/service-keys/"))
    assert len(stored_keys(app)) == 1


def test_reasons_longer_than_the_api_allows_are_refused(app, dashboard):
    dashboard.post("/dashboard/service-keys/", {"name": "keep", "scopes": "*"})
    (key,) = stored_keys(app)
    for action, fields in (("rotate", {"grace_hours": "24", "reason": "r" * 2001}), ("revoke", {"reason": "r" * 2001})):
        assert dashboard.post(f"/dashboard/service-keys/{key.id}/{action}", fields).status_code == 302
        assert "Reason: String should have at most 2000 characters" in text(
            dashboard.client.get("/dashboard/service-keys/")
        )
    assert [(stored.revoked_at, stored.grace_until) for stored in stored_keys(app)] == [(None, None)]


def test_rotate_refuses_an_unknown_grace_period(app, dashboard):
    dashboard.post("/dashboard/service-keys/", {"name": "keep", "scopes": "*"})
    (key,) = stored_keys(app)
    assert dashboard.post(f"/dashboard/service-keys/{key.id}/rotate", {"grace_hours": "99999"}).status_code == 302
    assert "Not a valid choice" in text(dashboard.client.get("/dashboard/service-keys/"))
    assert [stored.grace_until for stored in stored_keys(app)] == [None]


def test_signing_out_ends_the_session_on_the_server(app, dashboard):
    copied = dashboard.client.get_cookie("session", path="/dashboard").value
    assert dashboard.post("/dashboard/logout").status_code == 302
    with app.app_context():
        reasons = sorted(str(session.revoked_reason) for session in db.session.scalars(sa.select(AuthSession)))
        assert reasons == ["None", "logged_out"]  # the API's setup session lives on
    dashboard.client.set_cookie("session", copied, path="/dashboard")  # a copy of the old cookie
    response = dashboard.client.get("/dashboard/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard/login?next=/dashboard/"


def test_an_unknown_address_is_the_dashboards_404_page(client, dashboard):
    missing = client.get("/dashboard/no-such-page/<b>x</b>")
    assert (missing.status_code, missing.mimetype) == (404, "text/html")
    assert "There is no dashboard page at /dashboard/no-such-page/&lt;b&gt;x&lt;/b&gt;" in text(missing)
    assert "<b>x</b>" not in text(missing)
    assert client.get("/dashboard/plugins").status_code == 200  # real pages still match first


def test_an_unknown_address_sends_visitors_to_the_login_page(client, auth):
    auth.setup_admin()
    response = client.get("/dashboard/no-such-page")
    assert response.status_code == 302 and "/dashboard/login" in response.headers["Location"]


def test_an_unexpected_error_is_an_html_page_with_the_logged_request_id(app, client, dashboard, monkeypatch, caplog):
    def broken():
        raise RuntimeError("the plugin registry is gone")

    monkeypatch.setattr(app.extensions["flux"].plugins, "describe", broken)
    response = client.get("/dashboard/plugins", headers={"X-Request-ID": "dashboard-bug-1"})
    assert (response.status_code, response.mimetype) == (500, "text/html")
    assert "quote request id dashboard-bug-1" in text(response)
    assert "the plugin registry is gone" not in text(response)  # details stay in the log
    (record,) = [record for record in caplog.records if "dashboard-bug-1" in record.getMessage()]
    assert record.exc_info is not None and "the plugin registry is gone" in str(record.exc_info[1])
