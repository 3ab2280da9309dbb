"""A function's own `env` values are secrets: sealed in the database (bound to their row),
never in a response or page, masked in execution logs, and sealed by the migration too.
"""

from __future__ import annotations

import json

import sqlalchemy as sa

from flux import migrate
from flux.cli import cli
from flux.db import db
from plugins.functions import function_env
from tests.conftest import DashboardClient, stored_bytes
from tests.functions.conftest import BASE, call, deploy

FIRST = "env-first-7d1e2f3a-leak-canary"
SECOND = "env-second-9b8c7d6e-leak-canary"
MIGRATED = "env-migrated-5a4b3c2d-leak-canary"
CANARIES = (FIRST, SECOND, MIGRATED)
READS_ENV = """async function handler(req) {
  const token = Deno.env.get("API_TOKEN");
  console.log(`calling with token=${token}`);
  if (req.params.fail) throw new Error(`refused ${token}`);
  return { status: 200, body: JSON.stringify({ length: token.length, region: Deno.env.get("REGION") }) };
}"""


def functions_rows(app) -> list[dict]:
    with app.app_context():
        query = sa.text("SELECT id, tenant_id, name, env, encrypted_env FROM functions ORDER BY name")
        rows = [dict(row._mapping) for row in db.session.execute(query, execution_options={"all_tenants": True})]
    for row in rows:  # SQLite returns the JSON column's text, PostgreSQL the decoded list
        row["env"] = json.loads(row["env"]) if isinstance(row["env"], str) else row["env"]
    return rows


def test_env_values_never_leave_in_plaintext(app, client, admin_headers, auth):
    env = {"API_TOKEN": FIRST, "REGION": "eu-west-1"}
    created = client.post(
        BASE, json={"name": "f", "code": READS_ENV, "env": env, "permissions": {"env": True}}, headers=admin_headers
    )
    updated = client.put(f"{BASE}/f", json={"env": {**env, "API_TOKEN": SECOND}}, headers=admin_headers)
    calls = [call(client, "f", admin_headers), call(client, "f", admin_headers, query_string={"fail": "1"})]
    assert calls[0].get_json(force=True) == {"length": len(SECOND), "region": "eu-west-1"}  # the function got it
    assert calls[1].status_code == 500
    responses = [created, updated, *calls]
    for path in ("", "/f", "/f/versions?code=1", "/f/executions", "/f/logs"):
        responses.append(client.get(f"{BASE}{path}", headers=admin_headers))
    assert [response.status_code for response in responses[:2]] == [201, 200]
    assert created.json["env"] == ["API_TOKEN", "REGION"] and updated.json["env"] == ["API_TOKEN", "REGION"]
    for response in responses:
        assert [c for c in CANARIES if c in response.get_data(as_text=True)] == [], response.request.path
    logs = json.dumps(client.get(f"{BASE}/f/executions", headers=admin_headers).json)
    assert "token=***" in logs and "refused ***" in logs and "eu-west-1" not in logs
    page = DashboardClient(client)
    assert page.sign_in().status_code == 302
    detail = client.get("/dashboard/functions/default/f").get_data(as_text=True)
    assert "API_TOKEN" in detail and SECOND not in detail and FIRST not in detail
    stored = stored_bytes(app)
    assert b"eu-west-1" not in stored and [c for c in CANARIES if c.encode() in stored] == []
    [row] = functions_rows(app)
    assert row["env"] == ["API_TOKEN", "REGION"] and row["encrypted_env"].startswith("fx1:")


