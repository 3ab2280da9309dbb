"""The Secrets page (secrets plugin) in headless Chromium, checked against the database and the runtime's view.

Every step asserts that no secret value is in the page's HTML; values are checked only
where functions read them (`store.invocation_function_secret`) and, sealed, in the tables.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import Locator, Page, expect

from flux.db import db, utcnow
from flux.tenancy import default_tenant_id, tenant_scope
from plugins.secrets import store
from plugins.secrets.models import FunctionSecret
from tests.conftest import create_tenant

PAGE = "/dashboard/secrets/"
# Random canaries: any of them in a page or a table is a leak.
VALUES = tuple(f"{use}-never-renders-{uuid.uuid4().hex}" for use in ("global", "billing", "old", "rotated", "refused"))
GLOBAL_VALUE, NAMESPACE_VALUE, OLD_VALUE, NEW_VALUE, REFUSED_VALUE = VALUES


def submit(page: Page, button: Locator) -> int:
    """Click a form's button; the status of the answer to its POST."""
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        button.click()
    return answer.value.status


def assert_no_values(page: Page) -> None:
    html = page.content()
    assert [value for value in VALUES if value in html] == []


def row_of(page: Page, name: str) -> Locator:
    return page.locator(f"#secrets tbody tr[data-name='{name}']")


def cells(row: Locator) -> list[str]:
    """Name, scope, namespace, version, expires and updated of a table row, as shown."""
    return [text.strip() for text in row.locator("td").all_inner_texts()[:6]]


def create_secret(page: Page, name: str, value: str, namespace: str = "", **fields: str) -> int:
    form = page.locator("#new-secret")
    form.get_by_label("Name", exact=True).fill(name)
    form.get_by_label("Value", exact=True).fill(value)
    form.get_by_label("Scope", exact=True).select_option("namespace" if namespace else "global")
    form.get_by_label("Namespace (for scope namespace only)").fill(namespace)
    form.get_by_label("Description", exact=True).fill(fields.get("description", ""))
    form.get_by_label("Expires on (UTC, optional)").fill(fields.get("expires_on", ""))
    return submit(page, form.get_by_role("button", name="Store secret"))


def stored_text(app) -> str:
    """Every column of both secrets tables as stored, read past the ORM."""
    with app.app_context(), db.engine.connect() as connection:
        rows = [
            *connection.execute(sa.text("SELECT * FROM function_secrets")),
            *connection.execute(sa.text("SELECT * FROM function_secret_versions")),
        ]
    return "\n".join(str(value) for row in rows for value in row)


def runtime_values(app, namespace: str = "billing") -> dict[str, str]:
    """What a function of `namespace` reads of the page's secrets, by secret name."""
    names = ("api-key", "db-password", "old-token", "forged", "bad name!")
    with app.app_context():
        tenant = default_tenant_id()
        answers = {name: store.invocation_function_secret(tenant, namespace, name, ("function",)) for name in names}
    return {name: answer["function"] for name, answer in answers.items() if answer}


def expire(app, name: str) -> None:
    """Put a secret's expiry in the past, which the page and the API refuse to do."""
    with app.app_context(), tenant_scope(default_tenant_id()):
        row = db.session.scalar(sa.select(FunctionSecret).where(FunctionSecret.name == name))
        row.expires_at = utcnow() - timedelta(hours=1)
        db.session.commit()


