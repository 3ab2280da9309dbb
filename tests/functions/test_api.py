"""Every `/api/v1/functions` route but invoke: definitions, validation, versions, executions, roles."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from flux.db import db, utcnow
from flux.tenancy import default_tenant_id, tenant_scope
from plugins.functions.models import EdgeFunction
from tests.functions.conftest import BASE, HELLO, call, deploy

THROWS = "async function handler(req) { throw new Error('nope') }"


def stored(app, table: str) -> list[dict]:
    with app.app_context(), db.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(sa.text(f"SELECT * FROM {table}"))]


def test_create_with_defaults_and_read_back(client, admin_headers):
    created = deploy(client, admin_headers, "hello-world", description="My first edge function")
    assert created["name"] == "hello-world" and created["namespace"] == "default" and created["version"] == 1
    assert created["enabled"] is True and created["is_public"] is True and created["allow_unauthenticated"] is False
    assert (created["timeout"], created["memory"], created["isolation"]) == (60, 128, "warm")
    assert created["permissions"] == {"net": True, "env": True, "read": False, "write": False}
    assert created["code"] == HELLO and created["description"] == "My first edge function"
    fetched = client.get(f"{BASE}/hello-world", headers=admin_headers).json
    assert fetched == {**created, "last_execution_status": None}


def test_create_with_every_field(client, admin_headers):
    body = {
        "namespace": "billing",
        "enabled": False,
        "timeout": 5,
        "memory": 64,
        "env": {"API_BASE": "https://api.example.com"},
        "permissions": {"net": False, "write": True},
        "allow_unauthenticated": True,
        "is_public": False,
        "isolation": "per-invocation",
    }
    created = deploy(client, admin_headers, "charge", **body)
    assert created["namespace"] == "billing" and created["enabled"] is False
    assert (created["timeout"], created["memory"], created["isolation"]) == (5, 64, "per-invocation")
    assert created["permissions"] == {"net": False, "env": True, "read": False, "write": True}
    assert created["env"] == ["API_BASE"]  # names only: values may hold credentials
    assert client.get(f"{BASE}/charge", headers=admin_headers).status_code == 404  # another namespace
    assert client.get(f"{BASE}/charge?namespace=billing", headers=admin_headers).json["id"] == created["id"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"code": HELLO}, 400, "FIELD_REQUIRED"),
        ({"name": "has space", "code": HELLO}, 400, "INVALID_FIELD"),
        ({"name": "x" * 65, "code": HELLO}, 400, "INVALID_FIELD"),
        ({"name": 7, "code": HELLO}, 400, "INVALID_FIELD"),
        ({"name": "f", "namespace": "a/b", "code": HELLO}, 400, "INVALID_FIELD"),
        ({"name": "f"}, 400, "FIELD_REQUIRED"),
        ({"name": "f", "code": "   "}, 400, "FIELD_REQUIRED"),
        ({"name": "f", "code": 5}, 400, "INVALID_FIELD"),
        ({"name": "f", "code": "//" + "x" * (1024 * 1024)}, 413, "CODE_TOO_LARGE"),
        ({"name": "f", "code": HELLO, "timeout": 0}, 400, "INVALID_FIELD"),
        ({"name": "f", "code": HELLO, "timeout": 301}, 400, "INVALID_FIELD"),
        ({"name": "f", "code": HELLO, "timeout": "60"}, 400, "INVALID_FIELD"),
        ({"name": "f", "code": HELLO, "timeout": True}, 400, "INVALID_FIELD"),
        ({"name": "f", "code": HELLO, "memory": 16}, 400, "INVALID_FIELD"),
        ({"name": "f", "code": HELLO, "memory": 4096}, 400, "INVALID_FIELD"),
        ({"name": "f", "code": HELLO, "enabled": "yes"}, 400, "INVALID_FIELD"),
        ({"name": "f", "code": HELLO, "isolation": "none"}, 400, "INVALID_FIELD"),
        ({"name": "f", "code": HELLO, "permissions": {"run": True}}, 400, "INVALID_FIELD"),
        ({"name": "f", "code": HELLO, "permissions": {"net": "yes"}}, 400, "INVALID_FIELD"),
        ({"name": "f", "code": HELLO, "permissions": {"net": None}}, 400, "INVALID_FIELD"),
        ({"name": "f", "code": HELLO, "env": {"FLUXBASE_X": "1"}}, 400, "INVALID_FIELD"),
        ({"name": "f", "code": HELLO, "env": {"1X": "1"}}, 400, "INVALID_FIELD"),
        ({"name": "f", "code": HELLO, "env": {"X": 1}}, 400, "INVALID_FIELD"),
        ({"name": "f", "code": HELLO, "env": ["X"]}, 400, "INVALID_FIELD"),
        ({"name": "f", "code": HELLO, "env": {f"V{n}": "1" for n in range(101)}}, 400, "INVALID_FIELD"),
        ({"name": "f", "code": HELLO, "env": {"X": "x" * (32 * 1024 + 1)}}, 413, "VALUE_TOO_LARGE"),
        ({"name": "f", "code": HELLO, "description": "d" * 2001}, 400, "INVALID_FIELD"),
    ],
)
def test_bad_definitions_are_refused_and_store_nothing(app, client, admin_headers, body, status, code):
    response = client.post(BASE, json=body, headers=admin_headers)
    assert (response.status_code, response.json["code"]) == (status, code), response.json
    assert stored(app, "functions") == [] and stored(app, "function_versions") == []


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"timeot": 5}, "timeot"),
        ({"cron_schedule": "* * * * *", "memory_mb": 64}, "cron_schedule', 'memory_mb"),
        ({"allow_run": True}, "allow_run"),
    ],
)
def test_unknown_fields_are_ignored(app, client, admin_headers, body, named):
    """As in every body of the house: a field the server does not know changes nothing."""
    created = deploy(client, admin_headers, "f", **body)
    assert named.split("'")[0] not in created and (created["timeout"], created["memory"]) == (60, 128)
    update = client.put(f"{BASE}/f", json={"description": "d", **body}, headers=admin_headers)
    assert update.status_code == 200 and update.json["description"] == "d"
    renamed = client.put(f"{BASE}/f", json={"name": "g"}, headers=admin_headers)
    assert (renamed.status_code, renamed.json["code"]) == (400, "NOTHING_TO_UPDATE")
    assert [(row["name"], row["timeout_seconds"], row["memory_mb"]) for row in stored(app, "functions")] == [
        ("f", 60, 128)
    ]


def test_the_reference_sdks_field_names_are_accepted(client, admin_headers):
    body = {"timeout_seconds": 7, "memory_limit_mb": 96, "allow_net": False, "allow_env": False, "allow_write": True}
    created = deploy(client, admin_headers, "sdk", **body)
    assert (created["timeout"], created["memory"]) == (7, 96)
    assert created["permissions"] == {"net": False, "env": False, "read": False, "write": True}
    body = {"timeout_seconds": 9, "allow_read": True, "allow_write": None, "permissions": {"net": True}}
    updated = client.put(f"{BASE}/sdk", json=body, headers=admin_headers)
    assert updated.status_code == 200, updated.json
    assert updated.json["timeout"] == 9
    assert updated.json["permissions"] == {"net": True, "env": False, "read": True, "write": True}
    bad = client.put(f"{BASE}/sdk", json={"memory_limit_mb": 8}, headers=admin_headers)
    assert (bad.status_code, bad.json["code"]) == (400, "INVALID_FIELD")


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"timeout": 5, "timeout_seconds": 5}, "timeout or timeout_seconds"),
        ({"memory": 64, "memory_limit_mb": 96}, "memory or memory_limit_mb"),
        ({"permissions": {"net": True}, "allow_net": False}, "permissions.net or allow_net"),
    ],
)
def test_a_field_under_both_names_is_400(app, client, admin_headers, body, named):
    response = client.post(BASE, json={"name": "f", "code": HELLO, **body}, headers=admin_headers)
    assert (response.status_code, response.json["code"]) == (400, "INVALID_FIELD")
    assert named in response.json["error"]
    assert stored(app, "functions") == []


def test_code_that_does_not_compile_is_400_with_the_compilers_message(app, client, admin_headers):
    syntax = client.post(
        BASE, json={"name": "f", "code": "async function handler(req) { return {"}, headers=admin_headers
    )
    assert (syntax.status_code, syntax.json["code"]) == (400, "CODE_INVALID")
    assert "expected" in syntax.json["error"] and "function.ts:1" in syntax.json["error"]
    typed = "async function handler(req) { const n: number = 'text'; return { status: 200 } }"
    types = client.post(BASE, json={"name": "f", "code": typed}, headers=admin_headers)
    assert (types.status_code, types.json["code"]) == (400, "CODE_INVALID")
    assert "TS2322" in types.json["error"] and "not assignable to type 'number'" in types.json["error"]
    assert str(app.instance_path) not in types.json["error"]  # the server's paths stay out of it
    assert stored(app, "functions") == []


def test_duplicate_name_in_a_namespace_is_409(client, admin_headers):
    deploy(client, admin_headers, "f")
    again = client.post(BASE, json={"name": "f", "code": HELLO}, headers=admin_headers)
    assert (again.status_code, again.json["code"]) == (409, "ALREADY_EXISTS")
    deploy(client, admin_headers, "f", namespace="other")


def test_list_shows_admins_everything_and_others_public_functions(client, auth, admin_headers):
    deploy(client, admin_headers, "open")
    deploy(client, admin_headers, "hidden", is_public=False)
    deploy(client, admin_headers, "elsewhere", namespace="ops")
    listed = client.get(BASE, headers=admin_headers).json
    assert [(f["namespace"], f["name"]) for f in listed] == [
        ("default", "hidden"),
        ("default", "open"),
        ("ops", "elsewhere"),
    ]
    assert all("code" not in f and "env" in f and "last_execution_status" in f for f in listed)
    assert [f["name"] for f in client.get(f"{BASE}?namespace=ops", headers=admin_headers).json] == ["elsewhere"]
    user = auth.bearer(auth.signup("user@example.com"))
    for headers in (user, {}):
        seen = client.get(BASE, headers=headers).json
        assert [f["name"] for f in seen] == ["open", "elsewhere"]
        assert not any("code" in f or "env" in f for f in seen)
        assert client.get(f"{BASE}/hidden", headers=headers).status_code == 404
        assert "code" not in client.get(f"{BASE}/open", headers=headers).json


def test_update_settings_keep_the_version_and_code_makes_a_new_one(app, client, admin_headers):
    deploy(client, admin_headers, "f")
    settings = client.put(
        f"{BASE}/f", json={"timeout": 10, "description": "d", "is_public": False}, headers=admin_headers
    )
    assert settings.status_code == 200
    assert (settings.json["version"], settings.json["timeout"], settings.json["is_public"]) == (1, 10, False)
    same_code = client.put(f"{BASE}/f", json={"code": HELLO}, headers=admin_headers)
    assert same_code.json["version"] == 1
    changed = client.put(f"{BASE}/f", json={"code": THROWS}, headers=admin_headers)
    assert (changed.json["version"], changed.json["code"]) == (2, THROWS)
    versions = client.get(f"{BASE}/f/versions", headers=admin_headers).json
    assert [(v["version"], v["is_current"]) for v in versions] == [(2, True), (1, False)]
    with_code = client.get(f"{BASE}/f/versions?code=1", headers=admin_headers).json
    assert [v["code"] for v in with_code] == [THROWS, HELLO]
    assert len(stored(app, "function_versions")) == 2


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "NOTHING_TO_UPDATE"),
        ({"name": "g"}, "NOTHING_TO_UPDATE"),
        ({"code": "async function handler( {"}, "CODE_INVALID"),
        ({"memory": 1}, "INVALID_FIELD"),
        ({"permissions": []}, "INVALID_FIELD"),
        ({"timeout": 5, "timeout_seconds": 6}, "INVALID_FIELD"),
    ],
)
def test_bad_updates_change_nothing(app, client, admin_headers, body, code):
    deploy(client, admin_headers, "f")
    before = stored(app, "functions")
    response = client.put(f"{BASE}/f", json=body, headers=admin_headers)
    assert (response.status_code, response.json["code"]) == (400, code)
    assert stored(app, "functions") == before


def test_rollback_makes_a_new_version_with_the_old_code(client, admin_headers):
    deploy(client, admin_headers, "f")
    client.put(f"{BASE}/f", json={"code": THROWS}, headers=admin_headers)
    assert call(client, "f", admin_headers).status_code == 500
    rolled = client.post(f"{BASE}/f/rollback/1", headers=admin_headers)
    assert rolled.status_code == 200 and (rolled.json["version"], rolled.json["code"]) == (3, HELLO)
    answered = call(client, "f", admin_headers, json={"name": "Ada"})
    assert answered.status_code == 200 and answered.json == {"message": "Hello Ada!"}
    executions = client.get(f"{BASE}/f/executions", headers=admin_headers).json
    assert [(e["version"], e["status"]) for e in executions] == [(3, "success"), (2, "error")]
    missing = client.post(f"{BASE}/f/rollback/9", headers=admin_headers)
    assert (missing.status_code, missing.json["code"]) == (404, "NOT_FOUND")
    assert "no version 9" in missing.json["error"]
    for bad in ("0", "x", "-1", "+1", "1.0", str(2**31)):
        response = client.post(f"{BASE}/f/rollback/{bad}", headers=admin_headers)
        assert (response.status_code, response.json["code"]) == (400, "INVALID_FIELD")


def test_delete_removes_versions_and_executions(app, client, admin_headers):
    deploy(client, admin_headers, "f")
    deploy(client, admin_headers, "keep")
    call(client, "f", admin_headers)
    assert client.delete(f"{BASE}/f", headers=admin_headers).status_code == 204
    assert client.get(f"{BASE}/f", headers=admin_headers).status_code == 404
    assert client.delete(f"{BASE}/f", headers=admin_headers).status_code == 404
    assert [row["name"] for row in stored(app, "functions")] == ["keep"]
    assert len(stored(app, "function_versions")) == 1 and stored(app, "function_executions") == []


def test_unknown_functions_are_404(client, admin_headers):
    for response in (
        client.get(f"{BASE}/nope", headers=admin_headers),
        client.put(f"{BASE}/nope", json={"timeout": 5}, headers=admin_headers),
        client.get(f"{BASE}/nope/versions", headers=admin_headers),
        client.get(f"{BASE}/nope/executions", headers=admin_headers),
        client.post(f"{BASE}/nope/rollback/1", headers=admin_headers),
        call(client, "nope", admin_headers),
        call(client, "ops/nope", admin_headers),
    ):
        assert (response.status_code, response.json["code"]) == (404, "NOT_FOUND")
        assert "function 'nope' not found" in response.json["error"]


def test_executions_and_logs_with_limits(client, admin_headers):
    code = "async function handler(req) { console.log('call', req.params.n); console.warn('done'); return 'ok' }"
    deploy(client, admin_headers, "f", code=code)
    for n in range(3):
        assert call(client, "f", admin_headers, query_string={"n": n}).status_code == 200
    executions = client.get(f"{BASE}/f/executions?limit=2", headers=admin_headers).json
    assert len(executions) == 2 and {e["status"] for e in executions} == {"success"}
    assert executions[0]["logs"][0]["message"] == "call 2" and executions[0]["trigger"] == "http"
    assert executions[0]["duration_ms"] > 0 and executions[0]["status_code"] == 200
    logs = client.get(f"{BASE}/f/logs?limit=3", headers=admin_headers).json
    assert [(line["level"], line["message"]) for line in logs] == [
        ("warn", "done"),
        ("info", "call 2"),
        ("warn", "done"),
    ]
    assert all(line["timestamp"] and line["execution_id"] for line in logs)
    for bad in ("0", "1001", "x"):
        response = client.get(f"{BASE}/f/executions?limit={bad}", headers=admin_headers)
        assert (response.status_code, response.json["code"]) == (400, "INVALID_PAGE")


def test_who_may_change_and_read(client, auth, admin_headers, service_key):
    deploy(client, admin_headers, "f")
    user = auth.bearer(auth.signup("user@example.com"))
    assert client.post(BASE, json={"name": "g", "code": HELLO}, headers=user).status_code == 403
    assert client.put(f"{BASE}/f", json={"timeout": 5}, headers=user).status_code == 403
    assert client.delete(f"{BASE}/f", headers=user).status_code == 403
    assert client.get(f"{BASE}/f/executions", headers=user).status_code == 403
    assert client.post(BASE, json={"name": "g", "code": HELLO}).status_code == 401
    writer, reader = service_key(["functions:write"]), service_key(["functions:read"])
    assert client.post(BASE, json={"name": "g", "code": HELLO}, headers=writer).status_code == 201
    assert client.get(f"{BASE}/g/executions", headers=reader).status_code == 200
    assert "code" in client.get(f"{BASE}/g", headers=reader).json
    assert client.put(f"{BASE}/g", json={"timeout": 5}, headers=reader).status_code == 403


def test_junk_against_existing_functions_is_never_500(app, client, admin_headers):
    """The generic fuzz test meets an empty table; here every route finds a function to work on."""
    from tests.test_no_500 import BODIES

    deploy(client, admin_headers, "x")
    deploy(client, admin_headers, "x", namespace="x")
    routes = [
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/functions")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]
    failures, answered = [], set()
    for method, rule in sorted(routes, key=lambda route: route[0] == "DELETE"):  # deletes last
        for value in ("x", "x/x", "1"):
            path = rule.replace("<version>", "1").replace("<path:reference>", value).replace("<name>", value)
            for body in BODIES:
                for query in ("", "?namespace=x", "?namespace=%00&limit=abc"):
                    response = client.open(
                        path + query, method=method, data=body, headers=admin_headers, content_type="application/json"
                    )
                    answered.add(response.status_code)
                    # An invoke may answer 500 for the function's own error (junk is not JSON), never for ours.
                    functions_own = "/invoke" in path and (response.get_json(silent=True) or {}).get("error") == (
                        "Function error"
                    )
                    if response.status_code >= 500 and not functions_own:
                        failures.append((method, path + query, body, response.get_data()[:200]))
    assert failures == []
    assert {200, 204, 400, 404} <= answered


def test_remote_url_imports_are_refused_at_create(app, client, admin_headers, deno_dir):
    """Nothing is fetched from a URL: only `npm:` and `jsr:` packages are (`test_packages.py`)."""
    code = 'import thing from "https://esm.sh/marked@9.1.0";\nasync function handler(req) { return String(thing) }'
    response = client.post(BASE, json={"name": "importer", "code": code}, headers=admin_headers)
    assert (response.status_code, response.json["code"]) == (400, "CODE_INVALID")
    assert "remote specifier" in response.json["error"]
    assert not list(deno_dir.glob("**/esm.sh*")) and stored(app, "functions") == []


def test_function_lists_never_carry_code(client, auth, admin_headers, service_key):
    deploy(client, admin_headers, "f", env={"TOKEN": "t0ps3cret"})
    reader = service_key(["functions:read"])
    for headers in (admin_headers, reader, auth.bearer(auth.signup("user@example.com")), {}):
        listed = client.get(BASE, headers=headers)
        assert listed.status_code == 200 and [f["name"] for f in listed.json] == ["f"]
        assert "code" not in listed.json[0] and "t0ps3cret" not in listed.get_data(as_text=True)
    assert client.get(f"{BASE}/f", headers=admin_headers).json["code"] == HELLO  # its own GET has it


def add_functions(app, count: int) -> None:
    """`count` functions straight into the table: type-checking each through the API would take minutes."""
    with app.app_context(), tenant_scope(default_tenant_id()):
        now = utcnow()
        db.session.execute(
            sa.insert(EdgeFunction),
            [
                {
                    "id": f"id-{n:03}",
                    "name": f"f{n:03}",
                    "code": HELLO,
                    "timeout_seconds": 60,
                    "memory_mb": 128,
                    "permissions": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(count)
            ],
        )
        db.session.commit()


def names(response) -> list[str]:
    return [item["name"] for item in response.json]


def test_function_list_pages(app, client, admin_headers):
    add_functions(app, 60)
    first = client.get(BASE, headers=admin_headers)
    assert first.status_code == 200 and names(first) == [f"f{n:03}" for n in range(50)]
    assert first.headers["X-Total-Count"] == "60"
    page = client.get(f"{BASE}?limit=5&offset=55", headers=admin_headers)
    assert names(page) == [f"f{n:03}" for n in range(55, 60)] and page.headers["X-Total-Count"] == "60"
    assert client.get(f"{BASE}?offset=60", headers=admin_headers).json == []
    assert client.get(f"{BASE}?namespace=other", headers=admin_headers).headers["X-Total-Count"] == "0"
    assert client.get(f"{BASE}?offset={2**63 - 1}", headers=admin_headers).json == []
    for bad in ("limit=1001", "limit=0", "limit=x", "offset=-1", f"offset={2**63}"):
        refused = client.get(f"{BASE}?{bad}", headers=admin_headers)
        assert (refused.status_code, refused.json["code"]) == (400, "INVALID_PAGE"), bad


def test_version_execution_and_log_lists_page(client, admin_headers):
    code = "async function handler(req) { console.log('a', req.params.n); console.log('b', req.params.n); return 'ok' }"
    deploy(client, admin_headers, "f", code=code)
    for n in range(3):
        assert call(client, "f", admin_headers, query_string={"n": n}).status_code == 200
        client.put(f"{BASE}/f", json={"code": code + f"// {n}"}, headers=admin_headers)
    versions = client.get(f"{BASE}/f/versions?limit=2&offset=1", headers=admin_headers)
    assert [v["version"] for v in versions.json] == [3, 2] and versions.headers["X-Total-Count"] == "4"
    executions = client.get(f"{BASE}/f/executions?limit=1&offset=1", headers=admin_headers)
    assert [e["version"] for e in executions.json] == [2] and executions.headers["X-Total-Count"] == "3"
    everything = client.get(f"{BASE}/f/logs", headers=admin_headers)
    assert everything.headers["X-Total-Count"] == "6"
    assert [line["message"] for line in everything.json] == ["b 2", "a 2", "b 1", "a 1", "b 0", "a 0"]
    window = client.get(f"{BASE}/f/logs?limit=3&offset=1", headers=admin_headers)
    assert [line["message"] for line in window.json] == ["a 2", "b 1", "a 1"]
    assert [line["version"] for line in window.json] == [3, 2, 2]
    assert client.get(f"{BASE}/f/logs?offset=6", headers=admin_headers).json == []
    for path in ("versions", "executions", "logs"):
        refused = client.get(f"{BASE}/f/{path}?limit=1001", headers=admin_headers)
        assert (refused.status_code, refused.json["code"]) == (400, "INVALID_PAGE"), path
