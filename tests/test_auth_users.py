"""App users: sign-up, sign-in, refresh rotation, sign-out, lockout and rate limits."""

from __future__ import annotations

import logging
import re

import jwt
import pytest
import sqlalchemy as sa

from flux.auth.models import AppUser, AuthSession, SigninLockout
from flux.db import db
from tests.conftest import ADMIN_EMAIL, CSRF_FIELD, DEFAULT_PASSWORD_POLICY, PASSWORD, DashboardClient

SIGNIN, ADMIN_LOGIN = "/api/v1/auth/signin", "/api/v1/admin/login"


def stored_user(app, email: str) -> AppUser | None:
    with app.app_context():
        return db.session.scalar(sa.select(AppUser).where(AppUser.email == email).execution_options(all_tenants=True))


def test_signup_returns_user_and_tokens(app, client):
    response = client.post(
        "/api/v1/auth/signup",
        json={"email": " Ada@Example.com ", "password": PASSWORD, "user_metadata": {"plan": "pro"}},
    )
    assert response.status_code == 201
    body = response.json
    assert set(body) >= {"user", "access_token", "refresh_token", "expires_in"}
    assert body["expires_in"] == 900
    assert body["user"]["email"] == "ada@example.com"
    assert body["user"]["user_metadata"] == {"plan": "pro"}
    assert "password" not in str(body["user"]) and "password_hash" not in body["user"]
    user = stored_user(app, "ada@example.com")
    assert user.password_hash.startswith("scrypt:") and PASSWORD not in user.password_hash


def test_signup_rejects_duplicates_and_bad_input(app, client, auth):
    auth.signup("dup@example.com")
    duplicate = client.post("/api/v1/auth/signup", json={"email": "DUP@example.com", "password": PASSWORD})
    assert duplicate.status_code == 409 and duplicate.json["code"] == "ALREADY_EXISTS"
    big = {"notes": "x" * 16 * 1024}
    cases = [
        ({"email": "x@example.com", "password": "short"}, 400, "WEAK_PASSWORD", "password: must be at least 8"),
        ({"email": "not-an-email", "password": PASSWORD}, 400, "INVALID_FIELD", "email: is not a valid e-mail"),
        ({"email": "x" * 320 + "@example.com", "password": PASSWORD}, 400, "INVALID_FIELD", "not a valid e-mail"),
        ({"email": 7, "password": PASSWORD}, 400, "INVALID_FIELD", "email: "),
        ({"password": PASSWORD}, 400, "FIELD_REQUIRED", "email: Field required"),
        ({"email": "x@example.com"}, 400, "FIELD_REQUIRED", "password: Field required"),
        ({"email": "x@example.com", "password": "p" * 1025}, 400, "WEAK_PASSWORD", "at most 1024 characters"),
        ({"email": "x@example.com", "password": PASSWORD, "user_metadata": "no"}, 400, "INVALID_FIELD", "dictionary"),
        ({"email": "x@example.com", "password": PASSWORD, "user_metadata": big}, 413, "VALUE_TOO_LARGE", "16384"),
    ]
    for body, status, code, message in cases:
        response = client.post("/api/v1/auth/signup", json=body)
        assert response.status_code == status, body
        assert response.json["code"] == code and message in response.json["error"], response.json
    not_object = client.post("/api/v1/auth/signup", json=["not", "an", "object"])
    assert (not_object.status_code, not_object.json["code"]) == (400, "INVALID_BODY")
    malformed = client.post("/api/v1/auth/signup", data="{", content_type="application/json")
    assert (malformed.status_code, malformed.json["code"]) == (400, "INVALID_JSON")
    assert stored_user(app, "x@example.com") is None


def test_signup_can_be_disabled(make_app):
    client = make_app(AUTH_SIGNUP_ENABLED=False).test_client()
    response = client.post("/api/v1/auth/signup", json={"email": "x@example.com", "password": PASSWORD})
    assert (response.status_code, response.json["code"]) == (403, "SIGNUP_DISABLED")


def test_signin_and_one_message_for_every_mismatch(client, auth):
    auth.signup("known@example.com")
    ok = client.post("/api/v1/auth/signin", json={"email": "known@example.com", "password": PASSWORD})
    assert ok.status_code == 200 and ok.json["user"]["email"] == "known@example.com"
    wrong_password = client.post("/api/v1/auth/signin", json={"email": "known@example.com", "password": "nope-nope"})
    unknown = client.post("/api/v1/auth/signin", json={"email": "nobody@example.com", "password": PASSWORD})
    assert wrong_password.status_code == unknown.status_code == 401
    assert wrong_password.json == unknown.json == {"error": "Invalid email or password", "code": "INVALID_CREDENTIALS"}
    for body in ({"email": "known@example.com"}, {"email": "", "password": PASSWORD}, {"password": PASSWORD}):
        missing = client.post("/api/v1/auth/signin", json=body)
        assert (missing.status_code, missing.json["code"]) == (400, "FIELD_REQUIRED"), body


