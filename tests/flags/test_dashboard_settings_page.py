"""The dashboard's Tenant settings page (flags plugin) through the Flask test client: form, diff, confirm, reset."""

from __future__ import annotations

import html
import re

import pytest

from flux import tenant_settings
from tests.conftest import ADMIN_EMAIL, PASSWORD, AuthActions, DashboardClient, create_tenant, login
from tests.flags.test_settings_api import V1, audits, default_tenant, stored
from tests.tenants.test_dashboard_tenants_page import add_account, signed_in_as

PAGE = "/dashboard/tenant-settings/"
AUTH = f"{PAGE}authentication"
CHOICES = {"mfa.methods"}  # the category's one list of a Literal's values: checkboxes, not lines


def text(response) -> str:
    return response.get_data(as_text=True)


def etag_in(page: str, category: str = "authentication") -> str:
    section = page[page.index(f'id="category-{category}"') :]
    return re.search(r'name="etag" value="([^"]+)"', section).group(1)


def form_of(values: dict, **changed) -> dict:
    """What the category's form posts when showing `values` (nested, as the API answers), with `changed` leaves."""
    data: dict = {}
    for path, value in {**tenant_settings.flatten(values), **changed}.items():
        if value is True:
            data[path] = "y"
        elif isinstance(value, list):
            data[path] = value if path in CHOICES else "\n".join(value)
        elif value is not False:
            data[path] = str(value)
    return data


def current(client, headers, category: str = "authentication") -> dict:
    return client.get(f"{V1}/{category}", headers=headers).json


def preview(dashboard: DashboardClient, client, headers, category: str = "authentication", **changed):
    """Post a category's form as the page shows it, with `changed` leaves; the answer and the page's ETag."""
    etag = etag_in(text(client.get(PAGE)), category)
    data = {**form_of(current(client, headers, category), **changed), "etag": etag}
    return dashboard.post(f"{PAGE}{category}/preview", data), etag


def confirm_data(page: str) -> dict:
    """The hidden fields of the preview page's Confirm form."""
    fields = dict(re.findall(r'<input type="hidden" name="(etag|updates)" value="([^"]*)"', page))
    return {name: html.unescape(value) for name, value in fields.items()}


@pytest.fixture
def headers(client, dashboard) -> dict:
    return login(client, ADMIN_EMAIL)


def audited(app, tenant_id: str | None = None) -> list[dict]:
    """The details of every `settings.update` record of the tenant (the default one unless named)."""
    return [record.details for record in audits(app, tenant_id or default_tenant(app))]


def test_every_category_is_a_form_of_its_leaves_with_their_sources(make_app, monkeypatch):
    monkeypatch.setenv("FLUXBASE_SETTINGS_TOKENS_ACCESS_TOKEN_LIFETIME", "600")
    client = make_app().test_client()
    AuthActions(client).setup_admin()
    DashboardClient(client).sign_in()
    headers = login(client, ADMIN_EMAIL)
    client.put(f"{V1}/branding", json={"company_name": "Acme"}, headers=headers)
    page = text(client.get(PAGE))
    for name in ("authentication", "branding", "compliance", "email", "security", "tokens", "webhooks"):
        assert f'id="category-{name}"' in page
    assert '<input type="number" id="tokens-access_token_lifetime" name="access_token_lifetime" value="600">' in page
    assert 'name="password_policy.require_uppercase" checked>' in page
    assert 'name="mfa.methods" value="totp" checked>' in page and 'name="mfa.methods" value="webauthn">' in page
    assert '<textarea id="security-allowed_origins" name="allowed_origins"' in page
    sources = dict(re.findall(r'<div data-path="([^"]+)">.*?data-source="(\w+)"', page, re.S))
    assert sources["company_name"] == "stored"
    assert sources["access_token_lifetime"] == "environment"
    assert sources["password_policy.min_length"] == "default"