def test_sealed_env_does_not_open_in_another_row(app, client, admin_headers):
    env_code = 'async function handler(req) { return { status: 200, body: Deno.env.get("API_TOKEN") ?? "none" }; }'
    deploy(client, admin_headers, "owner", code=env_code, env={"API_TOKEN": FIRST}, permissions={"env": True})
    deploy(client, admin_headers, "thief", code=env_code, env={"API_TOKEN": "own"}, permissions={"env": True})
    owner, thief = functions_rows(app)
    with app.app_context():
        db.session.execute(
            sa.text("UPDATE functions SET encrypted_env = :sealed WHERE id = :id"),
            {"sealed": owner["encrypted_env"], "id": thief["id"]},
            execution_options={"all_tenants": True},
        )
        db.session.commit()
    response = call(client, "thief", admin_headers)
    assert response.status_code == 500 and response.json["code"] == "SECRET_UNREADABLE"
    assert FIRST not in response.get_data(as_text=True)
    assert call(client, "owner", admin_headers).get_data(as_text=True) == FIRST
    # A new env replaces values that no longer open.
    assert client.put(f"{BASE}/thief", json={"env": {"API_TOKEN": "new"}}, headers=admin_headers).status_code == 200
    assert call(client, "thief", admin_headers).get_data(as_text=True) == "new"


def test_the_migration_seals_existing_plaintext_values(make_app):
    app = make_app(migrated=False)
    migrate.upgrade(app, "functions_0001")
    migrate.upgrade(app, "core@head")
    with app.app_context():
        tenant = db.session.execute(sa.text("SELECT id FROM tenants"), execution_options={"all_tenants": True}).scalar()
        row = {
            "id": "00000000-0000-4000-8000-000000000001",
            "tenant_id": tenant,
            "name": "old",
            "namespace": "default",
            "description": "",
            "code": "async function handler() { return { status: 200 } }",
            "version": 1,
            "enabled": True,
            "timeout_seconds": 5,
            "memory_mb": 128,
            "env": json.dumps({"API_TOKEN": MIGRATED, "EMPTY": ""}),
            "permissions": json.dumps({"net": False, "env": True, "read": False, "write": False}),
            "allow_unauthenticated": False,
            "is_public": True,
            "isolation": "warm",
            "created_at": "2026-01-01 00:00:00",
            "updated_at": "2026-01-01 00:00:00",
        }
        db.session.execute(
            sa.text(f"INSERT INTO functions ({', '.join(row)}) VALUES ({', '.join(':' + name for name in row)})"),
            row,
            execution_options={"all_tenants": True},
        )
        db.session.commit()
    migrate.upgrade(app)
    [stored] = functions_rows(app)
    assert stored["env"] == ["API_TOKEN", "EMPTY"]
    with app.app_context():
        opened = function_env.open_values(tenant, stored["id"], "old", ["API_TOKEN", "EMPTY"], stored["encrypted_env"])
    assert opened == {"API_TOKEN": MIGRATED, "EMPTY": ""}
    assert MIGRATED.encode() not in stored_bytes(app)


def test_keys_rotate_reseals_env_values(app, client, admin_headers, monkeypatch, make_app):
    env_code = 'async function handler(req) { return { status: 200, body: Deno.env.get("API_TOKEN") }; }'
    deploy(client, admin_headers, "f", code=env_code, env={"API_TOKEN": FIRST}, permissions={"env": True})
    [before] = functions_rows(app)
    monkeypatch.setenv("FLUXBASE_INSTANCE_PATH", app.instance_path)
    monkeypatch.setenv("FLUXBASE_DATABASE_URL", app.config["DATABASE_URL"])
    result = app.test_cli_runner().invoke(cli, ["keys", "rotate"], catch_exceptions=False)
    assert result.exit_code == 0 and "Re-encrypted 1 value(s)." in result.output, result.output
    [after] = functions_rows(app)
    fresh = make_app(migrated=False)
    assert after["encrypted_env"].split(":")[2] == fresh.extensions["flux"].encryptor.keyring.primary.id
    assert after["encrypted_env"].split(":")[2] != before["encrypted_env"].split(":")[2]
    assert call(fresh.test_client(), "f", admin_headers).get_data(as_text=True) == FIRST