def test_account_locks_after_five_failures(app, client, auth):
    auth.signup("victim@example.com")
    wrong = {"email": "victim@example.com", "password": "wrong-password"}
    for _ in range(5):
        assert client.post("/api/v1/auth/signin", json=wrong).status_code == 401
    locked = client.post("/api/v1/auth/signin", json={"email": "victim@example.com", "password": PASSWORD})
    assert locked.status_code == 429
    assert 14 * 60 < int(locked.headers["Retry-After"]) <= 15 * 60
    with app.app_context():
        lockout = db.session.scalar(sa.select(SigninLockout))
    assert (lockout.email, lockout.account_kind, lockout.locked_until is not None) == (
        "victim@example.com",
        "user",
        True,
    )


@pytest.mark.parametrize(("path", "known"), [(SIGNIN, "victim@example.com"), (ADMIN_LOGIN, ADMIN_EMAIL)])
def test_an_unknown_email_locks_exactly_like_an_account(client, auth, admin_headers, path, known):
    """Otherwise a 429, or its absence, tells which e-mails have accounts."""
    auth.signup("victim@example.com")
    answers = [
        [client.post(path, json={"email": email, "password": "wrong-password"}) for _ in range(7)]
        for email in (known, "nobody@example.com")
    ]
    assert [response.status_code for response in answers[0]] == [401] * 5 + [429] * 2
    for mine, theirs in zip(*answers, strict=True):
        assert_same_answer(mine, theirs)
    right = client.post(path, json={"email": known, "password": PASSWORD})
    assert right.status_code == 429, "the right password does not lift the lock"


NONCE = re.compile(r' nonce="[^"]*"')  # differs per response (the dashboard's CSP)


def test_the_dashboard_login_locks_an_unknown_email_like_an_account(client, auth):
    auth.setup_admin()
    browser_like = DashboardClient(client)
    pages = {}
    for email in (ADMIN_EMAIL, "nobody@example.com"):
        pages[email] = []
        for _ in range(7):
            response = browser_like.client.post(
                "/dashboard/login",
                data={"email": email, "password": "wrong-password", "csrf_token": browser_like.csrf_token()},
            )
            text = CSRF_FIELD.sub("", response.get_data(as_text=True)).replace(email, "EMAIL")
            text = NONCE.sub("", text)
            pages[email].append((response.status_code, re.sub(r"\b\d+ (minutes?|seconds?)\b", "N", text)))
    assert [status for status, _ in pages[ADMIN_EMAIL]] == [401] * 5 + [429] * 2
    assert pages[ADMIN_EMAIL] == pages["nobody@example.com"]


def assert_same_answer(one, other) -> None:
    """Same status, body and headers; only the request id, and the wait by a second, may differ."""
    assert one.status_code == other.status_code
    assert abs(int(one.headers.get("Retry-After", 0)) - int(other.headers.get("Retry-After", 0))) <= 1
    same_headers = [
        {k: v for k, v in r.headers.items() if k not in ("X-Request-ID", "Retry-After")} for r in (one, other)
    ]
    assert same_headers[0] == same_headers[1]
    bodies = [{k: v for k, v in r.json.items() if k != "retry_after"} for r in (one, other)]
    assert bodies[0] == bodies[1]
    assert abs(one.json.get("retry_after", 0) - other.json.get("retry_after", 0)) <= 1


def test_failed_signins_are_rate_limited_per_email(make_app):
    client = make_app(
        AUTH_SIGNIN_LIMIT_PER_EMAIL="3/minute", SETTINGS_AUTHENTICATION_LOCKOUT_MAX_ATTEMPTS=100
    ).test_client()
    body = {"email": "ghost@example.com", "password": "whatever-1"}
    assert [client.post("/api/v1/auth/signin", json=body).status_code for _ in range(4)] == [401, 401, 401, 429]
    limited = client.post("/api/v1/auth/signin", json=body)
    assert limited.status_code == 429 and 0 < int(limited.headers["Retry-After"]) <= 60
    other = client.post("/api/v1/auth/signin", json={"email": "other@example.com", "password": "x-x-x-x-x"})
    assert other.status_code == 401


