"""Settings that govern the server: each changed through the API, then observed on the next request."""

from __future__ import annotations

import time

import pytest

from tests.conftest import PASSWORD, create_tenant

V1 = "/api/v1/admin/settings"
SIGNUP, SIGNIN, REFRESH = "/api/v1/auth/signup", "/api/v1/auth/signin", "/api/v1/auth/refresh"


def put(client, headers, category: str, body: dict, tenant: str = "default") -> None:
    response = client.put(f"{V1}/{category}", json=body, headers={**headers, "X-FB-Tenant": tenant})
    assert response.status_code == 200, response.json


def signup(client, email: str, password: str, tenant: str = "default"):
    return client.post(SIGNUP, json={"email": email, "password": password}, headers={"X-FB-Tenant": tenant})


# --- authentication.password_policy -------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short", "password_policy.min_length"),
        ("all lowercase 123", "password_policy.require_uppercase"),
        ("ALL UPPERCASE 123", "password_policy.require_lowercase"),
        ("No numbers at all", "password_policy.require_numbers"),
    ],
)
def test_the_default_policy_is_enforced_on_sign_up(client, password, rule):
    response = signup(client, "new@example.com", password)
    assert (response.status_code, response.json["code"]) == (400, "WEAK_PASSWORD")
    assert rule in response.json["error"]


def test_a_stricter_policy_applies_on_the_next_sign_up_and_password_change(app, client, auth, admin_headers):
    create_tenant(app, "acme")
    user = auth.bearer(auth.signup("user@example.com"))
    put(client, admin_headers, "authentication", {"password_policy": {"min_length": 12, "require_symbols": True}})
    short = signup(client, "a@example.com", "Short1pass!")
    assert (short.status_code, short.json["code"]) == (400, "WEAK_PASSWORD")
    assert "at least 12 characters (password_policy.min_length)" in short.json["error"]
    plain = signup(client, "b@example.com", "Long enough pass 1")
    assert "password_policy.require_symbols" in plain.json["error"]
    assert signup(client, "c@example.com", "Long enough pass 1!").status_code == 201
    change = {"password": "Long enough pass 2", "current_password": PASSWORD}
    refused = client.patch("/api/v1/auth/user", json=change, headers=user)
    assert (refused.status_code, refused.json["code"]) == (400, "WEAK_PASSWORD")
    change["password"] = "Long enough pass 2!"
    assert client.patch("/api/v1/auth/user", json=change, headers=user).status_code == 200
    # Another tenant keeps the default policy.
    assert signup(client, "b@example.com", "Long enough pass 1", tenant="acme").status_code == 201


def test_a_looser_policy_lets_simple_passwords_in(client, admin_headers):
    loose = {"min_length": 4, "require_uppercase": False, "require_numbers": False}
    put(client, admin_headers, "authentication", {"password_policy": loose})
    assert signup(client, "simple@example.com", "simple").status_code == 201


# --- authentication.lockout ---------------------------------------------------------------------


def wrong(client, email: str, tenant: str = "default"):
    return client.post(SIGNIN, json={"email": email, "password": "Wrong password 1"}, headers={"X-FB-Tenant": tenant})


def right(client, email: str, tenant: str = "default"):
    return client.post(SIGNIN, json={"email": email, "password": PASSWORD}, headers={"X-FB-Tenant": tenant})


def test_max_attempts_locks_after_that_many_failures(app, client, auth, admin_headers):
    create_tenant(app, "acme")
    auth.signup("user@example.com")
    auth.signup("user@example.com", tenant="acme")
    put(client, admin_headers, "authentication", {"lockout": {"max_attempts": 2, "lockout_duration": 60}})
    assert [wrong(client, "user@example.com").status_code for _ in range(2)] == [401, 401]
    locked = right(client, "user@example.com")
    assert (locked.status_code, locked.json["code"]) == (429, "RATE_LIMITED")
    assert 55 <= int(locked.headers["Retry-After"]) <= 60
    # The other tenant keeps five attempts.
    assert [wrong(client, "user@example.com", "acme").status_code for _ in range(2)] == [401, 401]
    assert right(client, "user@example.com", "acme").status_code == 200


def test_a_disabled_lockout_never_locks(client, auth, admin_headers):
    auth.signup("user@example.com")
    put(client, admin_headers, "authentication", {"lockout": {"enabled": False}})
    assert {wrong(client, "user@example.com").status_code for _ in range(7)} == {401}
    assert right(client, "user@example.com").status_code == 200


def test_lockout_duration_is_how_long_the_lock_holds(client, auth, admin_headers):
    auth.signup("user@example.com")
    put(client, admin_headers, "authentication", {"lockout": {"max_attempts": 1, "lockout_duration": 1}})
    wrong(client, "user@example.com")
    assert right(client, "user@example.com").status_code == 429
    time.sleep(1.1)
    assert right(client, "user@example.com").status_code == 200


