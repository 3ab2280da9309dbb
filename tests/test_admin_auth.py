"""Dashboard administrators: first-run setup, login, refresh, logout, me; `fluxbase admin create`."""

from __future__ import annotations

import threading

import sqlalchemy as sa

from flux.auth.models import PlatformAccount
from flux.cli import cli
from flux.db import db
from tests.conftest import ADMIN_EMAIL, PASSWORD, SETUP_TOKEN

SETUP = {"email": ADMIN_EMAIL, "password": PASSWORD, "name": "Ada", "setup_token": SETUP_TOKEN}


def accounts(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(PlatformAccount.email)))


def test_setup_status_then_setup_then_conflict(app, client):
    assert client.get("/api/v1/admin/setup/status").json == {"needs_setup": True, "has_admin": False}
    created = client.post("/api/v1/admin/setup", json=SETUP)
    assert created.status_code == 201
    assert created.json["user"]["role"] == "instance_admin" and created.json["user"]["name"] == "Ada"
    assert {"access_token", "refresh_token", "expires_in"} <= set(created.json)
    assert client.get("/api/v1/admin/setup/status").json == {"needs_setup": False, "has_admin": True}
    again = client.post("/api/v1/admin/setup", json={**SETUP, "email": "second@example.com"})
    assert (again.status_code, again.json["code"]) == (409, "SETUP_COMPLETE")
    assert accounts(app) == [ADMIN_EMAIL]


def test_setup_needs_the_right_token(app, client):
    for token in ["wrong", "", None, SETUP_TOKEN + "x"]:
        response = client.post("/api/v1/admin/setup", json={**SETUP, "setup_token": token})
        assert response.status_code == 403, token
        assert response.json["code"] == "INVALID_SETUP_TOKEN"
    assert accounts(app) == []


def test_setup_refused_when_no_token_is_configured(make_app):
    app = make_app(SECURITY_SETUP_TOKEN="")
    response = app.test_client().post("/api/v1/admin/setup", json={**SETUP, "setup_token": ""})
    assert response.status_code == 403
    assert accounts(app) == []


def test_setup_validates_credentials(app, client):
    cases = [
        ({"password": "short"}, "WEAK_PASSWORD"),
        ({"email": "nope"}, "INVALID_FIELD"),
        ({"email": None}, "INVALID_FIELD"),
        ({"name": "n" * 201}, "INVALID_FIELD"),
        ({"name": 5}, "INVALID_FIELD"),
        ({"setup_token": 0}, "INVALID_FIELD"),
    ]
    for change, code in cases:
        response = client.post("/api/v1/admin/setup", json={**SETUP, **change})
        assert (response.status_code, response.json["code"]) == (400, code), change
    missing = client.post("/api/v1/admin/setup", json={"email": ADMIN_EMAIL, "setup_token": SETUP_TOKEN})
    assert (missing.status_code, missing.json["code"]) == (400, "FIELD_REQUIRED")
    assert accounts(app) == []


def test_login_refresh_me_logout(app, client, auth):
    auth.setup_admin()
    login = client.post("/api/v1/admin/login", json={"email": ADMIN_EMAIL, "password": PASSWORD})
    assert login.status_code == 200
    headers = auth.bearer(login.json)
    me = client.get("/api/v1/admin/me", headers=headers)
    assert me.status_code == 200 and set(me.json) == {"user"}, "the reference's shape"
    assert me.json["user"] == login.json["user"]
    with app.app_context():
        account = db.session.scalar(sa.select(PlatformAccount))
        assert login.json["user"] == {
            "id": account.id,
            "email": ADMIN_EMAIL,
            "name": "Ada",
            "role": "instance_admin",
            "created_at": account.created_at.isoformat(),
            "last_signin_at": account.last_signin_at.isoformat(),
        }
    assert set(login.json) == {"user", "access_token", "refresh_token", "token_type", "expires_in"}
    refreshed = client.post("/api/v1/admin/refresh", json={"refresh_token": login.json["refresh_token"]})
    assert refreshed.status_code == 200
    assert client.post("/api/v1/admin/logout", headers=auth.bearer(refreshed.json)).status_code == 204
    assert client.get("/api/v1/admin/me", headers=auth.bearer(refreshed.json)).status_code == 401


