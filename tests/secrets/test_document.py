"""The OpenAPI document describes every secrets route: who may call it, what it answers, which codes."""

from __future__ import annotations

import re

from tests.secrets.conftest import ADMIN, BASE, add

DOC = "/api/v1/openapi.json"


def operations(app, doc: dict) -> dict[tuple[str, str], dict]:
    """Each secrets route of the app, by method and path as the document writes it, with its operation."""
    found = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith((BASE, ADMIN)):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found[method, path] = doc["paths"][path][method.lower()]
    return found


def codes(operation: dict, status: int) -> set[str]:
    answer = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    return set(answer["properties"]["code"]["enum"])


def test_every_route_is_documented_with_its_callers_and_codes(app, client):
    doc = client.get(DOC).json
    found = operations(app, doc)
    assert len(found) == 21  # 2 lists, 2 creates, stats, 5 by id, 5 by name twice, rollback by body
    for (method, path), operation in found.items():
        assert operation["security"], (method, path)
        assert {"AUTH_REQUIRED", "INVALID_TOKEN"} <= codes(operation, 401)
        if path not in (BASE, ADMIN, f"{BASE}/stats"):
            assert "NOT_FOUND" in codes(operation, 404), (method, path)
    assert codes(found["POST", BASE], 409) == {"ALREADY_EXISTS", "ENV_NAME_TAKEN", "CONCURRENT_CHANGE"}
    assert codes(found["POST", BASE], 413) == {"PAYLOAD_TOO_LARGE", "VALUE_TOO_LARGE"}
    assert "VERSION_UNREADABLE" in codes(found["POST", f"{ADMIN}/{{name}}/rollback"], 409)
    assert "NOTHING_TO_UPDATE" in codes(found["PUT", f"{BASE}/by-name/{{name}}"], 400)
    assert "INVALID_PAGE" in codes(found["GET", f"{BASE}/{{secret_id}}/versions"], 400)
    listed = found["GET", BASE]["responses"]["200"]
    assert "X-Total-Count" in listed["headers"]
    assert {parameter["name"] for parameter in found["GET", BASE]["parameters"]} == {
        "limit",
        "offset",
        "scope",
        "namespace",
        "search",
    }


def schema_of(doc: dict, operation: dict, status: int = 200) -> dict:
    schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    while "$ref" in schema or schema.get("type") == "array":
        if "$ref" in schema:
            schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        else:
            schema = schema["items"]
    return schema


def test_answers_have_the_fields_the_document_declares(app, client, admin_headers):
    doc = client.get(DOC).json
    found = operations(app, doc)
    created = add(client, admin_headers, "K", "document-value")
    answers = {
        ("GET", BASE): client.get(BASE, headers=admin_headers).json[0],
        ("POST", BASE): created,
        ("GET", f"{BASE}/stats"): client.get(f"{BASE}/stats", headers=admin_headers).json,
        ("GET", f"{BASE}/{{secret_id}}/versions"): client.get(
            f"{BASE}/{created['id']}/versions", headers=admin_headers
        ).json[0],
        ("PUT", f"{ADMIN}/{{name}}"): client.put(f"{ADMIN}/K", json={"value": "v2"}, headers=admin_headers).json,
    }
    for (method, path), body in answers.items():
        schema = schema_of(doc, found[method, path], 201 if method == "POST" else 200)
        assert set(body) == set(schema["properties"]) == set(schema["required"]), (method, path)
        assert "value" not in schema["properties"]
