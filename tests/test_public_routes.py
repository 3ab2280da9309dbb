"""Public routes ignore credentials that do not verify: the reference SDK sends its client key everywhere."""

from __future__ import annotations

import jwt
import pytest

from tests.conftest import ADMIN_EMAIL, PASSWORD, SETUP_TOKEN

# A client key as another server signs it: a well-formed JWT this server cannot verify.
CLIENT_KEY = jwt.encode({"role": "anon", "iss": "supabase"}, "another server's secret, 32 chars!", algorithm="HS256")
UNVERIFIABLE = [
    pytest.param({"Authorization": f"Bearer {CLIENT_KEY}"}, id="foreign-jwt"),
    pytest.param({"Authorization": "Bearer not.a.token"}, id="garbage"),
    pytest.param({"Authorization": "Bearer fbk_000000000000_" + "A" * 43}, id="unknown-service-key"),
]


@pytest.mark.parametrize("headers", UNVERIFIABLE)
def test_sign_up_sign_in_and_refresh_ignore_an_unverifiable_bearer(client, headers):
    assert client.get("/api/v1/admin/setup/status", headers=headers).json["needs_setup"] is True
    setup = {"email": ADMIN_EMAIL, "password": PASSWORD, "name": "Ada", "setup_token": SETUP_TOKEN}
    assert client.post("/api/v1/admin/setup", json=setup, headers=headers).status_code == 201
    login = client.post("/api/v1/admin/login", json={"email": ADMIN_EMAIL, "password": PASSWORD}, headers=headers)
    assert login.status_code == 200
    body = {"refresh_token": login.json["refresh_token"]}
    assert client.post("/api/v1/admin/refresh", json=body, headers=headers).status_code == 200

    assert client.get("/api/v1/auth/config", headers=headers).status_code == 200
    user = {"email": "sdk@example.com", "password": PASSWORD}
    signed_up = client.post("/api/v1/auth/signup", json=user, headers=headers)
    assert signed_up.status_code == 201, signed_up.json
    signed_in = client.post("/api/v1/auth/signin", json=user, headers=headers)
    assert signed_in.status_code == 200, signed_in.json
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": signed_in.json["refresh_token"]})
    assert refreshed.status_code == 200
    wrong = client.post("/api/v1/auth/signin", json={**user, "password": "wrong password"}, headers=headers)
    assert (wrong.status_code, wrong.json["code"]) == (401, "INVALID_CREDENTIALS")


@pytest.mark.parametrize("headers", UNVERIFIABLE)
def test_public_settings_answer_as_for_anyone(client, admin_headers, headers):
    for key, is_public in (("site/name", True), ("internal", False)):
        body = {"key": key, "value": key, "is_public": is_public}
        assert client.post("/api/v1/admin/settings/custom", json=body, headers=admin_headers).status_code == 201
    assert client.get("/api/v1/settings/", headers=headers).json == [{"key": "site/name", "value": "site/name"}]
    assert client.get("/api/v1/settings/site/name", headers=headers).status_code == 200
    assert client.get("/api/v1/settings/internal", headers=headers).status_code == 404
    batch = client.post("/api/v1/settings/batch", json={"keys": ["site/name", "internal"]}, headers=headers)
    assert [row["key"] for row in batch.json] == ["site/name"]


@pytest.mark.parametrize("headers", UNVERIFIABLE)
def test_function_lists_answer_as_for_anyone(client, headers):
    """Listing and reading functions is open (the view shows public ones to anyone), so it ignores such a bearer."""
    listed = client.get("/api/v1/functions", headers=headers)
    assert (listed.status_code, listed.json, listed.headers["X-Total-Count"]) == (200, [], "0")
    missing = client.get("/api/v1/functions/nope", headers=headers)
    assert (missing.status_code, missing.json["code"]) == (404, "NOT_FOUND")


@pytest.mark.parametrize("headers", UNVERIFIABLE)
def test_other_routes_still_refuse_an_unverifiable_bearer(client, auth, headers):
    auth.signup()
    for path in ("/api/v1/auth/user", "/api/v1/admin/me", "/api/v1/settings/user/list", "/api/v1/functions/f/versions"):
        assert client.get(path, headers=headers).status_code == 401, path
    assert client.post("/api/v1/auth/signout", headers=headers).status_code == 401