def test_app_users_cannot_use_admin_endpoints(client, auth):
    user = auth.signup("user@example.com")
    for method, path in (("get", "/api/v1/admin/me"), ("post", "/api/v1/admin/logout")):
        response = getattr(client, method)(path, headers=auth.bearer(user))
        assert (response.status_code, response.json["code"]) == (403, "FORBIDDEN")
    # An app user's refresh token is not a dashboard refresh token, and the reverse.
    assert client.post("/api/v1/admin/refresh", json={"refresh_token": user["refresh_token"]}).status_code == 401
    admin = auth.setup_admin()
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": admin["refresh_token"]}).status_code == 401
    # App users cannot log in to the dashboard with their credentials.
    login = client.post("/api/v1/admin/login", json={"email": "user@example.com", "password": PASSWORD})
    assert login.status_code == 401


def test_admin_login_locks_out_too(client, auth):
    auth.setup_admin()
    for _ in range(5):
        client.post("/api/v1/admin/login", json={"email": ADMIN_EMAIL, "password": "wrong-password"})
    assert client.post("/api/v1/admin/login", json={"email": ADMIN_EMAIL, "password": PASSWORD}).status_code == 429


def test_cli_admin_create_reads_password_from_stdin(app, monkeypatch):
    monkeypatch.setenv("FLUXBASE_INSTANCE_PATH", app.instance_path)
    monkeypatch.setenv("FLUXBASE_DATABASE_URL", app.config["DATABASE_URL"])
    runner = app.test_cli_runner()
    result = runner.invoke(cli, ["admin", "create", "--email", "Ops@Example.com", "--password-stdin"], input=PASSWORD)
    assert result.exit_code == 0, result.output
    assert "Created instance admin ops@example.com" in result.output
    assert PASSWORD not in result.output
    login = app.test_client().post("/api/v1/admin/login", json={"email": "ops@example.com", "password": PASSWORD})
    assert login.status_code == 200
    weak = runner.invoke(cli, ["admin", "create", "--email", "b@example.com", "--password-stdin"], input="short\n")
    assert weak.exit_code == 1 and "at least 8 characters" in weak.output
    duplicate = runner.invoke(
        cli, ["admin", "create", "--email", "ops@example.com", "--password-stdin"], input=PASSWORD
    )
    assert duplicate.exit_code == 1 and "already exists" in duplicate.output


def test_cli_admin_create_makes_a_tenant_admin_who_administers_nothing_yet(app, monkeypatch):
    monkeypatch.setenv("FLUXBASE_INSTANCE_PATH", app.instance_path)
    monkeypatch.setenv("FLUXBASE_DATABASE_URL", app.config["DATABASE_URL"])
    command = ["admin", "create", "--email", "ta@example.com", "--role", "tenant_admin", "--password-stdin"]
    result = app.test_cli_runner().invoke(cli, command, input=PASSWORD)
    assert result.exit_code == 0, result.output
    assert "Created tenant admin ta@example.com" in result.output
    client = app.test_client()
    login = client.post("/api/v1/admin/login", json={"email": "ta@example.com", "password": PASSWORD})
    assert login.json["user"]["role"] == "tenant_admin"
    headers = {"Authorization": f"Bearer {login.json['access_token']}"}
    assert client.get("/api/v1/admin/service-keys", headers=headers).status_code == 403


def test_concurrent_setups_create_one_admin(make_app):
    """Two setup requests at once, on two workers: exactly one admin, the other 409."""
    first, second = make_app().test_client(), make_app(migrated=False).test_client()
    results: list[int] = []
    barrier = threading.Barrier(2)

    def run(client, email: str) -> None:
        barrier.wait()
        results.append(client.post("/api/v1/admin/setup", json={**SETUP, "email": email}).status_code)

    threads = [
        threading.Thread(target=run, args=(c, e)) for c, e in ((first, "a@example.com"), (second, "b@example.com"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [201, 409]
