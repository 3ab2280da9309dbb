"""The System settings page (settings plugin) in headless Chromium, against the API and the database."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.settings.conftest import stored_settings

PAGE = "/dashboard/settings/"
SECRET = "stripe-live-key-that-never-renders-4410"


def submit(page: Page, button: str) -> int:
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        page.get_by_role("button", name=button).click()
    return answer.value.status


def test_settings_and_write_only_secrets_in_the_browser(signed_in_page: Page, live_server, live_app):
    page = signed_in_page
    page.get_by_role("navigation").get_by_role("link", name="System settings").click()
    page.wait_for_url(f"**{PAGE}")

    page.locator("#setting-key").fill("ui/theme")
    page.locator("#setting-value").fill('{"mode": "dark"}')
    page.get_by_label("Public (readable without signing in)").check()
    assert submit(page, "Create setting") == 302
    expect(page.get_by_role("status")).to_contain_text("Created the setting “ui/theme”.")
    expect(page.locator("#settings tbody tr[data-key='ui/theme']")).to_be_visible()
    public = live_server.api("GET", "/api/v1/settings/ui/theme")
    assert (public.status_code, public.json()) == (200, {"key": "ui/theme", "value": {"mode": "dark"}})

    page.locator("#secret-key").fill("stripe/key")
    page.locator("#secret-value").fill(SECRET)
    assert submit(page, "Store secret") == 302
    expect(page.locator("#secrets tbody tr[data-key='stripe/key']")).to_be_visible()
    assert SECRET not in page.content()
    assert page.locator("#secret-value").input_value() == ""
    row = stored_settings(live_app)["stripe/key"]
    assert row.is_secret and row.value is None and SECRET not in (row.encrypted_value or "")

    page.locator("#secrets tbody tr[data-key='stripe/key']").get_by_role("button", name="Delete").click()
    expect(page.locator("#secrets tbody tr[data-key='stripe/key']")).to_have_count(0)
    assert "stripe/key" not in stored_settings(live_app)