def test_create_list_count_filter_and_refuse_in_the_browser(signed_in_page: Page, live_app):
    page = signed_in_page
    page.get_by_role("navigation").get_by_role("link", name="Secrets").click()
    page.wait_for_url(f"**{PAGE}")
    expect(page.locator("#secrets tbody")).to_contain_text("No secrets yet.")

    assert create_secret(page, "api-key", GLOBAL_VALUE, description="Payments API") == 302
    expect(page.get_by_role("status")).to_contain_text("Stored the global “api-key” as version 1.")
    assert cells(row_of(page, "api-key"))[:5] == ["api-key\nPayments API", "global", "—", "1", "never"]
    assert page.locator("#secret-value").input_value() == ""
    assert_no_values(page)

    soon = (utcnow() + timedelta(days=3)).date().isoformat()
    assert create_secret(page, "db-password", NAMESPACE_VALUE, "billing", expires_on=soon) == 302
    expect(page.get_by_role("status")).to_contain_text("Stored “db-password” in namespace billing as version 1.")
    name, scope, namespace, version, expires, _ = cells(row_of(page, "db-password"))
    assert (name, scope, namespace, version) == ("db-password", "namespace", "billing", "1")
    assert expires == f"{soon} 00:00 expiring soon"
    assert_no_values(page)

    assert create_secret(page, "old-token", OLD_VALUE) == 302
    expire(live_app, "old-token")
    page.reload()
    expect(row_of(page, "old-token").locator(".badge.expired")).to_have_text("expired")
    expect(page.locator("#stat-total dd")).to_have_text("3")
    expect(page.locator("#stat-expiring-soon dd")).to_have_text("1")
    expect(page.locator("#stat-expired dd")).to_have_text("1")
    assert runtime_values(live_app) == {"api-key": GLOBAL_VALUE, "db-password": NAMESPACE_VALUE}  # not the expired
    assert_no_values(page)

    filters = page.get_by_role("search", name="Filter secrets")
    filters.get_by_label("Scope", exact=True).select_option("namespace")
    filters.get_by_role("button", name="Filter").click()
    page.wait_for_url("**scope=namespace**")
    expect(page.locator("#secrets tbody tr")).to_have_count(1)
    expect(row_of(page, "db-password")).to_be_visible()
    filters.get_by_label("Scope", exact=True).select_option("")
    filters.get_by_label("Name contains").fill("API")
    filters.get_by_role("button", name="Filter").click()
    page.wait_for_url("**q=API**")
    expect(page.locator("#secrets tbody tr")).to_have_count(1)
    expect(row_of(page, "api-key")).to_be_visible()
    filters.get_by_label("Name contains").fill("nothing-like-it")
    filters.get_by_role("button", name="Filter").click()
    expect(page.locator("#secrets tbody")).to_contain_text("No secret matches these filters.")
    filters.get_by_role("link", name="Show all").click()
    expect(page.locator("#secrets tbody tr")).to_have_count(3)
    expect(page.locator("#stat-total dd")).to_have_text("3")  # the cards count the whole tenant
    assert_no_values(page)

    assert create_secret(page, "bad name!", REFUSED_VALUE, "billing", description="kept", expires_on=soon) == 400
    expect(page.get_by_role("status")).to_contain_text("Name: use 1 to 128 letters")
    form = page.locator("#new-secret")
    assert form.get_by_label("Name", exact=True).input_value() == "bad name!"
    assert form.get_by_label("Scope", exact=True).input_value() == "namespace"
    assert form.get_by_label("Namespace (for scope namespace only)").input_value() == "billing"
    assert form.get_by_label("Description", exact=True).input_value() == "kept"
    assert form.get_by_label("Expires on (UTC, optional)").input_value() == soon
    assert form.get_by_label("Value", exact=True).input_value() == ""
    assert_no_values(page)

    stored = stored_text(live_app)
    assert [value for value in VALUES if value in stored] == []
    assert "fx1:" in stored and "bad name!" not in stored


def test_edit_history_rollback_and_delete_in_the_browser(signed_in_page: Page, live_server, live_admin, live_app):
    headers = {"Authorization": f"Bearer {live_admin['access_token']}"}
    for body in (
        {"name": "api-key", "value": GLOBAL_VALUE},
        {"name": "db-password", "value": NAMESPACE_VALUE, "namespace": "billing", "expires_at": "2099-01-01T00:00:00Z"},
    ):
        assert live_server.api("POST", "/api/v1/secrets", json=body, headers=headers).status_code == 201
    page = signed_in_page
    page.goto(PAGE)

    row = row_of(page, "api-key")
    row.locator("summary").click()
    row.get_by_label("New value (empty keeps the current one)").fill(NEW_VALUE)
    assert submit(page, row.get_by_role("button", name="Save changes")) == 302
    expect(page.get_by_role("status")).to_contain_text("Updated the global “api-key”; it is at version 2.")
    assert cells(row)[3] == "2"
    assert runtime_values(live_app)["api-key"] == NEW_VALUE
    assert_no_values(page)

    row.locator("summary").click()
    row.get_by_label("Description", exact=True).fill("Rotated monthly")
    assert submit(page, row.get_by_role("button", name="Save changes")) == 302
    assert cells(row)[0] == "api-key\nRotated monthly"
    assert cells(row)[3] == "2"  # no new value, no new version
    row.locator("summary").click()
    assert submit(page, row.get_by_role("button", name="Save changes")) == 400
    expect(page.get_by_role("status")).to_contain_text("nothing to change")
    assert_no_values(page)

    row.get_by_role("link", name="History").click()
    page.wait_for_url("**/history")
    expect(page.get_by_role("heading", level=1)).to_have_text("History of api-key")
    versions = page.locator("#versions tbody tr")
    assert [cell.split("\t")[0] for cell in versions.all_inner_texts()] == ["2", "1"]
    expect(versions.nth(0)).to_contain_text("current")
    assert submit(page, page.get_by_role("button", name="Roll back to version 1")) == 302
    page.wait_for_url("**/history")
    expect(page.get_by_role("status")).to_contain_text("back to version 1; that value is version 3 now.")
    assert [cell.split("\t")[0] for cell in versions.all_inner_texts()] == ["3", "2", "1"]
    expect(versions.nth(0)).to_contain_text("current")
    expect(page.get_by_role("button", name="Roll back to version 2")).to_be_visible()
    assert runtime_values(live_app)["api-key"] == GLOBAL_VALUE
    assert_no_values(page)

    page.get_by_role("link", name="All secrets").click()
    row = row_of(page, "db-password")
    assert cells(row)[4] == "2099-01-01 00:00"
    row.locator("summary").click()
    row.get_by_label("Expires on (UTC; empty: never)").fill("")
    assert submit(page, row.get_by_role("button", name="Save changes")) == 302
    assert cells(row)[3:5] == ["1", "never"]

    row.locator("summary").click()
    row.get_by_label("Delete it and its whole history").check()
    assert submit(page, row.get_by_role("button", name="Delete")) == 302
    expect(page.get_by_role("status")).to_contain_text("Deleted “db-password” in namespace billing and its history.")
    expect(row).to_have_count(0)
    expect(page.locator("#stat-total dd")).to_have_text("1")
    assert_no_values(page)

    forged = page.request.post(PAGE, form={"name": "forged", "value": REFUSED_VALUE, "scope": "global"})
    assert forged.status == 400
    assert "The CSRF token is missing." in forged.text()

    assert runtime_values(live_app) == {"api-key": GLOBAL_VALUE}
    stored = stored_text(live_app)
    assert [value for value in VALUES if value in stored] == []
    assert "db-password" not in stored and "forged" not in stored


