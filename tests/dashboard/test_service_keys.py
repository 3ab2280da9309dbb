"""The service-key page in headless Chromium, checked against the real API and the database."""

from __future__ import annotations

import sqlalchemy as sa
from playwright.sync_api import Page, expect

from flux.auth.models import ServiceKey, ServiceKeyEvent
from flux.auth.tokens import token_hash
from flux.db import db

LIST_PATH = "/dashboard/service-keys/"


def create_key(page: Page, name: str, *scopes: str) -> str:
    """Fill in the "New key" form; the plaintext key the answer shows."""
    page.goto(LIST_PATH)
    page.get_by_label("Name", exact=True).fill(name)
    for scope in scopes:
        page.get_by_label(scope, exact=True).check()
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        page.get_by_role("button", name="Create key").click()
    assert answer.value.status == 201
    expect(page.get_by_role("status")).to_have_text(f"Created the key “{name}”.")
    return page.locator("#new-key code").inner_text()


def key_row(page: Page, name: str, status: str | None = None):
    rows = page.locator("#keys tbody tr", has_text=name)
    return rows.filter(has=page.locator(".badge", has_text=status)) if status else rows


def api_status(live_server, key: str) -> int:
    return live_server.api("GET", "/api/v1/admin/service-keys", headers={"X-Service-Key": key}).status_code


def stored_keys(live_app) -> list[ServiceKey]:
    with live_app.app_context():
        query = sa.select(ServiceKey).order_by(ServiceKey.created_at).execution_options(all_tenants=True)
        return list(db.session.scalars(query))


def test_a_new_key_is_shown_once_and_works_against_the_api(signed_in_page, context, live_server, live_app):
    page = signed_in_page
    plaintext = create_key(page, "deploy-bot", "service_keys:read", "secrets:read")
    assert plaintext.startswith("fbk_")
    expect(page.locator("#new-key")).to_contain_text("Copy the new key for “deploy-bot” now")
    expect(key_row(page, "deploy-bot", "active")).to_contain_text("secrets:read, service_keys:read")

    (stored,) = stored_keys(live_app)
    assert (stored.name, stored.scopes) == ("deploy-bot", ["secrets:read", "service_keys:read"])
    assert stored.key_hash == token_hash(plaintext)
    assert plaintext.startswith(f"fbk_{stored.prefix}_")
    expect(key_row(page, "deploy-bot")).to_contain_text(f"fbk_{stored.prefix}…")
    (cookie,) = [cookie["value"] for cookie in context.cookies() if cookie["name"] == "session"]
    session = live_app.session_interface.get_signing_serializer(live_app).loads(cookie)
    assert plaintext not in repr(session)

    # Reloading neither posts the form again nor shows the key again.
    page.reload()
    expect(page.locator("#keys tbody tr")).to_have_count(1)
    expect(page.locator("#new-key")).to_have_count(0)
    assert plaintext not in page.content()
    assert len(stored_keys(live_app)) == 1

    response = live_server.api("GET", "/api/v1/admin/service-keys", headers={"X-Service-Key": plaintext})
    assert response.status_code == 200
    assert [key["name"] for key in response.json()] == ["deploy-bot"]


def test_disable_and_enable_a_key(signed_in_page, live_server, live_app):
    page = signed_in_page
    plaintext = create_key(page, "nightly", "service_keys:read")
    key_row(page, "nightly").get_by_role("button", name="Disable").click()
    expect(page.get_by_role("status")).to_have_text("The key “nightly” is disabled.")
    expect(key_row(page, "nightly", "disabled")).to_have_count(1)
    assert [key.enabled for key in stored_keys(live_app)] == [False]
    assert api_status(live_server, plaintext) == 401

    key_row(page, "nightly").get_by_role("button", name="Enable").click()
    expect(page.get_by_role("status")).to_have_text("The key “nightly” is enabled.")
    expect(key_row(page, "nightly", "active")).to_have_count(1)
    assert api_status(live_server, plaintext) == 200


def test_rotate_shows_the_new_key_once_and_keeps_the_old_one_in_grace(signed_in_page, live_server, live_app):
    page = signed_in_page
    old = create_key(page, "worker", "service_keys:read")
    page.reload()
    row = key_row(page, "worker")
    row.get_by_text("Rotate or revoke").click()
    row.get_by_label("Old key keeps working").select_option(label="for 1 day")
    row.get_by_placeholder("Reason (optional)").fill("yearly rotation")
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        row.get_by_role("button", name="Rotate").click()
    assert answer.value.status == 201
    expect(page.get_by_role("status")).to_have_text("Rotated “worker”; the old key is deprecated now.")
    new = page.locator("#new-key code").inner_text()
    assert new.startswith("fbk_") and new != old
    expect(key_row(page, "worker", "deprecated")).to_have_count(1)
    expect(key_row(page, "worker", "active")).to_have_count(1)

    previous, current = stored_keys(live_app)
    assert previous.replaced_by == current.id
    assert current.key_hash == token_hash(new)
    assert api_status(live_server, new) == 200
    assert api_status(live_server, old) == 200  # still within its day of grace

    page.reload()
    expect(page.locator("#new-key")).to_have_count(0)
    assert new not in page.content()


def test_revoke_stops_the_key_at_once(signed_in_page, live_server, live_app):
    page = signed_in_page
    plaintext = create_key(page, "ci", "service_keys:read")
    assert api_status(live_server, plaintext) == 200
    page.reload()
    row = key_row(page, "ci")
    row.get_by_text("Rotate or revoke").click()
    row.get_by_label("Reason for revoking").fill("leaked in a CI log")
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("status")).to_have_text("The key “ci” is revoked and stops working now.")
    expect(key_row(page, "ci", "revoked")).to_contain_text("leaked in a CI log")
    expect(key_row(page, "ci").get_by_role("button")).to_have_count(0)

    response = live_server.api("GET", "/api/v1/admin/service-keys", headers={"X-Service-Key": plaintext})
    assert response.status_code == 401
    assert response.json()["code"] == "INVALID_SERVICE_KEY"
    (stored,) = stored_keys(live_app)
    assert stored.revoked_reason == "leaked in a CI log"
    with live_app.app_context():
        events = db.session.scalars(sa.select(ServiceKeyEvent).execution_options(all_tenants=True)).all()
        assert [(event.action, event.reason, event.key_id) for event in events] == [
            ("revoked", "leaked in a CI log", stored.id)
        ]
