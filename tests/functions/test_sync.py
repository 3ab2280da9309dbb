"""`POST /api/v1/admin/functions/sync` and `GET …/namespaces`: bulk deployment with exact counts, one transaction."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from flux.db import db
from tests.conftest import AuthActions
from tests.functions.conftest import BASE, call, deploy

SYNC = "/api/v1/admin/functions/sync"
NAMESPACES = "/api/v1/admin/functions/namespaces"


def says(text: str) -> str:
    return f'async function handler(req) {{ return {{ status: 200, body: "{text}" }} }}'


def sync(client, headers, functions, status=200, **options):
    response = client.post(SYNC, json={"functions": functions, **options}, headers=headers)
    assert response.status_code == status, response.json
    return response.json


def stored(app) -> dict[tuple[str, str], tuple[int, str]]:
    with app.app_context(), db.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT namespace, name, version, code FROM functions"))
        return {(namespace, name): (version, code) for namespace, name, version, code in rows}


def audited(client, headers) -> list[dict]:
    events = client.get("/api/v1/admin/audit?limit=100", headers=headers).json
    return [event for event in events if event["action"] == "functions.synced"]


def test_counts_are_exact_and_the_list_is_applied(app, client, admin_headers):
    deploy(client, admin_headers, "kept", says("kept"))
    deploy(client, admin_headers, "changed", says("before"))
    answer = sync(
        client,
        admin_headers,
        [
            {"name": "kept", "code": says("kept")},
            {"name": "changed", "code": says("after"), "description": "new"},
            {"name": "new", "code": says("new"), "timeout": 5},
        ],
    )
    assert answer == {
        "namespace": "default",
        "summary": {"created": 1, "updated": 1, "deleted": 0, "unchanged": 1},
        "details": {"created": ["new"], "updated": ["changed"], "deleted": [], "unchanged": ["kept"]},
        "dry_run": False,
    }
    assert stored(app)[("default", "kept")][0] == 1 and stored(app)[("default", "changed")] == (2, says("after"))
    assert client.get(f"{BASE}/new", headers=admin_headers).json["timeout"] == 5
    assert call(client, "changed", headers=admin_headers).data == b"after"
    (event,) = audited(client, admin_headers)
    assert event["target"] == "default"


def test_delete_missing_deletes_what_the_list_leaves_out_of_its_namespace_only(app, client, admin_headers):
    deploy(client, admin_headers, "gone", says("gone"))
    deploy(client, admin_headers, "elsewhere", says("x"), namespace="billing")
    answer = sync(client, admin_headers, [{"name": "stays", "code": says("s")}], delete_missing=True)
    assert answer["summary"] == {"created": 1, "updated": 0, "deleted": 1, "unchanged": 0}
    assert answer["details"]["deleted"] == ["gone"]
    assert set(stored(app)) == {("default", "stays"), ("billing", "elsewhere")}


def test_a_dry_run_says_what_would_change_and_changes_nothing(app, client, admin_headers):
    deploy(client, admin_headers, "gone", says("gone"))
    before = stored(app)
    answer = sync(client, admin_headers, [{"name": "new", "code": says("n")}], delete_missing=True, dry_run=True)
    assert answer["summary"] == {"created": 1, "updated": 0, "deleted": 1, "unchanged": 0} and answer["dry_run"]
    assert stored(app) == before
    assert audited(client, admin_headers) == []


def test_one_bad_function_refuses_the_whole_sync_naming_it(app, client, admin_headers):
    deploy(client, admin_headers, "gone", says("gone"))
    before = stored(app)
    functions = [{"name": "good", "code": says("g")}, {"name": "broken", "code": "this is not code("}]
    refused = sync(client, admin_headers, functions, status=400, delete_missing=True)
    assert refused["code"] == "CODE_INVALID" and refused["error"].startswith("functions[1] (broken): the code does not")
    assert stored(app) == before


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"functions": [{"name": "a", "code": says("1")}, {"name": "a", "code": says("2")}]}, "INVALID_FIELD"),
        ({"functions": [{"name": "shared", "code": says("1")}]}, "INVALID_FIELD"),
        ({"functions": [{"name": "a"}]}, "FIELD_REQUIRED"),
        ({"functions": "a"}, "INVALID_FIELD"),
        ({"functions": [], "dry_run": "yes"}, "INVALID_FIELD"),
        ({"namespace": "a/b", "functions": []}, "INVALID_FIELD"),
        ({"functions": [{"name": "a", "code": "// @fluxbase:rate-limit soon\n" + says("1")}]}, "ANNOTATION_INVALID"),
    ],
)
def test_bad_requests_are_400s_that_change_nothing(app, client, admin_headers, body, code):
    refused = client.post(SYNC, json=body, headers=admin_headers)
    assert refused.status_code == 400 and refused.json["code"] == code
    assert stored(app) == {}


def test_an_empty_list_with_delete_missing_empties_the_namespace(app, client, admin_headers):
    deploy(client, admin_headers, "a", says("a"))
    assert sync(client, admin_headers, [], delete_missing=True)["details"]["deleted"] == ["a"]
    assert stored(app) == {}


def test_namespaces_lists_those_that_hold_functions(client, admin_headers):
    assert client.get(NAMESPACES, headers=admin_headers).json == {"namespaces": []}
    deploy(client, admin_headers, "a", says("a"), namespace="payments")
    deploy(client, admin_headers, "b", says("b"))
    assert client.get(NAMESPACES, headers=admin_headers).json == {"namespaces": ["default", "payments"]}


def test_only_those_who_manage_functions_may_sync(client, admin_headers, auth, service_key):
    user = AuthActions.bearer(auth.signup())
    assert client.post(SYNC, json={"functions": []}, headers=user).status_code == 403
    assert client.post(SYNC, json={"functions": []}).status_code == 401
    assert client.get(NAMESPACES, headers=user).status_code == 403
    reader = service_key(["functions:read"])
    assert client.get(NAMESPACES, headers=reader).status_code == 200
    assert client.post(SYNC, json={"functions": []}, headers=reader).status_code == 403
    writer = service_key(["functions:write"])
    assert client.post(SYNC, json={"functions": [{"name": "k", "code": says("k")}]}, headers=writer).status_code == 200
