"""The dashboard's Tenants page (tenants plugin) through the Flask test client: access, every action, what is stored."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from flux.audit import AuditRecord
from flux.auth.models import PlatformAccount
from flux.auth.passwords import hash_password
from flux.db import db
from flux.tenancy import Tenant, TenantMembership
from tests.conftest import PASSWORD, DashboardClient, create_tenant

PAGE = "/dashboard/tenants/"


def text(response) -> str:
    return response.get_data(as_text=True)


def add_account(app, email: str, memberships: dict[str, str] | None = None, role: str = "tenant_admin") -> str:
    """A dashboard account with `{tenant_id: membership role}`; returns its id."""
    with app.app_context():
        account = PlatformAccount(email=email, password_hash=hash_password(PASSWORD), role=role)
        db.session.add(account)
        db.session.flush()
        for tenant_id, membership in (memberships or {}).items():
            db.session.add(TenantMembership(tenant_id=tenant_id, account_id=account.id, role=membership))
        db.session.commit()
        return account.id


def signed_in_as(client, email: str) -> DashboardClient:
    """The test client signed in to the dashboard as `email` (made with `add_account`)."""
    browser_like = DashboardClient(client)
    assert browser_like.sign_in(email).status_code == 302
    return browser_like


def tenant_row(app, slug: str) -> Tenant | None:
    with app.app_context():
        return db.session.scalar(sa.select(Tenant).where(Tenant.slug == slug))


def members_of(app, tenant_id: str) -> dict[str, str]:
    """`{account id: role}` as stored."""
    with app.app_context():
        rows = db.session.execute(
            sa.select(TenantMembership.account_id, TenantMembership.role).where(TenantMembership.tenant_id == tenant_id)
        )
        return dict(rows.all())


def audited(app, action: str) -> list[tuple[str, dict]]:
    """`(target, details)` of every audit record of `action`, in every tenant."""
    with app.app_context():
        query = sa.select(AuditRecord).where(AuditRecord.action == action).execution_options(all_tenants=True)
        return [(row.target, row.details) for row in db.session.scalars(query)]


def test_only_instance_admins_see_the_page_and_may_use_it(app, client, auth):
    auth.setup_admin()
    acme = create_tenant(app, "acme")
    add_account(app, "boss@acme.example", {acme: "tenant_admin"})
    browser_like = signed_in_as(client, "boss@acme.example")
    assert 'href="/dashboard/tenants/"' not in text(client.get("/dashboard/"))
    assert client.get(PAGE).status_code == 403
    refused = browser_like.post(PAGE, {"slug": "mine-now", "name": "Mine"})
    assert refused.status_code == 403
    assert browser_like.post(f"{PAGE}{acme}/delete").status_code == 403
    assert tenant_row(app, "mine-now") is None and tenant_row(app, "acme").deleted_at is None


def test_an_instance_admin_lists_and_creates_tenants(app, client, dashboard):
    assert 'href="/dashboard/tenants/"' in text(client.get("/dashboard/"))
    created = dashboard.post(PAGE, {"slug": "acme", "name": "Acme Inc."}, PAGE)
    assert (created.status_code, created.headers["Location"]) == (302, PAGE)
    stored = tenant_row(app, "acme")
    assert (stored.name, stored.deleted_at) == ("Acme Inc.", None)
    assert audited(app, "tenant.create") == [("acme", {"tenant_id": stored.id})]
    listed = text(client.get(PAGE))
    assert "Created the tenant “Acme Inc.” (acme)." in listed
    assert '<tr data-slug="acme">' in listed and '<tr data-slug="default">' in listed


@pytest.mark.parametrize(
    ("slug", "name", "status", "message"),
    [
        ("Not A Slug", "X", 400, "Slug: a slug is 1 to 63 lowercase letters"),
        ("deleted", "X", 400, "Slug: &#39;deleted&#39; is reserved"),
        ("ok", "", 400, "Name: String should have at least 1 character"),
        ("default", "Again", 409, "a tenant with the slug &#39;default&#39; exists"),
    ],
)
def test_a_refused_tenant_shows_why_and_keeps_what_was_typed(app, client, dashboard, slug, name, status, message):
    response = dashboard.post(PAGE, {"slug": slug, "name": name}, PAGE)
    assert response.status_code == status
    assert message in text(response)
    assert f'value="{slug}"' in text(response)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Tenant)) == 1


def test_soft_delete_and_recover(app, client, dashboard):
    acme = create_tenant(app, "acme")
    deleted = dashboard.post(f"{PAGE}{acme}/delete", {}, PAGE)
    assert (deleted.status_code, deleted.headers["Location"]) == (302, PAGE)
    assert tenant_row(app, "acme").deleted_at is not None
    listed = text(client.get(PAGE))
    assert listed.index('<tr data-slug="acme">') > listed.index('id="deleted-tenants"')
    assert "Deleted “acme”: hidden everywhere" in listed
    recovered = dashboard.post(f"{PAGE}{acme}/recover", {}, PAGE)
    assert recovered.status_code == 302
    assert tenant_row(app, "acme").deleted_at is None
    again = dashboard.post(f"{PAGE}{acme}/recover", {}, PAGE)
    assert (again.status_code, "tenant &#39;acme&#39; is not deleted" in text(again)) == (409, True)
    assert audited(app, "tenant.delete") == [("acme", {"tenant_id": acme, "hard": False})]
    assert audited(app, "tenant.recover") == [("acme", {"tenant_id": acme})]


def test_the_default_tenant_is_never_deleted(app, client, dashboard):
    default = tenant_row(app, "default").id
    response = dashboard.post(f"{PAGE}{default}/delete", {}, PAGE)
    assert (response.status_code, "the default tenant cannot be deleted" in text(response)) == (400, True)
    response = dashboard.post(f"{PAGE}{default}/destroy", {"confirm_slug": "default"}, PAGE)
    assert response.status_code == 400
    assert tenant_row(app, "default").deleted_at is None


@pytest.mark.parametrize("typed", ["", "acm", "ACME", "other"])
def test_hard_delete_needs_the_slug_typed_on_the_server_side(app, dashboard, typed):
    acme = create_tenant(app, "acme")
    response = dashboard.post(f"{PAGE}{acme}/destroy", {"confirm_slug": typed}, PAGE)
    assert response.status_code == 400
    assert "type &#39;acme&#39; exactly to delete this tenant" in text(response)
    assert tenant_row(app, "acme") is not None
    assert audited(app, "tenant.delete") == []


def test_hard_delete_removes_the_tenant_and_its_members(app, client, dashboard):
    acme = create_tenant(app, "acme")
    add_account(app, "boss@acme.example", {acme: "tenant_admin"})
    assert dashboard.post(f"{PAGE}{acme}/delete", {}, PAGE).status_code == 302
    response = dashboard.post(f"{PAGE}{acme}/destroy", {"confirm_slug": " acme "}, PAGE)
    assert (response.status_code, response.headers["Location"]) == (302, PAGE)
    assert tenant_row(app, "acme") is None and members_of(app, acme) == {}
    assert audited(app, "tenant.delete")[-1] == ("acme", {"tenant_id": acme, "hard": True})
    assert "Deleted “acme” and all its data for good." in text(client.get(PAGE))
    gone = dashboard.post(f"{PAGE}{acme}/destroy", {"confirm_slug": "acme"}, PAGE)
    assert (gone.status_code, "tenant &#39;" in text(gone)) == (404, True)


def test_members_and_admins_are_managed_by_e_mail_or_id(app, client, dashboard):
    acme = create_tenant(app, "acme")
    ann = add_account(app, "ann@example.com")
    bob = add_account(app, "bob@example.com")
    page = f"{PAGE}{acme}"
    added = dashboard.post(f"{page}/members", {"account": " ANN@example.com ", "role": "tenant_member"}, page)
    assert (added.status_code, added.headers["Location"]) == (302, page)
    assert dashboard.post(f"{page}/members", {"account": bob, "role": "tenant_admin"}, page).status_code == 302
    assert members_of(app, acme) == {ann: "tenant_member", bob: "tenant_admin"}
    shown = text(client.get(page))
    assert 'data-email="ann@example.com" data-role="tenant_member"' in shown
    assert "bob@example.com is a tenant admin of “acme”." in shown
    assert dashboard.post(f"{page}/members/{ann}/admin", {}, page).status_code == 302
    assert dashboard.post(f"{page}/members/{bob}/unadmin", {}, page).status_code == 302
    assert members_of(app, acme) == {ann: "tenant_admin", bob: "tenant_member"}
    assert dashboard.post(f"{page}/members/{bob}/remove", {}, page).status_code == 302
    assert members_of(app, acme) == {ann: "tenant_admin"}
    actions = ["tenant.member.add", "tenant.admin.add", "tenant.admin.remove", "tenant.member.remove"]
    assert [len(audited(app, action)) for action in actions] == [2, 1, 1, 1]


@pytest.mark.parametrize(
    ("account", "role", "status", "message"),
    [
        ("", "tenant_member", 400, "Account (e-mail or id): name an account by its e-mail address or id"),
        ("nobody@example.com", "tenant_member", 404, "no dashboard account has the e-mail address or id"),
        ("ann@example.com", "owner", 400, "Role: Not a valid choice"),
        ("ann@example.com", "tenant_member", 409, "ann@example.com is a member of &#39;acme&#39; already"),
        ("x" * 321, "tenant_member", 400, "Field cannot be longer than 320 characters"),
    ],
)
def test_a_refused_member_shows_why(app, dashboard, account, role, status, message):
    acme = create_tenant(app, "acme")
    ann = add_account(app, "ann@example.com", {acme: "tenant_member"})
    response = dashboard.post(f"{PAGE}{acme}/members", {"account": account, "role": role}, f"{PAGE}{acme}")
    assert response.status_code == status
    assert message in text(response) and 'id="new-member"' in text(response)
    assert members_of(app, acme) == {ann: "tenant_member"}


def test_a_tenant_admin_manages_its_own_tenants_members_but_not_the_last_admin(app, client, auth):
    auth.setup_admin()
    acme, other = create_tenant(app, "acme"), create_tenant(app, "other")
    boss = add_account(app, "boss@acme.example", {acme: "tenant_admin"})
    browser_like = signed_in_as(client, "boss@acme.example")
    page = f"{PAGE}{acme}"
    assert client.get(page).status_code == 200
    refused = browser_like.post(f"{page}/members/{boss}/unadmin", {}, page)
    assert refused.status_code == 409
    assert "&#39;acme&#39; would have no admin left" in text(refused) and 'id="members"' in text(refused)
    assert browser_like.post(f"{page}/members/{boss}/remove", {}, page).status_code == 409
    assert members_of(app, acme) == {boss: "tenant_admin"}
    assert client.get(f"{PAGE}{other}").status_code == 404
    taken = browser_like.post(f"{PAGE}{other}/members", {"account": boss, "role": "tenant_admin"}, page)
    assert taken.status_code == 404
    assert members_of(app, other) == {}