def test_failed_signins_are_rate_limited_per_ip(make_app):
    client = make_app(AUTH_SIGNIN_LIMIT_PER_IP="2/minute").test_client()
    codes = [
        client.post("/api/v1/auth/signin", json={"email": f"u{n}@example.com", "password": "wrong-pass"}).status_code
        for n in range(3)
    ]
    assert codes == [401, 401, 429]
    elsewhere = client.post(
        "/api/v1/auth/signin",
        json={"email": "u9@example.com", "password": "wrong-pass"},
        environ_base={"REMOTE_ADDR": "10.9.9.9"},
    )
    assert elsewhere.status_code == 401


def test_refresh_rotates_and_reuse_revokes_the_session(app, client, auth):
    tokens = auth.signup()
    first = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert first.status_code == 200
    assert first.json["refresh_token"] != tokens["refresh_token"]
    assert client.get("/api/v1/auth/user", headers=auth.bearer(first.json)).status_code == 200
    replay = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert replay.status_code == 401
    # The whole session is gone: the newest refresh token and its access token stop working.
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": first.json["refresh_token"]}).status_code == 401
    with app.app_context():
        session = db.session.get(AuthSession, _session_id(first.json))
        assert session.revoked_reason == "refresh_token_reused"
    assert client.get("/api/v1/auth/user", headers=auth.bearer(first.json)).status_code == 401


def _session_id(tokens: dict) -> str:
    return jwt.decode(tokens["access_token"], options={"verify_signature": False})["session_id"]


def test_refresh_rejects_garbage(client):
    for token in ["", "abc", "fbr.x.0.y", "fbr." + "0" * 36 + ".0.zzz"]:
        response = client.post("/api/v1/auth/refresh", json={"refresh_token": token})
        assert response.status_code == 401, token
        assert response.json["code"] == "INVALID_REFRESH_TOKEN"
    for body, code in [
        ({"refresh_token": None}, "INVALID_FIELD"),
        ({"refresh_token": 12}, "INVALID_FIELD"),
        ({}, "FIELD_REQUIRED"),
    ]:
        response = client.post("/api/v1/auth/refresh", json=body)
        assert (response.status_code, response.json["code"]) == (400, code), body


def test_signout_revokes_access_tokens(client, auth):
    tokens = auth.signup()
    headers = auth.bearer(tokens)
    assert client.get("/api/v1/auth/user", headers=headers).status_code == 200
    assert client.post("/api/v1/auth/signout", headers=headers).status_code == 204
    response = client.get("/api/v1/auth/user", headers=headers)
    assert response.status_code == 401
    assert response.json["error"] == "Invalid or expired Bearer token"
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401


def test_get_and_patch_user(app, client, auth):
    tokens = auth.signup(email="me@example.com")
    headers = auth.bearer(tokens)
    assert client.get("/api/v1/auth/user", headers=headers).json["email"] == "me@example.com"
    patched = client.patch("/api/v1/auth/user", json={"user_metadata": {"theme": "dark"}}, headers=headers)
    assert patched.status_code == 200 and patched.json["user_metadata"] == {"theme": "dark"}
    assert patched.json == client.get("/api/v1/auth/user", headers=headers).json
    merged = client.patch("/api/v1/auth/user", json={"user_metadata": {"lang": "fr"}}, headers=headers)
    assert merged.json["user_metadata"] == {"theme": "dark", "lang": "fr"}
    for body in ({}, {"unknown": 1}, {"password": None, "user_metadata": None}):
        nothing = client.patch("/api/v1/auth/user", json=body, headers=headers)
        assert (nothing.status_code, nothing.json["code"]) == (400, "NOTHING_TO_UPDATE"), body
    for current in ("x", None):
        wrong = client.patch(
            "/api/v1/auth/user", json={"password": "New-password-1", "current_password": current}, headers=headers
        )
        assert wrong.status_code == 400 and wrong.json["code"] == "INVALID_CURRENT_PASSWORD"
    weak = client.patch("/api/v1/auth/user", json={"password": "short", "current_password": PASSWORD}, headers=headers)
    assert (weak.status_code, weak.json["code"]) == (400, "WEAK_PASSWORD")
    changed = client.patch(
        "/api/v1/auth/user", json={"password": "New-password-1", "current_password": PASSWORD}, headers=headers
    )
    assert changed.status_code == 200
    assert client.post("/api/v1/auth/signin", json={"email": "me@example.com", "password": PASSWORD}).status_code == 401
    new = client.post("/api/v1/auth/signin", json={"email": "me@example.com", "password": "New-password-1"})
    assert new.status_code == 200


