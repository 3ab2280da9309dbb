"""`/api/v1/functions/shared`: modules functions import as `_shared/…`, versioned, audited, per tenant."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from flux.db import db
from tests.conftest import AuthActions
from tests.functions.conftest import BASE, HELLO

SHARED = f"{BASE}/shared"
CORS = """export function corsHeaders(origin?: string) {
  return { "Access-Control-Allow-Origin": origin || "*" }
}"""


def create(client, headers, path="_shared/cors.ts", content=CORS, **fields):
    response = client.post(SHARED, json={"module_path": path, "content": content, **fields}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def stored_versions(app) -> list[tuple[str, int, str]]:
    query = (
        "SELECT m.module_path, v.version, v.content FROM function_shared_module_versions v "
        "JOIN function_shared_modules m ON m.id = v.module_id ORDER BY m.module_path, v.version"
    )
    with app.app_context(), db.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(query))]


def test_create_read_list_and_the_seeds_shapes(client, admin_headers):
    created = create(client, admin_headers, description="CORS headers helper")
    assert created["module_path"] == "_shared/cors.ts" and created["version"] == 1
    assert created["content"] == CORS and created["description"] == "CORS headers helper"
    assert client.get(f"{SHARED}/_shared/cors.ts", headers=admin_headers).json == created
    assert client.get(f"{SHARED}/cors.ts", headers=admin_headers).json == created  # the prefix may be left out
    create(client, admin_headers, "utils/date.ts", "export const today = () => new Date()")
    listed = client.get(SHARED, headers=admin_headers)
    assert [module["module_path"] for module in listed.json] == ["_shared/cors.ts", "_shared/utils/date.ts"]
    assert "content" not in listed.json[0] and listed.headers["X-Total-Count"] == "2"


def test_new_content_is_a_new_version_and_every_version_is_kept(app, client, admin_headers):
    create(client, admin_headers)
    same = client.put(f"{SHARED}/_shared/cors.ts", json={"content": CORS}, headers=admin_headers)
    assert same.status_code == 200 and same.json["version"] == 1  # nothing changed
    described = client.put(f"{SHARED}/cors.ts", json={"description": "helpers"}, headers=admin_headers).json
    assert (described["version"], described["description"]) == (1, "helpers")
    changed = client.put(f"{SHARED}/cors.ts", json={"content": "export const v = 2"}, headers=admin_headers).json
    assert changed["version"] == 2 and changed["content"] == "export const v = 2"
    old = client.get(f"{SHARED}/cors.ts?version=1", headers=admin_headers).json
    assert (old["version"], old["content"]) == (1, CORS)
    missing = client.get(f"{SHARED}/cors.ts?version=3", headers=admin_headers)
    assert missing.status_code == 404 and missing.json["code"] == "NOT_FOUND"
    assert stored_versions(app) == [("_shared/cors.ts", 1, CORS), ("_shared/cors.ts", 2, "export const v = 2")]


def test_delete_removes_the_module_and_its_versions(app, client, admin_headers):
    create(client, admin_headers)
    client.put(f"{SHARED}/cors.ts", json={"content": "export const v = 2"}, headers=admin_headers)
    assert client.delete(f"{SHARED}/_shared/cors.ts", headers=admin_headers).status_code == 204
    assert client.get(f"{SHARED}/_shared/cors.ts", headers=admin_headers).status_code == 404
    assert client.delete(f"{SHARED}/_shared/cors.ts", headers=admin_headers).status_code == 404
    assert stored_versions(app) == []


def test_changes_are_audited_without_content(client, admin_headers):
    create(client, admin_headers)
    client.put(f"{SHARED}/cors.ts", json={"content": "export const secretish = 'x'"}, headers=admin_headers)
    client.delete(f"{SHARED}/cors.ts", headers=admin_headers)
    events = client.get("/api/v1/admin/audit?limit=10", headers=admin_headers).json
    ours = [(event["action"], event["target"]) for event in events if "shared_module" in event["action"]]
    assert ours == [
        ("functions.shared_module_deleted", "_shared/cors.ts"),
        ("functions.shared_module_updated", "_shared/cors.ts"),
        ("functions.shared_module_created", "_shared/cors.ts"),
    ]
    assert "secretish" not in str(events)


@pytest.mark.parametrize(
    "path",
    [
        "_shared/../secrets.ts",
        "_shared/./cors.ts",
        "../cors.ts",
        "/etc/passwd.ts",
        "_shared/cors",
        "_shared/cors.json",
        "_shared/.hidden.ts",
        "_shared//cors.ts",
        "_shared/with space.ts",
        "_shared/" + "a" * 250 + ".ts",
    ],
)
def test_module_paths_stay_inside_shared(client, admin_headers, path):
    refused = client.post(SHARED, json={"module_path": path, "content": CORS}, headers=admin_headers)
    assert refused.status_code == 400 and refused.json["code"] == "INVALID_FIELD"
    assert client.get(SHARED, headers=admin_headers).json == []


def test_bad_bodies_and_duplicates(client, admin_headers):
    create(client, admin_headers)
    again = client.post(SHARED, json={"module_path": "cors.ts", "content": CORS}, headers=admin_headers)
    assert again.status_code == 409 and again.json["code"] == "ALREADY_EXISTS"
    blank = client.post(SHARED, json={"module_path": "b.ts", "content": "  "}, headers=admin_headers)
    assert blank.status_code == 400 and blank.json["code"] == "FIELD_REQUIRED"
    huge = client.post(SHARED, json={"module_path": "b.ts", "content": "x" * (1024 * 1024 + 1)}, headers=admin_headers)
    assert huge.status_code == 413 and huge.json["code"] == "CODE_TOO_LARGE"
    nothing = client.put(f"{SHARED}/cors.ts", json={}, headers=admin_headers)
    assert nothing.status_code == 400 and nothing.json["code"] == "NOTHING_TO_UPDATE"
    # A directive means nothing in a module: it is content, not a function's settings.
    create(client, admin_headers, "notes.ts", "// @fluxbase:whatever\nexport const n = 1")


def test_no_function_may_be_named_shared(client, admin_headers):
    refused = client.post(BASE, json={"name": "shared", "code": HELLO}, headers=admin_headers)
    assert refused.status_code == 400 and "reserved" in refused.json["error"]


def test_only_those_who_manage_functions_reach_modules(client, admin_headers, auth, service_key):
    create(client, admin_headers)
    user = AuthActions.bearer(auth.signup())
    assert client.get(SHARED, headers=user).status_code == 403
    assert client.get(SHARED).status_code == 401
    reader = service_key(["functions:read"])
    assert client.get(f"{SHARED}/cors.ts", headers=reader).status_code == 200
    refused = client.put(f"{SHARED}/cors.ts", json={"content": "export {}"}, headers=reader)
    assert refused.status_code == 403
    writer = service_key(["functions:write"])
    assert client.put(f"{SHARED}/cors.ts", json={"content": "export {}"}, headers=writer).json["version"] == 2