def stored_secrets(app) -> list[FunctionSecret]:
    with app.app_context():
        return list(db.session.scalars(sa.select(FunctionSecret).execution_options(all_tenants=True)))


def new_secret(dashboard, **fields: str):
    return dashboard.post(PAGE, {"name": "api-key", "value": GLOBAL_VALUE, "scope": "global", **fields}, PAGE)


def test_deleting_needs_the_confirmation(app, dashboard):
    assert new_secret(dashboard).status_code == 302
    (row,) = stored_secrets(app)
    refused = dashboard.post(f"{PAGE}{row.id}/delete", {}, PAGE)
    assert refused.status_code == 400
    assert "tick the box to confirm deleting the global “api-key”" in refused.get_data(as_text=True)
    assert len(stored_secrets(app)) == 1
    assert dashboard.post(f"{PAGE}{row.id}/delete", {"confirm": "yes"}, PAGE).status_code == 302
    assert stored_secrets(app) == []


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"expires_at": utcnow().date().isoformat()}, 400, "Expires on: must be in the future"),
        ({"expires_at": "next week"}, 400, "the expiry must be a day"),
        ({"expires_at": "9999-12-31T23:59:59-23:59"}, 400, "the expiry must be a day"),
        ({"namespace": "billing"}, 400, "a global secret has no namespace"),
        ({"scope": "namespace"}, 400, "scope &#39;namespace&#39; needs a namespace"),
        ({"value": ""}, 400, "Value: is required"),
        ({"value": "x" * (64 * 1024 + 1)}, 413, "at most 65536 are allowed"),
    ],
)
def test_refused_input_stores_nothing(app, dashboard, fields, status, message):
    response = new_secret(dashboard, **fields)
    assert (response.status_code, message in response.get_data(as_text=True)) == (status, True)
    assert stored_secrets(app) == []


def test_a_taken_name_is_a_conflict_and_the_value_is_not_echoed(app, dashboard):
    assert new_secret(dashboard).status_code == 302
    again = new_secret(dashboard, description="second try")
    html = again.get_data(as_text=True)
    assert again.status_code == 409
    assert "already exists in global scope" in html and "second try" in html and GLOBAL_VALUE not in html


def test_secrets_of_other_tenants_are_not_found(app, client, dashboard):
    other = create_tenant(app, "acme")
    with app.app_context(), tenant_scope(other):
        row = FunctionSecret(
            tenant_id=other, name="theirs", env_name="FLUXBASE_SECRET_THEIRS", scope="global", encrypted_value="x"
        )
        db.session.add(row)
        db.session.commit()
        secret_id = row.id
    assert client.get(f"{PAGE}{secret_id}/history").status_code == 404
    assert dashboard.post(f"{PAGE}{secret_id}/rollback/1", {}, PAGE).status_code == 404
    assert dashboard.post(f"{PAGE}{secret_id}/delete", {"confirm": "yes"}, PAGE).status_code == 404
    assert "theirs" not in client.get(PAGE).get_data(as_text=True)


def test_an_unknown_scope_filter_shows_every_scope(client, dashboard):
    assert new_secret(dashboard).status_code == 302
    response = client.get(f"{PAGE}?scope=everything&q=API")
    assert response.status_code == 200
    assert 'data-name="api-key"' in response.get_data(as_text=True)
    assert '<option value="" selected>All scopes</option>' in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("version", "status", "message"),
    [("9", 404, "has no version 9"), ("99999999999", 400, "version: must be a whole number from 1")],
)
def test_a_bad_version_is_refused_on_the_history_page(app, dashboard, version, status, message):
    assert new_secret(dashboard).status_code == 302
    (row,) = stored_secrets(app)
    response = dashboard.post(f"{PAGE}{row.id}/rollback/{version}", {}, PAGE)
    assert (response.status_code, message in response.get_data(as_text=True)) == (status, True)
    assert "History of <code>api-key</code>" in response.get_data(as_text=True)
    assert stored_secrets(app)[0].version == 1