# --- authentication.session.lifetime and tokens.access_token_lifetime ---------------------------


def test_session_lifetime_is_the_refresh_tokens_lifetime(client, auth, admin_headers):
    put(client, admin_headers, "authentication", {"session": {"lifetime": 1}})
    tokens = auth.signup("user@example.com")
    time.sleep(1.1)
    expired = client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]})
    assert (expired.status_code, expired.json["code"]) == (401, "INVALID_REFRESH_TOKEN")
    put(client, admin_headers, "authentication", {"session": {"lifetime": 3600}})
    fresh = right(client, "user@example.com").json
    assert client.post(REFRESH, json={"refresh_token": fresh["refresh_token"]}).status_code == 200


def test_access_token_lifetime_is_the_tokens_expiry(client, auth, admin_headers):
    put(client, admin_headers, "tokens", {"access_token_lifetime": 120})
    tokens = auth.signup("user@example.com")
    assert tokens["expires_in"] == 120
    assert client.get("/api/v1/auth/config").json["access_token_seconds"] == 120


def test_dashboard_accounts_follow_the_servers_values_not_a_tenants(client, auth, admin_headers):
    """The default tenant's admin changes its tenant, not the instance admins' passwords, sessions or tokens."""
    put(client, admin_headers, "authentication", {"session": {"lifetime": 1}, "password_policy": {"min_length": 30}})
    put(client, admin_headers, "tokens", {"access_token_lifetime": 60})
    login = client.post("/api/v1/admin/login", json={"email": "admin@example.com", "password": PASSWORD})
    assert (login.status_code, login.json["expires_in"]) == (200, 900)
    time.sleep(1.1)
    refreshed = client.post("/api/v1/admin/refresh", json={"refresh_token": login.json["refresh_token"]})
    assert refreshed.status_code == 200
    assert signup(client, "user@example.com", "Short pass 1").json["code"] == "WEAK_PASSWORD"  # app users: the tenant's


# --- security.allowed_origins: CORS -------------------------------------------------------------

ORIGIN = "https://app.example.com"


def test_an_origin_is_allowed_only_once_the_tenant_lists_it(app, client, admin_headers):
    create_tenant(app, "acme")
    before = client.get("/api/v1/auth/config", headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in before.headers
    assert "Origin" in before.headers["Vary"]
    put(client, admin_headers, "security", {"allowed_origins": [ORIGIN]})
    after = client.get("/api/v1/auth/config", headers={"Origin": ORIGIN})
    assert after.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "X-Total-Count" in after.headers["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Credentials" not in after.headers
    other = client.get("/api/v1/auth/config", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    in_acme = client.get("/api/v1/auth/config", headers={"Origin": ORIGIN, "X-FB-Tenant": "acme"})
    assert "Access-Control-Allow-Origin" not in in_acme.headers  # acme allows no origin
    errors = client.get("/api/v1/admin/settings", headers={"Origin": ORIGIN, "Authorization": "Bearer nope"})
    assert errors.status_code == 401
    assert errors.headers["Access-Control-Allow-Origin"] == ORIGIN  # the browser may read the error


def test_a_preflight_passes_for_an_origin_some_tenant_allows(app, client, admin_headers):
    create_tenant(app, "acme")
    preflight = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "authorization",
    }
    refused = client.options("/api/v1/admin/settings/branding", headers=preflight)
    assert refused.status_code == 204
    assert "Access-Control-Allow-Origin" not in refused.headers
    put(client, admin_headers, "security", {"allowed_origins": [ORIGIN]}, tenant="acme")
    allowed = client.options("/api/v1/admin/settings/branding", headers=preflight)
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "PUT" in allowed.headers["Access-Control-Allow-Methods"]
    assert "X-FB-Tenant" in allowed.headers["Access-Control-Allow-Headers"]
    assert allowed.headers["Access-Control-Max-Age"] == "600"
    # The real request's answer follows its own tenant.
    in_acme = client.get("/api/v1/auth/config", headers={"Origin": ORIGIN, "X-FB-Tenant": "acme"})
    assert in_acme.headers["Access-Control-Allow-Origin"] == ORIGIN
    in_default = client.get("/api/v1/auth/config", headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in in_default.headers


def test_a_star_allows_any_origin_but_only_by_name(client, admin_headers):
    put(client, admin_headers, "security", {"allowed_origins": ["*"]})
    response = client.get("/api/v1/auth/config", headers={"Origin": "https://anything.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://anything.example"


def test_pages_outside_the_api_get_no_cors_headers(client, admin_headers):
    put(client, admin_headers, "security", {"allowed_origins": [ORIGIN]})
    page = client.get("/dashboard/login", headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in page.headers
