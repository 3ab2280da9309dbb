"""Access tokens: every malformed, forged or stale token is one 401."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest

INVALID = {"error": "Invalid or expired Bearer token", "code": "INVALID_TOKEN"}


@pytest.fixture
def signed_up(auth):
    return auth.signup()


def claims_of(tokens: dict) -> dict:
    return jwt.decode(tokens["access_token"], options={"verify_signature": False})


def forge(app, claims: dict, **changes) -> str:
    return jwt.encode({**claims, **changes}, app.config["AUTH_JWT_SECRET"], algorithm="HS256")


def get_user(client, token: str):
    return client.get("/api/v1/auth/user", headers={"Authorization": f"Bearer {token}"})


def test_token_claims(app, signed_up):
    claims = claims_of(signed_up)
    assert set(claims) == {"iss", "aud", "sub", "email", "role", "session_id", "tenant_id", "iat", "exp", "jti"}
    assert claims["role"] == "authenticated" and claims["aud"] == "fluxbase" and claims["iss"] == "fluxbase"
    assert claims["exp"] - claims["iat"] == 900
    assert jwt.get_unverified_header(signed_up["access_token"])["alg"] == "HS256"


def test_valid_token_works(client, signed_up):
    assert get_user(client, signed_up["access_token"]).status_code == 200


def test_alg_none_is_refused(client, signed_up):
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode(json.dumps(claims_of(signed_up)).encode()).rstrip(b"=").decode()
    response = get_user(client, f"{header}.{payload}.")
    assert (response.status_code, response.json) == (401, INVALID)


def test_other_algorithm_is_refused(app, client, signed_up):
    token = jwt.encode(claims_of(signed_up), app.config["AUTH_JWT_SECRET"], algorithm="HS512")
    assert get_user(client, token).json == INVALID


def test_bad_signature_is_refused(client, signed_up):
    token = jwt.encode(claims_of(signed_up), "another-secret-that-is-long-enough-123", algorithm="HS256")
    assert get_user(client, token).status_code == 401
    head, body, signature = signed_up["access_token"].split(".")
    tampered = f"{head}.{body}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    assert get_user(client, tampered).json == INVALID


def test_other_audience_or_issuer_is_refused(app, client, signed_up):
    assert get_user(client, forge(app, claims_of(signed_up), aud="someone-else")).json == INVALID
    assert get_user(client, forge(app, claims_of(signed_up), iss="someone-else")).json == INVALID


def test_expired_token_is_refused(app, client, signed_up):
    past = datetime.now(UTC) - timedelta(minutes=1)
    token = forge(app, claims_of(signed_up), exp=int(past.timestamp()), iat=int(past.timestamp()) - 900)
    assert get_user(client, token).json == INVALID


def test_missing_claims_are_refused(app, client, signed_up):
    claims = claims_of(signed_up)
    for name in ("sub", "session_id", "tenant_id", "exp"):
        partial = {key: value for key, value in claims.items() if key != name}
        assert get_user(client, forge(app, partial)).status_code == 401, name


def test_garbage_is_refused(client):
    for token in ["abc", "a.b.c", "", "Bearer", "x" * 5000]:
        response = client.get("/api/v1/auth/user", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token


def test_secret_from_instance_file_is_reused(make_app):
    first = make_app(migrated=False)
    second = make_app(migrated=False)
    assert first.config["AUTH_JWT_SECRET"] == second.config["AUTH_JWT_SECRET"]
    assert len(first.config["AUTH_JWT_SECRET"]) >= 32


def test_session_cache_is_short(make_app, auth):
    """A sign-out seen by another worker takes effect within AUTH_SESSION_CACHE_SECONDS."""
    other_worker = make_app(migrated=False, AUTH_SESSION_CACHE_SECONDS=1).test_client()
    tokens = auth.signup()
    headers = auth.bearer(tokens)
    assert other_worker.get("/api/v1/auth/user", headers=headers).status_code == 200
    assert auth.client.post("/api/v1/auth/signout", headers=headers).status_code == 204
    time.sleep(1.1)
    assert other_worker.get("/api/v1/auth/user", headers=headers).status_code == 401