def test_a_password_change_ends_every_other_session(app, client, auth):
    """A thief's session (or another device's) ends; the one that changed the password goes on."""
    mine = auth.signup(email="me@example.com")
    body = {"email": "me@example.com", "password": PASSWORD}
    others = [client.post("/api/v1/auth/signin", json=body).json for _ in range(2)]
    someone_else = auth.signup(email="else@example.com")
    change = {"password": "New-password-1", "current_password": PASSWORD}
    assert client.patch("/api/v1/auth/user", json=change, headers=auth.bearer(mine)).status_code == 200

    for other in others:
        assert client.get("/api/v1/auth/user", headers=auth.bearer(other)).status_code == 401
        refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})
        assert (refreshed.status_code, refreshed.json["code"]) == (401, "INVALID_REFRESH_TOKEN")
    assert client.get("/api/v1/auth/user", headers=auth.bearer(mine)).status_code == 200
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": mine["refresh_token"]})
    assert refreshed.status_code == 200
    assert client.get("/api/v1/auth/user", headers=auth.bearer(refreshed.json)).status_code == 200
    assert client.get("/api/v1/auth/user", headers=auth.bearer(someone_else)).status_code == 200
    with app.app_context():
        reasons = db.session.scalars(sa.select(AuthSession.revoked_reason).order_by(AuthSession.created_at)).all()
    assert sorted(reasons, key=str) == sorted([None, "password_changed", "password_changed", None], key=str)

    metadata_only = client.patch(
        "/api/v1/auth/user", json={"user_metadata": {"a": 1}}, headers=auth.bearer(refreshed.json)
    )
    assert metadata_only.status_code == 200
    assert client.get("/api/v1/auth/user", headers=auth.bearer(refreshed.json)).status_code == 200


def test_user_endpoints_need_a_token(client):
    assert client.get("/api/v1/auth/user").status_code == 401
    assert client.post("/api/v1/auth/signout").status_code == 401
    assert client.get("/api/v1/auth/user", headers={"Authorization": "Basic abc"}).status_code == 401


def test_the_user_endpoints_are_for_app_users_only(client, auth, admin_headers):
    for method in ("get", "patch"):
        response = getattr(client, method)("/api/v1/auth/user", json={"user_metadata": {}}, headers=admin_headers)
        assert (response.status_code, response.json["code"]) == (403, "APP_USER_REQUIRED")


def test_a_deleted_user_is_not_found(app, client, auth):
    headers = auth.bearer(auth.signup("gone@example.com"))
    with app.app_context():
        db.session.execute(sa.delete(AppUser).execution_options(all_tenants=True))
        db.session.commit()
    for method in ("get", "patch"):
        response = getattr(client, method)("/api/v1/auth/user", json={"user_metadata": {}}, headers=headers)
        assert (response.status_code, response.json["code"]) == (404, "NOT_FOUND")


def test_auth_config_is_public(client):
    assert client.get("/api/v1/auth/config").json == {
        "signup_enabled": True,
        "password_min_length": 8,
        "password_policy": DEFAULT_PASSWORD_POLICY,
        "access_token_seconds": 900,
        "refresh_token_seconds": 86400,
        "lockout_attempts": 5,
        "lockout_seconds": 900,
    }


def test_the_token_answer_has_the_reference_shape(app, client, auth):
    body = client.post(
        "/api/v1/auth/signup", json={"email": "shape@example.com", "password": PASSWORD, "user_metadata": {"a": 1}}
    ).json
    assert set(body) == {"user", "access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    user = stored_user(app, "shape@example.com")
    assert body["user"] == {
        "id": user.id,
        "email": "shape@example.com",
        "role": "authenticated",
        "tenant_id": user.tenant_id,
        "user_metadata": {"a": 1},
        "created_at": user.created_at.isoformat(),
        "updated_at": user.updated_at.isoformat(),
        "last_signin_at": user.last_signin_at.isoformat(),
    }
    assert client.get("/api/v1/auth/user", headers=auth.bearer(body)).json == body["user"]


def test_passwords_never_reach_the_log(client, auth, caplog):
    with caplog.at_level(logging.DEBUG):
        auth.signup("logged@example.com")
        client.post("/api/v1/auth/signin", json={"email": "logged@example.com", "password": "wrong-secret-pw"})
    assert PASSWORD not in caplog.text and "wrong-secret-pw" not in caplog.text
