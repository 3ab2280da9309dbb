"""The Tenants page and the tenant switcher in headless Chromium against `fluxbase serve`, checked in the database."""

from __future__ import annotations

import sqlalchemy as sa
from playwright.sync_api import Page, expect

from flux.db import db
from flux.tenancy import Tenant
from plugins.secrets.models import FunctionSecret
from tests.browser import sign_in
from tests.conftest import create_tenant
from tests.tenants.test_dashboard_switcher import secret_tenants
from tests.tenants.test_dashboard_tenants_page import add_account, members_of

TENANTS = "/dashboard/tenants/"
SECRETS = "/dashboard/secrets/"


def submit(page: Page, button) -> int:
    """Click a form's button; the status of the answer to its POST."""
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        button.click()
    return answer.value.status


def switch_to(page: Page, label: str) -> int:
    page.locator("#tenant-switcher select").select_option(label=label)
    return submit(page, page.locator("#tenant-switcher").get_by_role("button", name="Switch"))


def tenant_state(app, slug: str) -> str:
    """`live`, `deleted` or `gone`, as stored."""
    with app.app_context():
        row = db.session.scalar(sa.select(Tenant).where(Tenant.slug == slug))
        return "gone" if row is None else "live" if row.deleted_at is None else "deleted"


def delete_for_good(page: Page, slug: str, typed: str) -> int:
    """Open a live tenant's "Delete for good", type `typed` as the confirmation and submit."""
    row = page.locator(f"#live-tenants tr[data-slug='{slug}']")
    row.get_by_text("Delete for good").click()
    row.get_by_label(f"Type “{slug}” to confirm").fill(typed)
    return submit(page, row.get_by_role("button", name=f"Delete “{slug}” and all its data"))


def new_secret(page: Page, name: str) -> int:
    form = page.locator("#new-secret")
    form.get_by_label("Name", exact=True).fill(name)
    form.get_by_label("Value", exact=True).fill("v")
    return submit(page, form.get_by_role("button", name="Store secret"))


def test_an_instance_admin_creates_a_tenant_switches_to_it_and_sees_its_data(signed_in_page: Page, live_app):
    page = signed_in_page
    expect(page.locator("#tenant-switcher")).to_have_count(0)
    page.get_by_role("navigation").get_by_role("link", name="Tenants").click()
    form = page.locator("#new-tenant")
    form.get_by_label("Slug").fill("Bad Slug")
    form.get_by_label("Name").fill("Acme")
    assert submit(page, form.get_by_role("button", name="Create tenant")) == 400
    expect(page.locator(".flash.error")).to_contain_text("Slug: a slug is 1 to 63 lowercase letters")
    page.locator("#new-tenant").get_by_label("Slug").fill("acme")
    assert submit(page, page.locator("#new-tenant").get_by_role("button", name="Create tenant")) == 302
    expect(page.locator("#live-tenants tr[data-slug='acme']")).to_contain_text("Acme")
    assert tenant_state(live_app, "acme") == "live"

    assert switch_to(page, "Acme (acme)") == 302
    expect(page.locator(".flash.success")).to_contain_text("You are working in the tenant “Acme” (acme) now.")
    page.goto(SECRETS)
    expect(page.locator("main")).to_contain_text("Function secrets of the tenant Acme")
    assert new_secret(page, "acme-only") == 302
    expect(page.locator("#secrets tr[data-name='acme-only']")).to_have_count(1)
    with live_app.app_context():
        acme = db.session.scalar(sa.select(Tenant.id).where(Tenant.slug == "acme"))
    assert secret_tenants(live_app) == {"acme-only": acme}

    assert switch_to(page, "Default (default)") == 302
    page.goto(SECRETS)
    expect(page.locator("#secrets tr[data-name='acme-only']")).to_have_count(0)
    expect(page.locator("#tenant-switcher select")).to_have_value(
        page.locator("#tenant-switcher option", has_text="Default").get_attribute("value")
    )


def test_members_soft_delete_recover_and_hard_delete_in_the_browser(signed_in_page: Page, live_app):
    page = signed_in_page
    acme = create_tenant(live_app, "acme")
    ann = add_account(live_app, "ann@example.com")
    page.goto(TENANTS)
    page.locator("#live-tenants tr[data-slug='acme']").get_by_role("link", name="Members").click()
    form = page.locator("#new-member")
    form.get_by_label("Account (e-mail or id)").fill("nobody@example.com")
    assert submit(page, form.get_by_role("button", name="Add member")) == 404
    expect(page.locator(".flash.error")).to_contain_text("no dashboard account has the e-mail address or id")
    page.locator("#new-member").get_by_label("Account (e-mail or id)").fill("ann@example.com")
    page.locator("#new-member").get_by_label("Role").select_option("tenant_admin")
    assert submit(page, page.locator("#new-member").get_by_role("button", name="Add member")) == 302
    expect(page.locator("#members tr[data-email='ann@example.com']")).to_contain_text("tenant admin")
    assert members_of(live_app, acme) == {ann: "tenant_admin"}

    page.goto(TENANTS)
    row = page.locator("#live-tenants tr[data-slug='acme']")
    assert submit(page, row.get_by_role("button", name="Delete", exact=True)) == 302
    assert tenant_state(live_app, "acme") == "deleted"
    deleted = page.locator("#deleted-tenants tr[data-slug='acme']")
    assert submit(page, deleted.get_by_role("button", name="Recover")) == 302
    assert tenant_state(live_app, "acme") == "live"

    assert delete_for_good(page, "acme", typed="acm") == 400
    expect(page.locator(".flash.error")).to_contain_text("type 'acme' exactly")
    assert tenant_state(live_app, "acme") == "live"
    assert delete_for_good(page, "acme", typed="acme") == 302
    expect(page.locator(".flash.success")).to_contain_text("Deleted “acme” and all its data for good.")
    assert tenant_state(live_app, "acme") == "gone" and members_of(live_app, acme) == {}


def test_a_forged_switch_is_refused_in_the_browser(page: Page, live_admin, live_app):
    acme, beta, other = (create_tenant(live_app, slug) for slug in ("acme", "beta", "other"))
    add_account(live_app, "boss@acme.example", {acme: "tenant_admin", beta: "tenant_admin"})
    with live_app.app_context():
        for tenant_id, name in ((acme, "acme-secret"), (other, "other-secret")):
            db.session.add(
                FunctionSecret(
                    tenant_id=tenant_id, name=name, env_name=f"X_{tenant_id[:8]}", scope="global", encrypted_value="x"
                )
            )
        db.session.commit()
    assert sign_in(page, "boss@acme.example") == 302
    page.goto(SECRETS)
    expect(page.locator("#tenant-switcher option")).to_have_count(2)
    # What a hand-edited form would post: a tenant the account is no member of.
    page.locator("#tenant-switcher option").first.evaluate(f"option => option.value = '{other}'")
    assert submit(page, page.locator("#tenant-switcher").get_by_role("button", name="Switch")) == 404
    page.goto(SECRETS)
    expect(page.locator("#secrets tr[data-name='acme-secret']")).to_have_count(1)
    expect(page.locator("#secrets tr[data-name='other-secret']")).to_have_count(0)
