"""Signing in to the dashboard in headless Chromium: first-run setup, login, logout, the cookie."""

from __future__ import annotations

import sqlalchemy as sa
from playwright.sync_api import Page, expect

from flux.auth.models import PlatformAccount
from flux.db import db
from tests.browser import sign_in
from tests.conftest import ADMIN_EMAIL, PASSWORD, SETUP_TOKEN


def _submit(page: Page, button: str) -> int:
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        page.get_by_role("button", name=button).click()
    return answer.value.status


def test_first_run_setup_creates_the_instance_admin_and_signs_in(page, live_server, live_app):
    page.goto("/dashboard/")
    expect(page).to_have_url(f"{live_server.url}/dashboard/login?next=/dashboard/")
    expect(page.get_by_role("heading")).to_have_text("Set up Fluxbase")
    page.get_by_label("E-mail").fill("Founder@Example.com")
    page.get_by_label("Name").fill("Grace")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Setup token").fill("not-the-token")
    assert _submit(page, "Create administrator") == 403
    expect(page.get_by_role("alert")).to_contain_text("Invalid setup token")
    expect(page.get_by_label("E-mail")).to_have_value("Founder@Example.com")
    with live_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PlatformAccount)) == 0

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Setup token").fill(SETUP_TOKEN)
    assert _submit(page, "Create administrator") == 302
    expect(page).to_have_url(f"{live_server.url}/dashboard/")
    expect(page.get_by_role("status")).to_have_text("Welcome! founder@example.com is the first instance administrator.")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    with live_app.app_context():
        account = db.session.scalars(sa.select(PlatformAccount)).one()
        assert (account.email, account.name, account.role) == ("founder@example.com", "Grace", "instance_admin")
        assert PASSWORD not in account.password_hash
    signin = {"email": "founder@example.com", "password": PASSWORD}
    assert live_server.api("POST", "/api/v1/admin/login", json=signin).status_code == 200

    # Setup is offered only once: after signing out, the page asks for a sign-in.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading")).to_have_text("Sign in")


def test_wrong_password_shows_an_error_and_the_right_one_opens_the_dashboard(page, live_server, live_admin):
    assert sign_in(page, password="wrong password") == 401
    expect(page.get_by_role("alert")).to_have_text("Invalid email or password")
    expect(page).to_have_url(f"{live_server.url}/dashboard/login")
    expect(page.get_by_label("E-mail")).to_have_value(ADMIN_EMAIL)

    assert sign_in(page) == 302
    expect(page).to_have_url(f"{live_server.url}/dashboard/")
    navigation = page.get_by_role("navigation")
    expect(navigation.get_by_role("link", name="Service keys")).to_be_visible()
    expect(navigation.get_by_role("link", name="Plugins")).to_be_visible()
    expect(navigation).to_contain_text(ADMIN_EMAIL)


def test_sign_in_returns_to_the_page_first_asked_for(page, live_server, live_admin):
    page.goto("/dashboard/plugins")
    expect(page).to_have_url(f"{live_server.url}/dashboard/login?next=/dashboard/plugins")
    page.get_by_label("E-mail").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/dashboard/plugins")
    expect(page.get_by_role("cell", name="dashboard", exact=True)).to_be_visible()


def test_logout_ends_the_session(signed_in_page, live_server):
    page = signed_in_page
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        page.get_by_role("button", name="Sign out").click()
    assert answer.value.status == 302
    expect(page).to_have_url(f"{live_server.url}/dashboard/login")
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto("/dashboard/service-keys/")
    expect(page).to_have_url(f"{live_server.url}/dashboard/login?next=/dashboard/service-keys/")
    expect(page.get_by_role("heading")).to_have_text("Sign in")


def test_session_cookie_is_http_only_same_site_lax_and_only_for_the_dashboard(signed_in_page, context, live_server):
    (cookie,) = [cookie for cookie in context.cookies() if cookie["name"] == "session"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/dashboard"
    assert signed_in_page.evaluate("document.cookie") == ""  # scripts cannot read it

    # The cookie never authenticates the JSON API, even when sent there on purpose.
    assert signed_in_page.request.get(f"{live_server.url}/api/v1/admin/me").status == 401
    sent = live_server.api("GET", "/api/v1/admin/me", headers={"Cookie": f"session={cookie['value']}"})
    assert sent.status_code == 401
    assert sent.json()["code"] == "AUTH_REQUIRED"


def test_a_stale_address_shows_the_dashboards_404_page_with_its_navigation(signed_in_page, live_server):
    response = signed_in_page.goto("/dashboard/service-keys/old/address")
    assert response is not None and response.status == 404
    expect(signed_in_page.get_by_role("heading", name="Error 404")).to_be_visible()
    expect(signed_in_page.get_by_role("alert")).to_have_text(
        "There is no dashboard page at /dashboard/service-keys/old/address"
    )
    expect(signed_in_page.get_by_role("navigation").get_by_role("link", name="Plugins")).to_be_visible()
    signed_in_page.get_by_role("link", name="Back to the dashboard").click()
    expect(signed_in_page).to_have_url(f"{live_server.url}/dashboard/")
