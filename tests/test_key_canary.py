"""Servers whose keys differ: the key canary shows it in /health and at start-up; secrets fail, never read as null."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from flux.cli import cli
from flux.crypto.keyring import encode_key, generate_key
from flux.db import db
from flux.storage.sql import kv_table

KEY_A, KEY_B = encode_key(generate_key()), encode_key(generate_key())
READS_TOKEN = """async function handler(req) {
  return { status: 200, headers: { "Content-Type": "application/json" },
           body: JSON.stringify({ token: secrets.get("token") ?? null }) };
}"""
TOKEN = "sk-user-token-3f1e2d-canary"


@pytest.fixture
def app(make_app):
    """Node A, with FLUXBASE_ENCRYPTION_KEY: the first server, which stores the canary."""
    return make_app(ENCRYPTION_KEY=KEY_A)


@pytest.fixture
def close_runtimes():
    apps = []
    yield apps.append
    for app in apps:
        runtime = app.extensions["functions"]["runtime"]
        if runtime is not None:
            runtime.close()


def canary_key_id(app) -> str:
    with app.app_context(), db.engine.connect() as connection:
        stored = connection.execute(sa.select(kv_table.c.value).where(kv_table.c.key == "key-canary")).scalar_one()
    return bytes(stored).decode().split(":")[2]


def test_a_server_with_other_keys_is_unhealthy_and_fails_secrets_instead_of_null(
    app, make_app, auth, admin_headers, close_runtimes, caplog
):
    a, b_app = app.test_client(), make_app(migrated=False, ENCRYPTION_KEY=KEY_B)
    b = b_app.test_client()
    close_runtimes(app), close_runtimes(b_app)
    assert [r.getMessage() for r in caplog.records if "key canary" in r.getMessage() and r.levelno == logging.ERROR]

    assert a.get("/health").status_code == 200
    health = b.get("/health")
    assert health.status_code == 503
    assert (health.json["status"], health.json["database"], health.json["keys"]) == ("degraded", "ok", "error")
    assert "key canary" in health.json["reason"]

    user = auth.bearer(auth.signup())
    assert a.post("/api/v1/settings/secret", json={"key": "token", "value": TOKEN}, headers=user).status_code == 201
    deployed = a.post("/api/v1/functions", json={"name": "reader", "code": READS_TOKEN}, headers=admin_headers)
    assert deployed.status_code == 201, deployed.json
    assert a.post("/api/v1/functions/reader/invoke", headers=user).json == {"token": TOKEN}
    answer = b.post("/api/v1/functions/reader/invoke", headers=user)
    assert answer.status_code == 503, answer.get_data(as_text=True)
    assert answer.json["code"] == "KEY_MISMATCH"
    assert TOKEN not in answer.get_data(as_text=True) and TOKEN not in caplog.text


def test_serve_refuses_to_start_with_keys_that_do_not_open_the_canary(app, monkeypatch):
    monkeypatch.setenv("FLUXBASE_INSTANCE_PATH", app.instance_path)
    monkeypatch.setenv("FLUXBASE_DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setenv("FLUXBASE_PLUGINS", "tests.plugins.my_plugin")
    monkeypatch.setenv("FLUXBASE_ENCRYPTION_KEY", KEY_B)
    result = app.test_cli_runner().invoke(cli, ["serve", "--port", "1"])
    assert result.exit_code == 1
    assert "key canary" in result.output and "FLUXBASE_ENCRYPTION_PREVIOUS_KEYS" in result.output


def test_the_two_phase_env_key_rotation_keeps_every_server_healthy(app, make_app, monkeypatch):
    """README: add the new key everywhere as a previous key, restart; promote it, rotate; drop the old one."""
    old_only = app
    phase_one = make_app(migrated=False, ENCRYPTION_KEY=KEY_A, ENCRYPTION_PREVIOUS_KEYS=[KEY_B])
    promoted = make_app(migrated=False, ENCRYPTION_KEY=KEY_B, ENCRYPTION_PREVIOUS_KEYS=[KEY_A])
    for server in (old_only, phase_one, promoted):
        assert server.test_client().get("/health").status_code == 200
    monkeypatch.setenv("FLUXBASE_INSTANCE_PATH", old_only.instance_path)
    monkeypatch.setenv("FLUXBASE_DATABASE_URL", old_only.config["DATABASE_URL"])
    monkeypatch.setenv("FLUXBASE_ENCRYPTION_KEY", KEY_B)
    monkeypatch.setenv("FLUXBASE_ENCRYPTION_PREVIOUS_KEYS", KEY_A)
    result = old_only.test_cli_runner().invoke(cli, ["keys", "rotate"])
    assert result.exit_code == 0, result.output
    new_only = make_app(migrated=False, ENCRYPTION_KEY=KEY_B)
    assert canary_key_id(new_only) == new_only.extensions["flux"].encryptor.keyring.primary.id
    for server in (phase_one, promoted, new_only):
        assert server.test_client().get("/health").status_code == 200
    assert old_only.test_client().get("/health").status_code == 503  # a server never given the new key


def test_keys_rotate_reseals_the_canary_in_the_key_file(make_app, monkeypatch):
    app = make_app()
    before = canary_key_id(app)
    monkeypatch.setenv("FLUXBASE_INSTANCE_PATH", app.instance_path)
    monkeypatch.setenv("FLUXBASE_DATABASE_URL", app.config["DATABASE_URL"])
    result = app.test_cli_runner().invoke(cli, ["keys", "rotate"])
    assert result.exit_code == 0, result.output
    restarted = make_app(migrated=False)
    assert canary_key_id(app) == restarted.extensions["flux"].encryptor.keyring.primary.id != before
    assert restarted.test_client().get("/health").status_code == 200
    assert app.test_client().get("/health").status_code == 200  # a running server rereads the key file


READS_ENV = 'async function handler(req) { return { status: 200, body: Deno.env.get("API_TOKEN") ?? "none" }; }'
READS_SECRET = 'async function handler(req) { return { status: 200, body: secrets.get("SHARED") ?? "none" }; }'
SYSTEM_SECRET = ("/api/v1/admin/settings/custom/secret", {"key": "SHARED", "value": TOKEN})
FUNCTION_SECRET = ("/api/v1/secrets", {"name": "SHARED", "value": TOKEN, "scope": "global"})


@pytest.mark.parametrize(
    ("code", "env", "secret"),
    [(READS_ENV, {"API_TOKEN": TOKEN}, None), (READS_SECRET, {}, SYSTEM_SECRET), (READS_SECRET, {}, FUNCTION_SECRET)],
    ids=["function env", "system secret", "function secret"],
)
def test_every_secret_a_function_reads_fails_alike_on_a_server_with_other_keys(
    app, make_app, admin_headers, close_runtimes, code, env, secret
):
    a, b_app = app.test_client(), make_app(migrated=False, ENCRYPTION_KEY=KEY_B)
    close_runtimes(app), close_runtimes(b_app)
    if secret is not None:
        assert a.post(secret[0], json=secret[1], headers=admin_headers).status_code == 201
    function = {"name": "reader", "code": code, "env": env, "permissions": {"env": True}}
    assert a.post("/api/v1/functions", json=function, headers=admin_headers).status_code == 201
    assert a.post("/api/v1/functions/reader/invoke", headers=admin_headers).get_data(as_text=True) == TOKEN
    answer = b_app.test_client().post("/api/v1/functions/reader/invoke", headers=admin_headers)
    assert (answer.status_code, answer.json["code"]) == (503, "KEY_MISMATCH")
    assert TOKEN not in answer.get_data(as_text=True)