def test_saving_shows_the_diff_and_confirming_applies_it(app, client, dashboard, headers):
    answer, etag = preview(dashboard, client, headers, **{"password_policy.min_length": 12, "mfa.methods": ["totp"]})
    page = text(answer)
    assert answer.status_code == 200
    assert "<code>password_policy.min_length</code>: 8 → 12" in page
    assert '<code>mfa.methods</code>: ["totp", "sms", "email"] → ["totp"]' in page
    assert page.count("<li data-path=") == 2  # the unchanged leaves are not sent
    assert current(client, headers)["password_policy"]["min_length"] == 8  # nothing stored yet
    fields = confirm_data(page)
    assert fields["etag"] == etag
    done = dashboard.post(f"{AUTH}/confirm", fields)
    assert (done.status_code, done.headers["Location"]) == (302, PAGE)
    assert "Saved “authentication”: 2 changed." in text(client.get(PAGE))
    values = current(client, headers)
    assert (values["password_policy"]["min_length"], values["mfa"]["methods"]) == (12, ["totp"])
    written = {"authentication.password_policy.min_length", "authentication.mfa.methods"}
    assert set(stored(app, default_tenant(app))) == written
    assert audited(app)[-1]["changes"]["password_policy.min_length"] == {"old": 8, "new": 12}


def test_a_list_is_one_item_per_line(client, dashboard, headers):
    origins = ["https://a.example", "https://b.example:8443"]
    answer, _ = preview(dashboard, client, headers, "security", allowed_origins=origins)
    assert '<code>allowed_origins</code>: [] → ["https://a.example", "https://b.example:8443"]' in text(answer)
    assert dashboard.post(f"{PAGE}security/confirm", confirm_data(text(answer))).status_code == 302
    assert current(client, headers, "security")["allowed_origins"] == origins
    refused, _ = preview(dashboard, client, headers, "security", allowed_origins=[*origins, "ftp://c"])
    assert refused.status_code == 400 and "security.allowed_origins.2: &#39;ftp://c&#39; is not an origin" in text(
        refused
    )


def test_an_unchanged_form_has_nothing_to_change(app, client, dashboard, headers):
    client.put(f"{V1}/authentication", json={"mfa": {"methods": ["email", "totp"]}}, headers=headers)
    audits_before = audited(app)
    answer, _ = preview(dashboard, client, headers, **{"mfa.methods": ["totp", "email"]})  # the page's order
    assert (answer.status_code, answer.headers["Location"]) == (302, PAGE)
    assert "Nothing to change in “authentication”" in text(client.get(PAGE))
    assert audited(app) == audits_before


def test_a_change_made_meanwhile_is_refused_not_overwritten(app, client, dashboard, headers):
    answer, _ = preview(dashboard, client, headers, **{"password_policy.min_length": 12})
    client.put(f"{V1}/authentication", json={"lockout": {"max_attempts": 3}}, headers=headers)
    refused = dashboard.post(f"{AUTH}/confirm", confirm_data(text(answer)))
    assert refused.status_code == 412
    assert "changed meanwhile by someone else: review them again" in text(refused)
    values = current(client, headers)
    assert (values["password_policy"]["min_length"], values["lockout"]["max_attempts"]) == (8, 3)
    assert etag_in(text(refused)) == tenant_settings.etag_of(values)  # the page shows the values to review


@pytest.mark.parametrize(
    ("changed", "message"),
    [
        ({"password_policy.min_length": 0}, "authentication.password_policy.min_length: Input should be greater"),
        ({"password_policy.min_length": "twelve"}, "authentication.password_policy.min_length: must be a whole number"),
        ({"mfa.methods": ["totp", "pigeon"]}, "authentication.mfa.methods.1: Input should be"),
    ],
)
def test_invalid_input_is_shown_on_the_form_and_changes_nothing(app, client, dashboard, headers, changed, message):
    answer, _ = preview(dashboard, client, headers, **changed)
    assert answer.status_code == 400
    assert message in html.unescape(text(answer))
    if "twelve" in str(changed):
        assert 'name="password_policy.min_length" value="twelve"' in text(answer)  # what was typed is kept
    assert current(client, headers)["password_policy"]["min_length"] == 8 and audited(app) == []


