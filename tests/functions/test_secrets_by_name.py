"""Secrets by name (issue 15): a function that reads a name fetches and opens that name only.

Observed without mocks, through a real Deno worker: the SQL statements the server runs
(a SQLAlchemy engine event) and the misses of the decryption memo (`Encryptor.open_text`),
one per value opened.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from flux.db import db
from tests.functions.conftest import BASE, call, deploy

SECRETS_API = "/api/v1/secrets"
USER_SECRETS = "/api/v1/settings/secret"
READS = """async function handler(req) {
  const found = {};
  for (const name of JSON.parse(req.body || "[]")) found[name] = secrets.get(name) ?? null;
  return { status: 200, headers: { "Content-Type": "application/json" }, body: JSON.stringify(found) };
}"""
LEAKS = """async function handler(req) {
  const read = [secrets.get("READ"), Deno.env.get("FLUXBASE_SECRET_BY_ENV"), Deno.env.get("OWN")];
  console.log(`read ${read.join(" ")}; told ${req.body}`);
  throw new Error(`refused ${read.join(" ")}; told ${req.body}`);
}"""
READ_VALUE, BY_ENV_VALUE, OWN_VALUE = "read-3f2a-canary", "by-env-8c1d-canary", "own-5e7b-canary"
UNREAD_VALUE = "unread-9d4c-value"


@contextmanager
def statements_on(app, table: str) -> Iterator[list[str]]:
    """The SQL statements the server runs on `table` meanwhile."""
    seen: list[str] = []

    def heard(conn, cursor, statement, parameters, context, executemany) -> None:
        if f"FROM {table}" in statement:
            seen.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", heard)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", heard)


def values_opened(app) -> int:
    return app.extensions["flux"].encryptor.open_text.cache_info().misses


def add_secrets(client, headers: dict, values: dict[str, str], **fields: str) -> None:
    for name, value in values.items():
        response = client.post(SECRETS_API, json={"name": name, "value": value, **fields}, headers=headers)
        assert response.status_code == 201, response.json


@pytest.fixture
def many(client, admin_headers) -> dict[str, str]:
    """30 function secrets, global and of the function's namespace."""
    values = {f"KEY_{i}": f"value-{i}-of-many" for i in range(30)}
    add_secrets(client, admin_headers, dict(list(values.items())[:20]))
    add_secrets(client, admin_headers, dict(list(values.items())[20:]), namespace="default")
    return values


def test_reading_one_secret_of_many_reads_one_row_and_opens_one_value(app, client, admin_headers, many):
    deploy(client, admin_headers, "reads", code=READS)
    app.extensions["flux"].encryptor.open_text.cache_clear()
    names = ["KEY_7", "KEY_7", "KEY_25", "MISSING", "MISSING"]
    with statements_on(app, "function_secrets") as secret_reads, statements_on(app, "settings_entries") as settings:
        answer = call(client, "reads", admin_headers, data=json.dumps(names))
    assert answer.json == {"KEY_7": "value-7-of-many", "KEY_25": "value-25-of-many", "MISSING": None}
    # One read per distinct name (a missing name too), however often it is read; none of the other 28.
    assert len(secret_reads) == 3
    assert len(settings) == 3  # a dashboard account has no user secrets: the system's only
    assert values_opened(app) == 2


def test_env_reads_one_variable(app, client, admin_headers, many):
    code = """async function handler(req) {
      const { get, has } = Deno.env;
      const found = [get("FLUXBASE_SECRET_KEY_3"), has("FLUXBASE_SECRET_NONE"), get("REGION")];
      return { status: 200, body: JSON.stringify(found) };
    }"""
    deploy(client, admin_headers, "env", code=code, env={"REGION": "eu-west-1"}, permissions={"env": True})
    app.extensions["flux"].encryptor.open_text.cache_clear()
    with statements_on(app, "function_secrets") as secret_reads, statements_on(app, "settings_entries") as settings:
        answer = call(client, "env", admin_headers)
    assert answer.get_json(force=True) == ["value-3-of-many", False, "eu-west-1"]
    assert (len(secret_reads), len(settings)) == (2, 0)  # user and system secrets are no variables
    assert values_opened(app) == 2  # KEY_3, and the function's own env (one sealed value)


def test_env_to_object_still_shows_every_variable(client, admin_headers, many, monkeypatch):
    monkeypatch.setenv("FLUXBASE_SECRET_FROM_SERVER", "server-value")
    code = """async function handler(req) {
      const all = Deno.env.toObject();
      console.log(all.FLUXBASE_SECRET_KEY_1);
      return { status: 200, body: JSON.stringify(all) };
    }"""
    deploy(client, admin_headers, "all", code=code, env={"REGION": "eu-west-1"}, permissions={"env": True})
    shown = call(client, "all", admin_headers).get_json(force=True)
    variables = {name: value for name, value in shown.items() if name.startswith("FLUXBASE_SECRET_")}
    assert variables == {
        **{f"FLUXBASE_SECRET_{name}": value for name, value in many.items()},
        "FLUXBASE_SECRET_FROM_SERVER": "server-value",
    }
    assert shown["REGION"] == "eu-west-1"
    logs = client.get(f"{BASE}/all/logs", headers=admin_headers).json
    assert [line["message"] for line in logs] == ["***"]


def test_what_was_disclosed_is_masked_and_only_that(client, admin_headers):
    add_secrets(client, admin_headers, {"READ": READ_VALUE, "BY_ENV": BY_ENV_VALUE, "UNREAD": UNREAD_VALUE})
    deploy(client, admin_headers, "leaks", code=LEAKS, env={"OWN": OWN_VALUE}, permissions={"env": True})
    response = call(client, "leaks", admin_headers, data=UNREAD_VALUE)
    assert response.status_code == 500
    told = f"; told {UNREAD_VALUE}"  # the caller's own text: never disclosed to the call, so not masked
    assert response.json["message"] == "refused *** *** ***" + told
    execution = client.get(f"{BASE}/leaks/executions", headers=admin_headers).json[0]
    assert [line["message"] for line in execution["logs"]] == ["read *** *** ***" + told]
    for value in (READ_VALUE, BY_ENV_VALUE, OWN_VALUE):
        assert value not in json.dumps(execution) + response.get_data(as_text=True)


def test_two_users_calls_never_see_each_others_user_secrets(client, auth, admin_headers):
    deploy(client, admin_headers, "reads", code=READS)
    alice, bob = (auth.bearer(auth.signup(f"{name}@example.com")) for name in ("alice", "bob"))
    for headers, value in ((alice, "alice-token"), (bob, "bob-token")):
        response = client.post(USER_SECRETS, json={"key": "token", "value": value}, headers=headers)
        assert response.status_code == 201
    asks = json.dumps(["token"])
    # One warm worker serves them in turn: each call's answers are its own, the next asks again.
    for headers, seen in ((alice, "alice-token"), (bob, "bob-token"), (admin_headers, None), (alice, "alice-token")):
        assert call(client, "reads", headers, data=asks).json == {"token": seen}
