"""The Tenant settings and Feature flags pages in headless Chromium against `fluxbase serve`, checked by the API."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from tests.flags.test_dashboard_flags_page import RULE
from tests.live_server import LiveServer
from tests.tenants.test_dashboard_browser import submit

SETTINGS, FLAGS = "/dashboard/tenant-settings/", "/dashboard/flags/"


def api(server: LiveServer, admin: dict, method: str, path: str, **kwargs):
    return server.api(method, path, headers={"Authorization": f"Bearer {admin['access_token']}"}, **kwargs)


def min_length(server: LiveServer, admin: dict) -> int:
    return api(server, admin, "GET", "/api/v1/admin/settings/authentication").json()["password_policy"]["min_length"]


def preview(page: Page, value: str) -> int:
    """Type a new `password_policy.min_length` into the authentication form and ask for the review."""
    page.goto(SETTINGS)
    section = page.locator("#category-authentication")
    section.get_by_label("password_policy.min_length", exact=True).fill(value)
    return submit(page, section.get_by_role("button", name="Review changes"))


def test_a_setting_is_reviewed_then_confirmed(signed_in_page: Page, live_server, live_admin):
    page = signed_in_page
    page.get_by_role("navigation").get_by_role("link", name="Tenant settings").click()
    expect(page.locator('#category-authentication [data-path="password_policy.min_length"]')).to_contain_text("default")
    assert preview(page, "12") == 200
    expect(page.locator("#changes li")).to_have_text(["password_policy.min_length: 8 → 12"])
    assert min_length(live_server, live_admin) == 8
    assert submit(page, page.get_by_role("button", name="Confirm")) == 302
    expect(page.locator(".flash.success")).to_contain_text("Saved “authentication”: 1 changed.")
    assert min_length(live_server, live_admin) == 12
    field = page.locator('#category-authentication [data-path="password_policy.min_length"]')
    expect(field.get_by_role("spinbutton")).to_have_value("12")
    expect(field).to_contain_text("stored")

    assert preview(page, "0") == 400
    expect(page.locator(".flash.error")).to_contain_text("authentication.password_policy.min_length: Input should be")
    assert min_length(live_server, live_admin) == 12


def test_a_confirm_after_a_change_made_meanwhile_is_refused(signed_in_page: Page, live_server, live_admin):
    page = signed_in_page
    assert preview(page, "12") == 200
    changed = api(
        live_server, live_admin, "PUT", "/api/v1/admin/settings/authentication", json={"lockout": {"max_attempts": 3}}
    )
    assert changed.status_code == 200
    assert submit(page, page.get_by_role("button", name="Confirm")) == 412
    expect(page.locator(".flash.error")).to_contain_text("changed meanwhile by someone else: review them again")
    assert min_length(live_server, live_admin) == 8
    section = page.locator("#category-authentication")
    expect(section.get_by_label("lockout.max_attempts", exact=True)).to_have_value("3")


def test_a_declared_flag_is_switched_in_the_browser(signed_in_page: Page, live_server, live_admin):
    page = signed_in_page
    page.goto(FLAGS)
    row = page.locator("#declared-flags tr[data-key='passwordless_enabled']")
    expect(row).to_contain_text("off")
    assert submit(page, row.get_by_role("button", name="Turn on")) == 302
    expect(page.locator("#declared-flags tr[data-key='passwordless_enabled']")).to_have_attribute(
        "data-enabled", "true"
    )
    flags = api(live_server, live_admin, "GET", "/api/v1/admin/settings/feature-flags").json()["flags"]
    assert {flag["key"]: flag["enabled"] for flag in flags}["passwordless_enabled"] is True


def test_a_custom_flag_with_a_rule_and_a_rollout_is_made_in_the_browser(signed_in_page: Page, live_server, live_admin):
    page = signed_in_page
    page.goto(FLAGS)
    form = page.locator("#new-flag")
    form.get_by_label("Key", exact=True).fill("checkout")
    form.get_by_label("Rules (JSON list)").fill(json.dumps([{**RULE, "variant": "blue"}]))
    form.get_by_label("Weight of on").fill("30")
    form.get_by_label("Weight of off").fill("70")
    assert submit(page, form.get_by_role("button", name="Create flag")) == 400
    expect(page.locator(".flash.error")).to_contain_text("rules.0.variant: 'blue' is not a variant of this flag")
    page.locator("#new-flag").get_by_label("Rules (JSON list)").fill(json.dumps([RULE]))
    assert submit(page, page.locator("#new-flag").get_by_role("button", name="Create flag")) == 302
    expect(page.locator("h1")).to_contain_text("checkout")
    expect(page.locator("#edit-flag").get_by_label("Weight of on")).to_have_value("30")

    def evaluate(context: dict) -> dict:
        body = {"context": {"targetingKey": "user-1", **context}}
        return api(live_server, live_admin, "POST", "/ofrep/v1/evaluate/flags/checkout", json=body).json()

    matched = evaluate({"email": "ann@acme.com"})
    assert (matched["value"], matched["reason"], matched["variant"]) == (True, "TARGETING_MATCH", "on")
    assert evaluate({"email": "bob@example.com"})["reason"] == "SPLIT"
    stored = api(live_server, live_admin, "GET", "/api/v1/admin/flags/checkout").json()
    assert stored["rollout"] == [{"variant": "on", "weight": 30}, {"variant": "off", "weight": 70}]