def test_tampered_updates_meet_the_apis_rules(app, client, dashboard, headers):
    etag = etag_in(text(client.get(PAGE)))
    unknown = dashboard.post(f"{AUTH}/confirm", {"etag": etag, "updates": '{"password_policy.nope": 1}'})
    assert unknown.status_code == 400 and "authentication.password_policy.nope: no such setting" in text(unknown)
    missing = dashboard.post(f"{AUTH}/confirm", {"etag": etag})
    assert missing.status_code == 400 and "the reviewed changes are missing" in text(missing)
    no_tag = dashboard.post(f"{AUTH}/confirm", {"updates": '{"password_policy.min_length": 9}'})
    assert no_tag.status_code == 412
    assert dashboard.post(f"{PAGE}nope/preview", {}).status_code == 404
    assert current(client, headers)["password_policy"]["min_length"] == 8 and audited(app) == []


def test_reset_to_defaults_needs_the_current_etag(app, client, dashboard, headers):
    client.put(f"{V1}/authentication", json={"password_policy": {"min_length": 12}}, headers=headers)
    stale = dashboard.post(f"{AUTH}/reset", {"etag": tenant_settings.etag_of({})})
    assert stale.status_code == 412 and current(client, headers)["password_policy"]["min_length"] == 12
    done = dashboard.post(f"{AUTH}/reset", {"etag": etag_in(text(client.get(PAGE)))})
    assert (done.status_code, done.headers["Location"]) == (302, PAGE)
    assert current(client, headers)["password_policy"]["min_length"] == 8
    assert audited(app)[-1] == {
        "category": "authentication",
        "changes": {"password_policy.min_length": {"old": 12, "new": 8}},
        "reset": True,
    }


def acme_admin_and_member(app, client, auth) -> tuple[str, DashboardClient, DashboardClient]:
    """The tenant acme, its admin signed in on `client`, and a plain member signed in on a client of its own."""
    auth.setup_admin()
    acme = create_tenant(app, "acme")
    add_account(app, "boss@acme.example", {acme: "tenant_admin"})
    add_account(app, "member@acme.example", {acme: "tenant_member"})
    return acme, signed_in_as(client, "boss@acme.example"), signed_in_as(app.test_client(), "member@acme.example")


def test_a_tenant_admin_changes_their_own_tenant_only(app, client, auth):
    acme, boss, member = acme_admin_and_member(app, client, auth)
    page = text(client.get(PAGE))
    assert "(<code>acme</code>)" in page and 'href="/dashboard/tenant-settings/"' in page
    data = {"etag": etag_in(page), "updates": '{"password_policy.min_length": 10}'}
    assert boss.post(f"{AUTH}/confirm", data).status_code == 302
    assert list(stored(app, acme)) == ["authentication.password_policy.min_length"]
    assert stored(app, default_tenant(app)) == {}
    assert member.client.get(PAGE).status_code == 403
    assert member.post(f"{AUTH}/reset", {"etag": "x"}).status_code == 403
    assert list(stored(app, acme)) == ["authentication.password_policy.min_length"]


def secrets_shown(app, client, headers, *pages) -> list[bytes]:
    """Which of the app's key, the session cookie, the password and the API token any of `pages` holds."""
    cookie = client.get_cookie("session", path="/dashboard")
    token = headers["Authorization"].removeprefix("Bearer ")
    secrets = [app.secret_key, cookie.value.encode(), PASSWORD.encode(), token.encode()]
    return [secret for secret in secrets for page in pages if secret in page.get_data()]


def test_the_pages_show_no_secret(app, client, dashboard, headers):
    answer, _ = preview(dashboard, client, headers, **{"password_policy.min_length": 12})
    assert secrets_shown(app, client, headers, client.get(PAGE), answer) == []
